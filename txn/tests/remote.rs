//! The transactional API over TCP: `RemoteBackend` against `KvService` on the embedded cluster
//! behaves like the embedded backend, conflicts and retries included.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferrisdb_kv::transport::{serve, FrameLimits, Handler, ServerHandle};
use ferrisdb_txn::client::AsyncTxnBackend;
use ferrisdb_txn::{
    Database, EmbeddedCluster, EmbeddedOptions, KvRequest, KvResponse, KvService, RemoteBackend,
    TxnBackend, TxnError,
};

/// Serves `handler` on 127.0.0.1 (a free port) from `rt`.
fn serve_on(
    rt: &tokio::runtime::Runtime,
    handler: Arc<dyn Handler<KvRequest, KvResponse>>,
) -> (ServerHandle, SocketAddr) {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let h = serve(listener, handler, FrameLimits::default())
            .await
            .unwrap();
        (h, addr)
    })
}

#[test]
fn concurrent_read_modify_write_over_tcp_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let backend: Arc<dyn TxnBackend> = cluster.clone();
    let service = Arc::new(KvService::new(backend, Arc::new(|| "ok".to_string())));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = serve_on(&rt, Arc::new(service));
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

/// Tasks sharing one `connect_async` connection, against a service that awaits commits and
/// reads: no lost update, each task sees its own acknowledged writes, ranges read over the
/// wire, and each way of connecting refuses the other API with a clear error.
#[test]
fn tasks_sharing_one_async_connection_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let backend: Arc<dyn TxnBackend> = cluster.clone();
    let service =
        Arc::new(KvService::new(backend, Arc::new(|| "ok".to_string())).with_async(cluster));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_handle, addr) = serve_on(&rt, Arc::new(service));
    let remote = Arc::new(rt.block_on(RemoteBackend::connect_async(addr)).unwrap());
    let db = Database::from_backends(remote.clone(), remote.clone());
    const TASKS: u64 = 24;
    const EACH: u64 = 10;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    db.transact_async(|tx| {
                        Box::pin(async move {
                            let n = tx
                                .get(b"n")
                                .await?
                                .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()));
                            tx.set(b"n", &(n + 1).to_le_bytes())?;
                            tx.set(format!("k/{t:02}/{i:02}").as_bytes(), b"v")
                        })
                    })
                    .await
                    .unwrap();
                    let key = format!("k/{t:02}/{i:02}").into_bytes();
                    let (seen, _) = db
                        .transact_async(|tx| Box::pin(async { tx.get(&key).await }))
                        .await
                        .unwrap();
                    assert_eq!(seen.as_deref(), Some(&b"v"[..]));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut tx = db.begin_async();
        let n = tx.get(b"n").await.unwrap();
        assert_eq!(
            n,
            Some((TASKS * EACH).to_le_bytes().to_vec()),
            "no lost update"
        );
        let rows = tx
            .get_range(&ferrisdb_kv::KeyRange::new("k/", "k0"), 0, false)
            .await
            .unwrap();
        assert_eq!(rows.len() as u64, TASKS * EACH);
    });
    // The synchronous API on an async connection is refused, not hung.
    let e = db.transact(|tx| tx.get(b"n")).unwrap_err();
    assert!(e.to_string().contains("connect_async"), "{e}");
    // And the async API on a synchronous connection.
    let sync_remote = Arc::new(RemoteBackend::connect(addr).unwrap());
    let sync_db = Database::from_backends(sync_remote.clone(), sync_remote);
    let e = rt
        .block_on(sync_db.transact_async(|tx| Box::pin(async { tx.get(b"n").await })))
        .unwrap_err();
    assert!(e.to_string().contains("connect_async"), "{e}");
}

/// Counts the read-version requests reaching a service.
struct CountReadVersions {
    inner: Arc<KvService>,
    seen: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl Handler<KvRequest, KvResponse> for CountReadVersions {
    async fn handle(&self, req: KvRequest) -> KvResponse {
        self.count(&req);
        self.inner.handle(req).await
    }

    fn handle_now(&self, req: KvRequest) -> Result<KvResponse, KvRequest> {
        self.count(&req);
        self.inner.handle_now(req).map_err(|req| {
            // `handle` counts it again when it gets there.
            if matches!(req, KvRequest::ReadVersion) {
                self.seen.fetch_sub(1, Ordering::Relaxed);
            }
            req
        })
    }
}

impl CountReadVersions {
    fn count(&self, req: &KvRequest) {
        if matches!(req, KvRequest::ReadVersion) {
            self.seen.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Tasks asking for a read version at the same time share one request, and a shared read
/// version still covers every commit acknowledged before its transactions began.
#[test]
fn concurrent_read_versions_share_one_request_and_cover_earlier_commits() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Arc::new(EmbeddedCluster::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let backend: Arc<dyn TxnBackend> = cluster.clone();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service = CountReadVersions {
        inner: Arc::new(KvService::new(backend, Arc::new(|| "ok".to_string())).with_async(cluster)),
        seen: seen.clone(),
    };
    // The service blocks in place at times: it needs a multi-threaded runtime of its own.
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let (server, addr) = serve_on(&server_rt, Arc::new(service));
    // The client on one thread: the tasks spawned together all run before their batch's
    // request does, so how many requests they share is determined, not timing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let remote = Arc::new(rt.block_on(RemoteBackend::connect_async(addr)).unwrap());
    let db = Database::from_backends(remote.clone(), remote.clone());
    let ask = |n: usize| {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let remote = remote.clone();
                rt.spawn(async move { AsyncTxnBackend::read_version(&*remote).await })
            })
            .collect();
        rt.block_on(async {
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    };
    for round in 0..10u64 {
        let committed = rt.block_on(async {
            let mut tx = db.begin_async();
            tx.set(b"round", &round.to_le_bytes()).unwrap();
            tx.commit().await.unwrap()
        });
        let before = seen.load(Ordering::Relaxed);
        for v in ask(32) {
            let v = v.unwrap();
            assert!(
                v >= committed,
                "round {round}: read version {v} below the acknowledged commit {committed}"
            );
        }
        assert_eq!(
            seen.load(Ordering::Relaxed) - before,
            1,
            "round {round}: 32 concurrent read versions took more than one request"
        );
    }
    // A batch that fails hands every member the error.
    server_rt.block_on(server.shutdown());
    for r in ask(8) {
        let e = r.unwrap_err();
        assert!(e.is_retryable(), "{e}");
    }
}
