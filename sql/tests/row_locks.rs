//! UPDATE and DELETE of a row by its primary key take the row's advisory write lock
//! (`Transaction::lock_for_update`): a second writer of the row waits for the first, as in
//! PostgreSQL, and then commits instead of failing with 40001.

use std::sync::Arc;
use std::time::Duration;

mod common;

use ferrisdb_sql::{Datum, Engine, StatementResult};

fn engine() -> (tempfile::TempDir, Engine) {
    let (dir, engine) = common::engine();
    let mut s = engine.session();
    s.execute("CREATE TABLE acct (id int PRIMARY KEY, balance int)")
        .unwrap();
    s.execute("INSERT INTO acct VALUES (1, 100), (2, 100)")
        .unwrap();
    (dir, engine)
}

fn balance(e: &Engine, id: i32) -> Datum {
    let r = e
        .session()
        .execute(&format!("SELECT balance FROM acct WHERE id = {id}"))
        .unwrap();
    match r.into_iter().last() {
        Some(StatementResult::Query { rows, .. }) => rows[0][0].clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_second_block_updating_the_same_row_waits_and_commits() {
    let (_d, e) = engine();
    let mut first = e.session();
    first.execute("BEGIN").unwrap();
    // Reads of other rows first: the waiter's refresh has something to re-check.
    first
        .execute("SELECT balance FROM acct WHERE id = 2")
        .unwrap();
    first
        .execute("UPDATE acct SET balance = balance + 1 WHERE id = 1")
        .unwrap();
    let second = {
        let e = e.clone();
        std::thread::spawn(move || {
            let mut s = e.session();
            s.execute("BEGIN").unwrap();
            s.execute("SELECT balance FROM acct WHERE id = 2").unwrap();
            s.execute("UPDATE acct SET balance = balance + 10 WHERE id = 1")?;
            s.execute("COMMIT").map(|_| ())
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    first.execute("COMMIT").unwrap();
    second.join().unwrap().unwrap();
    assert_eq!(balance(&e, 1), Datum::Int(111));
}

#[test]
fn concurrent_autocommit_updates_of_one_row_all_apply() {
    let (_d, e) = engine();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || {
                let mut s = e.session();
                for _ in 0..25 {
                    s.execute("UPDATE acct SET balance = balance - 1 WHERE id = 2")
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(balance(&e, 2), Datum::Int(0));
}

/// Two blocks locking the same two rows in opposite orders: each waits for the other at
/// most the lock wait limit, then goes on optimistically; one commits and the other gets a
/// serialization failure (PostgreSQL reports a deadlock, 40P01, instead). Nothing hangs.
#[test]
fn crossing_updates_end_with_one_commit_and_one_serialization_failure() {
    let (_d, e) = engine();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let run = |first: i32, second: i32| {
        let (e, barrier) = (e.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut s = e.session();
            s.execute("BEGIN").unwrap();
            s.execute(&format!(
                "UPDATE acct SET balance = balance + 1 WHERE id = {first}"
            ))
            .unwrap();
            barrier.wait();
            let r = s
                .execute(&format!(
                    "UPDATE acct SET balance = balance + 1 WHERE id = {second}"
                ))
                .and_then(|_| s.execute("COMMIT"));
            r.map(|_| ()).map_err(|e| e.sqlstate().to_string())
        })
    };
    let (a, b) = (run(1, 2), run(2, 1));
    let mut outcomes = vec![a.join().unwrap(), b.join().unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, vec![Ok(()), Err("40001".to_string())]);
    assert_eq!(balance(&e, 1), Datum::Int(101));
    assert_eq!(balance(&e, 2), Datum::Int(101));
}
