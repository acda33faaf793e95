//! Behind a connection pooler (the distribution's PgBouncer, started by the
//! test in front of the test server): in session mode every guarantee
//! holds, and cancellation neither crashes the pooler nor strands a lock;
//! in transaction mode the pool refuses with a clear error and never gives
//! a wrong answer.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pgbouncer::Bouncer;
use common::{advisory_locks, eventually, lock_pid, port, psql, smol, socket_dir};
use turnlock_postgres::{Endpoint, Error, ErrorKind, Pool};

/// The pooler error, and nothing else.
fn assert_pooler_error(err: &Error) {
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let text = err.to_string();
    assert!(text.contains("is not this pool's own"), "{text}");
    assert!(text.contains("pool_mode = transaction"), "{text}");
    assert!(text.contains("session mode"), "{text}");
}

/// Random timeouts and dropped acquisitions on three keys, one of them held
/// elsewhere throughout.
async fn storm(pools: Vec<Pool>, rounds: usize) {
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let pool = pools[task as usize % pools.len()].clone();
            smol::spawn(async move {
                let mut rng = task * 7919 + 17;
                for _ in 0..rounds {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let key = 12001 + (rng >> 33) as i64 % 3;
                    let wait = Duration::from_micros((rng >> 20) % 20_000);
                    if rng % 2 == 0 {
                        match pool.lock_timeout(key, wait).await {
                            Ok(guard) => drop(guard),
                            Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}"),
                        }
                    } else {
                        let acquire = pool.lock(key);
                        let _ = common::with_timeout(wait, acquire).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

#[test]
fn session_mode_keeps_every_guarantee() {
    let app = "pooler_session";
    let mut bouncer = Bouncer::start(port(), "session", 20).expect("start PgBouncer");
    let (a, b) = (bouncer.url(app), bouncer.url(app));
    let direct = common::url("pooler_session_direct");
    smol(120, async move {
        let pa = Pool::builder(&a).max_sessions(6).build().unwrap();
        let pb = Pool::builder(&b).max_sessions(6).build().unwrap();
        let holder = Pool::new(&direct).unwrap();
        // Exclusion, through the pooler and with a direct client.
        let guard = pa.lock(12001).await.unwrap();
        assert!(pb.try_lock(12001).await.unwrap().is_none());
        assert!(holder.try_lock(12001).await.unwrap().is_none());
        let err = pb
            .lock_timeout(12001, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        guard.release().await.unwrap();
        // A cancellation storm: cancel requests go through the pooler.
        let held = holder.lock(12003).await.unwrap();
        storm(vec![pa.clone(), pb.clone()], 12).await;
        drop(held);
        eventually(30, "every session back, nothing in pg_locks", || {
            pa.status().is_idle() && pb.status().is_idle() && advisory_locks(app) == 0
        })
        .await;
        let again = pb.lock(12001).await.unwrap();
        again.release().await.unwrap();
    });
    assert!(bouncer.is_running(), "PgBouncer exited:\n{}", bouncer.log());
    assert!(!bouncer.log().contains("FATAL"), "{}", bouncer.log());
}

/// The state of server process `pid` in `pg_stat_activity` and what it
/// waits for: `state|wait_event_type`.
fn activity(pid: i32) -> String {
    psql(&format!(
        "SELECT state || '|' || coalesce(wait_event_type, '') \
         FROM pg_stat_activity WHERE pid = {pid}"
    ))
}

/// A wait abandoned at its deadline is cancelled through the pooler: the
/// server cancels the statement at the client's request (its log says so,
/// for that process) long before the wait's own `lock_timeout` (the
/// heartbeat interval, 60 s here) would end it, nothing of it is left in
/// `pg_locks`, the pooler carries on, and the session, its cancel seen
/// through, is used again.
#[test]
fn a_wait_cancelled_through_the_pooler_ends_at_once_and_keeps_its_session() {
    let app = "pooler_cancelled_wait";
    let mut bouncer = Bouncer::start(port(), "session", 20).expect("start PgBouncer");
    let url = bouncer.url(app);
    let holder_url = common::url("pooler_cancelled_wait_holder");
    let server_log = socket_dir().join("log");
    smol(120, async move {
        let heartbeat = Duration::from_secs(60);
        let pool = Pool::builder(&url)
            .max_sessions(2)
            .heartbeat(heartbeat)
            .build()
            .unwrap();
        let holder = Pool::new(&holder_url).unwrap();
        let key = 12501;
        let held = holder.lock(key).await.unwrap();
        let deadline = Duration::from_secs(3);
        let waiter = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock_timeout(key, deadline).await }
        });
        eventually(10, "the wait is on the server", || {
            pool.status().waiting == 1
        })
        .await;
        let pids = pool.backend_pids();
        assert_eq!(pids.len(), 1, "{pids:?}");
        let pid = pids[0];
        eventually(10, "the server shows the wait", || {
            lock_pid(key, false) == Some(pid) && activity(pid) == "active|Lock"
        })
        .await;
        // Only what the server logs from now on counts.
        let logged_before = std::fs::read(&server_log).expect("the server's log").len();
        let err = waiter.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        let abandoned = Instant::now();
        eventually(10, "the wait ended on the server", || {
            lock_pid(key, false).is_none()
                && advisory_locks(app) == 0
                && activity(pid) == "idle|Client"
        })
        .await;
        let ended = abandoned.elapsed();
        assert!(
            ended < heartbeat / 2,
            "the wait ended {ended:?} after it was abandoned: not by the cancel"
        );
        let log = std::fs::read(&server_log).expect("the server's log");
        let log = String::from_utf8_lossy(&log[logged_before..]);
        assert!(
            log.lines().any(|line| line.contains(&format!("[{pid}]"))
                && line.contains("canceling statement due to user request")),
            "no cancel by request for backend {pid} in the server's log:\n{log}"
        );
        eventually(10, "the session is back", || pool.status().is_idle()).await;
        assert_eq!(pool.backend_pids(), vec![pid], "the session was kept");
        held.release().await.unwrap();
        let guard = pool.lock(key).await.unwrap();
        assert_eq!(guard.backend_pid(), pid, "the same session took the lock");
        assert_eq!(pool.status().sessions, 1);
        guard.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
    });
    assert!(bouncer.is_running(), "PgBouncer exited:\n{}", bouncer.log());
    assert!(!bouncer.log().contains("FATAL"), "{}", bouncer.log());
}

#[test]
fn a_cancel_request_the_pooler_drops_still_ends_the_wait_with_nothing_held() {
    let app = "pooler_dropped_cancel";
    let bouncer = Bouncer::start(port(), "session", 20).expect("start PgBouncer");
    let (through, holder_url) = (bouncer.port, common::url("pooler_dropped_cancel_holder"));
    // A port that takes connections and closes them unread: where cancel
    // requests go once `drop_new` is set.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for connection in sink.incoming() {
            drop(connection);
        }
    });
    let drop_new = Arc::new(AtomicBool::new(false));
    let url = bouncer.url(app);
    smol(120, async move {
        let pool = Pool::builder(&url)
            .heartbeat(Duration::from_millis(200))
            .connector({
                let drop_new = drop_new.clone();
                move |_: Endpoint| {
                    let port = if drop_new.load(Ordering::SeqCst) {
                        sink_port
                    } else {
                        through
                    };
                    async move { async_net::TcpStream::connect(("127.0.0.1", port)).await }
                }
            })
            .build()
            .unwrap();
        let holder = Pool::new(&holder_url).unwrap();
        let held = holder.lock(12101).await.unwrap();
        let waiting = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock(12101).await }
        });
        eventually(10, "the wait is on the server", || {
            pool.status().waiting == 1
        })
        .await;
        drop_new.store(true, Ordering::SeqCst);
        drop(waiting); // its cancel requests are lost
        eventually(20, "the wait ended on the server", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        held.release().await.unwrap();
        drop_new.store(false, Ordering::SeqCst);
        // Nothing of the abandoned wait was left to take the lock.
        eventually(10, "nothing held", || advisory_locks(app) == 0).await;
        let guard = pool.lock(12101).await.unwrap();
        guard.release().await.unwrap();
    });
}

#[test]
fn transaction_mode_is_refused_clearly() {
    // One server connection: every client shares it, as PgBouncer does
    // under load, and the second session notices at once.
    let bouncer = Bouncer::start(port(), "transaction", 1).expect("start PgBouncer");
    let (a, b) = (bouncer.url("pooler_tx_a"), bouncer.url("pooler_tx_b"));
    smol(60, async move {
        let pa = Pool::new(&a).unwrap();
        let pb = Pool::new(&b).unwrap();
        let first = pa.lock(12201).await;
        let second = pb.lock(12201).await;
        let err = match (&first, &second) {
            (Ok(_), Ok(_)) => panic!("two holders of one key behind a transaction pooler"),
            (_, Err(err)) | (Err(err), _) => err,
        };
        assert_pooler_error(err);
        // `connect` says the same at start-up.
        let pc = Pool::new(&b).unwrap();
        assert_pooler_error(&pc.connect().await.unwrap_err());
    });
}

#[test]
fn transaction_mode_never_lets_two_holders_in() {
    let bouncer = Bouncer::start(port(), "transaction", 20).expect("start PgBouncer");
    let urls = [
        bouncer.url("pooler_tx_storm_a"),
        bouncer.url("pooler_tx_storm_b"),
    ];
    smol(120, async move {
        let pools: Vec<Pool> = urls.iter().map(|url| Pool::new(url).unwrap()).collect();
        let holders: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
        let (granted, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..8usize)
            .map(|task| {
                let pool = pools[task % 2].clone();
                let (holders, granted, refused) =
                    (holders.clone(), granted.clone(), refused.clone());
                smol::spawn(async move {
                    for round in 0..10 {
                        let key = 12301 + ((task + round) % 2) as i64;
                        match pool.lock_timeout(key, Duration::from_secs(5)).await {
                            Ok(guard) => {
                                let inside = {
                                    let mut holders = holders.lock().unwrap();
                                    let count = holders.entry(key).or_default();
                                    *count += 1;
                                    *count
                                };
                                assert_eq!(inside, 1, "two holders of key {key}");
                                async_io::Timer::after(Duration::from_millis(2)).await;
                                *holders.lock().unwrap().get_mut(&key).unwrap() -= 1;
                                drop(guard);
                                granted.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(err) if err.kind() == ErrorKind::TimedOut => {}
                            Err(err) => {
                                assert_pooler_error(&err);
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        assert!(
            refused.load(Ordering::SeqCst) > 0,
            "the pooler was noticed ({} granted)",
            granted.load(Ordering::SeqCst)
        );
    });
}

#[test]
fn a_pooler_that_resets_sessions_after_every_transaction_is_refused() {
    let bouncer = Bouncer::start_with(
        port(),
        "transaction",
        20,
        "server_reset_query = DISCARD ALL\nserver_reset_query_always = 1",
    )
    .expect("start PgBouncer");
    let url = bouncer.url("pooler_tx_reset");
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        assert_pooler_error(&pool.connect().await.unwrap_err());
        assert_pooler_error(&pool.lock(12401).await.unwrap_err());
        assert_eq!(pool.status().sessions, 0);
    });
}
