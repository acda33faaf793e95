//! Two lock futures of one lock in one task, with a concurrent release
//! (the hang of smol-rs/async-lock#91).
#![cfg(loom)]

use core::future::poll_fn;
use core::pin::Pin;
use core::task::Poll;
use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::Lock;

/// One task owns two lock futures of the same lock and polls both on every
/// wake-up, in alternating order, dropping each guard as soon as it gets
/// it; another thread releases the lock the task waits for.
///
/// The task must finish with both acquisitions done. Catches a lost
/// wake-up between the two futures: the release notifies one future's
/// listener, the task wakes once, and if the notification is consumed by
/// the wrong future, or a future that took the lock forgets the
/// notification it was holding, nobody wakes the task again (loom
/// deadlock).
fn one_task_two_futures(lock: Lock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_lock_owned().expect("a new lock is free");
    let releaser = thread::spawn(move || drop(held));

    let mut futures = [Some(lock.lock()), Some(lock.lock())];
    let mut round = 0;
    block_on(poll_fn(|cx| {
        round += 1;
        for i in [round % 2, (round + 1) % 2] {
            if let Some(future) = &mut futures[i] {
                if let Poll::Ready(mut guard) = Pin::new(future).poll(cx) {
                    *guard += 1;
                    drop(guard);
                    futures[i] = None;
                }
            }
        }
        if futures.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    releaser.join().unwrap();

    assert!(
        !lock.is_locked(),
        "the lock is still held after every guard was dropped"
    );
    assert_eq!(*lock.try_lock().expect("the lock is free"), 2);
}

/// [`one_task_two_futures`] on a `new` lock.
#[test]
fn new_two_futures_one_task() {
    loom::model(|| one_task_two_futures(Lock::new(0)));
}

/// [`one_task_two_futures`] on a `new_fifo` lock.
#[test]
fn fifo_two_futures_one_task() {
    loom::model(|| one_task_two_futures(Lock::new_fifo(0)));
}

/// `new`: one task polls two futures once each, so both sleep as hint
/// waiters, then awaits only the second while the first stays alive
/// unpolled (as in `select!` with a branch that is no longer polled). A
/// release wakes one hint waiter, and that is the first future's listener.
///
/// The task must still get the lock through the second future: a hint
/// waiter whose own listener is not notified but whose task runs looks at
/// the lock itself. Catches dropping that look (the free lock is never
/// taken: loom deadlock), and a first future that, when dropped afterwards
/// with its notification unconsumed, loses or double-counts its place (the
/// lock must end up free).
#[test]
fn new_notified_future_left_unpolled() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0));
        let held = lock.try_lock_owned().expect("a new lock is free");

        let mut first = lock.lock();
        let mut second = lock.lock();
        let mut started = false;
        let releaser = thread::spawn(move || drop(held));
        let mut guard = block_on(poll_fn(|cx| {
            if !started {
                started = true;
                if let Poll::Ready(guard) = Pin::new(&mut first).poll(cx) {
                    return Poll::Ready(guard);
                }
            }
            Pin::new(&mut second).poll(cx)
        }));
        *guard += 1;
        drop(guard);
        drop(second);
        drop(first);
        releaser.join().unwrap();

        assert!(
            !lock.is_locked(),
            "the lock is still held after every guard was dropped"
        );
        assert_eq!(*lock.try_lock().expect("the lock is free"), 1);
    });
}

/// When the threads that release and barge start, relative to the task's
/// first polls of its two lock futures.
#[derive(Clone, Copy, PartialEq)]
enum Start {
    /// After both futures have joined the line: the first future is set
    /// aside after its second poll, which may lose a race to the barger
    /// (the hand-polled scenario of the storm-found hang).
    AfterFirstPolls,
    /// Before: the release and the barger race the first future's first
    /// poll, which may move it to the hand-off queue at once (the
    /// multi-threaded scenario). The first future is set aside after that
    /// first poll.
    BeforeFirstPolls,
}

/// `new`: one task keeps a lock future (`first`) aside and awaits another
/// one (`second`) while a thread releases the lock and another barges in
/// (takes the lock with `try_lock` and releases it).
///
/// A set-aside future that lost a race is in the hand-off queue and may be
/// handed the lock, so the task follows the rule the crate docs give: it
/// polls `second` on every wake-up, and drops `first` on the first wake-up
/// that finds `second` still pending. The model checks that this always
/// finishes (dropping a future that holds an unclaimed hand-off passes the
/// lock on and wakes the task; a hint waiter that is set aside never blocks
/// `second`), that two holders never overlap (the value is loom's tracked
/// cell), and that the lock ends free with every acquisition counted.
fn new_set_aside_with_a_barger(start: Start) {
    loom::model(move || {
        let lock = Arc::new(Lock::new(0usize));
        let held = lock.try_lock_owned().expect("a new lock is free");
        let spawn = |held| {
            let releaser = thread::spawn(move || drop(held));
            let barger = {
                let lock = lock.clone();
                thread::spawn(move || match lock.try_lock() {
                    Some(mut guard) => {
                        *guard += 1;
                        1
                    }
                    None => 0,
                })
            };
            (releaser, barger)
        };

        let mut threads = None;
        let mut held = Some(held);
        if start == Start::BeforeFirstPolls {
            threads = Some(spawn(held.take().unwrap()));
        }
        let mut first = Some(lock.lock());
        let mut second = lock.lock();
        let mut first_done = 0;
        let mut round = 0;
        let set_aside_after = match start {
            Start::AfterFirstPolls => 2,
            Start::BeforeFirstPolls => 1,
        };
        block_on(poll_fn(|cx| {
            round += 1;
            if round <= set_aside_after {
                if let Some(future) = &mut first {
                    if let Poll::Ready(mut guard) = Pin::new(future).poll(cx) {
                        *guard += 1;
                        first_done = 1;
                        drop(guard);
                        first = None;
                    }
                }
            }
            if let Poll::Ready(mut guard) = Pin::new(&mut second).poll(cx) {
                *guard += 1;
                return Poll::Ready(());
            }
            if let Some(held) = held.take() {
                threads = Some(spawn(held));
            } else if round > set_aside_after {
                // Woken while `second` still waits: `first` may hold a
                // hand-off it will never claim. Give it up.
                first = None;
            }
            Poll::Pending
        }));
        drop(first);
        let (releaser, barger) = threads.expect("the threads were started");
        releaser.join().unwrap();
        let barged = barger.join().unwrap();

        assert!(
            !lock.is_locked(),
            "the lock is held after every guard was dropped"
        );
        assert_eq!(
            *lock.try_lock().expect("the lock is free"),
            first_done + 1 + barged
        );
    });
}

/// [`new_set_aside_with_a_barger`], with the first future set aside after
/// a second poll that may lose a race.
#[test]
fn new_set_aside_after_a_lost_race() {
    new_set_aside_with_a_barger(Start::AfterFirstPolls);
}

/// [`new_set_aside_with_a_barger`], with the release and the barger racing
/// the first future's first poll.
#[test]
fn new_set_aside_after_a_first_poll_that_races_a_release() {
    new_set_aside_with_a_barger(Start::BeforeFirstPolls);
}
