//! Shared locks (`pg_advisory_lock_shared`): readers hold a key together,
//! here and in other processes, never beside a writer; local readers share
//! one remote shared lock; a stream of readers never starves a writer; and
//! cancellation, timeouts and lost sessions leave nothing behind.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{advisory_locks, eventually, psql, smol, url, with_timeout};
use turnlock_postgres::{ErrorKind, Pool};

/// Shared and exclusive advisory locks of `app` on `bigint` key `key`, as
/// `(granted shared, granted exclusive, waiting)`.
fn modes(app: &str, key: i64) -> (usize, usize, usize) {
    let out = psql(&format!(
        "SELECT count(*) FILTER (WHERE l.granted AND l.mode = 'ShareLock'), \
                count(*) FILTER (WHERE l.granted AND l.mode = 'ExclusiveLock'), \
                count(*) FILTER (WHERE NOT l.granted) \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND a.application_name = '{app}' \
         AND l.classid = {} AND l.objid = {}",
        (key >> 32) as u32,
        key as u32
    ));
    let counts: Vec<usize> = out.split('|').map(|n| n.parse().unwrap()).collect();
    (counts[0], counts[1], counts[2])
}

#[test]
fn local_readers_share_one_remote_lock() {
    let app = "shared_local";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let readers = 12;
        let (all_in, in_tx) = (
            Arc::new(AtomicUsize::new(0)),
            async_channel::bounded::<()>(1),
        );
        let (release_tx, release_rx) = async_channel::bounded::<()>(1);
        let tasks: Vec<_> = (0..readers)
            .map(|_| {
                let (pool, all_in, in_tx, release_rx) = (
                    pool.clone(),
                    all_in.clone(),
                    in_tx.0.clone(),
                    release_rx.clone(),
                );
                smol::spawn(async move {
                    let guard = pool.lock_shared(15001).await.unwrap();
                    assert!(guard.is_shared());
                    if all_in.fetch_add(1, Ordering::SeqCst) + 1 == readers {
                        in_tx.send(()).await.unwrap();
                    }
                    let _ = release_rx.recv().await; // all hold it at once
                    guard.release().await.unwrap();
                })
            })
            .collect();
        in_tx.1.recv().await.unwrap();
        // Twelve readers here, one remote shared lock, on one session.
        assert_eq!(modes(app, 15001), (1, 0, 0));
        assert_eq!(pool.status().sessions, 1);
        // A writer of another pool waits for them.
        let other = Pool::new(&common::url("shared_local_writer")).unwrap();
        assert!(other.try_lock(15001).await.unwrap().is_none());
        assert!(other.try_lock_shared(15001).await.unwrap().is_some());
        drop(release_tx);
        for task in tasks {
            task.await;
        }
        eventually(10, "released", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
        let writer = other
            .try_lock(15001)
            .await
            .unwrap()
            .expect("free for a writer now");
        writer.release().await.unwrap();
    });
}

#[test]
fn writers_and_readers_exclude_each_other_in_and_across_pools() {
    let urls = [url("shared_mixed_a"), url("shared_mixed_b")];
    smol(120, async move {
        let pools: Vec<Pool> = urls.iter().map(|url| Pool::new(url).unwrap()).collect();
        // Writers inside, readers inside, and whether readers ever overlapped.
        let state = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
        let tasks: Vec<_> = (0..12u64)
            .map(|task| {
                let (pool, state) = (pools[task as usize % 2].clone(), state.clone());
                smol::spawn(async move {
                    let mut rng = task * 2654435761 + 11;
                    for _ in 0..12 {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let write = rng % 4 == 0;
                        let guard = if write {
                            pool.lock(15101).await.unwrap()
                        } else {
                            pool.lock_shared(15101).await.unwrap()
                        };
                        {
                            let mut state = state.lock().unwrap();
                            if write {
                                assert_eq!((state.0, state.1), (0, 0), "a writer beside someone");
                                state.0 += 1;
                            } else {
                                assert_eq!(state.0, 0, "a reader beside a writer");
                                state.1 += 1;
                                state.2 = state.2.max(state.1);
                            }
                        }
                        async_io::Timer::after(Duration::from_micros((rng >> 30) % 3000)).await;
                        {
                            let mut state = state.lock().unwrap();
                            if write {
                                state.0 -= 1;
                            } else {
                                state.1 -= 1;
                            }
                        }
                        if rng % 3 == 0 {
                            drop(guard);
                        } else {
                            guard.release().await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        assert!(state.lock().unwrap().2 > 1, "readers held the key together");
    });
}

#[test]
fn a_stream_of_readers_never_starves_a_writer_of_another_process() {
    let (app, writer_url) = ("shared_stream", url("shared_stream_writer"));
    let url = url(app);
    smol(120, async move {
        let pool = Pool::new(&url).unwrap();
        let writer = Pool::new(&writer_url).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // Eight readers in a loop, always overlapping: the key is never
        // free of readers here.
        let readers: Vec<_> = (0..8u64)
            .map(|task| {
                let (pool, stop) = (pool.clone(), stop.clone());
                smol::spawn(async move {
                    let mut rounds = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let guard = pool.lock_shared(15201).await.unwrap();
                        async_io::Timer::after(Duration::from_millis(2 + task % 3)).await;
                        drop(guard);
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        eventually(10, "the readers hold the key", || modes(app, 15201).0 >= 1).await;
        let guard = writer
            .lock_timeout(15201, Duration::from_secs(30))
            .await
            .expect("the writer got its turn");
        assert_eq!(modes(app, 15201).0, 0, "no reader beside the writer");
        guard.release().await.unwrap();
        stop.store(true, Ordering::SeqCst);
        for reader in readers {
            assert!(reader.await > 0);
        }
    });
}

#[test]
fn a_stream_of_readers_keeps_one_session_while_no_writer_waits() {
    let app = "shared_one_session";
    let url = url(app);
    smol(120, async move {
        let pool = Pool::builder(&url).max_local_handoffs(4).build().unwrap();
        // Eight readers, 25 acquisitions each, always overlapping: the
        // remote shared lock fills up (4 joins) fifty times over, and is
        // renewed each time, since no writer waits.
        let readers: Vec<_> = (0..8u64)
            .map(|task| {
                let pool = pool.clone();
                smol::spawn(async move {
                    for _ in 0..25 {
                        let guard = pool.lock_shared(15101).await.unwrap();
                        async_io::Timer::after(Duration::from_millis(1 + task % 3)).await;
                        drop(guard);
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.await;
        }
        assert_eq!(pool.status().sessions, 1, "one session for the readers");
        assert_eq!(common::backends(app), 1);
        eventually(10, "released", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
    });
}

#[test]
fn a_shared_lock_waits_idle_for_the_next_local_caller_and_a_local_writer_still_gets_the_key() {
    let app = "shared_idle";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let key = 15201;

        // A writer of this process queues behind a reader: when the reader
        // leaves, its remote shared lock stays (another local caller wants
        // the key) and is given back once that caller gives up.
        let reading = pool.lock_shared(key).await.unwrap();
        let mut writer = Box::pin(pool.lock(key));
        assert!(futures_lite::future::poll_once(&mut writer).await.is_none());
        drop(reading);
        assert_eq!(modes(app, key), (1, 0, 0), "kept for the next caller");
        drop(writer);
        eventually(10, "the idle shared lock given back", || {
            modes(app, key) == (0, 0, 0)
        })
        .await;

        // A writer that does get the key first gives back the idle shared
        // lock of its own process, which would otherwise keep it waiting.
        let reading = pool.lock_shared(key).await.unwrap();
        let mut writer = Box::pin(pool.lock(key));
        assert!(futures_lite::future::poll_once(&mut writer).await.is_none());
        drop(reading);
        let writing = with_timeout(Duration::from_secs(10), writer)
            .await
            .expect("not kept waiting by its own process's shared lock")
            .unwrap();
        assert!(!writing.is_shared());
        assert_eq!(modes(app, key), (0, 1, 0));
        writing.release().await.unwrap();
        assert_eq!(modes(app, key), (0, 0, 0));
    });
}

#[test]
fn try_lock_shared_sees_writers_not_readers() {
    let (a, b) = (url("shared_try_a"), url("shared_try_b"));
    smol(60, async move {
        let (pa, pb) = (Pool::new(&a).unwrap(), Pool::new(&b).unwrap());
        let reading = pa.lock_shared(15301).await.unwrap();
        let also = pb
            .try_lock_shared(15301)
            .await
            .unwrap()
            .expect("readers share");
        assert!(pb.try_lock(15301).await.unwrap().is_none());
        let err = pb.lock_timeout(15301, Duration::ZERO).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop((reading, also));
        let writing = pa.lock(15301).await.unwrap();
        assert!(pb.try_lock_shared(15301).await.unwrap().is_none());
        let err = pb
            .lock_shared_timeout(15301, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        writing.release().await.unwrap();
        let reading = pb
            .lock_shared_until(15301, std::future::ready(()))
            .await
            .expect("free right now");
        reading.release().await.unwrap();
    });
}

#[test]
fn a_readers_token_is_the_last_writers() {
    let url = url("shared_fencing");
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let mut reading = pool.lock_shared(15401).await.unwrap();
        let before = reading.fencing_token().await.unwrap();
        drop(reading);
        let mut writing = pool.lock(15401).await.unwrap();
        let token = writing.fencing_token().await.unwrap();
        assert!(token > before);
        writing.release().await.unwrap();
        let mut reading = pool.lock_shared(15401).await.unwrap();
        assert_eq!(reading.fencing_token().await.unwrap(), token);
        let mut again = pool.lock_shared(15401).await.unwrap();
        assert_eq!(
            again.fencing_token().await.unwrap(),
            token,
            "readers take none"
        );
    });
}

#[test]
fn a_readers_lost_session_is_reported() {
    let app = "shared_lost";
    let url = url(app);
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let first = pool.lock_shared(15501).await.unwrap();
        let second = pool.lock_shared(15501).await.unwrap();
        assert_eq!(first.backend_pid(), second.backend_pid(), "one remote lock");
        assert_eq!(
            psql(&format!(
                "SELECT pg_terminate_backend({})",
                first.backend_pid()
            )),
            "t"
        );
        with_timeout(Duration::from_secs(10), second.lost())
            .await
            .expect("lost() completes");
        assert_eq!(
            first.release().await.unwrap_err().kind(),
            ErrorKind::SessionLost
        );
        assert_eq!(
            second.release().await.unwrap_err().kind(),
            ErrorKind::SessionLost
        );
        // New readers take a fresh lock.
        let fresh = pool.lock_shared(15501).await.unwrap();
        assert!(!fresh.is_lost());
        fresh.release().await.unwrap();
        eventually(10, "nothing left", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
    });
}

#[test]
fn a_cancellation_storm_of_readers_and_writers_leaves_nothing() {
    let app = "shared_cancel";
    let (url, holder_url) = (url(app), url("shared_cancel_holder"));
    smol(120, async move {
        let pool = Pool::builder(&url).max_sessions(6).build().unwrap();
        let holder = Pool::new(&holder_url).unwrap();
        // 15601 is written elsewhere throughout, 15602 read elsewhere.
        let written = holder.lock(15601).await.unwrap();
        let read = holder.lock_shared(15602).await.unwrap();
        let tasks: Vec<_> = (0..12u64)
            .map(|task| {
                let pool = pool.clone();
                smol::spawn(async move {
                    let mut rng = task * 7919 + 5;
                    for _ in 0..15 {
                        rng = rng
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let key = 15601 + (rng >> 33) as i64 % 3;
                        let wait = Duration::from_micros((rng >> 20) % 15_000);
                        let shared = rng % 2 == 0;
                        match rng % 3 {
                            0 => {
                                let attempt = if shared {
                                    pool.lock_shared_timeout(key, wait).await
                                } else {
                                    pool.lock_timeout(key, wait).await
                                };
                                if let Err(err) = attempt {
                                    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
                                }
                            }
                            _ => {
                                let acquire = if shared {
                                    pool.lock_shared(key)
                                } else {
                                    pool.lock(key)
                                };
                                let _ = with_timeout(wait, acquire).await;
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        drop((written, read));
        eventually(30, "every session back, nothing in pg_locks", || {
            pool.status().is_idle() && advisory_locks(app) == 0
        })
        .await;
    });
}
