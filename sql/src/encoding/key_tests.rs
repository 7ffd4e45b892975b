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
