//! Looking for a valid record after a bad one, in time that stays near-linear in the file size.
//!
//! When recovery meets a bad record it must know whether *any* valid record follows (then the
//! file is corrupt) or not (then it is a torn tail). The obvious scan tries every later offset
//! `s` as a header and CRCs the `len` bytes it claims. On random bytes about `rest / 2^32` of
//! the offsets claim a length that fits, and each costs up to `rest` bytes of CRC, so the scan
//! is cubic in the size of the damaged region: hours for a 64 MiB segment of garbage.
//!
//! Instead we CRC the region once and answer "CRC of bytes `s..e`" for any span from two
//! prefix CRCs. CRC-32 is affine over GF(2), which gives zlib's `crc32_combine` identity:
//!
//! ```text
//!   crc(A ++ B) = crc(A) * x^(8|B|)  mod P   xor   crc(B)
//!   so  crc(data[s..e]) = prefix(e) xor shift(prefix(s), e - s)
//!   where prefix(i) = crc(data[base..i]) and shift(c, n) = c * x^(8n) mod P
//! ```
//!
//! `prefix` comes from a checkpoint every [`CHECKPOINT`] bytes plus at most that many bytes of
//! CRC; `shift` is a product with `x^(8n)`, assembled from a table of `x^(2^k)` in at most 64
//! carry-less multiplications. A candidate header then costs O(CHECKPOINT + log n), and the
//! whole scan O(n) CRC work plus that per candidate whose length fits: seconds, not hours, for
//! a large garbage region, and nearly nothing for zeros (length 0 is rejected on sight).
//!
//! Polynomial arithmetic is in the reflected bit order CRC-32 uses: bit 31 is `x^0`.

use super::record::{HEADER_LEN, MAX_RECORD_LEN};
use crate::coding::get_u32_le;

/// Distance between stored prefix CRCs: memory is `4 / CHECKPOINT` of the scanned region.
const CHECKPOINT: usize = 256;
/// Reflected CRC-32 (IEEE) polynomial.
const POLY: u32 = 0xedb8_8320;
/// `1` in the reflected representation.
const ONE: u32 = 1 << 31;
/// `X2N[k] = x^(2^k) mod P`; 67 entries cover every shift of up to 2^64 bytes (8n bits).
static X2N: [u32; 67] = x2n_table();

/// `a * b mod P` (carry-less, reflected).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut p = 0u32;
    let mut m = ONE;
    while m != 0 {
        if a & m != 0 {
            p ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        m >>= 1;
    }
    p
}

const fn x2n_table() -> [u32; 67] {
    let mut t = [0u32; 67];
    let mut p = 1u32 << 30; // x^1
    let mut k = 0;
    while k < 67 {
        t[k] = p;
        p = multmodp(p, p);
        k += 1;
    }
    t
}

/// `crc * x^(8 * n) mod P`: the effect on a CRC of appending `n` more bytes (before xoring in
/// the CRC of those bytes).
pub(crate) fn shift(crc: u32, n: u64) -> u32 {
    let mut xn = ONE;
    let mut n = n;
    let mut k = 3; // x^(8n) = x^(n * 2^3)
    while n != 0 {
        if n & 1 != 0 {
            xn = multmodp(X2N[k], xn);
        }
        n >>= 1;
        k += 1;
    }
    multmodp(xn, crc)
}

/// CRCs of arbitrary spans of `data[base..]`.
pub(crate) struct SpanCrc<'a> {
    data: &'a [u8],
    base: usize,
    /// `checkpoints[j] = crc(data[base .. base + j * CHECKPOINT])`.
    checkpoints: Vec<u32>,
}

impl<'a> SpanCrc<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> SpanCrc<'a> {
        let region = data.get(base..).unwrap_or(&[]);
        let mut checkpoints = Vec::with_capacity(region.len() / CHECKPOINT + 1);
        checkpoints.push(0); // crc of nothing
        let mut h = crc32fast::Hasher::new();
        for chunk in region.chunks_exact(CHECKPOINT) {
            h.update(chunk);
            checkpoints.push(h.clone().finalize());
        }
        SpanCrc {
            data,
            base,
            checkpoints,
        }
    }

    /// `crc(data[base..i])`, or `None` if `i` is outside `base..=data.len()`.
    fn prefix(&self, i: usize) -> Option<u32> {
        let rel = i.checked_sub(self.base)?;
        let j = rel / CHECKPOINT;
        let start = self.base.checked_add(j.checked_mul(CHECKPOINT)?)?;
        let mut h = crc32fast::Hasher::new_with_initial(*self.checkpoints.get(j)?);
        h.update(self.data.get(start..i)?);
        Some(h.finalize())
    }

    /// `crc(data[s..e])` for `base <= s <= e <= data.len()`.
    pub(crate) fn span(&self, s: usize, e: usize) -> Option<u32> {
        let n = e.checked_sub(s)?;
        Some(self.prefix(e)? ^ shift(self.prefix(s)?, n as u64))
    }
}

/// The first offset at or after `from` where a complete, valid record starts, if any.
pub(crate) fn find_valid_record(data: &[u8], from: usize) -> Option<usize> {
    let last_start = data.len().checked_sub(HEADER_LEN + 1)?;
    if from > last_start {
        return None;
    }
    let spans = SpanCrc::new(data, from);
    (from..=last_start).find(|&s| is_valid_record_at(data, &spans, s))
}

fn is_valid_record_at(data: &[u8], spans: &SpanCrc<'_>, s: usize) -> bool {
    let Some(len) = get_u32_le(data, s) else {
        return false;
    };
    if len == 0 || len > MAX_RECORD_LEN {
        return false;
    }
    let Some(payload_start) = s.checked_add(HEADER_LEN) else {
        return false;
    };
    let Some(end) = payload_start.checked_add(len as usize) else {
        return false;
    };
    if end > data.len() {
        return false;
    }
    let Some(stored) = get_u32_le(data, s + 4) else {
        return false;
    };
    let Some(payload_crc) = spans.span(payload_start, end) else {
        return false;
    };
    let len_crc = crc32fast::hash(&len.to_le_bytes());
    shift(len_crc, u64::from(len)) ^ payload_crc == stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::record::record_crc;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn span_crc_matches_direct_crc(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
            c in any::<prop::sample::Index>(),
        ) {
            let mut idx = [a.index(data.len() + 1), b.index(data.len() + 1), c.index(data.len() + 1)];
            idx.sort_unstable();
            let [base, s, e] = idx;
            let spans = SpanCrc::new(&data, base);
            prop_assert_eq!(spans.span(s, e), Some(crc32fast::hash(&data[s..e])));
        }

        #[test]
        fn shift_agrees_with_crc32fast_combine(a: u32, n in 0u64..(1 << 40)) {
            let mut h = crc32fast::Hasher::new_with_initial(a);
            h.combine(&crc32fast::Hasher::new_with_initial_len(0, n));
            prop_assert_eq!(shift(a, n), h.finalize());
        }
    }

    #[test]
    fn finds_an_embedded_record_and_ignores_zeros() {
        let payload = b"hello";
        let len = (payload.len() as u32).to_le_bytes();
        let mut data = vec![0u8; 1000];
        let at = data.len();
        data.extend_from_slice(&len);
        data.extend_from_slice(&record_crc(len, payload).to_le_bytes());
        data.extend_from_slice(payload);
        data.extend_from_slice(&[0u8; 300]);
        assert_eq!(find_valid_record(&data, 0), Some(at));
        assert_eq!(find_valid_record(&data, at + 1), None);
        assert_eq!(find_valid_record(&[0u8; 5000], 0), None);
        assert_eq!(find_valid_record(&[], 0), None);
    }
}
