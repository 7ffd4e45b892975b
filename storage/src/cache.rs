//! Shared, memory-bounded block cache. (Being written.)
