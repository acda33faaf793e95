//! Owned guards (`lock_owned`, `try_lock_owned`) are `'static`: they move
//! across threads and into spawned tasks, keep their lock alive, and
//! `OwnedGuard::source` names the lock they hold.

mod common;

use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;

use common::{
    Checked, Probe, Section, assert_healthy, assert_pending, join, join_all, poll_noop, ready,
    scaled, with_executor, with_watchdog,
};
use futures_lite::future::{block_on, yield_now};
use turnlock::{Lock, OwnedGuard};

/// A policy's name and constructor.
type Policy<T> = (&'static str, fn(T) -> Lock<T>);

fn policies<T>() -> [Policy<T>; 2] {
    [("new", Lock::new), ("fifo", Lock::new_fifo)]
}

#[test]
fn owned_guard_moves_to_another_thread_and_releases_there() {
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let guard = block_on(lock.lock_owned());
            let probe = Probe::new();
            let mut waiter = lock.lock();
            assert_pending(probe.poll(&mut waiter));
            let thread = thread::spawn(move || {
                let mut guard = guard;
                *guard += 1;
                // Released here, on the other thread.
            });
            join(thread);
            assert!(
                probe.wakes() > 0,
                "{policy}: a release on another thread woke nobody"
            );
            assert_eq!(*ready(probe.poll(&mut waiter)), 1, "{policy}");
            drop(waiter);
            assert_healthy(&lock);
        }
    });
}

#[test]
fn owned_guard_relayed_through_a_chain_of_threads() {
    // One guard passes through several threads; the lock stays held the
    // whole way, and a blocking waiter gets it only at the end.
    with_watchdog(30, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(Vec::new()));
            let stages = 6;
            let (first_tx, mut rx) = mpsc::channel::<OwnedGuard<Vec<usize>>>();
            let mut relays = Vec::new();
            for stage in 0..stages {
                let (tx, next_rx) = mpsc::channel();
                let lock = lock.clone();
                relays.push(thread::spawn(move || {
                    let mut guard = rx.recv().unwrap();
                    assert!(lock.try_lock().is_none(), "the relayed guard still holds");
                    guard.push(stage);
                    tx.send(guard).unwrap();
                }));
                rx = next_rx;
            }
            first_tx.send(lock.try_lock_owned().unwrap()).unwrap();
            let waiter = {
                let lock = lock.clone();
                thread::spawn(move || lock.lock_blocking().len())
            };
            join_all(relays);
            let last = rx.recv().unwrap();
            assert_eq!(*last, (0..stages).collect::<Vec<_>>(), "{policy}");
            drop(last);
            assert_eq!(join(waiter), stages, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn owned_guards_handed_to_spawned_tasks() {
    // Each task takes the lock and hands the guard to a child task, which
    // holds it across awaits and releases it; exclusion must hold throughout.
    fn run(lock: Arc<Lock<Checked>>) {
        let tasks = scaled(16);
        let iters = scaled(100);
        with_executor(2, |executor| {
            let lock = lock.clone();
            async move {
                let parents: Vec<_> = (0..tasks)
                    .map(|_| {
                        let (lock, executor) = (lock.clone(), executor.clone());
                        executor.clone().spawn(async move {
                            for i in 0..iters {
                                let section = Section::enter(lock.lock_owned().await);
                                let child = executor.spawn(async move {
                                    for _ in 0..i % 3 {
                                        yield_now().await;
                                    }
                                    drop(section);
                                });
                                child.await;
                            }
                        })
                    })
                    .collect();
                for parent in parents {
                    parent.await;
                }
            }
        });
        assert_eq!(lock.try_lock().unwrap().count(), (tasks * iters) as u64);
        assert_healthy(&lock);
    }
    with_watchdog(60, || {
        run(Arc::new(Lock::new(Checked::new())));
        run(Arc::new(Lock::new_fifo(Checked::new())));
    });
}

#[test]
fn source_is_the_lock_it_holds() {
    let lock = Arc::new(Lock::new(1));
    let other = Arc::new(Lock::new(1));
    let guard = lock.try_lock_owned().unwrap();
    assert!(Arc::ptr_eq(OwnedGuard::source(&guard), &lock));
    assert!(!Arc::ptr_eq(OwnedGuard::source(&guard), &other));
    // Through the source, the guard's own lock is seen as held.
    assert!(OwnedGuard::source(&guard).is_locked());
    assert!(OwnedGuard::source(&guard).try_lock().is_none());
    drop(guard);

    let guard = block_on(lock.lock_owned());
    assert!(Arc::ptr_eq(OwnedGuard::source(&guard), &lock));
    // The plain guard has its own `source`.
    drop(guard);
    let plain = lock.try_lock().unwrap();
    assert!(core::ptr::eq(turnlock::Guard::source(&plain), &*lock));
}

/// Counts how many times it was dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn owned_guard_keeps_its_lock_alive() {
    let drops = Arc::new(AtomicUsize::new(0));
    let lock = Arc::new(Lock::new(DropCount(drops.clone())));
    let guard = lock.try_lock_owned().unwrap();
    assert_eq!(Arc::strong_count(&lock), 2, "the guard holds a reference");
    drop(lock);
    assert_eq!(
        drops.load(SeqCst),
        0,
        "the lock outlives the last outside reference"
    );
    let moved = thread::spawn(move || {
        // The guard's reference is now the only one.
        assert_eq!(Arc::strong_count(OwnedGuard::source(&guard)), 1);
        guard
    });
    let guard = join(moved);
    drop(guard);
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the value is dropped with the last guard"
    );
}

#[test]
fn owned_lock_future_keeps_its_lock_alive() {
    let drops = Arc::new(AtomicUsize::new(0));
    let lock = Arc::new(Lock::new_fifo(DropCount(drops.clone())));
    let holder = lock.try_lock_owned().unwrap();
    let mut future = lock.lock_owned();
    assert_pending(poll_noop(&mut future));
    drop(lock);
    drop(holder);
    assert_eq!(drops.load(SeqCst), 0, "the waiting future keeps the lock");
    let guard = ready(poll_noop(&mut future));
    drop(future);
    assert_eq!(drops.load(SeqCst), 0, "the guard keeps the lock");
    drop(guard);
    assert_eq!(drops.load(SeqCst), 1);

    // A future dropped while it waits releases its reference too.
    let lock = Arc::new(Lock::new(DropCount(drops.clone())));
    let holder = lock.try_lock_owned().unwrap();
    let mut future = lock.lock_owned();
    assert_pending(poll_noop(&mut future));
    assert_eq!(Arc::strong_count(&lock), 3);
    drop(future);
    assert_eq!(Arc::strong_count(&lock), 2);
    drop((holder, lock));
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn try_lock_owned_respects_holders_and_queued_waiters() {
    for (policy, new) in policies() {
        let lock = Arc::new(new(()));
        let plain = lock.try_lock().unwrap();
        assert!(
            lock.try_lock_owned().is_none(),
            "{policy}: held by a plain guard"
        );
        drop(plain);
        let owned = lock.try_lock_owned().unwrap();
        assert!(
            lock.try_lock().is_none(),
            "{policy}: held by an owned guard"
        );
        let mut waiter = lock.lock_owned();
        assert_pending(poll_noop(&mut waiter));
        drop(owned);
        if lock.is_fifo() {
            assert!(
                lock.try_lock_owned().is_none(),
                "fifo: handed to the waiter"
            );
        }
        drop(ready(poll_noop(&mut waiter)));
        drop(waiter);
        assert_healthy(&lock);
    }
}

#[test]
fn owned_guard_formats_like_its_value() {
    let lock = Arc::new(Lock::new(String::from("text")));
    let guard = lock.try_lock_owned().unwrap();
    assert_eq!(format!("{guard:?}"), "\"text\"");
    assert_eq!(format!("{guard}"), "text");
    assert!(format!("{lock:?}").contains("<locked>"));
    drop(guard);
    assert!(format!("{lock:?}").contains("\"text\""));
}
