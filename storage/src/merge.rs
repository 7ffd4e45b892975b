//! The merging iterator. (Being written.)
