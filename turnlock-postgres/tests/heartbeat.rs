//! Loss detected in bounded time: a connection that goes silent without
//! closing (a vanished machine or network path) is declared lost within
//! three heartbeat intervals, its server process is ended, and the pool
//! carries on with fresh sessions.

mod common;

use std::time::{Duration, Instant};

use common::forwarder::Forwarder;
use common::{advisory_locks, eventually, port, psql, smol, url, url_via, with_timeout};
use turnlock_postgres::{ErrorKind, Pool};

const BEAT: Duration = Duration::from_millis(200);

/// The interval of the test that times loss detection: long enough that
/// [`SLACK`] is small beside the documented bound, three intervals.
const TIMED_BEAT: Duration = Duration::from_secs(1);

/// What the timed test allows beyond the documented bound, for scheduling
/// on a loaded machine. Less than one interval, so a bound of four
/// intervals or more would fail the test.
const SLACK: Duration = Duration::from_millis(900);

fn backend_alive(pid: i32) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"
    )) == "1"
}

#[test]
fn a_holder_behind_a_silent_connection_learns_it_within_the_bound() {
    let app = "hb_holder";
    let forwarder = Forwarder::start(port());
    let url_a = url_via(forwarder.port, app);
    let url_b = url("hb_holder_other");
    smol(120, async move {
        let pool = Pool::builder(&url_a).heartbeat(TIMED_BEAT).build().unwrap();
        let other = Pool::new(&url_b).unwrap();
        let guard = pool.lock(9001).await.unwrap();
        let pid = guard.backend_pid();
        let lost = guard.lost();
        forwarder.freeze();
        let frozen_at = Instant::now();
        let bound = TIMED_BEAT * 3; // `Builder::heartbeat`'s documented bound
        // A watchdog well beyond the bound; the assertion below is tight.
        with_timeout(bound + Duration::from_secs(10), lost)
            .await
            .expect("lost() at all");
        let noticed = frozen_at.elapsed();
        assert!(
            noticed <= bound + SLACK,
            "silent connection noticed after {noticed:?}, bound {bound:?} (+ {SLACK:?} slack)"
        );
        assert!(guard.is_lost());
        let err = guard.release().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SessionLost, "{err}");
        // The server process behind the silent connection was ended, so
        // its lock is free for others now, not when the server would have
        // noticed the dead connection (never, here).
        eventually(10, "the silent session's server process ended", || {
            !backend_alive(pid)
        })
        .await;
        let taken = other
            .lock_timeout(9001, Duration::from_secs(10))
            .await
            .expect("the lock was freed");
        taken.release().await.unwrap();
        // The pool serves new acquisitions through fresh sessions.
        let fresh = pool.lock(9002).await.unwrap();
        assert!(!fresh.is_lost());
        assert_ne!(fresh.backend_pid(), pid);
        fresh.release().await.unwrap();
        eventually(10, "nothing left", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        eprintln!("silent connection noticed after {noticed:?} (bound {bound:?})");
    });
}

#[test]
fn a_wait_behind_a_silent_connection_moves_to_a_fresh_session() {
    let app = "hb_waiter";
    let forwarder = Forwarder::start(port());
    let url_a = url_via(forwarder.port, app);
    let url_b = url("hb_waiter_holder");
    smol(120, async move {
        let pool = Pool::builder(&url_a).heartbeat(BEAT).build().unwrap();
        let holder = Pool::new(&url_b).unwrap();
        let held = holder.lock(9003).await.unwrap();
        let waiter = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock(9003).await }
        });
        eventually(10, "the wait is on the server", || {
            pool.status().waiting == 1
        })
        .await;
        let silent = pool.backend_pids();
        forwarder.freeze();
        eventually(10, "the silent waiting session is replaced", || {
            let pids = pool.backend_pids();
            !pids.is_empty() && pids.iter().all(|pid| !silent.contains(pid))
        })
        .await;
        held.release().await.unwrap();
        let guard = with_timeout(Duration::from_secs(20), waiter)
            .await
            .expect("the waiter gets the lock through a fresh session")
            .unwrap();
        assert!(!silent.contains(&guard.backend_pid()));
        guard.release().await.unwrap();
    });
}

#[test]
fn a_long_wait_is_sent_again_each_interval_and_still_gets_the_lock() {
    let app = "hb_long_wait";
    let url_a = url(app);
    let url_b = url("hb_long_wait_holder");
    smol(120, async move {
        let pool = Pool::builder(&url_a)
            .heartbeat(Duration::from_millis(50))
            .build()
            .unwrap();
        let holder = Pool::new(&url_b).unwrap();
        let held = holder.lock(9004).await.unwrap();
        let waiter = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock(9004).await }
        });
        // Twenty wait slices: never more than one wait of ours on the
        // server at a time.
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            assert!(advisory_locks(app) <= 1);
            async_io::Timer::after(Duration::from_millis(20)).await;
        }
        assert!(!waiter.is_finished());
        held.release().await.unwrap();
        let guard = with_timeout(Duration::from_secs(10), waiter)
            .await
            .expect("granted after the holder let go")
            .unwrap();
        guard.release().await.unwrap();
        eventually(10, "nothing left", || advisory_locks(app) == 0).await;
    });
}
