//! A pool's sessions live as long as the pool or one of its guards, and no
//! longer: the server sees them close once the last handle is gone.

mod common;

use std::time::Duration;

use common::{backends, eventually, smol, url};
use turnlock_postgres::{ErrorKind, Pool};

#[test]
fn a_dropped_pool_closes_its_sessions_after_taking_locks() {
    let app = "lifecycle_dropped";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let guard = pool.lock(6001).await.unwrap();
        guard.release().await.unwrap();
        drop(pool.lock(6002).await.unwrap()); // released by drop
        let guard = pool.lock(6003).await.unwrap();
        assert!(backends(app) >= 1, "the pool's sessions are open");
        drop(pool);
        // A guard keeps the pool's sessions open: its lock lives in one.
        assert!(!guard.is_lost());
        assert!(backends(app) >= 1);
        drop(guard);
        eventually(10, "the server sees every session closed", || {
            backends(app) == 0
        })
        .await;
    });
}

#[test]
fn a_dropped_pool_that_never_held_a_lock_closes_its_sessions() {
    let app = "lifecycle_unused";
    let url = url(app);
    let other = common::url("lifecycle_unused_holder");
    smol(60, async move {
        let holder = Pool::new(&other).unwrap();
        let held = holder.lock(6101).await.unwrap();
        let pool = Pool::new(&url).unwrap();
        assert!(pool.try_lock(6101).await.unwrap().is_none());
        assert!(backends(app) >= 1, "the try opened a session");
        drop(pool);
        eventually(10, "the server sees every session closed", || {
            backends(app) == 0
        })
        .await;
        drop(held);
    });
}

/// A cold pool, callers with deadlines far shorter than opening a session
/// takes: the session being opened is finished for the pool, so a later
/// caller finds it; and the server never sees more sessions than
/// `max_sessions`.
#[test]
fn short_deadlines_on_a_cold_pool_get_a_session() {
    let app = "lifecycle_cold";
    let url = url(app);
    smol(120, async move {
        let pool = Pool::builder(&url).max_sessions(1).build().unwrap();
        let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let watcher = {
            let watching = watching.clone();
            std::thread::spawn(move || {
                let mut most = 0;
                while watching.load(std::sync::atomic::Ordering::SeqCst) {
                    most = most.max(backends(app));
                }
                most
            })
        };
        let mut attempts = 0;
        let guard = loop {
            attempts += 1;
            assert!(attempts <= 2_000, "no session after {attempts} attempts");
            match pool.lock_timeout(6201, Duration::from_millis(2)).await {
                Ok(guard) => break guard,
                Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}"),
            }
        };
        guard.release().await.unwrap();
        watching.store(false, std::sync::atomic::Ordering::SeqCst);
        let most = watcher.join().unwrap();
        assert_eq!(pool.status().sessions, 1);
        assert!(
            most <= 1,
            "the server saw {most} sessions of a 1-session pool"
        );
    });
}
