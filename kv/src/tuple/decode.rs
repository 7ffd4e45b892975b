//! Reading values and tuples back, strictly: only what the encoder writes is accepted.

use super::encode::{
    ESCAPED_ZERO, TAG_BYTES, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_NULL, TAG_TEXT, TAG_TRUE,
    TERMINATOR,
};
use super::value::{canonical_float, float_from_key, Order, Value};
use super::TupleError;

/// Decodes exactly `orders.len()` values, the i-th in `orders[i]`, and requires the buffer
/// to end right after the last one.
pub fn decode_tuple(buf: &[u8], orders: &[Order]) -> Result<Vec<Value>, TupleError> {
    let mut pos = 0;
    let mut values = Vec::with_capacity(orders.len());
    for &order in orders {
        values.push(decode_value(buf, &mut pos, order)?);
    }
    if pos != buf.len() {
        return Err(TupleError::TrailingBytes { at: pos });
    }
    Ok(values)
}

/// Decodes the value in `order` starting at `*pos` and advances `*pos` past it. On error
/// `*pos` is unchanged.
pub fn decode_value(buf: &[u8], pos: &mut usize, order: Order) -> Result<Value, TupleError> {
    let mut r = Cursor {
        buf,
        pos: *pos,
        mask: order.mask(),
    };
    let v = r.value()?;
    *pos = r.pos;
    Ok(v)
}

/// Reads bytes with the order's inversion undone.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    mask: u8,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, TupleError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(TupleError::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(b ^ self.mask)
    }

    fn u64_be(&mut self) -> Result<u64, TupleError> {
        let end = self
            .pos
            .checked_add(8)
            .filter(|&end| end <= self.buf.len())
            .ok_or(TupleError::Truncated { at: self.buf.len() })?;
        let mut raw = [0u8; 8];
        for (dst, src) in raw.iter_mut().zip(&self.buf[self.pos..end]) {
            *dst = src ^ self.mask;
        }
        self.pos = end;
        Ok(u64::from_be_bytes(raw))
    }

    fn value(&mut self) -> Result<Value, TupleError> {
        let at = self.pos;
        let tag = self.byte()?;
        Ok(match tag {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => Value::Int((self.u64_be()? ^ 0x8000_0000_0000_0000) as i64),
            TAG_FLOAT => {
                let f = float_from_key(self.u64_be()?);
                if f.to_bits() != canonical_float(f).to_bits() {
                    return Err(TupleError::NonCanonicalFloat { at });
                }
                Value::Float(f)
            }
            TAG_TEXT => {
                let bytes = self.escaped()?;
                Value::Text(String::from_utf8(bytes).map_err(|_| TupleError::InvalidUtf8 { at })?)
            }
            TAG_BYTES => Value::Bytes(self.escaped()?),
            _ => {
                return Err(TupleError::BadTag {
                    at,
                    tag: tag ^ self.mask,
                })
            }
        })
    }

    /// The payload of text or bytes up to and including the terminator, unescaped.
    fn escaped(&mut self) -> Result<Vec<u8>, TupleError> {
        let mut out = Vec::new();
        loop {
            // Copy the run up to the next (logical) zero in one go.
            let rest = self.buf.get(self.pos..).unwrap_or(&[]);
            let run = rest.iter().position(|&b| b == self.mask);
            let Some(run) = run else {
                return Err(TupleError::Truncated { at: self.buf.len() });
            };
            out.extend(rest[..run].iter().map(|b| b ^ self.mask));
            self.pos += run;
            let zero_at = self.pos;
            self.byte()?;
            match self.byte()? {
                TERMINATOR => return Ok(out),
                ESCAPED_ZERO => out.push(0),
                other => {
                    return Err(TupleError::BadEscape {
                        at: zero_at,
                        byte: other ^ self.mask,
                    })
                }
            }
        }
    }
}
