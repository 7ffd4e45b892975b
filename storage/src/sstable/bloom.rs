//! The per-table bloom filter over user keys, and the key hash it (and its format) relies on.
//!
//! One filter covers the whole table. Point reads look up a user key at some version, so only
//! user keys go in; the builder adds each distinct key once. With `b` bits per key the filter
//! uses `k = round(b * ln 2)` probes (7 at 10 bits/key).
//!
//! New tables use the *blocked* layout: the bits are 64-byte lines, a key's line is
//! `fastrange(h, lines)` with `h = hash64(key)` and `fastrange(x, n) = (x * n) >> 64`, and its
//! `k` probes all fall inside that line (bit `i` is the top 9 bits of
//! `g = h * 0x9E3779B97F4A7C15` rotated left by `9 * i`). A lookup costs one cache miss, not
//! one per probe; the price is a slightly higher false-positive rate (about 1% at 10
//! bits/key instead of 0.8%). Block layout: `lines (64 bytes each) | num_probes: u8 | 0x80`.
//!
//! Tables written before that use the *legacy* layout, still read: `bits (m/8 bytes) |
//! num_probes: u8` (a last byte of 1..=30, never 0x80), probe `i` tests bit
//! `fastrange(h + i*h2, m)` with `h2 = rotl(h, 32) | 1` (Kirsch–Mitzenmacher double hashing).
//! `hash64` is a small xxHash64-style function written here (no dependency); because bit
//! positions derive from it, it is part of the on-disk format and must never change for
//! format version 1. Empty block = no filter.

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

    /// The filter block contents (empty when filtering is off), in the blocked layout.
    pub fn finish(&self) -> Vec<u8> {
        if self.bits_per_key == 0 {
            return Vec::new();
        }
        let k = num_probes(self.bits_per_key);
        let bits = self.hashes.len().saturating_mul(self.bits_per_key).max(1);
        let lines = bits.div_ceil(LINE_BITS);
        let mut out = vec![0u8; lines * LINE_BYTES + 2];
        for &h in &self.hashes {
            let base = line_of(h, lines) * LINE_BYTES;
            for bit in line_probes(h, k) {
                out[base + bit / 8] |= 1 << (bit % 8);
            }
        }
        out[lines * LINE_BYTES] = k;
        out[lines * LINE_BYTES + 1] = BLOCKED;
        out
    }
}

/// `k = round(bits_per_key * ln 2)`, within 1..=MAX_PROBES.
fn num_probes(bits_per_key: usize) -> u8 {
    ((bits_per_key * 693 + 500) / 1000).clamp(1, usize::from(MAX_PROBES)) as u8
}

/// Blocked layout: every probe of a key falls in one 64-byte line (one cache miss per
/// lookup instead of one per probe).
const LINE_BYTES: usize = 64;
const LINE_BITS: usize = LINE_BYTES * 8;
/// Last byte of a blocked filter block; a legacy block ends in its probe count (1..=30).
const BLOCKED: u8 = 0x80;

/// The line a key's probes fall in: `fastrange(h, lines)`.
#[inline]
fn line_of(h: u64, lines: usize) -> usize {
    fastrange(h, lines as u64) as usize
}

/// The bit positions (0..512) probed inside the line: 9 bits at a time from the top of
/// `g = h * 0x9E3779B97F4A7C15`, rotating `g` left by 9 after each probe. The multiply
/// mixes the low bits of `h` (which barely move `fastrange`) into the ones used here.
#[inline]
fn line_probes(h: u64, k: u8) -> impl Iterator<Item = usize> {
    let mut g = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..k).map(move |_| {
        let bit = (g >> 55) as usize;
        g = g.rotate_left(9);
        bit
    })
}

/// One cache line of a blocked filter, aligned so a lookup touches exactly one line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Line([u8; LINE_BYTES]);

#[derive(Debug)]
enum Bits {
    /// Format version 1's first layout: probes spread over the whole array.
    Legacy(Vec<u8>),
    Blocked(Vec<Line>),
}

/// A filter read from a table.
#[derive(Debug)]
pub struct BloomFilter {
    bits: Bits,
    num_probes: u8,
}

impl BloomFilter {
    /// Parse filter block contents: `Ok(None)` for "no filter", `Err(reason)` if malformed.
    pub fn from_block(mut data: Vec<u8>) -> Result<Option<BloomFilter>, &'static str> {
        let Some(last) = data.pop() else {
            return Ok(None);
        };
        let blocked = last == BLOCKED;
        let k = if blocked {
            data.pop()
                .ok_or("blocked bloom filter has no probe count")?
        } else {
            last
        };
        if k == 0 || k > MAX_PROBES {
            return Err("bloom filter has an invalid probe count");
        }
        if data.is_empty() {
            return Err("bloom filter has no bits");
        }
        let bits = if blocked {
            if !data.len().is_multiple_of(LINE_BYTES) {
                return Err("blocked bloom filter is not a whole number of lines");
            }
            Bits::Blocked(
                data.chunks_exact(LINE_BYTES)
                    .map(|c| Line(c.try_into().expect("chunks are LINE_BYTES long")))
                    .collect(),
            )
        } else {
            Bits::Legacy(data)
        };
        Ok(Some(BloomFilter {
            bits,
            num_probes: k,
        }))
    }

    /// False only if `key` was certainly not added.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let h = hash64(key);
        match &self.bits {
            Bits::Blocked(lines) => {
                let line = &lines[line_of(h, lines.len())].0;
                line_probes(h, self.num_probes).all(|bit| line[bit / 8] & (1 << (bit % 8)) != 0)
            }
            Bits::Legacy(bits) => {
                let m = (bits.len() as u64) * 8;
                probes(h, m, self.num_probes).all(|bit| {
                    bits.get((bit / 8) as usize)
                        .is_some_and(|b| b & (1 << (bit % 8)) != 0)
                })
            }
        }
    }
}

/// The legacy layout's builder, kept so tests can check old tables still read.
#[cfg(test)]
fn legacy_filter_block(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    let k = num_probes(bits_per_key);
    let bits = hashes.len().saturating_mul(bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let m = (bytes as u64) * 8;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        for bit in probes(h, m, k) {
            out[(bit / 8) as usize] |= 1 << (bit % 8);
        }
    }
    out[bytes] = k;
    out
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
    fn legacy_layout_still_reads() {
        let keys: Vec<Vec<u8>> = (0..3000u32).map(|i| format!("k{i}").into_bytes()).collect();
        let hashes: Vec<u64> = keys.iter().map(|k| hash64(k)).collect();
        let f = BloomFilter::from_block(legacy_filter_block(&hashes, 10))
            .unwrap()
            .unwrap();
        assert!(matches!(f.bits, Bits::Legacy(_)));
        assert!(keys.iter().all(|k| f.may_contain(k)));
        let fp = (0..3000u32)
            .filter(|i| f.may_contain(format!("absent{i}").as_bytes()))
            .count();
        assert!(fp < 60, "{fp} false positives out of 3000");
    }

    #[test]
    fn blocked_layout_is_whole_lines_with_its_marker() {
        let f = filter((0..1000u32).map(|i| i.to_be_bytes().to_vec()), 10);
        match &f.bits {
            Bits::Blocked(lines) => assert_eq!(lines.len(), (1000 * 10usize).div_ceil(512)),
            Bits::Legacy(_) => panic!("new filters use the blocked layout"),
        }
        assert_eq!(f.num_probes, 7);
        let mut b = BloomBuilder::new(10);
        b.add_key(b"x");
        let block = b.finish();
        assert_eq!(block.len(), 64 + 2);
        assert_eq!(block[block.len() - 1], BLOCKED);
        // A truncated line or a missing probe count is corruption, not a panic.
        assert!(BloomFilter::from_block(block[1..].to_vec()).is_err());
        assert!(BloomFilter::from_block(vec![BLOCKED]).is_err());
        assert!(BloomFilter::from_block(vec![7, BLOCKED]).is_err());
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
