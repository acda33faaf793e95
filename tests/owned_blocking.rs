//! `Lock::lock_owned_blocking` and `KeyedLocks::lock_owned_blocking`: an
//! owned (`'static`) guard taken by blocking the thread, in line with the
//! other waiters, moved and released anywhere.

mod common;

use std::sync::{Arc, mpsc};
use std::thread;

use common::{
    Checked, Probe, assert_healthy, assert_pending, join, join_all, ready, scaled, with_watchdog,
};
use turnlock::{KeyedLocks, Lock, OwnedGuard, OwnedKeyGuard};

/// A policy's name and constructor.
type Policy<T> = (&'static str, fn(T) -> Lock<T>);

fn policies<T>() -> [Policy<T>; 2] {
    [("new", Lock::new), ("new_fifo", Lock::new_fifo)]
}

#[test]
fn a_free_lock_is_taken_and_the_guard_released_on_another_thread() {
    for (policy, new) in policies() {
        let lock = Arc::new(new(0));
        let mut guard: OwnedGuard<i32> = lock.lock_owned_blocking();
        assert!(Arc::ptr_eq(OwnedGuard::source(&guard), &lock));
        assert!(lock.try_lock().is_none(), "{policy}");
        thread::spawn(move || *guard += 1).join().unwrap();
        assert_eq!(*lock.try_lock().unwrap(), 1, "{policy}");
        assert_healthy(&lock);
    }
}

#[test]
fn the_guard_keeps_its_lock_alive() {
    let lock = Arc::new(Lock::new(String::from("kept")));
    let weak = Arc::downgrade(&lock);
    let guard = lock.lock_owned_blocking();
    drop(lock);
    assert_eq!(*guard, "kept");
    drop(guard);
    assert!(weak.upgrade().is_none(), "the guard leaked its Arc");
}

#[test]
fn it_waits_for_the_holder_and_keeps_a_queued_waiters_turn() {
    with_watchdog(30, || {
        // Under `new_fifo`: an async waiter queues, then a thread arrives
        // with `lock_owned_blocking`; the release serves the async waiter
        // first, then the thread.
        let lock = Arc::new(Lock::new_fifo(Vec::new()));
        let holder = lock.try_lock().unwrap();
        let probe = Probe::new();
        let mut first = lock.lock();
        assert_pending(probe.poll(&mut first));
        let (arriving_tx, arriving_rx) = mpsc::channel();
        let thread = {
            let lock = lock.clone();
            thread::spawn(move || {
                arriving_tx.send(()).unwrap();
                let mut guard = lock.lock_owned_blocking();
                guard.push("thread");
                guard
            })
        };
        arriving_rx.recv().unwrap();
        drop(holder);
        let mut guard = ready(probe.poll(&mut first));
        guard.push("first");
        drop(guard);
        // The thread's guard is `'static`: it comes back through `join`.
        let guard = join(thread);
        assert_eq!(*guard, ["first", "thread"]);
        assert!(lock.try_lock().is_none());
        drop(guard);
        drop(first);
        assert_healthy(&lock);
    });
}

#[test]
fn blocking_and_async_owned_holders_exclude_each_other() {
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let threads = 4;
            let rounds = scaled(1_000);
            let lock = Arc::new(new(Checked::new()));
            let handles = (0..threads)
                .map(|i| {
                    let lock = lock.clone();
                    thread::spawn(move || {
                        for round in 0..rounds {
                            let mut guard = if (i + round) % 2 == 0 {
                                lock.lock_owned_blocking()
                            } else {
                                futures_lite::future::block_on(lock.lock_owned())
                            };
                            guard.enter();
                            thread::yield_now();
                            guard.leave();
                        }
                    })
                })
                .collect();
            join_all(handles);
            let count = lock.try_lock().unwrap().count();
            assert_eq!(count, (threads * rounds) as u64, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
fn keyed_owned_blocking_guard_is_released_on_another_thread() {
    for locks in [KeyedLocks::new(), KeyedLocks::new_fifo()] {
        let locks = Arc::new(locks);
        let guard: OwnedKeyGuard<&str> = locks.lock_owned_blocking("report");
        assert_eq!(*OwnedKeyGuard::key(&guard), "report");
        assert!(Arc::ptr_eq(OwnedKeyGuard::source(&guard), &locks));
        assert!(locks.is_locked("report"));
        assert!(locks.try_lock("report").is_none());
        assert!(locks.try_lock("other").is_some(), "other keys are free");
        assert_eq!(locks.len(), 1);
        thread::spawn(move || drop(guard)).join().unwrap();
        assert!(locks.is_empty(), "the entry outlived its last guard");
    }
}

#[test]
fn keyed_owned_blocking_waits_for_the_key() {
    with_watchdog(30, || {
        let locks = Arc::new(KeyedLocks::new_fifo());
        let holder = locks.try_lock(7_u32).unwrap();
        let (arriving_tx, arriving_rx) = mpsc::channel();
        let thread = {
            let locks = locks.clone();
            thread::spawn(move || {
                arriving_tx.send(()).unwrap();
                locks.lock_owned_blocking(7)
            })
        };
        arriving_rx.recv().unwrap();
        assert!(locks.is_locked(&7));
        drop(holder);
        let guard = join(thread);
        assert_eq!(*OwnedKeyGuard::key(&guard), 7);
        assert_eq!(locks.len(), 1);
        drop(guard);
        assert!(locks.is_empty());
    });
}

#[test]
fn keyed_blocking_and_async_owned_holders_exclude_each_other() {
    with_watchdog(60, || {
        let threads = 4;
        let rounds = scaled(1_000);
        let locks = Arc::new(KeyedLocks::new());
        let value = Arc::new(Lock::new(Checked::new()));
        let handles = (0..threads)
            .map(|i| {
                let (locks, value) = (locks.clone(), value.clone());
                thread::spawn(move || {
                    for round in 0..rounds {
                        let _key = if (i + round) % 2 == 0 {
                            locks.lock_owned_blocking("shared")
                        } else {
                            futures_lite::future::block_on(locks.lock_owned("shared"))
                        };
                        // The key guards the value: its own lock is never
                        // contended while the key is held.
                        let mut inside = value.try_lock().expect("the key excludes");
                        inside.enter();
                        thread::yield_now();
                        inside.leave();
                    }
                })
            })
            .collect();
        join_all(handles);
        assert_eq!(value.try_lock().unwrap().count(), (threads * rounds) as u64);
        assert!(locks.is_empty());
    });
}
