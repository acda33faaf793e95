//! The slot of a `new` lock: where a waiter that lost a race waits for the
//! next release, with its waker in the lock instead of a second listener.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::Lock;
use turnlock_loom_tests::{poll_once, slot_and_queue};

/// Makes `waiter` lose a race: it is woken by a release, and a newcomer
/// takes the lock before it looks. Returns the newcomer's guard.
fn woken_and_overtaken(
    lock: &Arc<Lock<usize>>,
    waiter: &mut turnlock::futures::OwnedLockFuture<usize>,
) -> turnlock::OwnedGuard<usize> {
    let held = lock.try_lock_owned().expect("a new lock is free");
    assert!(poll_once(waiter).is_pending());
    drop(held); // wakes `waiter`
    lock.try_lock_owned().expect("a released lock is free")
}

/// A waiter that lost a race enters the slot (writes its waker, publishes
/// it) on the main thread while the holder releases on another thread.
///
/// The release finds the slot empty (and frees the lock, which the waiter
/// then takes), or the waiter writing its waker (and only sets `HANDED`,
/// which the waiter sees when it publishes), or the waker published (and
/// takes it, then wakes it). Catches: a release and an entering waiter
/// both touching the cell (loom reports it), a hand-off that the writing
/// waiter misses or a waker taken but never woken (loom deadlock), and two
/// holders (the tracked value).
#[test]
fn release_races_slot_entry() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        let mut waiter = lock.lock_owned();
        let barged = woken_and_overtaken(&lock, &mut waiter);
        let releaser = thread::spawn(move || {
            let mut barged = barged;
            *barged += 1;
        });
        let mut guard = block_on(waiter);
        *guard += 1;
        drop(guard);
        releaser.join().unwrap();

        assert!(!lock.is_locked(), "the lock is held after every guard");
        assert_eq!(*lock.try_lock().expect("the lock is free"), 2);
    });
}

/// The slot's waiter, which entered with one waker, is polled with another
/// one (it moved to another task) while the holder releases.
///
/// Its poll takes the cell back, stores the new waker and publishes it
/// again; the release may take the old waker before that (then the poll
/// waits the few instructions until `HANDED` is set), find the cell being
/// rewritten (and only set `HANDED`), or take the new waker and wake it.
/// Catches: concurrent access to the cell, a wake-up that only reaches the
/// old waker (loom deadlock: nothing wakes the new task), and a hand-off
/// missed by the republishing waiter.
#[test]
fn release_races_slot_waker_change() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        let mut waiter = lock.lock_owned();
        let barged = woken_and_overtaken(&lock, &mut waiter);
        // Enter the slot with the first poll's waker.
        assert!(poll_once(&mut waiter).is_pending());
        assert!(format!("{waiter:?}").contains("Slot"), "{waiter:?}");
        let releaser = thread::spawn(move || drop(barged));
        // `block_on` polls with a waker of its own.
        let mut guard = block_on(waiter);
        *guard += 1;
        drop(guard);
        releaser.join().unwrap();

        assert!(!lock.is_locked(), "the lock is held after every guard");
        assert_eq!(*lock.try_lock().expect("the lock is free"), 1);
    });
}

/// A second waiter that loses a race while the slot is taken queues behind
/// it; two releases serve the slot first, then the queue, while a third
/// thread keeps barging with `try_lock`.
///
/// Catches: a queued waiter served before the older slot waiter, a slot
/// entered while waiters are queued, and a barging `try_lock` that takes
/// the lock while the slot or the queue waits (it would get the lock ahead
/// of them: the order record shows it).
#[test]
fn slot_then_queue_in_order() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(Vec::new()));
        let (first, second, held) = slot_and_queue(&lock);

        let barger = {
            let lock = lock.clone();
            thread::spawn(move || {
                if let Some(mut guard) = lock.try_lock() {
                    guard.push("barger");
                }
            })
        };
        let later = thread::spawn(move || block_on(second).push("second"));
        drop(held);
        block_on(first).push("first");
        later.join().unwrap();
        barger.join().unwrap();

        let order = lock.try_lock().expect("the lock is free");
        let waiters: Vec<_> = order.iter().filter(|who| **who != "barger").collect();
        assert_eq!(waiters, [&"first", &"second"], "{order:?}");
        if let Some(at) = order.iter().position(|who| *who == "barger") {
            assert_eq!(at, 2, "the barger overtook a waiter: {order:?}");
        }
    });
}
