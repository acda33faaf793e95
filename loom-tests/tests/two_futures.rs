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
