//! The memtable. (Being written.)
