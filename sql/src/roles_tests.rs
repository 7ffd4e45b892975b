use super::*;

fn role(password: Option<StoredPassword>) -> RoleInfo {
    RoleInfo {
        name: "alice".into(),
        can_login: true,
        superuser: false,
        create_db: true,
        create_role: false,
        password,
    }
}

#[test]
fn entries_round_trip_with_and_without_a_password() {
    let scram = crate::auth::scram_verifier("pw", &[7; 16], 4096);
    let md5 = StoredPassword::Md5(crate::auth::md5_verifier("pw", "alice"));
    for r in [role(None), role(Some(scram)), role(Some(md5))] {
        let bytes = r.encode();
        assert_eq!(bytes[1], LOGIN | CREATEDB);
        assert_eq!(RoleInfo::decode("alice", &bytes).unwrap(), r);
    }
}

#[test]
fn corrupt_entries_are_errors_not_panics() {
    for bad in [
        &b""[..],
        b"\x01",
        b"\x02\x00",
        b"\x01\x01not a verifier",
        b"\x01\x01\xff\xfe",
    ] {
        let e = RoleInfo::decode("x", bad).unwrap_err();
        assert_eq!(e.sqlstate(), "XX001", "{bad:?}");
    }
}

#[test]
fn role_statements_are_recognised_with_postgres_defaults() {
    let cmd = |sql: &str| {
        let stmts = crate::parse::parse_statements(sql).unwrap();
        RoleCommand::of(&stmts[0]).expect("a role statement")
    };
    let Ok(RoleCommand::Create { name, options }) =
        cmd("CREATE USER Alice WITH PASSWORD 'x' CREATEDB")
    else {
        panic!()
    };
    assert_eq!(name, "alice");
    assert_eq!(options.login, Some(true), "CREATE USER implies LOGIN");
    assert_eq!(options.password, Some(Some("x".into())));
    let Ok(RoleCommand::Create { options, .. }) = cmd("CREATE ROLE r") else {
        panic!()
    };
    assert_eq!(options.login, None, "CREATE ROLE defaults to NOLOGIN");
    let Ok(RoleCommand::Alter { options, .. }) = cmd("ALTER USER a WITH PASSWORD NULL") else {
        panic!()
    };
    assert_eq!(options.password, Some(None));
    let Ok(RoleCommand::Alter { options, .. }) = cmd("ALTER ROLE a PASSWORD ''") else {
        panic!()
    };
    assert_eq!(options.password, Some(None), "an empty password clears it");
    assert!(matches!(
        cmd("ALTER USER a RENAME TO b"),
        Ok(RoleCommand::Rename { .. })
    ));
    assert!(matches!(
        cmd("DROP USER IF EXISTS a, b"),
        Ok(RoleCommand::Drop { if_exists: true, ref names }) if names.len() == 2
    ));
    assert_eq!(
        cmd("CREATE ROLE r IN ROLE admins").unwrap_err().sqlstate(),
        "0A000"
    );
    // CREATE USER MAPPING stays sqlparser's own statement.
    let stmts = crate::parse::parse_statements("CREATE USER MAPPING FOR u SERVER s");
    assert!(stmts.map_or(true, |s| RoleCommand::of(&s[0]).is_none()));
}
