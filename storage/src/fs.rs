//! File-system helpers: naming, directory fsync, atomic file replacement. (Being written.)
