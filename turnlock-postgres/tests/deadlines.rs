//! Deadlines: a zero timeout or a deadline that has passed means "only if
//! free right now"; a deadline never holds a caller past it.

mod common;

use std::time::{Duration, Instant};

use common::{advisory_locks, smol, url};
use turnlock_postgres::{ErrorKind, Pool};

#[test]
fn a_zero_timeout_takes_a_free_key_even_on_a_cold_pool() {
    smol(60, async {
        let pool = Pool::new(&url("deadline_zero_free")).unwrap();
        assert_eq!(pool.status().sessions, 0);
        let guard = pool.lock_timeout(8001, Duration::ZERO).await.unwrap();
        guard.release().await.unwrap();
        let guard = pool.lock_until(8001, std::future::ready(())).await.unwrap();
        guard.release().await.unwrap();
    });
}

#[test]
fn a_zero_timeout_on_a_taken_key_is_one_try_and_no_wait() {
    let app = "deadline_zero_taken";
    smol(60, async move {
        let holder = Pool::new(&url("deadline_zero_holder")).unwrap();
        let pool = Pool::new(&url(app)).unwrap();
        pool.connect().await.unwrap();
        let held = holder.lock(8002).await.unwrap();
        for _ in 0..3 {
            let started = Instant::now();
            let err = pool.lock_timeout(8002, Duration::ZERO).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert_eq!(err.timeout(), Some(Duration::ZERO));
            assert_eq!(
                err.to_string(),
                "timed out waiting for lock 8002 after 0ns: it is held elsewhere"
            );
            assert!(started.elapsed() < Duration::from_secs(2));
            let err = pool
                .lock_until(8002, std::future::ready(()))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert_eq!(err.timeout(), None);
        }
        // A try never waits on the server: nothing of ours in pg_locks.
        assert_eq!(advisory_locks(app), 0);
        assert!(pool.status().is_idle(), "{:?}", pool.status());
        // Held in this process: no round trip at all.
        let local = pool.lock(8003).await.unwrap();
        let err = pool.lock_timeout(8003, Duration::ZERO).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        drop(local);
        held.release().await.unwrap();
    });
}

#[test]
fn a_deadline_that_passes_while_waiting_cancels_the_wait() {
    let app = "deadline_passes";
    smol(60, async move {
        let holder = Pool::new(&url("deadline_passes_holder")).unwrap();
        let pool = Pool::new(&url(app)).unwrap();
        let held = holder.lock(8004).await.unwrap();
        let (fire, fired) = async_channel::bounded::<()>(1);
        let waiting = smol::spawn({
            let pool = pool.clone();
            async move {
                pool.lock_until(8004, async move {
                    let _ = fired.recv().await;
                })
                .await
            }
        });
        common::eventually(10, "the wait reached the server", || {
            pool.status().waiting == 1
        })
        .await;
        drop(fire); // the deadline completes
        let err = waiting.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        common::eventually(10, "the wait was cancelled", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        held.release().await.unwrap();
    });
}
