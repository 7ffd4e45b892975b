//! Keys, versions, entry kinds, and the one ordering every layer of the engine agrees on.
//!
//! The engine stores *entries*: a user key, a `u64` version chosen by the caller, and either a
//! value or a tombstone. It never invents versions (they belong to the transaction layer).
//!
//! All sorted structures (memtable, data blocks, SSTables, merged iterators) order entries by
//! the *internal order*:
//!
//! ```text
//!   user key ascending (bytewise), then version descending
//!
//!   ("a", 9) < ("a", 3) < ("a", 1) < ("ab", 7) < ("b", 2)
//! ```
//!
//! so the newest version of a key is met first when scanning forward, and `seek(key, v)` lands
//! on the newest entry of `key` whose version is `<= v`, which is exactly a point read at `v`.

use std::cmp::Ordering;

/// A version number assigned by the caller (the transaction layer's commit version).
pub type Version = u64;

/// Longest user key the engine accepts, in bytes.
pub const MAX_KEY_LEN: usize = 64 * 1024;
/// Longest value the engine accepts, in bytes.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;

/// Whether an entry holds a value or marks the key deleted as of its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueKind {
    Tombstone = 0,
    Value = 1,
}

impl ValueKind {
    /// Decode the on-disk byte; `None` for anything else (the caller reports corruption).
    pub fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            0 => Some(ValueKind::Tombstone),
            1 => Some(ValueKind::Value),
            _ => None,
        }
    }
}

/// Compare two entries in the internal order: key ascending, then version descending.
#[inline]
pub fn compare_internal(
    a_key: &[u8],
    a_version: Version,
    b_key: &[u8],
    b_version: Version,
) -> Ordering {
    match a_key.cmp(b_key) {
        Ordering::Equal => b_version.cmp(&a_version),
        o => o,
    }
}

/// An owned entry, as returned by point reads and used in tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub version: Version,
    pub kind: ValueKind,
    /// Empty for tombstones.
    pub value: Vec<u8>,
}

/// Validate a key against the engine's limits.
pub fn check_key(key: &[u8]) -> crate::Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(crate::Error::InvalidArgument(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_LEN} bytes",
            key.len()
        )));
    }
    Ok(())
}

/// Validate a value against the engine's limits.
pub fn check_value(value: &[u8]) -> crate::Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(crate::Error::InvalidArgument(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_LEN} bytes",
            value.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_order_is_key_then_newest_version_first() {
        let mut v = vec![
            (b"b".to_vec(), 2u64),
            (b"a".to_vec(), 1),
            (b"ab".to_vec(), 7),
            (b"a".to_vec(), 9),
            (b"a".to_vec(), 3),
        ];
        v.sort_by(|x, y| compare_internal(&x.0, x.1, &y.0, y.1));
        let want: Vec<(Vec<u8>, u64)> = vec![
            (b"a".to_vec(), 9),
            (b"a".to_vec(), 3),
            (b"a".to_vec(), 1),
            (b"ab".to_vec(), 7),
            (b"b".to_vec(), 2),
        ];
        assert_eq!(v, want);
    }
}
