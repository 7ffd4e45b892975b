//! The transactional API over TCP: `RemoteBackend` against `KvService` on the embedded cluster
//! behaves like the embedded backend, conflicts and retries included.

use std::sync::Arc;

use ferrisdb_kv::transport::{serve, FrameLimits};
use ferrisdb_txn::{
    Database, EmbeddedCluster, EmbeddedOptions, KvService, RemoteBackend, TxnBackend, TxnError,
};

#[test]
fn concurrent_read_modify_write_over_tcp_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let backend: Arc<dyn TxnBackend> = cluster.clone();
    let service = Arc::new(KvService::new(backend, Arc::new(|| "ok".to_string())));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (
            serve(listener, Arc::new(service), FrameLimits::default())
                .await
                .unwrap(),
            addr,
        )
    });
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let db = Database::from_backend(Arc::new(RemoteBackend::connect(addr).unwrap()));
                for _ in 0..20 {
                    db.transact(|tx| {
                        let n = tx
                            .get(b"n")?
                            .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()));
                        tx.set(b"n", &(n + 1).to_le_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let remote = RemoteBackend::connect(addr).unwrap();
    assert_eq!(remote.status().unwrap(), "ok");
    let db = Database::from_backend(Arc::new(remote));
    let (n, _) = db.transact(|tx| tx.get(b"n")).unwrap();
    assert_eq!(
        n,
        Some(80u64.to_le_bytes().to_vec()),
        "no lost update over TCP"
    );

    // A conflict crosses the wire as the retryable NotCommitted.
    let mut t1 = db.begin();
    t1.get(b"n").unwrap();
    db.transact(|tx| tx.set(b"n", b"x")).unwrap();
    t1.set(b"other", b"1").unwrap();
    let e = t1.commit().unwrap_err();
    assert!(
        matches!(e, TxnError::NotCommitted { .. }) && e.is_retryable(),
        "{e}"
    );
    rt.block_on(handle.shutdown());
    // With the server gone, calls fail retryably (the loop retries them) instead of hanging.
    let mut db = db;
    db.set_max_attempts(3);
    let e = db.transact(|tx| tx.get(b"n")).expect_err("server is down");
    match e {
        TxnError::RetryLimit { attempts: 3, last } => {
            assert!(matches!(*last, TxnError::Unavailable(_)), "{last}")
        }
        other => panic!("expected the retry loop to give up on Unavailable, got {other}"),
    }
}
