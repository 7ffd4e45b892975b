//! Password authentication end to end: roles made with CREATE/ALTER USER, then logins
//! by tokio-postgres (SCRAM-SHA-256 and MD5) and psql against the `ferrisdb` binary.

use std::process::Command;

use tokio_postgres::{Client, NoTls};

mod common;

use common::Node;

impl Node {
    /// Connects with `extra` libpq-style settings (user, password, dbname).
    async fn connect(&self, extra: &str) -> Result<Client, tokio_postgres::Error> {
        let (host, port) = self.addr.split_once(':').unwrap();
        let config = format!("host={host} port={port} {extra}");
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// The SQLSTATE and message a login fails with.
    async fn refused(&self, extra: &str) -> (String, String) {
        let e = match self.connect(extra).await {
            Ok(_) => panic!("{extra}: login succeeded"),
            Err(e) => e,
        };
        let db = e.as_db_error().unwrap_or_else(|| panic!("{extra}: {e}"));
        (db.code().code().to_string(), db.message().to_string())
    }
}

async fn one(client: &Client) -> i32 {
    client.query_one("SELECT 1", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn scram_and_md5_logins_and_postgres_error_codes() {
    let node = Node::start(&[]);
    let admin = node
        .connect("user=postgres")
        .await
        .expect("postgres needs no password on loopback");
    // 'md5' || md5('pw' || 'bob'), given as the password: stored as is.
    let bob_verifier = postgres_protocol::password::md5(b"pw", "bob");
    admin
        .batch_execute(&format!(
            "CREATE USER alice PASSWORD 'secret'; CREATE USER bob PASSWORD '{bob_verifier}'; \
             CREATE ROLE nologin PASSWORD 'x'; CREATE USER free"
        ))
        .await
        .unwrap();
    let alice = node
        .connect("user=alice password=secret dbname=postgres")
        .await
        .unwrap();
    assert_eq!(one(&alice).await, 1);
    let failed = (
        "28P01".to_string(),
        "password authentication failed for user \"alice\"".to_string(),
    );
    assert_eq!(
        node.refused("user=alice password=wrong dbname=postgres")
            .await,
        failed
    );
    assert_eq!(
        node.refused("user=alice password= dbname=postgres").await,
        failed
    );
    assert!(
        node.connect("user=alice dbname=postgres").await.is_err(),
        "no password, no login"
    );

    admin
        .batch_execute("ALTER USER alice PASSWORD 'new'")
        .await
        .unwrap();
    assert_eq!(
        node.refused("user=alice password=secret dbname=postgres")
            .await,
        failed
    );
    assert_eq!(
        one(&node
            .connect("user=alice password=new dbname=postgres")
            .await
            .unwrap())
        .await,
        1
    );

    let bob = node
        .connect("user=bob password=pw dbname=postgres")
        .await
        .expect("MD5 login");
    assert_eq!(one(&bob).await, 1);
    let (code, _) = node.refused("user=bob password=pW dbname=postgres").await;
    assert_eq!(code, "28P01");

    assert_eq!(
        node.refused("user=ghost dbname=postgres").await,
        ("28000".into(), "role \"ghost\" does not exist".into())
    );
    assert_eq!(
        node.refused("user=nologin password=x dbname=postgres")
            .await,
        (
            "28000".into(),
            "role \"nologin\" is not permitted to log in".into()
        )
    );
    // A password-less role is trusted on loopback; the database defaults to the user name.
    assert_eq!(
        one(&node.connect("user=free dbname=postgres").await.unwrap()).await,
        1
    );
    assert_eq!(
        node.refused("user=free").await,
        ("3D000".into(), "database \"free\" does not exist".into())
    );
    // A non-superuser cannot take over the superuser.
    let e = alice
        .batch_execute("ALTER USER postgres PASSWORD 'mine'")
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
}

#[tokio::test]
async fn trust_accepts_everyone() {
    let node = Node::start(&["--auth", "trust"]);
    let c = node.connect("user=whoever dbname=postgres").await.unwrap();
    assert_eq!(one(&c).await, 1);
}

#[tokio::test]
async fn psql_logs_in_with_scram_through_pgpassword() {
    let node = Node::start(&[]);
    let admin = node.connect("user=postgres").await.unwrap();
    admin
        .batch_execute("CREATE USER carol PASSWORD 'c4r0l'")
        .await
        .unwrap();
    let (host, port) = node.addr.split_once(':').unwrap();
    let psql = |password: &str| {
        Command::new("psql")
            .args([
                "-h", host, "-p", port, "-U", "carol", "-d", "postgres", "-w",
            ])
            .args(["-X", "-A", "-t", "-c", "SELECT 41 + 1"])
            .env("PGPASSWORD", password)
            .output()
            .expect("psql is installed")
    };
    let ok = psql("c4r0l");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "42\n");
    let bad = psql("nope");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("password authentication failed for user \"carol\""),
        "{stderr}"
    );
}
