//! The order-preserving tuple encoding. (Being written.)
