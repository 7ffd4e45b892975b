//! CREATE / ALTER / DROP ROLE and USER through sessions: PostgreSQL's errors, defaults,
//! privileges, and what login reads back (`Engine::role`).

mod common;

use common::{engine, run_script};
use ferrisdb_sql::{PasswordEncryption, StoredPassword};

#[test]
fn create_alter_drop_with_postgres_errors() {
    let (_dir, e) = engine();
    let mut s = e.session();
    assert_eq!(s.user(), "postgres");
    run_script(
        &mut s,
        "ok CREATE ROLE
CREATE USER alice PASSWORD 'secret'

error 42710
CREATE ROLE alice

error 42710
CREATE USER postgres

error 42704
ALTER USER nobody PASSWORD 'x'

error 42704
DROP ROLE nobody

ok DROP ROLE
DROP ROLE IF EXISTS nobody

ok CREATE ROLE
CREATE ROLE readers

ok ALTER ROLE
ALTER ROLE readers WITH LOGIN CREATEDB VALID UNTIL 'infinity'

error 55006
DROP USER postgres

ok ALTER ROLE
ALTER USER readers RENAME TO viewers

error 42710
ALTER USER viewers RENAME TO alice

ok DROP ROLE
DROP ROLE viewers",
    );
    let alice = e.role("alice").unwrap().unwrap();
    assert!(alice.can_login && !alice.superuser);
    assert!(matches!(
        alice.password,
        Some(StoredPassword::Scram {
            iterations: 4096,
            ..
        })
    ));
    assert!(e.role("viewers").unwrap().is_none());
    assert!(e.role("readers").unwrap().is_none());
    let postgres = e.role("postgres").unwrap().unwrap();
    assert!(postgres.superuser && postgres.can_login && postgres.password.is_none());
}

#[test]
fn role_defaults_passwords_and_the_transaction_they_live_in() {
    let (_dir, e) = engine();
    let mut s = e.session();
    let md5 = "md5".to_string() + &"0123456789abcdef".repeat(2);
    s.execute(&format!("CREATE ROLE r; CREATE USER bob PASSWORD '{md5}'"))
        .unwrap();
    assert!(
        !e.role("r").unwrap().unwrap().can_login,
        "CREATE ROLE is NOLOGIN"
    );
    assert_eq!(
        e.role("bob").unwrap().unwrap().password,
        Some(StoredPassword::Md5(md5.clone())),
        "a password given as a verifier is stored as is"
    );
    // MD5 verifiers are salted with the name: a rename clears them, as in PostgreSQL.
    s.execute("ALTER USER bob RENAME TO robert").unwrap();
    assert_eq!(e.role("robert").unwrap().unwrap().password, None);
    // Role DDL is transactional.
    s.execute("BEGIN; CREATE USER carol; ROLLBACK").unwrap();
    assert!(e.role("carol").unwrap().is_none());
    s.execute("BEGIN; CREATE USER carol; SAVEPOINT a; DROP USER carol; ROLLBACK TO a; COMMIT")
        .unwrap();
    assert!(e.role("carol").unwrap().is_some());
    let err = s.execute("BEGIN; CREATE USER carol").unwrap_err();
    assert_eq!(err.sqlstate(), "42710");
    assert_eq!(s.execute("SELECT 1").unwrap_err().sqlstate(), "25P02");
    s.execute("ROLLBACK").unwrap();
    // ALTER ROLE postgres writes an entry that takes the built-in one's place.
    s.execute("ALTER USER postgres PASSWORD 'pg'").unwrap();
    let pg = e.role("postgres").unwrap().unwrap();
    assert!(pg.superuser && pg.password.is_some());
    assert_eq!(
        s.execute("ALTER USER postgres NOSUPERUSER")
            .unwrap_err()
            .sqlstate(),
        "0A000"
    );
}

#[test]
fn md5_encryption_can_be_chosen_per_engine() {
    let (_dir, e) = engine();
    let e = e.with_password_encryption(PasswordEncryption::Md5);
    e.session()
        .execute("CREATE USER bob PASSWORD 'pw'")
        .unwrap();
    let want = ferrisdb_sql::auth::md5_verifier("pw", "bob");
    assert_eq!(
        e.role("bob").unwrap().unwrap().password,
        Some(StoredPassword::Md5(want))
    );
}

#[test]
fn privileges_follow_postgres() {
    let (_dir, e) = engine();
    e.session()
        .execute("CREATE USER alice PASSWORD 'a'; CREATE USER mgr CREATEROLE; CREATE USER root SUPERUSER")
        .unwrap();
    let mut alice = e.session_as("postgres", "alice").unwrap();
    assert_eq!(alice.user(), "alice");
    for sql in [
        "CREATE ROLE x",
        "ALTER USER postgres PASSWORD 'mine'",
        "ALTER USER alice SUPERUSER",
        "DROP USER mgr",
    ] {
        assert_eq!(alice.execute(sql).unwrap_err().sqlstate(), "42501", "{sql}");
    }
    alice.execute("ALTER USER alice PASSWORD 'b'").unwrap();
    assert_eq!(
        alice
            .execute("ALTER USER alice RENAME TO al")
            .unwrap_err()
            .sqlstate(),
        "0A000"
    );
    let mut mgr = e.session_as("postgres", "mgr").unwrap();
    mgr.execute("CREATE USER y; ALTER USER alice NOLOGIN")
        .unwrap();
    assert_eq!(
        mgr.execute("CREATE USER z SUPERUSER")
            .unwrap_err()
            .sqlstate(),
        "42501"
    );
    assert_eq!(
        mgr.execute("DROP USER root").unwrap_err().sqlstate(),
        "42501"
    );
    assert_eq!(
        mgr.execute("DROP USER mgr").unwrap_err().sqlstate(),
        "55006"
    );
    assert!(!e.role("alice").unwrap().unwrap().can_login);
    assert_eq!(
        e.session_as("nope", "alice").err().unwrap().sqlstate(),
        "3D000"
    );
}
