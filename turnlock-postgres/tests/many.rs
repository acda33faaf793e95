//! Several keys at once: all or none, in a fixed order, so that callers
//! naming overlapping sets in any order never deadlock; a cancelled or
//! timed-out `lock_many` leaves nothing held.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{advisory_locks, eventually, smol, url};
use turnlock_postgres::{ErrorKind, Pool};

#[test]
fn all_keys_or_none() {
    let app = "many_all_or_none";
    let holder_url = url("many_all_or_none_holder");
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let holder = Pool::new(&holder_url).unwrap();
        let held = holder.lock(13003).await.unwrap();
        let err = pool
            .lock_many_timeout([13001, 13002, 13003], Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(
            err.to_string()
                .starts_with("timed out waiting for locks 13001, 13002, 13003 after 300ms"),
            "{err}"
        );
        // Nothing of the failed call is held, here or on the server.
        eventually(10, "nothing held", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        assert!(holder.try_lock(13001).await.unwrap().is_some());
        // A single try of every key: none, while one is taken.
        let err = pool
            .lock_many_timeout([13001, 13003], Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(!pool.is_locked_here(13001));
        held.release().await.unwrap();
        let mut all = pool.lock_many([13003, 13001, 13002, 13001]).await.unwrap();
        assert_eq!(all.keys(), [13001, 13002, 13003]);
        assert!(!all.is_lost());
        assert!(all.guards_mut()[2].fencing_token().await.unwrap() > 0);
        assert_eq!(advisory_locks(app), 3);
        all.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
    });
}

#[test]
fn overlapping_sets_in_any_order_never_deadlock_nor_overlap() {
    let urls = [url("many_overlap_a"), url("many_overlap_b")];
    smol(120, async move {
        let pools: Vec<Pool> = urls
            .iter()
            .map(|url| Pool::builder(url).max_sessions(4).build().unwrap())
            .collect();
        let inside: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
        let tasks: Vec<_> = (0..8u64)
            .map(|task| {
                let pool = pools[task as usize % 2].clone();
                let inside = inside.clone();
                smol::spawn(async move {
                    let mut rng = task * 6151 + 3;
                    for _ in 0..15 {
                        rng = rng
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        // Two or three of four keys, named in a random order.
                        let mut keys: Vec<i64> = (13101..13105).collect();
                        keys.rotate_left((rng >> 40) as usize % 4);
                        keys.truncate(2 + (rng >> 50) as usize % 2);
                        if rng % 2 == 0 {
                            keys.reverse();
                        }
                        let held = pool.lock_many(keys.clone()).await.unwrap();
                        for key in &keys {
                            let mut inside = inside.lock().unwrap();
                            let count = inside.entry(*key).or_default();
                            *count += 1;
                            assert_eq!(*count, 1, "two holders of {key}");
                        }
                        async_io::Timer::after(Duration::from_micros((rng >> 20) % 2000)).await;
                        for key in &keys {
                            *inside.lock().unwrap().get_mut(key).unwrap() -= 1;
                        }
                        if rng % 3 == 0 {
                            drop(held);
                        } else {
                            held.release().await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
}

#[test]
fn a_cancelled_lock_many_leaves_nothing() {
    let app = "many_cancelled";
    let holder_url = url("many_cancelled_holder");
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let holder = Pool::new(&holder_url).unwrap();
        let held = holder.lock(13203).await.unwrap();
        for wait in [0, 1, 3, 10, 30, 100] {
            let attempt = pool.lock_many([13201, 13202, 13203]);
            let outcome = common::with_timeout(Duration::from_millis(wait), attempt).await;
            assert!(outcome.is_none(), "13203 is held elsewhere");
        }
        eventually(20, "nothing held, no wait left", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        held.release().await.unwrap();
        let all = pool.lock_many([13201, 13202, 13203]).await.unwrap();
        all.release().await.unwrap();
    });
}
