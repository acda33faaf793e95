//! Mutual exclusion under stress, for both policies: async tasks on a
//! two-thread executor and plain threads hammer one lock through every way
//! of acquiring it, some holding it across an `.await`. The protected value
//! has a plain `inside` flag and a plain counter: two holders at once trip
//! the flag or lose an increment.

mod common;

use std::sync::Arc;
use std::thread;

use common::{Exclusive, Rng, assert_healthy, join_all, scaled, with_executor, with_watchdog};
use futures_lite::future::yield_now;
use turnlock::Lock;

/// Tasks and threads on one lock; returns after checking the count.
fn stress(lock: Arc<Lock<Exclusive>>) {
    let tasks = scaled(32);
    let task_iters = scaled(300);
    let threads = 2;
    let thread_iters = scaled(2_000);

    with_executor(2, |executor| {
        let lock = lock.clone();
        async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let lock = lock.clone();
                    executor.spawn(async move {
                        let mut rng = Rng::new(t as u64);
                        for i in 0..task_iters {
                            let hold_across_await = rng.one_in(4);
                            match i % 4 {
                                0 => {
                                    let mut guard = lock.lock().await;
                                    guard.enter();
                                    if hold_across_await {
                                        yield_now().await;
                                    }
                                    guard.leave();
                                }
                                1 => {
                                    lock.with_lock(async |value| {
                                        value.enter();
                                        if hold_across_await {
                                            yield_now().await;
                                        }
                                        value.leave();
                                    })
                                    .await;
                                }
                                2 => {
                                    let mut guard = lock.lock_owned().await;
                                    guard.enter();
                                    if hold_across_await {
                                        yield_now().await;
                                    }
                                    guard.leave();
                                }
                                _ => loop {
                                    // A try_lock that spins politely.
                                    if let Some(mut guard) = lock.try_lock() {
                                        guard.enter();
                                        guard.leave();
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
                    let lock = lock.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(1_000 + t as u64);
                        for _ in 0..thread_iters {
                            let mut guard = lock.lock_blocking();
                            guard.enter();
                            if rng.one_in(8) {
                                thread::yield_now();
                            }
                            guard.leave();
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

    let expected = (tasks * task_iters + threads * thread_iters) as u64;
    assert_eq!(lock.try_lock().expect("free at the end").count(), expected);
    assert_healthy(&lock);
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn tasks_and_threads_new() {
    with_watchdog(60, || stress(Arc::new(Lock::new(Exclusive::new()))));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn tasks_and_threads_fifo() {
    with_watchdog(60, || stress(Arc::new(Lock::new_fifo(Exclusive::new()))));
}

/// Only plain threads, more of them than cores, with `lock_blocking` and a
/// `try_lock` loop.
fn threads_only(lock: Arc<Lock<Exclusive>>) {
    let threads = 4;
    let iters = scaled(3_000);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let lock = lock.clone();
            thread::spawn(move || {
                for i in 0..iters {
                    let mut guard = if t % 2 == 0 || i % 2 == 0 {
                        lock.lock_blocking()
                    } else {
                        loop {
                            if let Some(guard) = lock.try_lock() {
                                break guard;
                            }
                            thread::yield_now();
                        }
                    };
                    guard.enter();
                    guard.leave();
                }
            })
        })
        .collect();
    join_all(handles);
    assert_eq!(lock.try_lock().unwrap().count(), (threads * iters) as u64);
    assert_healthy(&lock);
}

#[test]
fn threads_only_new() {
    with_watchdog(60, || threads_only(Arc::new(Lock::new(Exclusive::new()))));
}

#[test]
fn threads_only_fifo() {
    with_watchdog(60, || {
        threads_only(Arc::new(Lock::new_fifo(Exclusive::new())))
    });
}

/// Many tasks on a single-threaded `block_on`, all holding across an
/// `.await`: every release finds waiters, so it is hand-offs all the way.
fn single_thread_tasks(lock: Lock<Exclusive>) {
    let tasks = scaled(50);
    let iters = scaled(200);
    futures_lite::future::block_on(async {
        let executor = smol::LocalExecutor::new();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                executor.spawn(async {
                    for _ in 0..iters {
                        let mut guard = lock.lock().await;
                        guard.enter();
                        yield_now().await;
                        guard.leave();
                    }
                })
            })
            .collect();
        executor
            .run(async {
                for handle in handles {
                    handle.await;
                }
            })
            .await;
    });
    assert_eq!(lock.try_lock().unwrap().count(), (tasks * iters) as u64);
    assert_healthy(&lock);
}

#[test]
fn single_thread_tasks_new() {
    with_watchdog(60, || single_thread_tasks(Lock::new(Exclusive::new())));
}

#[test]
fn single_thread_tasks_fifo() {
    with_watchdog(60, || single_thread_tasks(Lock::new_fifo(Exclusive::new())));
}
