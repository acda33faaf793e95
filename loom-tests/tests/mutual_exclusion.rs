//! Mutual exclusion under both policies, with async and blocking acquirers
//! on the same lock.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::Lock;

/// Three threads share the lock: one takes it twice with `lock().await`, one
/// twice with `lock_blocking`, and the main thread once with
/// `lock_owned().await`. The second round of each spawned thread makes it
/// wait again after it has held the lock (and, under `new`, lets it barge
/// past a sleeping waiter).
///
/// The protected value lives in loom's tracked cell, so two guards alive at
/// once fail the model at the second access, whatever the counter says.
/// Catches: a fast-path or barging acquire that succeeds while the lock is
/// held or being handed off (e.g. a `try_lock` that ignores `LOCKED` when
/// waiters are counted), a release that clears `LOCKED` while a queued
/// waiter was just handed the lock, a blocking waiter woken without the
/// lock, a lost wake-up (a thread that never finishes is a loom deadlock),
/// and missing acquire/release ordering between holders (loom reports the
/// unordered accesses to the cell as a causality violation).
fn three_acquirers(lock: Lock<usize>) {
    let lock = Arc::new(lock);
    let task = {
        let lock = lock.clone();
        thread::spawn(move || {
            for _ in 0..2 {
                let mut guard = block_on(lock.lock());
                *guard += 1;
            }
        })
    };
    let blocking = {
        let lock = lock.clone();
        thread::spawn(move || {
            for _ in 0..2 {
                let mut guard = lock.lock_blocking();
                *guard += 1;
            }
        })
    };
    {
        let mut guard = block_on(lock.lock_owned());
        *guard += 1;
    }
    task.join().unwrap();
    blocking.join().unwrap();

    assert!(
        !lock.is_locked(),
        "the lock is still held after every guard was dropped"
    );
    assert_eq!(*lock.try_lock().expect("the lock is free"), 5);
}

/// Runs `model` with at most two preemptions, whatever `LOOM_MAX_PREEMPTIONS`
/// says: at three, these models take minutes (over a million interleavings
/// for `new_fifo`) against seconds at two.
fn check_bounded(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(model);
}

/// [`three_acquirers`] on a `new` (barging, starvation-free) lock.
#[test]
fn mutual_exclusion_new() {
    check_bounded(|| three_acquirers(Lock::new(0)));
}

/// [`three_acquirers`] on a `new_fifo` (direct hand-off) lock.
#[test]
fn mutual_exclusion_fifo() {
    check_bounded(|| three_acquirers(Lock::new_fifo(0)));
}

/// The first poll of a `new_fifo` waiter races the holder's release on
/// another thread. A waiter whose fast path fails joins the queue without
/// looking at the lock again: its joining compare-and-swap either finds the
/// lock free and takes it (dropping the listener it made) or counts it,
/// and then the release hands the lock over. Catches a waiter that queues
/// on a lock that was freed meanwhile (it would wait forever: a loom
/// deadlock), a release that misses a waiter counted just before it looked,
/// and two holders.
#[test]
fn fifo_first_poll_races_the_release() {
    loom::model(|| {
        let lock = Arc::new(Lock::new_fifo(0));
        let mut held = lock.try_lock_owned().expect("a new lock is free");
        let releaser = thread::spawn(move || *held += 1);
        let mut guard = block_on(lock.lock());
        *guard += 1;
        drop(guard);
        releaser.join().unwrap();
        assert!(!lock.is_locked(), "the lock is held after every guard");
        assert_eq!(*lock.try_lock().expect("the lock is free"), 2);
    });
}
