//! commit_log (being written).
