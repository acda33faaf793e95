//! A panic while the lock is held releases it (there is no poisoning), and
//! the next waiter runs: inside `with_lock`, in a spawned task, and in a
//! plain thread holding a guard.
//!
//! The panics print their message; that output is expected.

mod common;

use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;
use std::sync::{Arc, mpsc};
use std::thread;

use common::{Probe, assert_healthy, assert_pending, ready, scaled, with_executor, with_watchdog};
use futures_lite::FutureExt;
use futures_lite::future::{block_on, yield_now};
use turnlock::Lock;

/// A policy's name and constructor.
type Policy = (&'static str, fn(u32) -> Lock<u32>);

fn policies() -> [Policy; 2] {
    [("new", Lock::new), ("fifo", Lock::new_fifo)]
}

/// The payload of a caught panic, as text.
fn message(payload: Box<dyn core::any::Any + Send>) -> String {
    match payload.downcast::<&str>() {
        Ok(text) => (*text).to_owned(),
        Err(payload) => *payload.downcast::<String>().expect("a text payload"),
    }
}

#[test]
fn panic_inside_with_lock_releases() {
    for (policy, new) in policies() {
        let lock = new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            block_on(lock.with_lock(async |value| {
                *value += 1;
                panic!("boom in with_lock");
            }))
        }));
        assert_eq!(message(result.unwrap_err()), "boom in with_lock");
        assert!(!lock.is_locked(), "{policy}: the panic left the lock held");
        assert_eq!(
            *lock.try_lock().unwrap(),
            1,
            "{policy}: no poisoning, the value is there"
        );
        assert_healthy(&lock);
    }
}

#[test]
fn panic_after_an_await_inside_with_lock_releases_to_the_next_waiter() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        let mut waiter = lock.lock();
        let result = catch_unwind(AssertUnwindSafe(|| {
            block_on(lock.with_lock(async |value| {
                *value += 1;
                // A waiter joins while the body is suspended.
                assert_pending(probe.poll(&mut waiter));
                yield_now().await;
                panic!("boom after an await");
            }))
        }));
        assert_eq!(message(result.unwrap_err()), "boom after an await");
        assert!(probe.wakes() > 0, "{policy}: the waiter was not woken");
        let mut guard = ready(probe.poll(&mut waiter));
        *guard += 1;
        drop(guard);
        drop(waiter);
        assert_eq!(*lock.try_lock().unwrap(), 2, "{policy}");
        assert_healthy(&lock);
    }
}

#[test]
fn panic_in_a_with_lock_on_another_thread_wakes_the_waiter() {
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let (entered_tx, entered_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let panicking = {
                let lock = lock.clone();
                thread::spawn(move || {
                    block_on(lock.with_lock(async |value| {
                        *value += 1;
                        entered_tx.send(()).unwrap();
                        go_rx.recv().unwrap();
                        panic!("boom on a thread");
                    }))
                })
            };
            entered_rx.recv().unwrap();
            let probe = Probe::new();
            let mut waiter = lock.lock();
            assert_pending(probe.poll(&mut waiter));
            go_tx.send(()).unwrap();
            assert_eq!(message(panicking.join().unwrap_err()), "boom on a thread");
            assert!(probe.wakes() > 0, "{policy}: the waiter was not woken");
            assert_eq!(*ready(probe.poll(&mut waiter)), 1, "{policy}");
            drop(waiter);
            assert_healthy(&lock);
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn panicking_spawned_task_releases_to_the_other_tasks() {
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let waiters = scaled(8) as u32;
            with_executor(2, |executor| {
                let lock = lock.clone();
                async move {
                    let panicking = {
                        let lock = lock.clone();
                        executor.spawn(async move {
                            lock.with_lock(async |value| {
                                *value += 1;
                                // Let the others queue up behind us.
                                for _ in 0..10 {
                                    yield_now().await;
                                }
                                panic!("boom in a task");
                            })
                            .await
                        })
                    };
                    let others: Vec<_> = (0..waiters)
                        .map(|_| {
                            let lock = lock.clone();
                            executor.spawn(async move {
                                let mut guard = lock.lock().await;
                                yield_now().await;
                                *guard += 1;
                            })
                        })
                        .collect();
                    let result = AssertUnwindSafe(panicking).catch_unwind().await;
                    assert_eq!(message(result.unwrap_err()), "boom in a task");
                    for other in others {
                        other.await;
                    }
                }
            });
            assert_eq!(*lock.try_lock().unwrap(), 1 + waiters, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
fn holder_thread_that_panics_releases() {
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let (held_tx, held_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let holder = {
                let lock = lock.clone();
                thread::spawn(move || {
                    let mut guard = lock.lock_blocking();
                    *guard += 1;
                    held_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    panic!("holder thread panics");
                })
            };
            held_rx.recv().unwrap();
            // An async waiter, queued for sure, and a blocking one.
            let probe = Probe::new();
            let mut waiter = lock.lock();
            assert_pending(probe.poll(&mut waiter));
            let blocking = {
                let lock = lock.clone();
                thread::spawn(move || *lock.lock_blocking() += 1)
            };
            go_tx.send(()).unwrap();
            assert_eq!(message(holder.join().unwrap_err()), "holder thread panics");
            assert!(probe.wakes() > 0, "{policy}: the waiter was not woken");
            let mut guard = ready(probe.poll(&mut waiter));
            *guard += 1;
            drop(guard);
            drop(waiter);
            common::join(blocking);
            assert_eq!(*lock.try_lock().unwrap(), 3, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
fn owned_guard_dropped_by_a_panicking_thread_releases() {
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let guard = lock.try_lock_owned().unwrap();
            let probe = Probe::new();
            let mut waiter = lock.lock();
            assert_pending(probe.poll(&mut waiter));
            let thread = thread::spawn(move || {
                let mut guard = guard;
                *guard += 1;
                panic!("owned guard holder panics");
            });
            assert_eq!(
                message(thread.join().unwrap_err()),
                "owned guard holder panics"
            );
            assert!(probe.wakes() > 0, "{policy}: the waiter was not woken");
            assert_eq!(*ready(probe.poll(&mut waiter)), 1, "{policy}");
            drop(waiter);
            assert_healthy(&lock);
        }
    });
}
