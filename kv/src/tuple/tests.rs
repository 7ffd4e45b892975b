//! Property tests (byte order = value order, roundtrip, garbage, truncation) and the tricky
//! cases by name.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;

fn tuple_cmp(a: &[Value], b: &[Value], orders: &[Order]) -> Ordering {
    for ((x, y), order) in a.iter().zip(b).zip(orders) {
        let o = match order {
            Order::Asc => x.cmp_total(y),
            Order::Desc => x.cmp_total(y).reverse(),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn enc(values: &[Value], orders: &[Order]) -> Vec<u8> {
    let pairs: Vec<(Value, Order)> = values.iter().cloned().zip(orders.iter().copied()).collect();
    encode_tuple(&pairs)
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(-f64::MIN_POSITIVE),
        Just(f64::from_bits(1)),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(1.0),
        Just(-1.0),
        // NaNs with random payloads and signs.
        any::<u64>()
            .prop_map(|m| f64::from_bits(0x7ff0_0000_0000_0001 | (m & 0x800f_ffff_ffff_ffff))),
        any::<f64>(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    // Small alphabets so equal values and prefixes of each other come up often.
    let text = prop::collection::vec(
        prop::sample::select(vec!['\0', 'a', 'b', '\u{7f}', 'é', '\u{10ffff}']),
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    let bytes = prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, 0x61, 0xfe, 0xff]),
        0..4,
    );
    let int = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64),
        -3i64..3,
        any::<i64>()
    ];
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int.prop_map(Value::Int),
        float().prop_map(Value::Float),
        text.prop_map(Value::Text),
        bytes.prop_map(Value::Bytes),
    ]
}

fn order() -> impl Strategy<Value = Order> {
    prop_oneof![Just(Order::Asc), Just(Order::Desc)]
}

/// Orders plus two tuples of that arity, where `b` shares a random-length prefix with `a`
/// half of the time, so ties on the leading positions are exercised.
fn tuple_pair() -> impl Strategy<Value = (Vec<Order>, Vec<Value>, Vec<Value>)> {
    prop::collection::vec(order(), 0..5).prop_flat_map(|orders| {
        let n = orders.len();
        (
            Just(orders),
            prop::collection::vec(value(), n),
            prop::collection::vec(value(), n),
            0..=n,
            any::<bool>(),
        )
            .prop_map(|(orders, a, mut b, k, share)| {
                if share {
                    b[..k].clone_from_slice(&a[..k]);
                }
                (orders, a, b)
            })
    })
}

/// The value `decode(encode(v))` must be bit for bit: `v` with its float canonicalized.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Float(f) => Value::Float(canonical_float(*f)),
        other => other.clone(),
    }
}

fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn byte_order_equals_value_order((orders, a, b) in tuple_pair()) {
        let (ea, eb) = (enc(&a, &orders), enc(&b, &orders));
        prop_assert_eq!(ea.cmp(&eb), tuple_cmp(&a, &b, &orders), "{:?} vs {:?}", ea, eb);
        prop_assert_eq!(ea == eb, a == b);
    }

    #[test]
    fn decode_inverts_encode((orders, a, _b) in tuple_pair()) {
        let decoded = decode_tuple(&enc(&a, &orders), &orders).unwrap();
        prop_assert_eq!(decoded.len(), a.len());
        for (d, v) in decoded.iter().zip(&a) {
            prop_assert!(identical(d, &canonical(v)), "{:?} decoded as {:?}", v, d);
            prop_assert_eq!(d, v);
        }
    }

    #[test]
    fn every_truncation_is_truncated((orders, a, _b) in tuple_pair()) {
        let full = enc(&a, &orders);
        for cut in 0..full.len() {
            let err = decode_tuple(&full[..cut], &orders).unwrap_err();
            prop_assert!(matches!(err, TupleError::Truncated { .. }), "cut {}: {:?}", cut, err);
        }
    }

    #[test]
    fn garbage_never_panics_and_accepted_input_is_canonical(
        buf in prop::collection::vec(any::<u8>(), 0..40),
        orders in prop::collection::vec(order(), 0..4),
    ) {
        if let Ok(values) = decode_tuple(&buf, &orders) {
            prop_assert_eq!(enc(&values, &orders), buf);
        }
    }

    #[test]
    fn corrupted_encodings_never_panic_and_stay_canonical(
        (orders, a, _b) in tuple_pair(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut buf = enc(&a, &orders);
        if !buf.is_empty() {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        if let Ok(values) = decode_tuple(&buf, &orders) {
            prop_assert_eq!(enc(&values, &orders), buf);
        }
    }

    #[test]
    fn equal_values_hash_equal(v in value()) {
        use std::hash::{BuildHasher, RandomState};
        let s = RandomState::new();
        let c = canonical(&v);
        prop_assert_eq!(s.hash_one(&v), s.hash_one(&c));
    }
}

fn one(v: Value, order: Order) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(&mut out, &v, order);
    out
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

#[test]
fn documented_bytes() {
    use Order::*;
    assert_eq!(one(Value::Null, Asc), [0x02]);
    assert_eq!(one(Value::Null, Desc), [0xfd]);
    assert_eq!(one(Value::Bool(false), Asc), [0x10]);
    assert_eq!(one(Value::Bool(true), Asc), [0x11]);
    assert_eq!(one(Value::Int(0), Asc), [0x20, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        one(Value::Int(-1), Asc),
        [0x20, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(
        one(Value::Int(i64::MIN), Asc),
        [0x20, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        one(Value::Int(0), Desc),
        [0xdf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(
        one(Value::Float(1.0), Asc),
        [0x30, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        one(Value::Float(-1.0), Asc),
        [0x30, 0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(
        one(Value::Float(0.0), Asc),
        [0x30, 0x80, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        one(Value::Float(f64::NAN), Asc),
        [0x30, 0xff, 0xf8, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(one(text(""), Asc), [0x40, 0x00, 0x01]);
    assert_eq!(
        one(text("a\0b"), Asc),
        [0x40, 0x61, 0x00, 0xff, 0x62, 0x00, 0x01]
    );
    assert_eq!(one(Value::Bytes(vec![0xff]), Asc), [0x50, 0xff, 0x00, 0x01]);
    assert_eq!(one(text(""), Desc), [0xbf, 0xff, 0xfe]);
    assert_eq!(
        encode_tuple(&[(Value::Int(1), Asc), (text("ab"), Desc)]),
        [0x20, 0x80, 0, 0, 0, 0, 0, 0, 1, 0xbf, 0x9e, 0x9d, 0xff, 0xfe]
    );
}

#[test]
fn negative_zero_equals_zero_and_decodes_as_zero() {
    let (neg, pos) = (Value::Float(-0.0), Value::Float(0.0));
    assert_eq!(neg, pos);
    assert_eq!(one(neg.clone(), Order::Asc), one(pos, Order::Asc));
    let back = decode_tuple(&one(neg, Order::Desc), &[Order::Desc]).unwrap();
    assert!(matches!(back[..], [Value::Float(f)] if f.to_bits() == 0));
    // The bits -0.0 would have had, had the encoder not canonicalized it, are refused.
    let mut raw = vec![0x30];
    raw.extend_from_slice(&0x7fff_ffff_ffff_ffffu64.to_be_bytes());
    assert_eq!(
        decode_tuple(&raw, &[Order::Asc]),
        Err(TupleError::NonCanonicalFloat { at: 0 })
    );
}

#[test]
fn nans_are_equal_above_infinity_and_decode_canonical() {
    let weird = f64::from_bits(0xfff0_0000_0000_0123); // negative signalling NaN
    assert_eq!(Value::Float(weird), Value::Float(f64::NAN));
    assert_eq!(
        Value::Float(f64::NAN).cmp_total(&Value::Float(f64::INFINITY)),
        Ordering::Greater
    );
    assert!(one(Value::Float(weird), Order::Asc) > one(Value::Float(f64::INFINITY), Order::Asc));
    assert!(one(Value::Float(weird), Order::Desc) < one(Value::Float(f64::INFINITY), Order::Desc));
    let back = decode_tuple(&one(Value::Float(weird), Order::Asc), &[Order::Asc]).unwrap();
    assert!(matches!(back[..], [Value::Float(f)] if f.to_bits() == CANONICAL_NAN_BITS));
    let mut raw = vec![0x30];
    raw.extend_from_slice(&0xfff8_0000_0000_0001u64.to_be_bytes());
    assert_eq!(
        decode_tuple(&raw, &[Order::Asc]),
        Err(TupleError::NonCanonicalFloat { at: 0 })
    );
}

#[test]
fn int_extremes_order_in_both_directions() {
    let ints = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    for w in ints.windows(2) {
        let (a, b) = (Value::Int(w[0]), Value::Int(w[1]));
        assert!(one(a.clone(), Order::Asc) < one(b.clone(), Order::Asc));
        assert!(one(a, Order::Desc) > one(b, Order::Desc));
    }
}

/// The case plain inversion gets wrong with a bare 0x00 terminator: a string that is a
/// prefix of another, ending the key, in descending order.
#[test]
fn prefixes_sort_first_ascending_and_last_descending() {
    let chain = ["", "\0", "\0\0", "\0a", "a", "a\0", "a\0\0", "a\u{1}", "ab"];
    for w in chain.windows(2) {
        let (a, b) = (text(w[0]), text(w[1]));
        assert!(a < b, "{:?} < {:?}", w[0], w[1]);
        assert!(
            one(a.clone(), Order::Asc) < one(b.clone(), Order::Asc),
            "{:?}",
            w
        );
        assert!(
            one(a.clone(), Order::Desc) > one(b.clone(), Order::Desc),
            "{:?}",
            w
        );
        // And followed by something else, with either order after it.
        for next in [Value::Null, Value::Bytes(vec![0xff])] {
            for o in [Order::Asc, Order::Desc] {
                let ka = encode_tuple(&[(a.clone(), Order::Desc), (next.clone(), o)]);
                let kb = encode_tuple(&[(b.clone(), Order::Desc), (Value::Null, o)]);
                assert!(ka > kb, "{:?} then {:?}", w, next);
            }
        }
    }
    let bytes = [
        vec![],
        vec![0x00],
        vec![0x00, 0xff],
        vec![0x01],
        vec![0xff],
        vec![0xff, 0x00],
    ];
    for w in bytes.windows(2) {
        let (a, b) = (Value::Bytes(w[0].clone()), Value::Bytes(w[1].clone()));
        assert!(
            one(a.clone(), Order::Asc) < one(b.clone(), Order::Asc),
            "{:?}",
            w
        );
        assert!(one(a, Order::Desc) > one(b, Order::Desc), "{:?}", w);
    }
}

#[test]
fn types_order_null_bool_int_float_text_bytes() {
    let vs = [
        Value::Null,
        Value::Bool(true),
        Value::Int(i64::MIN),
        Value::Float(f64::NEG_INFINITY),
        text(""),
        Value::Bytes(vec![]),
    ];
    for w in vs.windows(2) {
        assert!(w[0] < w[1]);
        assert!(one(w[0].clone(), Order::Asc) < one(w[1].clone(), Order::Asc));
        assert!(one(w[0].clone(), Order::Desc) > one(w[1].clone(), Order::Desc));
    }
}

#[test]
fn every_key_with_a_prefix_lies_between_prefix_00_and_prefix_ff() {
    let p = encode_tuple(&[(Value::Int(7), Order::Asc)]);
    let (lo, hi) = (
        [p.clone(), vec![0x00]].concat(),
        [p.clone(), vec![0xff]].concat(),
    );
    for v in [
        Value::Null,
        Value::Bytes(vec![0xff; 3]),
        Value::Float(f64::NAN),
    ] {
        for o in [Order::Asc, Order::Desc] {
            let k = [p.clone(), one(v.clone(), o)].concat();
            assert!(lo < k && k < hi, "{:?} {:?}", v, o);
        }
    }
}

#[test]
fn decode_errors_are_located() {
    use Order::*;
    assert_eq!(
        decode_tuple(&[0x02], &[Desc]),
        Err(TupleError::BadTag { at: 0, tag: 0x02 })
    );
    assert_eq!(
        decode_tuple(&[0x02, 0x00], &[Asc, Asc]),
        Err(TupleError::BadTag { at: 1, tag: 0x00 })
    );
    assert_eq!(
        decode_tuple(&[0x02, 0x02], &[Asc]),
        Err(TupleError::TrailingBytes { at: 1 })
    );
    assert_eq!(
        decode_tuple(&[], &[Asc]),
        Err(TupleError::Truncated { at: 0 })
    );
    assert_eq!(
        decode_tuple(&[0x50, 0x61, 0x00, 0x02], &[Asc]),
        Err(TupleError::BadEscape { at: 2, byte: 0x02 })
    );
    assert_eq!(
        decode_tuple(&[0x02, 0x40, 0xff, 0x00, 0x01], &[Asc, Asc]),
        Err(TupleError::InvalidUtf8 { at: 1 })
    );
    // A value read where it is: decode_value leaves `pos` alone on error.
    let buf = encode_tuple(&[(Value::Int(5), Asc), (text("x"), Desc)]);
    let mut pos = 0;
    assert_eq!(decode_value(&buf, &mut pos, Asc), Ok(Value::Int(5)));
    assert_eq!(pos, 9);
    assert!(decode_value(&buf, &mut pos, Asc).is_err());
    assert_eq!(pos, 9);
    assert_eq!(decode_value(&buf, &mut pos, Desc), Ok(text("x")));
    assert_eq!(pos, buf.len());
}
