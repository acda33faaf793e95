//! Timeouts and dropped futures leave nothing behind: no advisory lock in
//! `pg_locks`, no session still waiting, every session back in the pool.

mod common;

use std::time::Duration;

use common::{advisory_locks, eventually, lock_pid, smol, url};
use turnlock_postgres::{ErrorKind, Pool, Status};

async fn assert_all_back(pool: &Pool, app: &str) {
    eventually(20, "every session back and idle", || {
        let s = pool.status();
        (s.waiting, s.busy, s.held, s.keys, s.connecting) == (0, 0, 0, 0, 0)
    })
    .await;
    eventually(20, "no advisory lock of ours in pg_locks", || {
        advisory_locks(app) == 0
    })
    .await;
}

#[test]
fn a_storm_of_timeouts_and_drops_leaves_nothing() {
    let app = "cancel_storm";
    let url_storm = url(app);
    let url_holder = url("cancel_storm_holder");
    smol(240, async move {
        let pool = Pool::builder(&url_storm).max_sessions(6).build().unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        // Key 2001 is held throughout, 2002 comes and goes (grants racing
        // with timeouts), 2003 and 2004 are free.
        let held = holder.lock(2001).await.unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flicker = smol::spawn({
            let holder = holder.clone();
            let stop = stop.clone();
            async move {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let guard = holder.lock(2002).await.unwrap();
                    async_io::Timer::after(Duration::from_micros(300 + n % 3000)).await;
                    guard.release().await.unwrap();
                    n += 977;
                }
            }
        });
        let tasks: Vec<_> = (0..16u64)
            .map(|task| {
                let pool = pool.clone();
                smol::spawn(async move {
                    let mut rng = task * 7919 + 1;
                    for _ in 0..25 {
                        rng = rng
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let key = 2001 + (rng >> 33) as i64 % 4;
                        let wait = Duration::from_micros((rng >> 20) % 15_000);
                        if rng % 2 == 0 {
                            match pool.lock_timeout(key, wait).await {
                                Ok(guard) => drop(guard),
                                Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}"),
                            }
                        } else {
                            // Dropped at a random point: before, during or
                            // after the statement.
                            let acquire = pool.lock(key);
                            let _ = futures_lite::future::or(
                                async { acquire.await.ok().map(drop) },
                                async {
                                    async_io::Timer::after(wait).await;
                                    None
                                },
                            )
                            .await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        flicker.await;
        held.release().await.unwrap();
        let status: Status = pool.status();
        assert!(status.sessions <= 6, "{status:?}");
        assert_all_back(&pool, app).await;
        eventually(20, "the holder is done too", || {
            advisory_locks("cancel_storm_holder") == 0
        })
        .await;
        // And every key is free for anyone.
        for key in 2001..=2004 {
            let guard = pool
                .lock_timeout(key, Duration::from_secs(5))
                .await
                .unwrap();
            guard.release().await.unwrap();
        }
        assert_all_back(&pool, app).await;
    });
}

#[test]
fn a_wait_dropped_as_the_lock_is_granted_releases_it() {
    let app = "cancel_race";
    let url_waiter = url(app);
    let url_holder = url("cancel_race_holder");
    smol(240, async move {
        let waiter = Pool::new(&url_waiter).unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        let third = Pool::new(&url_holder).unwrap();
        for round in 0..15u64 {
            let held = holder.lock(2101).await.unwrap();
            let task = smol::spawn({
                let waiter = waiter.clone();
                async move { waiter.lock(2101).await.map(drop) }
            });
            // The waiter is blocked in pg_advisory_lock on the server.
            eventually(10, "the waiter waits on the server", || {
                lock_pid(2101, false).is_some()
            })
            .await;
            // Release and drop the waiter at about the same time, in either order.
            if round % 2 == 0 {
                held.release().await.unwrap();
                async_io::Timer::after(Duration::from_micros(round * 150)).await;
                drop(task);
            } else {
                drop(task);
                held.release().await.unwrap();
            }
            // Whether or not it was granted, nothing of the waiter remains.
            let guard = third
                .lock_timeout(2101, Duration::from_secs(10))
                .await
                .unwrap();
            guard.release().await.unwrap();
        }
        assert_all_back(&waiter, app).await;
    });
}

#[test]
fn a_cancelled_wait_gives_its_session_back() {
    let app = "cancel_session";
    let url_waiter = url(app);
    let url_holder = url("cancel_session_holder");
    smol(60, async move {
        // Two sessions: one may wait, one stays shared.
        let pool = Pool::builder(&url_waiter).max_sessions(2).build().unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        let held = holder.lock(2201).await.unwrap();
        for _ in 0..5 {
            let err = pool
                .lock_timeout(2201, Duration::from_millis(50))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut);
        }
        assert_all_back(&pool, app).await;
        assert!(pool.status().sessions <= 2);
        // Other keys never had to wait for those sessions.
        let other = pool
            .lock_timeout(2202, Duration::from_secs(2))
            .await
            .unwrap();
        other.release().await.unwrap();
        held.release().await.unwrap();
        assert_all_back(&pool, app).await;
    });
}
