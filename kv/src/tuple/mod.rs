//! The order-preserving ("memcomparable") tuple encoding that SQL row and index keys are
//! built from.
//!
//! A key such as `(tenant_id ASC, created_at DESC, name ASC)` becomes one byte string whose
//! plain bytewise order (the order the storage engine and every range read use) is exactly
//! the order of the tuples: lexicographic over positions, each position compared by
//! [`Value::cmp_total`], reversed where that position is [`Order::Desc`]. Decoding gives the
//! values back, so a key is also a faithful record of what it indexes.
//!
//! # The value order
//!
//! [`Value::cmp_total`] is a total order. Values of different types order by type:
//! `NULL < Bool < Int < Float < Text < Bytes`. Within a type:
//!
//! - Bool: `false < true`. Int: numeric. Text: bytewise over its UTF-8 (= code point order).
//!   Bytes: bytewise. A proper prefix sorts before every longer string it starts.
//! - Float: numeric, with `-inf` lowest; `-0.0 == +0.0`; every NaN is equal to every other
//!   NaN and greater than `+inf`. This is PostgreSQL's float order, and SQL's: `-0.0 = 0.0`
//!   is true in SQL, so a unique index must not admit both and a lookup for `0.0` must find
//!   a row written with `-0.0`. The encoding therefore stores the equivalence class, not the
//!   bits: `-0.0` encodes (and decodes) as `+0.0`, and every NaN as the canonical quiet NaN
//!   `0x7ff8_0000_0000_0000`. Those are the only two cases where decoding does not return
//!   the encoded float bit for bit.
//!
//! `Value`'s `PartialEq`, `Eq`, `Ord` and `Hash` all follow this order, so
//! `a == b` exactly when `encode(a) == encode(b)`.
//!
//! # Byte layout of one value, ascending
//!
//! One type-tag byte, then the payload:
//!
//! ```text
//!   NULL      02
//!   false     10
//!   true      11
//!   Int(i)    20  u64 big-endian of (i as u64) ^ 0x8000_0000_0000_0000     (8 bytes)
//!   Float(f)  30  u64 big-endian of key(canonical(f))                      (8 bytes)
//!   Text(s)   40  escape(UTF-8 bytes of s)  00 01
//!   Bytes(b)  50  escape(b)                 00 01
//!
//!   escape:        every 00 byte becomes 00 ff; every other byte is copied.
//!   canonical(f):  -0.0 -> +0.0; any NaN -> f64::from_bits(0x7ff8_0000_0000_0000).
//!   key(f):        bits = f.to_bits();
//!                  if the sign bit is set { !bits } else { bits ^ 0x8000_0000_0000_0000 }
//! ```
//!
//! Flipping the sign bit of a two's-complement int makes unsigned big-endian order equal to
//! signed order. For floats, positives get the sign bit set (so they sit above all
//! negatives, and IEEE positive floats already order like their bit patterns), negatives get
//! every bit inverted (larger magnitude, smaller key). The canonical NaN is positive, so its
//! key `0xfff8...` sits above `+inf`'s `0xfff0...`.
//!
//! Text and bytes end with the two-byte terminator `00 01`, and a literal `00` is written
//! `00 ff`. Inside the payload a `00` is always followed by `01` (end) or `ff` (escaped
//! zero), so where two strings first differ the shorter one's terminator `00 01` meets
//! either a non-zero byte (`00` is lower: the prefix sorts first) or an escaped zero
//! `00 ff` (`01 < ff`: again the prefix sorts first).
//!
//! # Descending
//!
//! A `Desc` value is its ascending encoding with every byte, tag included, XORed with `ff`.
//! Inverting every byte reverses the order of any two byte strings *provided neither is a
//! proper prefix of the other* (for a string and its extension, inversion keeps the shorter
//! one first). The ascending encoding is prefix-free: the decoder reads it
//! deterministically and the terminator ends it, so no encoding is a proper prefix of
//! another. That is why the terminator is `00 01` and not FoundationDB's single `00`: with a
//! bare `00`, `"a"` = `40 61 00` is a prefix of `"a\0"` = `40 61 00 ff 00`, which is harmless
//! ascending but puts `"a"` before `"a\0"` descending when `"a"` ends the key.
//!
//! # Tuples
//!
//! A tuple is its values' encodings concatenated; nothing else (no count, no separators).
//! Because each value's encoding is prefix-free, the first differing byte of two tuples lies
//! inside the first position where the values differ (or, for equal values, the encodings
//! are identical and comparison moves on), which is what makes the byte order lexicographic.
//! The per-position orders are not stored: the schema supplies them to [`decode_tuple`].
//!
//! Ascending tags lie in `02..=50`, descending ones in `af..=fd`. Hence a decoder handed the
//! wrong order fails with [`TupleError::BadTag`] instead of misreading, and no value starts
//! with `00` or `ff`: for any encoded prefix `p`, every key `p ++ more values` lies strictly
//! inside `(p ++ 00, p ++ ff)`, bounds a range read over "all keys starting with these
//! columns" can use.
//!
//! # Examples
//!
//! ```text
//!   Int(0)      asc   20 80 00 00 00 00 00 00 00
//!   Int(-1)     asc   20 7f ff ff ff ff ff ff ff
//!   Int(MIN)    asc   20 00 00 00 00 00 00 00 00
//!   Float(1.0)  asc   30 bf f0 00 00 00 00 00 00
//!   Float(-1.0) asc   30 40 0f ff ff ff ff ff ff
//!   Float(0.0)  asc   30 80 00 00 00 00 00 00 00     (also for -0.0)
//!   Float(NaN)  asc   30 ff f8 00 00 00 00 00 00
//!   Text("")    asc   40 00 01
//!   Text("a\0b") asc 40 61 00 ff 62 00 01
//!   Bytes(ff)   asc   50 ff 00 01
//!   NULL        desc  fd
//!   Int(0)      desc  df 7f ff ff ff ff ff ff ff
//!   Text("")    desc  bf ff fe
//!   (Int(1) asc, Text("ab") desc)
//!               20 80 00 00 00 00 00 00 01  bf 9e 9d ff fe
//! ```
//!
//! # Decoding
//!
//! Input is untrusted and decoding never panics. It is also strict: it accepts exactly the
//! byte strings the encoder produces, rejecting bad tags, escapes other than `00 01` /
//! `00 ff`, invalid UTF-8, and floats whose bits are not canonical (`-0.0`, other NaNs).
//! So the encoding is a bijection between values (up to `==`) and valid keys, and no two
//! distinct keys can hold "the same" row. Error positions are byte offsets into the buffer.

mod decode;
mod encode;
mod value;

#[cfg(test)]
mod tests;

pub use decode::{decode_tuple, decode_value};
pub use encode::{encode_tuple, encode_value};
pub use value::{canonical_float, Order, Value, CANONICAL_NAN_BITS};

/// Why a byte string is not a valid tuple encoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TupleError {
    /// The buffer ended where the value starting before `at` needed another byte.
    #[error("tuple encoding truncated at byte {at}")]
    Truncated { at: usize },
    /// The byte at `at` (as stored, before undoing a descending inversion) is not a type
    /// tag of the expected order.
    #[error("bad type tag {tag:#04x} at byte {at}")]
    BadTag { at: usize, tag: u8 },
    /// A `00` at `at` inside text or bytes followed by `byte` (as stored), which is neither
    /// the terminator nor an escaped zero.
    #[error("bad escape {byte:#04x} after the zero at byte {at}")]
    BadEscape { at: usize, byte: u8 },
    /// The text value whose tag is at `at` is not UTF-8.
    #[error("text value at byte {at} is not UTF-8")]
    InvalidUtf8 { at: usize },
    /// The float whose tag is at `at` has bits the encoder never writes (`-0.0` or a NaN
    /// other than the canonical one).
    #[error("float at byte {at} is not in canonical form")]
    NonCanonicalFloat { at: usize },
    /// All expected values were decoded but bytes remain from `at` on.
    #[error("trailing bytes from byte {at}")]
    TrailingBytes { at: usize },
}
