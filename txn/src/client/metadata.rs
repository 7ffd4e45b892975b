//! A client-side cache of metadata keys, valid for one *metadata version*: FoundationDB's
//! `\xff/metadataVersion` pattern.
//!
//! Metadata (the SQL catalog's descriptors) is read by nearly every transaction and changed
//! almost never. Reading it from storage each time costs as much as reading the data the
//! transaction came for. The rule that makes caching it correct without leases:
//!
//! ```text
//!   every transaction that changes a cached key also writes METADATA_VERSION_KEY
//!   the commit pipeline remembers mv = the newest commit version that wrote that key
//!   a read version comes with mv(rv); between two writes of the key, metadata is constant
//! ```
//!
//! So two transactions whose read versions have the same `mv` see identical metadata, and a
//! value read by one can be served to the other. The cache holds one *epoch* (one `mv`) at a
//! time: an entry filled at epoch `mv` answers only transactions whose read version has that
//! same `mv`; a transaction with a newer `mv` empties it and starts the new epoch; one with an
//! older `mv` neither reads nor fills it.
//!
//! A cached read still adds the key to the transaction's read conflict set, exactly as a
//! storage read would, so a change committed after the read version and before the commit
//! still makes the transaction conflict. A transaction that wrote the metadata version itself
//! bypasses the cache (it must see its own writes), as does one whose backend cannot report
//! metadata versions (over the network, for now): both read storage as before.

use std::collections::HashMap;
use std::sync::RwLock;

use ferrisdb_kv::Version;

/// Entries one epoch may hold before the cache is emptied (descriptors are small).
const MAX_ENTRIES: usize = 4096;
/// Values larger than this are never cached.
const MAX_VALUE: usize = 64 << 10;

/// The per-[`super::Database`] cache; shared by every transaction of that handle.
#[derive(Default)]
pub struct MetadataCache {
    inner: RwLock<Epoch>,
}

#[derive(Default)]
struct Epoch {
    version: Version,
    entries: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl MetadataCache {
    /// The cached value of `key` (`Some(None)`: cached as absent) for epoch `mv`.
    pub(crate) fn get(&self, mv: Version, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let epoch = self.inner.read().ok()?;
        if epoch.version != mv {
            return None;
        }
        epoch.entries.get(key).cloned()
    }

    /// Remember `value` of `key` as read by a transaction whose read version has epoch `mv`.
    pub(crate) fn put(&self, mv: Version, key: &[u8], value: Option<&[u8]>) {
        if value.is_some_and(|v| v.len() > MAX_VALUE) {
            return;
        }
        let Ok(mut epoch) = self.inner.write() else {
            return;
        };
        if mv < epoch.version {
            return;
        }
        if mv > epoch.version || epoch.entries.len() >= MAX_ENTRIES {
            epoch.entries.clear();
            epoch.version = mv;
        }
        epoch
            .entries
            .insert(key.to_vec(), value.map(|v| v.to_vec()));
    }

    /// How many entries the current epoch holds (tests and statistics).
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |e| e.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_answers_only_its_own_epoch() {
        let c = MetadataCache::default();
        c.put(5, b"k", Some(b"v"));
        assert_eq!(c.get(5, b"k"), Some(Some(b"v".to_vec())));
        assert_eq!(c.get(4, b"k"), None);
        assert_eq!(c.get(6, b"k"), None);
        c.put(5, b"absent", None);
        assert_eq!(c.get(5, b"absent"), Some(None));
    }

    #[test]
    fn a_newer_epoch_empties_the_cache_and_an_older_one_is_ignored() {
        let c = MetadataCache::default();
        c.put(5, b"a", Some(b"1"));
        c.put(7, b"b", Some(b"2"));
        assert_eq!(c.get(7, b"a"), None);
        assert_eq!(c.len(), 1);
        c.put(6, b"c", Some(b"3"));
        assert_eq!(c.get(6, b"c"), None);
        assert_eq!(c.get(7, b"c"), None);
        assert_eq!(c.get(7, b"b"), Some(Some(b"2".to_vec())));
    }

    #[test]
    fn large_values_are_not_cached_and_the_entry_count_is_bounded() {
        let c = MetadataCache::default();
        c.put(1, b"big", Some(&vec![0u8; MAX_VALUE + 1]));
        assert_eq!(c.get(1, b"big"), None);
        for i in 0..(MAX_ENTRIES + 10) {
            c.put(1, format!("k{i}").as_bytes(), Some(b"v"));
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
