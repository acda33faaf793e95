//! Mutual exclusion per key and independence across keys, under stress:
//! tasks on a two-thread executor and plain threads, every way of locking.

#![cfg(feature = "keyed")]

mod common;

use core::sync::atomic::Ordering::{Relaxed, SeqCst};
use core::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::thread;

use common::{Rng, join_all, scaled, with_executor, with_watchdog};
use futures_lite::future::yield_now;
use turnlock::{KeyGuard, KeyedLocks};

/// What each key protects: a flag that notices two holders at once and a
/// count updated with a non-atomic read-modify-write, so that overlapping
/// holders lose increments.
#[derive(Default)]
struct Slot {
    inside: AtomicBool,
    count: AtomicU64,
}

impl Slot {
    fn section(&self) {
        assert!(!self.inside.swap(true, SeqCst), "two holders of one key");
        let count = self.count.load(Relaxed);
        core::hint::spin_loop();
        self.count.store(count + 1, Relaxed);
        self.inside.store(false, SeqCst);
    }
}

fn stress(locks: Arc<KeyedLocks<usize>>, keys: usize) {
    let slots: Arc<Vec<Slot>> = Arc::new((0..keys).map(|_| Slot::default()).collect());
    let tasks = scaled(16);
    let task_iters = scaled(2_000);
    let threads = 2;
    let thread_iters = scaled(4_000);

    with_executor(2, |executor| {
        let locks = locks.clone();
        let slots = slots.clone();
        async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let locks = locks.clone();
                    let slots = slots.clone();
                    executor.spawn(async move {
                        let mut rng = Rng::new(t as u64);
                        for _ in 0..task_iters {
                            let key = rng.below(keys as u64) as usize;
                            let slot = &slots[key];
                            let hold = rng.one_in(4);
                            match rng.below(4) {
                                0 => {
                                    let guard = locks.lock(key).await;
                                    assert_eq!(*KeyGuard::key(&guard), key);
                                    slot.section();
                                    if hold {
                                        yield_now().await;
                                    }
                                }
                                1 => {
                                    let guard =
                                        locks.lock_until(key, core::future::pending::<()>());
                                    let _guard = guard.await.expect("never times out");
                                    slot.section();
                                    if hold {
                                        yield_now().await;
                                    }
                                }
                                2 => {
                                    locks
                                        .with_lock(key, async || {
                                            slot.section();
                                            if hold {
                                                yield_now().await;
                                            }
                                        })
                                        .await;
                                }
                                _ => loop {
                                    if let Some(_guard) = locks.try_lock(key) {
                                        slot.section();
                                        break;
                                    }
                                    yield_now().await;
                                },
                            }
                        }
                    })
                })
                .collect();

            let blocking: Vec<_> = (0..threads)
                .map(|t| {
                    let locks = locks.clone();
                    let slots = slots.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(1_000 + t as u64);
                        for _ in 0..thread_iters {
                            let key = rng.below(keys as u64) as usize;
                            let _guard = locks.lock_blocking(key);
                            slots[key].section();
                            if rng.one_in(8) {
                                thread::yield_now();
                            }
                        }
                    })
                })
                .collect();

            for handle in handles {
                handle.await;
            }
            join_all(blocking);
        }
    });

    let total: u64 = slots.iter().map(|slot| slot.count.load(SeqCst)).sum();
    assert_eq!(total, (tasks * task_iters + threads * thread_iters) as u64);
    assert_eq!(locks.len(), 0, "entries left after every user is gone");
    for key in 0..keys {
        assert!(locks.try_lock(key).is_some());
    }
    assert!(locks.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn few_hot_keys_new() {
    with_watchdog(60, || stress(Arc::new(KeyedLocks::new()), 3));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn few_hot_keys_fifo() {
    with_watchdog(60, || stress(Arc::new(KeyedLocks::new_fifo()), 3));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn many_cold_keys_new() {
    with_watchdog(60, || stress(Arc::new(KeyedLocks::new()), 500));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn many_cold_keys_fifo() {
    with_watchdog(60, || stress(Arc::new(KeyedLocks::new_fifo()), 500));
}

/// A key held for the whole test does not slow down any other key: tasks
/// and threads hammering other keys all finish while it is held.
#[test]
fn a_held_key_blocks_no_other_key() {
    with_watchdog(60, || {
        let locks = Arc::new(KeyedLocks::new());
        let held = locks.try_lock_owned(0).expect("free");
        let iters = scaled(2_000);
        with_executor(2, |executor| {
            let locks = locks.clone();
            async move {
                let tasks: Vec<_> = (1..=8)
                    .map(|key| {
                        let locks = locks.clone();
                        executor.spawn(async move {
                            for _ in 0..iters {
                                let _guard = locks.lock(key).await;
                                yield_now().await;
                            }
                        })
                    })
                    .collect();
                let threads: Vec<_> = (9..=10)
                    .map(|key| {
                        let locks = locks.clone();
                        thread::spawn(move || {
                            for _ in 0..iters {
                                drop(locks.lock_blocking(key));
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
                join_all(threads);
            }
        });
        assert!(locks.is_locked(&0));
        assert_eq!(locks.len(), 1);
        drop(held);
        assert!(locks.is_empty());
    });
}
