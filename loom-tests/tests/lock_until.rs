//! `lock_until` with a deadline that fires while the lock is released.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::Lock;
use turnlock_loom_tests::{Trigger, poll_once};

/// The main thread's `lock_until` joins the line behind a holder; then, at
/// once, one thread fires its deadline and another releases the lock and
/// takes it again with `lock_blocking`.
///
/// Whoever wins, the lock is never lost and never doubly held: the
/// releasing thread's `lock_blocking` must return (else loom reports a
/// deadlock), and a waiter that reports `Ok` must really own the lock (the
/// lock is locked, and its access to the tracked cell would clash with the
/// releasing thread's second guard otherwise).
///
/// Catches: a timed-out waiter that was handed the lock in the same instant
/// and drops the hand-off (the lock stays held by nobody), one that keeps
/// the notification *and* reports `TimedOut` (same), one that reports `Ok`
/// without owning the lock (two guards), a timed-out hint waiter of `new`
/// that swallows the wake-up meant for the next acquirer, and a deadline
/// that releases the holder's lock (the `@databases/lock` behaviour this
/// crate rejects).
fn deadline_races_release(lock: Lock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_lock_owned().expect("a new lock is free");
    let trigger = Trigger::new();
    let mut attempt = lock.lock_until(Trigger::deadline(&trigger));
    assert!(poll_once(&mut attempt).is_pending());

    let timer = thread::spawn(move || trigger.fire());
    let releaser = {
        let lock = lock.clone();
        thread::spawn(move || {
            drop(held);
            let mut guard = lock.lock_blocking();
            *guard += 10;
        })
    };

    let acquired = match block_on(attempt) {
        Ok(mut guard) => {
            assert!(lock.is_locked());
            *guard += 1;
            true
        }
        Err(_) => false,
    };
    timer.join().unwrap();
    releaser.join().unwrap();

    assert!(
        !lock.is_locked(),
        "the lock is still held after every guard was dropped"
    );
    let value = *lock.try_lock().expect("the lock is free");
    assert_eq!(value, if acquired { 11 } else { 10 });
}

/// [`deadline_races_release`] with a queued waiter (`new_fifo`): the
/// release hands the lock straight to the waiter whose deadline fires.
#[test]
fn fifo_deadline_races_handoff() {
    loom::model(|| deadline_races_release(Lock::new_fifo(0)));
}

/// [`deadline_races_release`] with a hint waiter (`new`): the release frees
/// the lock and wakes the waiter whose deadline fires.
#[test]
fn new_deadline_races_release() {
    loom::model(|| deadline_races_release(Lock::new(0)));
}
