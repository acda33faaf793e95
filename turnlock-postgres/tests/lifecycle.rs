//! A pool's sessions live as long as the pool or one of its guards, and no
//! longer: the server sees them close once the last handle is gone.

mod common;

use std::time::Duration;

use common::forwarder::Forwarder;
use common::{advisory_locks, backends, eventually, port, smol, url, url_via};
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
fn a_dropped_pool_closes_its_sessions_after_shared_and_many_key_locks() {
    // Each kind of guard the pool makes, released every way (by `release`,
    // by drop, after the pool): none keeps the pool's sessions open after
    // it is gone.
    let app = "lifecycle_dropped_kinds";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let reader = pool.lock_shared(6201).await.unwrap();
        let second = pool.lock_shared(6201).await.unwrap();
        reader.release().await.unwrap();
        drop(second);
        let many = pool.lock_many([6202, 6203]).await.unwrap();
        drop(many);
        let many = pool.lock_many([6204, 6205]).await.unwrap();
        let shared = pool.lock_shared(6206).await.unwrap();
        assert!(backends(app) >= 1, "the pool's sessions are open");
        drop(pool);
        // The guards' locks live in the pool's sessions.
        assert!(backends(app) >= 1);
        drop(many);
        drop(shared);
        eventually(10, "the server sees every session closed", || {
            backends(app) == 0
        })
        .await;
    });
}

#[test]
fn idle_waits_for_the_cancel_of_a_timed_out_wait_and_a_dropped_guards_release() {
    let app = "lifecycle_idle";
    let url = url(app);
    let other = common::url("lifecycle_idle_holder");
    smol(60, async move {
        let holder = Pool::new(&other).unwrap();
        let held = holder.lock(6301).await.unwrap();
        let pool = Pool::new(&url).unwrap();
        pool.connect().await.unwrap();
        // A wait on the server that times out: its cancel request goes out
        // in the background.
        let err = pool
            .lock_timeout(6301, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        // A guard dropped rather than released: its release too.
        drop(pool.lock(6302).await.unwrap());
        pool.idle().await;
        assert!(pool.status().is_idle(), "{:?}", pool.status());
        assert_eq!(advisory_locks(app), 0, "nothing waited for or held");
        drop(held);
        // A pool with a guard is not idle until the guard goes.
        let guard = pool.lock(6303).await.unwrap();
        let idle = pool.idle();
        futures_lite::pin!(idle);
        assert!(futures_lite::future::poll_once(&mut idle).await.is_none());
        drop(guard);
        idle.await;
        assert!(pool.status().is_idle());
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
/// caller finds it; and no more than `max_sessions` connections are ever
/// open at once. Counted at a TCP forwarder in front of the server, which
/// sees a connection from its first byte on (`pg_stat_activity` misses
/// backends still starting up). With one session no wait ever runs on the
/// server, so no cancel request opens a connection either.
#[test]
fn short_deadlines_on_a_cold_pool_get_a_session() {
    let app = "lifecycle_cold";
    let forwarder = Forwarder::start(port());
    let url = url_via(forwarder.port, app);
    smol(120, async move {
        let pool = Pool::builder(&url).max_sessions(1).build().unwrap();
        let mut attempts = 0;
        let guard = loop {
            attempts += 1;
            assert!(attempts <= 2_000, "no session after {attempts} attempts");
            match pool.lock_timeout(6201, Duration::from_millis(2)).await {
                Ok(guard) => break guard,
                Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}"),
            }
            let most = forwarder.most_at_once();
            assert!(
                most <= 1,
                "{most} connections open at once for a 1-session pool"
            );
        };
        assert!(
            attempts > 1,
            "the first 2 ms deadline was met: the pool was never cold"
        );
        guard.release().await.unwrap();
        let most = forwarder.most_at_once();
        assert!(
            most <= 1,
            "{most} connections open at once for a 1-session pool"
        );
        assert_eq!(pool.status().sessions, 1);
        assert_eq!(
            forwarder.connections(),
            1,
            "the session opened for the first caller is the one used"
        );
    });
}
