//! The starvation bound: a waiter is served within a bounded number of
//! hand-offs while another thread keeps re-locking.
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;
use turnlock::Lock;
use turnlock_loom_tests::block_on_counting;

/// How many lost races a waiter of a `new` lock tolerates before it joins
/// the hand-off queue (one lost race, see "Starvation without a clock" in
/// `src/raw.rs`).
const PATIENCE: usize = 1;

/// A re-locking thread holds the lock while the main thread asks for it;
/// the re-locker then releases and re-locks twice with `lock_blocking`,
/// taking the lock ahead of the waiter whenever the policy lets it.
///
/// The waiter is the main thread so that it usually joins the line before
/// the first release without spending one of loom's preemptions: each lost
/// race then costs exactly one, and two lost races fit the default bound.
///
/// Returns how many times the waiter was woken before it held the lock.
/// Every wake-up of a waiter comes from one notification of its listener,
/// and every notification the waiter observes without getting the lock is a
/// race it lost, so the count bounds the hand-offs it waited through.
fn waiter_against_relocker(lock: Lock<Vec<&'static str>>) -> usize {
    let lock = Arc::new(lock);
    let held = lock.try_lock_owned().expect("a new lock is free");
    let relocker = {
        let lock = lock.clone();
        thread::spawn(move || {
            let mut held = held;
            held.push("relocker");
            drop(held);
            for _ in 0..2 {
                lock.lock_blocking().push("relocker");
            }
        })
    };
    let (mut guard, wakes) = block_on_counting(lock.lock());
    guard.push("waiter");
    drop(guard);
    relocker.join().unwrap();

    let order = lock.try_lock().expect("the lock is free");
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(order[0], "relocker");
    assert_eq!(order.iter().filter(|who| **who == "waiter").count(), 1);
    wakes
}

/// `new`: a woken waiter that finds the lock re-taken has lost a race; after
/// [`PATIENCE`] lost races it is queued and the next release hands it the
/// lock. So it is woken at most `PATIENCE + 1` times, however the re-locking
/// thread is scheduled (with a patience of 2 it is woken 3 times in some
/// interleavings, which this model reports).
///
/// Catches: a loss counter that is reset or never reaches the bound, a
/// queued waiter that can still be overtaken by a barging `lock_blocking`
/// (it would be woken again as a hint waiter), and a release that frees the
/// lock instead of handing it to the queue. A lost wake-up is a loom
/// deadlock.
#[test]
fn new_waiter_served_within_bound() {
    loom::model(|| {
        let wakes = waiter_against_relocker(Lock::new(Vec::new()));
        assert!(
            wakes <= PATIENCE + 1,
            "the waiter was woken {wakes} times before it got the lock"
        );
    });
}

/// `new_fifo`: once queued, the waiter is woken exactly once, by the
/// hand-off that makes it the owner; the re-locking thread never gets in
/// between.
///
/// Catches: a release that clears `LOCKED` with a waiter queued (the
/// re-locker barges and the waiter is woken for nothing), and a hand-off
/// notification that does not carry the lock.
#[test]
fn fifo_waiter_woken_once() {
    loom::model(|| {
        let wakes = waiter_against_relocker(Lock::new_fifo(Vec::new()));
        assert!(
            wakes <= 1,
            "the waiter was woken {wakes} times before it got the lock"
        );
    });
}
