//! Key encoding tests: byte order equals SQL order, round trips, garbage.

use std::cmp::Ordering;

use super::*;
use crate::cast::tests::{arb_datum, arb_type, arb_typed_datum, same_value};
use proptest::prelude::*;

fn col(t: DataType, order: Order) -> KeyColumn {
    KeyColumn {
        data_type: t,
        order,
    }
}

fn key1(d: &Datum, order: Order) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key_datum(&mut out, d, order);
    out
}

/// SQL order with NULL first (the key's NULL placement).
fn sql_cmp(a: &Datum, b: &Datum) -> Ordering {
    match (a, b) {
        (Datum::Null, Datum::Null) => Ordering::Equal,
        (Datum::Null, _) => Ordering::Less,
        (_, Datum::Null) => Ordering::Greater,
        _ => a.compare(b).expect("same type"),
    }
}

fn arb_pair() -> impl Strategy<Value = (DataType, Datum, Datum)> {
    arb_type().prop_flat_map(|t| {
        let maybe_null = move || prop_oneof![1 => Just(Datum::Null), 8 => arb_datum(t)];
        (maybe_null(), maybe_null()).prop_map(move |(a, b)| (t, a, b))
    })
}

#[test]
fn equal_classes_share_a_key() {
    let n = |s: &str| Datum::parse(s, &DataType::NUMERIC).unwrap();
    let iv = |s: &str| Datum::parse(s, &DataType::Interval).unwrap();
    assert_eq!(key1(&n("1.5"), Order::Asc), key1(&n("1.50"), Order::Asc));
    assert_eq!(
        key1(&iv("1 mon"), Order::Asc),
        key1(&iv("30 days"), Order::Asc)
    );
    assert_eq!(
        key1(&Datum::Float(-0.0), Order::Asc),
        key1(&Datum::Float(0.0), Order::Asc)
    );
    let cols = [col(
        DataType::Numeric {
            precision: Some(5),
            scale: Some(2),
        },
        Order::Asc,
    )];
    let back = decode_key(&key1(&n("1.5"), Order::Asc), &cols).unwrap();
    assert_eq!(back[0].to_text(&DataType::NUMERIC).unwrap(), "1.50");
    let back = decode_key(
        &key1(&iv("25 hours"), Order::Desc),
        &[col(DataType::Interval, Order::Desc)],
    )
    .unwrap();
    assert_eq!(
        back[0].to_text(&DataType::Interval).unwrap(),
        "1 day 01:00:00"
    );
}

#[test]
fn wrong_type_or_garbage_is_corruption() {
    let k = key1(&Datum::Text("x".into()), Order::Asc);
    let e = decode_key(&k, &[col(DataType::Int4, Order::Asc)]).unwrap_err();
    assert_eq!(e.sqlstate(), "XX001");
    let big = key1(&Datum::Int(1 << 40), Order::Asc);
    assert!(decode_key(&big, &[col(DataType::Int4, Order::Asc)]).is_err());
    assert!(decode_key(&[0x20, 1], &[col(DataType::Int8, Order::Asc)]).is_err());
}

/// Found by hand: an index on a `text[]` column failed every lookup with "could not decode
/// stored key ... is not a text[]": array keys were encoded but never decodable.
#[test]
fn array_keys_decode_to_their_elements() {
    let t = |s: &str| Datum::Text(s.into());
    let cases = [
        (
            DataType::Array(&crate::array::TEXT),
            Datum::Array(vec![t("x"), t("y z"), Datum::Null, t("")]),
        ),
        (DataType::Array(&crate::array::TEXT), Datum::Array(vec![])),
        (
            DataType::Array(&crate::array::INT8),
            Datum::Array(vec![Datum::Int(-5), Datum::Int(1 << 40)]),
        ),
        (
            DataType::Array(&crate::array::INTERVAL),
            Datum::Array(vec![
                Datum::parse("1 day 02:00:00", &DataType::Interval).unwrap(),
                Datum::Null,
            ]),
        ),
    ];
    for (ty, d) in cases {
        for order in [Order::Asc, Order::Desc] {
            let cols = [col(ty, order), col(DataType::Int4, Order::Asc)];
            let key = encode_key(&[d.clone(), Datum::Int(7)], &cols).unwrap();
            let back = decode_key(&key, &cols).unwrap();
            assert!(same_value(&back[0], &d), "{ty} {d:?} -> {:?}", back[0]);
            assert_eq!(back[1], Datum::Int(7));
        }
    }
    // Arrays order element by element, a prefix first.
    let a = |v: &[i64]| Datum::Array(v.iter().map(|i| Datum::Int(*i)).collect());
    let with_null = Datum::Array(vec![Datum::Int(1), Datum::Null]);
    let null_first = Datum::Array(vec![Datum::Null]);
    let sorted = [
        a(&[]),
        a(&[-1]),
        a(&[1]),
        a(&[1, 2]),
        a(&[1, 3]),
        with_null,
        a(&[2]),
        null_first,
    ];
    for w in sorted.windows(2) {
        assert_eq!(w[0].compare(&w[1]), Some(Ordering::Less), "{w:?}");
    }
    for w in sorted.windows(2) {
        assert!(key1(&w[0], Order::Asc) < key1(&w[1], Order::Asc), "{w:?}");
        assert!(key1(&w[0], Order::Desc) > key1(&w[1], Order::Desc), "{w:?}");
    }
}

proptest! {
    #[test]
    fn byte_order_is_sql_order((t, a, b) in arb_pair()) {
        let want = sql_cmp(&a, &b);
        prop_assert_eq!(key1(&a, Order::Asc).cmp(&key1(&b, Order::Asc)), want, "{} {:?} {:?}", t, a, b);
        prop_assert_eq!(key1(&a, Order::Desc).cmp(&key1(&b, Order::Desc)), want.reverse());
    }

    #[test]
    fn composite_keys_sort_lexicographically(
        (t1, a1, b1) in arb_pair(), (t2, a2, b2) in arb_pair(), desc in any::<bool>()
    ) {
        let o2 = if desc { Order::Desc } else { Order::Asc };
        let cols = [col(t1, Order::Asc), col(t2, o2)];
        let ka = encode_key(&[a1.clone(), a2.clone()], &cols).unwrap();
        let kb = encode_key(&[b1.clone(), b2.clone()], &cols).unwrap();
        let second = if desc { sql_cmp(&a2, &b2).reverse() } else { sql_cmp(&a2, &b2) };
        prop_assert_eq!(ka.cmp(&kb), sql_cmp(&a1, &b1).then(second));
    }

    #[test]
    fn decode_gives_an_equal_value((t, d) in arb_typed_datum(), desc in any::<bool>()) {
        let order = if desc { Order::Desc } else { Order::Asc };
        let cols = [col(t, order), col(DataType::Int4, Order::Asc)];
        let key = encode_key(&[d.clone(), Datum::Null], &cols).unwrap();
        let back = decode_key(&key, &cols).unwrap();
        prop_assert_eq!(sql_cmp(&back[0], &d), Ordering::Equal, "{} {:?} -> {:?}", t, d, back[0]);
        prop_assert_eq!(&back[1], &Datum::Null);
        // Only the equality-class types may come back respelled.
        let exact = !matches!(t, DataType::Numeric { .. } | DataType::Interval | DataType::Float4 | DataType::Float8);
        if exact {
            prop_assert!(same_value(&back[0], &d));
        }
    }

    #[test]
    fn decode_never_panics_on_garbage(
        bytes in proptest::collection::vec(any::<u8>(), 0..48), t in arb_type(), desc in any::<bool>()
    ) {
        let order = if desc { Order::Desc } else { Order::Asc };
        let _ = decode_key(&bytes, &[col(t, order), col(DataType::Text, Order::Asc)]);
    }
}
