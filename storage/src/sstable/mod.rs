//! SSTables. (Being written.)
