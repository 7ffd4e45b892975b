//! Writing values and tuples in the layout the module doc gives byte by byte.

use super::value::{float_key, Order, Value};

pub(crate) const TAG_NULL: u8 = 0x02;
pub(crate) const TAG_FALSE: u8 = 0x10;
pub(crate) const TAG_TRUE: u8 = 0x11;
pub(crate) const TAG_INT: u8 = 0x20;
pub(crate) const TAG_FLOAT: u8 = 0x30;
pub(crate) const TAG_TEXT: u8 = 0x40;
pub(crate) const TAG_BYTES: u8 = 0x50;

/// Ends text and bytes; `00` is its first byte and the escape's.
pub(crate) const TERMINATOR: u8 = 0x01;
/// Follows `00` for a literal zero byte.
pub(crate) const ESCAPED_ZERO: u8 = 0xff;

/// Appends the encoding of `v` in `order` to `out`.
pub fn encode_value(out: &mut Vec<u8>, v: &Value, order: Order) {
    let start = out.len();
    encode_ascending(out, v);
    let mask = order.mask();
    if mask != 0 {
        for b in &mut out[start..] {
            *b ^= mask;
        }
    }
}

/// The concatenation of each value's encoding in its order.
pub fn encode_tuple(values: &[(Value, Order)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (v, order) in values {
        encode_value(&mut out, v, *order);
    }
    out
}

fn encode_ascending(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(i) => {
            out.push(TAG_INT);
            out.extend_from_slice(&((*i as u64) ^ 0x8000_0000_0000_0000).to_be_bytes());
        }
        Value::Float(f) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&float_key(*f).to_be_bytes());
        }
        Value::Text(s) => {
            out.push(TAG_TEXT);
            put_escaped(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            put_escaped(out, b);
        }
    }
}

fn put_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    let mut chunks = bytes.split(|&b| b == 0);
    if let Some(first) = chunks.next() {
        out.extend_from_slice(first);
    }
    for chunk in chunks {
        out.extend_from_slice(&[0x00, ESCAPED_ZERO]);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&[0x00, TERMINATOR]);
}
