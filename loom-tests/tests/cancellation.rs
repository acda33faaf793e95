//! Waiters that are dropped while the holder releases the lock.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::futures::OwnedLockFuture;
use turnlock::{Lock, OwnedGuard};
use turnlock_loom_tests::{poll_once, slot_and_queue};

/// One waiter joins the line (polled once), then the holder releases on
/// another thread while the waiter's future is dropped.
///
/// Whatever the order (dropped before the release, handed the lock and
/// dropped before it looked, or dropped after the wake-up), the lock must
/// end up free. Catches, for `new_fifo`: a hand-off notification that dies
/// with the discarded listener (the lock stays held by nobody), a waiter
/// that leaves the queue count too late for the releaser to see it gone
/// (the releaser keeps handing off to nobody), and a release of a lock that
/// was never handed over (the double release trips the state-word
/// assertions). For `new`: a hint waiter that leaves its count behind or
/// releases a lock it never took.
fn cancelled_sole_waiter(lock: Lock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_lock_owned().expect("a new lock is free");
    let mut waiter = lock.lock_owned();
    assert!(poll_once(&mut waiter).is_pending());

    let releaser = thread::spawn(move || drop(held));
    drop(waiter);
    releaser.join().unwrap();

    assert!(
        !lock.is_locked(),
        "the lock was lost with the cancelled waiter"
    );
    let mut guard = lock.try_lock().expect("the lock is free");
    *guard += 1;
}

/// [`cancelled_sole_waiter`] with direct hand-off (`new_fifo`).
#[test]
fn fifo_handoff_to_cancelled_waiter() {
    loom::model(|| cancelled_sole_waiter(Lock::new_fifo(0)));
}

/// [`cancelled_sole_waiter`] with a hint waiter (`new`).
#[test]
fn new_cancelled_sole_waiter() {
    loom::model(|| cancelled_sole_waiter(Lock::new(0)));
}

/// Two waiters join the line in order; the holder releases on one thread,
/// the first waiter is dropped on the main thread, and the second waiter is
/// driven to completion on a third thread.
///
/// The second waiter must get the lock, and only once the holder is gone.
/// Catches, for `new_fifo`: a hand-off to the first waiter that is dropped
/// instead of passed on (the second waiter sleeps forever: loom deadlock),
/// and a hand-off passed on twice (two guards: loom's cell fails). For `new`:
/// a wake-up hint consumed by the cancelled waiter and not re-sent (the
/// lock is free but the second waiter sleeps: loom deadlock), which is what
/// `pass_hint` is for.
fn cancelled_first_of_two(lock: Lock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_lock_owned().expect("a new lock is free");
    let mut first = lock.lock_owned();
    assert!(poll_once(&mut first).is_pending());
    let mut second = lock.lock_owned();
    assert!(poll_once(&mut second).is_pending());

    drop_first_while_releasing(&lock, held, first, second);
}

/// Drops `first` on this thread while another thread releases `held` and a
/// third drives `second` to its guard; then checks that the lock ended free
/// with exactly `second`'s acquisition counted.
fn drop_first_while_releasing(
    lock: &Arc<Lock<usize>>,
    held: OwnedGuard<usize>,
    first: OwnedLockFuture<usize>,
    second: OwnedLockFuture<usize>,
) {
    let releaser = thread::spawn(move || drop(held));
    let waiter = thread::spawn(move || {
        let mut guard = block_on(second);
        *guard += 1;
    });
    drop(first);
    releaser.join().unwrap();
    waiter.join().unwrap();

    assert!(
        !lock.is_locked(),
        "the lock is still held after every guard was dropped"
    );
    assert_eq!(*lock.try_lock().expect("the lock is free"), 1);
}

/// [`cancelled_first_of_two`] with direct hand-off (`new_fifo`).
#[test]
fn fifo_cancelled_waiter_passes_handoff_on() {
    loom::model(|| cancelled_first_of_two(Lock::new_fifo(0)));
}

/// [`cancelled_first_of_two`] with hint waiters (`new`).
#[test]
fn new_cancelled_waiter_passes_wakeup_on() {
    loom::model(|| cancelled_first_of_two(Lock::new(0)));
}

/// `new` with the slot and the hint queue in use: the first waiter has
/// lost a race and waits in the slot, the second sleeps as a hint waiter.
/// The holder releases on one thread while the first waiter is dropped on
/// the main thread; the second waiter is driven on a third thread.
///
/// The release hands the lock to the slot's waiter (or, if it left first,
/// frees the lock and wakes the hint waiter); a hand-off that reaches the
/// dropped waiter must come back as a release that wakes the hint waiter.
/// Catches: a slot waiter that leaves with a hand-off without releasing
/// (loom deadlock: the lock is held by nobody), a release that takes the
/// slot's waker while the leaving waiter drops it (loom reports the
/// concurrent access to the cell), and a slot left occupied (the state-word
/// assertions fire).
#[test]
fn new_cancelled_slot_waiter_passes_to_hint_waiter() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        // Make the first waiter lose a race: it is woken by a release, but
        // the lock is taken again before it looks.
        let held = lock.try_lock_owned().expect("a new lock is free");
        let mut first = lock.lock_owned();
        assert!(poll_once(&mut first).is_pending());
        drop(held);
        let held = lock.try_lock_owned().expect("a released lock is free");
        assert!(poll_once(&mut first).is_pending());
        // Now `first` waits in the slot (its `Debug` shows the stage: a
        // guard on the set-up); `second` joins as a hint waiter.
        assert!(format!("{first:?}").contains("Slot"), "{first:?}");
        let mut second = lock.lock_owned();
        assert!(poll_once(&mut second).is_pending());

        drop_first_while_releasing(&lock, held, first, second);
    });
}

/// `new` with the slot and the hand-off queue in use: two waiters lost a
/// race, the older waits in the slot and the younger in the queue behind
/// it. The holder releases on one thread while the slot's waiter is
/// dropped on the main thread; the queued waiter is driven on a third.
///
/// Whichever comes first, the queued waiter must get the lock: from the
/// release directly if the slot emptied first, or from the dropped slot
/// waiter passing on a hand-off. Catches: a release that frees the lock
/// while a waiter is queued, and a hand-off lost between the slot and the
/// queue (loom deadlock).
#[test]
fn new_cancelled_slot_waiter_passes_to_queued_waiter() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        let (first, second, held) = slot_and_queue(&lock);

        drop_first_while_releasing(&lock, held, first, second);
    });
}
