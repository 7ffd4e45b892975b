//! The values a tuple holds, their sort direction, and the total order the encoding keeps.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// One SQL value of a key. Equality, ordering and hashing follow [`Value::cmp_total`].
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The direction one position of a tuple sorts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    /// What every byte of a value in this order is XORed with.
    pub(crate) fn mask(self) -> u8 {
        match self {
            Order::Asc => 0x00,
            Order::Desc => 0xff,
        }
    }
}

/// The canonical quiet NaN every NaN is stored as.
pub const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

const SIGN: u64 = 0x8000_0000_0000_0000;

/// The representative of `f`'s equivalence class: `-0.0` becomes `+0.0`, any NaN the
/// canonical NaN.
pub fn canonical_float(f: f64) -> f64 {
    if f.is_nan() {
        f64::from_bits(CANONICAL_NAN_BITS)
    } else if f == 0.0 {
        0.0
    } else {
        f
    }
}

/// The unsigned key whose order is the float order of the module doc (on canonical `f`).
pub(crate) fn float_key(f: f64) -> u64 {
    let bits = canonical_float(f).to_bits();
    if bits & SIGN != 0 {
        !bits
    } else {
        bits ^ SIGN
    }
}

/// Inverse of [`float_key`] on the bits (no canonicalization).
pub(crate) fn float_from_key(key: u64) -> f64 {
    let bits = if key & SIGN != 0 { key ^ SIGN } else { !key };
    f64::from_bits(bits)
}

impl Value {
    /// The rank of the value's type in the cross-type order; equal to the ascending tag's
    /// position among the tags.
    fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Text(_) => 4,
            Value::Bytes(_) => 5,
        }
    }

    /// The total order the encoding preserves (see the module doc): NULL first, then bool,
    /// int, float, text, bytes, each by value; floats numerically with `-0.0 == 0.0` and
    /// every NaN equal to every NaN and above `+inf`.
    pub fn cmp_total(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => float_key(*a).cmp(&float_key(*b)),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp_total(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        self.cmp_total(other)
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.type_rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            // Equal floats have equal keys, so hashing the key keeps Hash consistent with Eq.
            Value::Float(f) => float_key(*f).hash(state),
            Value::Text(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
        }
    }
}
