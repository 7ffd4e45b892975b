//! The vocabulary of the key-value layer: versions, key ranges and mutations.
//!
//! Keys are byte strings ordered bytewise. A [`KeyRange`] is half-open, `[begin, end)`, as in
//! FoundationDB: ranges compose without gaps or overlaps (`[a, b)` then `[b, c)`), and the
//! range holding every key starting with a prefix is `[prefix, strinc(prefix))`.
//!
//! A [`Mutation`] is one write a transaction commits; the commit log stores lists of them
//! at their commit version and storage servers apply them in version order.
//!
//! Encoding of a mutation list (the payload of a commit-log entry), byte by byte:
//!
//! ```text
//!   count: varint
//!   count times, a tag byte then its fields:
//!     0 Set         key (varint len + bytes), value (varint len + bytes)
//!     1 Clear       key
//!     2 ClearRange  begin, end
//!     3 AtomicAdd   key, delta: i64 little-endian (8 bytes)
//! ```

use serde::{Deserialize, Serialize};

use ferrisdb_storage::coding::{put_varint, Reader};

/// A version: the cluster's one u64 clock. Commit versions strictly increase.
pub type Version = u64;

/// A half-open key range `[begin, end)`. Empty when `begin >= end`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyRange {
    pub begin: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    pub fn new(begin: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> KeyRange {
        KeyRange {
            begin: begin.into(),
            end: end.into(),
        }
    }

    /// The range holding exactly `key`: `[key, key + 0x00)`.
    pub fn single(key: &[u8]) -> KeyRange {
        KeyRange {
            begin: key.to_vec(),
            end: key_after(key),
        }
    }

    /// Every key that starts with `prefix`. `None` when no key is above the prefix range
    /// (the prefix is empty or all 0xff bytes), in which case the range has no finite end.
    pub fn prefix(prefix: &[u8]) -> Option<KeyRange> {
        Some(KeyRange {
            begin: prefix.to_vec(),
            end: strinc(prefix)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.begin >= self.end
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.begin.as_slice() && key < self.end.as_slice()
    }

    /// Whether the two ranges share at least one key.
    pub fn intersects(&self, other: &KeyRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.begin < other.end && other.begin < self.end
    }

    /// The keys in both ranges (empty when they do not intersect).
    pub fn intersection(&self, other: &KeyRange) -> KeyRange {
        KeyRange {
            begin: self.begin.clone().max(other.begin.clone()),
            end: self.end.clone().min(other.end.clone()),
        }
    }

    /// The range as bounds for a storage-engine scan: `[begin, end)`.
    pub fn bounds(&self) -> (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>) {
        (
            std::ops::Bound::Included(self.begin.as_slice()),
            std::ops::Bound::Excluded(self.end.as_slice()),
        )
    }
}

/// The smallest key strictly greater than `key`: `key` followed by a zero byte.
pub fn key_after(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// The smallest key greater than every key starting with `prefix`: drop trailing 0xff bytes
/// and increment the last byte. `None` if the prefix is empty or all 0xff.
pub fn strinc(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut out = prefix[..=keep].to_vec();
    out[keep] += 1;
    Some(out)
}

/// One write of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mutation {
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Clear {
        key: Vec<u8>,
    },
    ClearRange {
        range: KeyRange,
    },
    /// Little-endian 64-bit addition, as FoundationDB's ADD: the stored value is read as an
    /// i64 (zero-extended or truncated to 8 bytes; a missing key reads as 0), `delta` is added
    /// with wrap-around, and the 8-byte result is stored. Takes no read conflict.
    AtomicAdd {
        key: Vec<u8>,
        delta: i64,
    },
}

impl Mutation {
    /// Apply an atomic add to `existing`, per the `AtomicAdd` rule.
    pub fn add_le(existing: Option<&[u8]>, delta: i64) -> [u8; 8] {
        let mut b = [0u8; 8];
        if let Some(e) = existing {
            let n = e.len().min(8);
            b[..n].copy_from_slice(&e[..n]);
        }
        i64::from_le_bytes(b).wrapping_add(delta).to_le_bytes()
    }

    /// Bytes this mutation counts against the transaction size limit.
    pub fn size(&self) -> usize {
        match self {
            Mutation::Set { key, value } => key.len() + value.len(),
            Mutation::Clear { key } => key.len(),
            Mutation::ClearRange { range } => range.begin.len() + range.end.len(),
            Mutation::AtomicAdd { key, .. } => key.len() + 8,
        }
    }
}

/// Encode a list of mutations (the format in the module doc).
pub fn encode_mutations(ms: &[Mutation]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + ms.iter().map(|m| m.size() + 8).sum::<usize>());
    put_varint(&mut b, ms.len() as u64);
    let lp = |b: &mut Vec<u8>, s: &[u8]| {
        put_varint(b, s.len() as u64);
        b.extend_from_slice(s);
    };
    for m in ms {
        match m {
            Mutation::Set { key, value } => {
                b.push(0);
                lp(&mut b, key);
                lp(&mut b, value);
            }
            Mutation::Clear { key } => {
                b.push(1);
                lp(&mut b, key);
            }
            Mutation::ClearRange { range } => {
                b.push(2);
                lp(&mut b, &range.begin);
                lp(&mut b, &range.end);
            }
            Mutation::AtomicAdd { key, delta } => {
                b.push(3);
                lp(&mut b, key);
                b.extend_from_slice(&delta.to_le_bytes());
            }
        }
    }
    b
}

/// Decode a mutation list; `Err` describes the first malformed field.
pub fn decode_mutations(buf: &[u8]) -> Result<Vec<Mutation>, String> {
    let mut r = Reader::new(buf);
    let count = r.varint().ok_or("truncated mutation count")?;
    let mut out = Vec::new();
    for i in 0..count {
        let bad = |what: &str| format!("mutation {i}: {what}");
        let tag = r.u8().ok_or_else(|| bad("truncated tag"))?;
        let mut bytes = |what: &str| {
            r.length_prefixed()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| bad(what))
        };
        let m = match tag {
            0 => Mutation::Set {
                key: bytes("truncated key")?,
                value: bytes("truncated value")?,
            },
            1 => Mutation::Clear {
                key: bytes("truncated key")?,
            },
            2 => Mutation::ClearRange {
                range: KeyRange {
                    begin: bytes("truncated range begin")?,
                    end: bytes("truncated range end")?,
                },
            },
            3 => {
                let key = bytes("truncated key")?;
                let delta = r.u64_le().ok_or_else(|| bad("truncated delta"))? as i64;
                Mutation::AtomicAdd { key, delta }
            }
            t => return Err(bad(&format!("unknown tag {t}"))),
        };
        out.push(m);
    }
    if !r.is_empty() {
        return Err(format!(
            "{} trailing bytes after {count} mutations",
            buf.len() - r.position()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn intersection_is_the_keys_in_both_ranges() {
        let r = KeyRange::new("b", "m");
        assert_eq!(
            r.intersection(&KeyRange::new("a", "f")),
            KeyRange::new("b", "f")
        );
        assert_eq!(
            r.intersection(&KeyRange::new("c", "z")),
            KeyRange::new("c", "m")
        );
        assert!(r.intersection(&KeyRange::new("m", "z")).is_empty());
        assert!(r.contains(b"e") && r.bounds().0 == std::ops::Bound::Included(&b"b"[..]));
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let bytes = prop::collection::vec(any::<u8>(), 0..12);
        prop_oneof![
            (bytes.clone(), bytes.clone()).prop_map(|(key, value)| Mutation::Set { key, value }),
            bytes.clone().prop_map(|key| Mutation::Clear { key }),
            (bytes.clone(), bytes.clone()).prop_map(|(b, e)| Mutation::ClearRange {
                range: KeyRange::new(b, e)
            }),
            (bytes, any::<i64>()).prop_map(|(key, delta)| Mutation::AtomicAdd { key, delta }),
        ]
    }

    proptest! {
        #[test]
        fn mutations_roundtrip(ms in prop::collection::vec(mutation(), 0..20)) {
            prop_assert_eq!(decode_mutations(&encode_mutations(&ms)).unwrap(), ms);
        }

        #[test]
        fn decoding_garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_mutations(&b);
        }

        #[test]
        fn strinc_bounds_every_key_with_the_prefix(p in prop::collection::vec(any::<u8>(), 1..6), tail in prop::collection::vec(any::<u8>(), 0..6)) {
            if let Some(end) = strinc(&p) {
                let mut k = p.clone();
                k.extend_from_slice(&tail);
                prop_assert!(k < end);
                prop_assert!(p < end);
            }
        }
    }

    #[test]
    fn truncated_encodings_are_errors() {
        let ms = vec![
            Mutation::Set {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            },
            Mutation::AtomicAdd {
                key: b"n".to_vec(),
                delta: -3,
            },
        ];
        let full = encode_mutations(&ms);
        for cut in 0..full.len() {
            assert!(decode_mutations(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn ranges_and_keys() {
        assert_eq!(strinc(b"ab\xff\xff"), Some(b"ac".to_vec()));
        assert_eq!(strinc(b"\xff"), None);
        assert_eq!(strinc(b""), None);
        let r = KeyRange::single(b"k");
        assert!(r.contains(b"k") && !r.contains(b"k\x00") && !r.contains(b"j"));
        assert!(KeyRange::new("a", "c").intersects(&KeyRange::new("b", "d")));
        assert!(!KeyRange::new("a", "b").intersects(&KeyRange::new("b", "c")));
        assert!(!KeyRange::new("b", "a").intersects(&KeyRange::new("a", "z")));
    }

    #[test]
    fn atomic_add_follows_the_little_endian_rule() {
        assert_eq!(i64::from_le_bytes(Mutation::add_le(None, 5)), 5);
        assert_eq!(
            i64::from_le_bytes(Mutation::add_le(Some(&7i64.to_le_bytes()), -10)),
            -3
        );
        assert_eq!(
            i64::from_le_bytes(Mutation::add_le(Some(&[1]), 1)),
            2,
            "short values are zero-extended"
        );
        assert_eq!(
            i64::from_le_bytes(Mutation::add_le(Some(&i64::MAX.to_le_bytes()), 1)),
            i64::MIN,
            "wraps"
        );
    }
}
