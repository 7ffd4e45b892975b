//! sequencer (being written).
