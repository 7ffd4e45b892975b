//! resolver (being written).
