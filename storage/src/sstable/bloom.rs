//! The per-table bloom filter over user keys, and the key hash it (and its format) relies on.
//!
//! One filter covers the whole table. Point reads look up a user key at some version, so only
//! user keys go in; the builder adds each distinct key once. With `b` bits per key the filter
//! uses `k = round(b * ln 2)` probes (7 at 10 bits/key, about 0.8% false positives).
//!
//! Probes use double hashing (Kirsch–Mitzenmacher): one 64-bit hash `h1`, a second value
//! `h2 = rotl(h1, 32) | 1`, and probe `i` tests bit `fastrange(h1 + i*h2, m)` where
//! `fastrange(x, m) = (x * m) >> 64` maps a 64-bit value onto `0..m` without a division.
//! `hash64` is a small xxHash64-style function written here (no dependency); because bit
//! positions derive from it, it is part of the on-disk format and must never change for
//! format version 1. Block layout: `bits (m/8 bytes) | num_probes: u8`; empty = no filter.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Most probes a filter may declare; more is corruption.
const MAX_PROBES: u8 = 30;

/// A 64-bit hash of `data` (xxHash64-style mixing, seed 0). Stable: part of the file format.
pub fn hash64(data: &[u8]) -> u64 {
    let mut h = P5.wrapping_add(data.len() as u64);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let k = u64::from_le_bytes(w)
            .wrapping_mul(P2)
            .rotate_left(31)
            .wrapping_mul(P1);
        h = (h ^ k).rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 4 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&rest[..4]);
        h ^= u64::from(u32::from_le_bytes(w)).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[inline]
fn fastrange(x: u64, m: u64) -> u64 {
    ((u128::from(x) * u128::from(m)) >> 64) as u64
}

/// The bit positions probed for hash `h` in a filter of `m` bits.
#[inline]
fn probes(h: u64, m: u64, k: u8) -> impl Iterator<Item = u64> {
    let delta = h.rotate_left(32) | 1;
    (0..u64::from(k)).map(move |i| fastrange(h.wrapping_add(i.wrapping_mul(delta)), m))
}

/// Collects key hashes while a table is built, then lays out the filter.
#[derive(Debug)]
pub struct BloomBuilder {
    bits_per_key: usize,
    hashes: Vec<u64>,
}

impl BloomBuilder {
    pub fn new(bits_per_key: usize) -> BloomBuilder {
        BloomBuilder {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Add a user key; the caller adds each distinct key once.
    pub fn add_key(&mut self, key: &[u8]) {
        if self.bits_per_key > 0 {
            self.hashes.push(hash64(key));
        }
    }

    /// The filter block contents (empty when filtering is off).
    pub fn finish(&self) -> Vec<u8> {
        if self.bits_per_key == 0 {
            return Vec::new();
        }
        let k = ((self.bits_per_key * 693 + 500) / 1000).clamp(1, usize::from(MAX_PROBES)) as u8;
        let bits = self.hashes.len().saturating_mul(self.bits_per_key).max(64);
        let bytes = bits.div_ceil(8);
        let m = (bytes as u64) * 8;
        let mut out = vec![0u8; bytes + 1];
        for &h in &self.hashes {
            for bit in probes(h, m, k) {
                if let Some(b) = out.get_mut((bit / 8) as usize) {
                    *b |= 1 << (bit % 8);
                }
            }
        }
        out[bytes] = k;
        out
    }
}

/// A filter read from a table.
#[derive(Debug)]
pub struct BloomFilter {
    bits: Vec<u8>,
    num_probes: u8,
}

impl BloomFilter {
    /// Parse filter block contents: `Ok(None)` for "no filter", `Err(reason)` if malformed.
    pub fn from_block(mut data: Vec<u8>) -> Result<Option<BloomFilter>, &'static str> {
        let Some(k) = data.pop() else {
            return Ok(None);
        };
        if k == 0 || k > MAX_PROBES {
            return Err("bloom filter has an invalid probe count");
        }
        if data.is_empty() {
            return Err("bloom filter has no bits");
        }
        Ok(Some(BloomFilter {
            bits: data,
            num_probes: k,
        }))
    }

    /// False only if `key` was certainly not added.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let m = (self.bits.len() as u64) * 8;
        probes(hash64(key), m, self.num_probes).all(|bit| {
            self.bits
                .get((bit / 8) as usize)
                .is_some_and(|b| b & (1 << (bit % 8)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keys: impl Iterator<Item = Vec<u8>>, bits: usize) -> BloomFilter {
        let mut b = BloomBuilder::new(bits);
        for k in keys {
            b.add_key(&k);
        }
        BloomFilter::from_block(b.finish()).unwrap().unwrap()
    }

    #[test]
    fn hash_is_stable() {
        // Pinned values: the hash is part of the on-disk format.
        assert_eq!(hash64(b""), 0xef46_db37_51d8_e999);
        assert_eq!(
            hash64(b"a forty-byte key for pinning the hash!!!"),
            0x53a7_f05d_ad17_cb61
        );
        assert_ne!(hash64(b"a"), hash64(b"b"));
        assert_ne!(hash64(b"abcdefgh1"), hash64(b"abcdefgh2"));
    }

    #[test]
    fn no_false_negatives() {
        let f = filter((0..5000u32).map(|i| i.to_be_bytes().to_vec()), 10);
        for i in 0..5000u32 {
            assert!(f.may_contain(&i.to_be_bytes()));
        }
    }

    #[test]
    fn false_positive_rate_at_10_bits_is_below_2_percent() {
        let n = 10_000u32;
        let f = filter((0..n).map(|i| format!("user-key-{i}").into_bytes()), 10);
        let fp = (0..n)
            .filter(|i| f.may_contain(format!("absent-key-{i}").as_bytes()))
            .count();
        assert!(fp < 200, "{fp} false positives out of {n}");
    }

    #[test]
    fn disabled_filter_is_empty_block() {
        let mut b = BloomBuilder::new(0);
        b.add_key(b"x");
        assert!(b.finish().is_empty());
        assert!(BloomFilter::from_block(Vec::new()).unwrap().is_none());
    }

    #[test]
    fn malformed_filters_are_rejected() {
        assert!(BloomFilter::from_block(vec![0xff, 0]).is_err());
        assert!(BloomFilter::from_block(vec![0xff, 31]).is_err());
        assert!(BloomFilter::from_block(vec![7]).is_err());
    }
}
