//! The keyed API against a real server: lock, try_lock, with_lock,
//! timeouts, release, keys as PostgreSQL sees them.

mod common;

use std::time::{Duration, Instant};

use common::{advisory_locks, lock_pid, smol, url};
use turnlock_postgres::{ErrorKind, LockKey, Pool};

#[test]
fn lock_excludes_another_pool_until_released() {
    smol(60, async {
        let app = "api_exclude";
        let a = Pool::new(&url(app)).unwrap();
        let b = Pool::new(&url(app)).unwrap();
        let guard = a.lock(1001).await.unwrap();
        assert_eq!(guard.key(), 1001);
        assert!(
            b.try_lock(1001).await.unwrap().is_none(),
            "held by the other pool"
        );
        assert_eq!(lock_pid(1001, true), Some(guard.backend_pid()));
        guard.release().await.unwrap();
        let again = b.try_lock(1001).await.unwrap().expect("free after release");
        again.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
        assert_eq!(a.status().held + b.status().held, 0);
    });
}

#[test]
fn try_lock_sees_a_local_holder_without_the_database() {
    smol(60, async {
        let pool = Pool::new(&url("api_try_local")).unwrap();
        let guard = pool.lock("local").await.unwrap();
        assert!(pool.is_locked_here("local"));
        assert!(pool.try_lock("local").await.unwrap().is_none());
        drop(guard);
        let guard = pool.try_lock("local").await.unwrap().expect("free again");
        guard.release().await.unwrap();
    });
}

#[test]
fn string_keys_are_the_documented_ids_in_pg_locks() {
    smol(60, async {
        let pool = Pool::builder(&url("api_ids"))
            .namespace("billing")
            .build()
            .unwrap();
        let guard = pool.lock("user:42").await.unwrap();
        assert_eq!(guard.key(), 1659354476491683446);
        assert_eq!(guard.key(), LockKey::hash(Some("billing"), b"user:42"));
        assert_eq!(
            lock_pid(1659354476491683446, true),
            Some(guard.backend_pid())
        );
        guard.release().await.unwrap();
        let negative = pool.lock("a").await.unwrap();
        let id = LockKey::hash(Some("billing"), b"a");
        assert_eq!(lock_pid(id, true), Some(negative.backend_pid()));
        negative.release().await.unwrap();
    });
}

#[test]
fn lock_timeout_gives_up_on_a_remote_holder_in_time() {
    smol(60, async {
        let app = "api_timeout";
        let holder = Pool::new(&url(app)).unwrap();
        let waiter = Pool::new(&url(app)).unwrap();
        let guard = holder.lock(1002).await.unwrap();
        waiter.connect().await.unwrap(); // so that the wait is all on the holder
        let started = Instant::now();
        let err = waiter
            .lock_timeout(1002, Duration::from_millis(200))
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert_eq!(err.timeout(), Some(Duration::from_millis(200)));
        assert_eq!(
            err.to_string(),
            "timed out waiting for lock 1002 after 200ms: \
             it is held elsewhere (waiting in pg_advisory_lock)"
        );
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        // The server-side wait was cancelled: only the holder's lock remains.
        common::eventually(10, "the cancelled wait leaves pg_locks", || {
            advisory_locks(app) == 1
        })
        .await;
        guard.release().await.unwrap();
        let guard = waiter
            .lock_timeout(1002, Duration::from_secs(5))
            .await
            .unwrap();
        guard.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
    });
}

#[test]
fn lock_until_takes_any_future_as_deadline() {
    smol(60, async {
        let app = "api_until";
        let holder = Pool::new(&url(app)).unwrap();
        let waiter = Pool::new(&url(app)).unwrap();
        let guard = holder.lock(1003).await.unwrap();
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let waiting = smol::spawn({
            let waiter = waiter.clone();
            async move {
                waiter
                    .lock_until(1003, async move {
                        let _ = rx.recv().await;
                    })
                    .await
            }
        });
        drop(tx);
        let err = waiting.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert_eq!(err.timeout(), None);
        guard.release().await.unwrap();
        common::eventually(10, "no lock left", || advisory_locks(app) == 0).await;
    });
}

#[test]
fn with_lock_runs_under_the_lock_and_releases() {
    smol(60, async {
        let app = "api_with";
        let pool = Pool::new(&url(app)).unwrap();
        let other = Pool::new(&url(app)).unwrap();
        let seen = pool
            .with_lock(1004, async |guard| {
                assert!(!guard.is_lost());
                other.try_lock(1004).await.unwrap().is_none()
            })
            .await
            .unwrap();
        assert!(seen, "the other pool was excluded inside with_lock");
        assert_eq!(advisory_locks(app), 0, "released before with_lock returned");
    });
}

#[test]
fn a_key_locked_locally_queues_locally() {
    smol(60, async {
        let app = "api_local_queue";
        let pool = Pool::new(&url(app)).unwrap();
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let pool = pool.clone();
                let inside = inside.clone();
                smol::spawn(async move {
                    for _ in 0..5 {
                        let guard = pool.lock("queue").await.unwrap();
                        assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                        smol::future::yield_now().await;
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(guard);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        common::eventually(10, "all released", || pool.status().is_idle()).await;
        let status = pool.status();
        assert_eq!(
            (status.waiting, status.busy, status.keys),
            (0, 0, 0),
            "{status:?}"
        );
        assert!(
            status.sessions <= 2,
            "one key needs one session, got {status:?}"
        );
        assert_eq!(advisory_locks(app), 0);
    });
}

#[test]
fn fifo_pools_work_the_same() {
    smol(60, async {
        let pool = Pool::builder(&url("api_fifo")).fifo().build().unwrap();
        let a = pool.lock(1005).await.unwrap();
        let b = pool.lock(1006).await.unwrap();
        assert!(pool.try_lock(1005).await.unwrap().is_none());
        a.release().await.unwrap();
        b.release().await.unwrap();
    });
}

#[test]
fn handles_guards_and_futures_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let pool = Pool::new("host=localhost").unwrap();
    send_sync(&pool);
    send(&pool.lock(1));
    send(&pool.try_lock("k"));
    send(&pool.lock_timeout(1, Duration::from_secs(1)));
    send(&pool.lock_until(1, std::future::ready(())));
    send(&pool.with_lock(1, async |_guard: &mut turnlock_postgres::Guard| 1));
    fn guard_is_send_sync(guard: turnlock_postgres::Guard) {
        send_sync(&guard);
        send(&guard.lost());
        send(&guard.release());
    }
    let _ = guard_is_send_sync;
    send_sync(&Pool::new("x=").err());
}

#[test]
fn status_backend_pids_and_application_name_show_the_pool_in_the_database() {
    smol(60, async {
        let pool = Pool::builder(&url("api_named_in_url"))
            .application_name("api_named_pool")
            .build()
            .unwrap();
        assert!(pool.status().is_idle());
        assert!(pool.backend_pids().is_empty());
        pool.connect().await.unwrap();
        assert_eq!(pool.status().sessions, 1);
        let guard = pool.lock(1101).await.unwrap();
        let status = pool.status();
        assert_eq!((status.held, status.releasing, status.keys), (1, 0, 1));
        assert!(!status.is_idle());
        assert_eq!(pool.backend_pids(), vec![guard.backend_pid()]);
        assert_eq!(
            common::psql(&format!(
                "SELECT application_name FROM pg_stat_activity WHERE pid = {}",
                guard.backend_pid()
            )),
            "api_named_pool",
            "the builder's name wins over the connection string's"
        );
        guard.release().await.unwrap();
        assert!(pool.status().is_idle(), "{:?}", pool.status());
        assert_eq!(advisory_locks("api_named_pool"), 0);
    });
}
