//! `Lock::new_fifo`: waiters are served in the order of their first poll,
//! and a release hands the lock straight to the oldest waiter, so neither a
//! late `try_lock`, a late `lock` nor the releasing task can take it first.
//!
//! Futures are polled by hand, one step at a time, so the order is exact.

mod common;

use core::cell::RefCell;
use core::pin::Pin;
use core::task::Poll;
use std::sync::Arc;
use std::thread;

use common::{Probe, Rng, assert_healthy, assert_pending, poll_noop, poll_pinned_noop, ready};
use futures_lite::future::yield_now;
use turnlock::Lock;

/// Polls every future in `order` once; returns the indices that completed.
fn poll_all<F: core::future::Future + Unpin>(
    futures: &mut [Option<F>],
    order: impl IntoIterator<Item = usize>,
) -> Vec<(usize, F::Output)> {
    let mut done = Vec::new();
    for i in order {
        if let Some(future) = futures[i].as_mut() {
            if let Poll::Ready(out) = poll_noop(future) {
                futures[i] = None;
                done.push((i, out));
            }
        }
    }
    done
}

#[test]
fn served_in_order_of_first_poll_not_of_creation() {
    let lock = Lock::new_fifo(());
    let holder = lock.try_lock().unwrap();
    let n = 12;
    let mut futures: Vec<_> = (0..n).map(|_| Some(lock.lock())).collect();

    // First polls in a shuffled order: that order is the queue.
    let mut first_poll: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(7);
    for i in (1..n).rev() {
        first_poll.swap(i, rng.below(i as u64 + 1) as usize);
    }
    assert!(poll_all(&mut futures, first_poll.iter().copied()).is_empty());

    // Each release completes exactly the next waiter in the queue, however
    // the futures are polled afterwards.
    drop(holder);
    let mut served = Vec::new();
    while served.len() < n {
        let mut done = poll_all(&mut futures, (0..n).rev());
        assert_eq!(
            done.len(),
            1,
            "one release must complete exactly one waiter"
        );
        let (index, guard) = done.pop().unwrap();
        assert!(
            lock.try_lock().is_none(),
            "a late try_lock took a held lock"
        );
        served.push(index);
        drop(guard);
    }
    assert_eq!(served, first_poll);
    assert_healthy(&lock);
}

#[test]
fn a_late_try_lock_cannot_take_a_handed_lock() {
    let lock = Lock::new_fifo(0);
    let holder = lock.try_lock().unwrap();
    let probe = Probe::new();
    let mut waiter = lock.lock();
    assert_pending(probe.poll(&mut waiter));

    drop(holder);
    // The release handed the lock to the waiter, which has not run yet.
    assert!(probe.wakes() > 0, "the release did not wake the waiter");
    assert!(
        lock.is_locked(),
        "the lock was freed instead of handed over"
    );
    assert!(
        lock.try_lock().is_none(),
        "try_lock barged past a queued waiter"
    );

    // Not even a newcomer's lock future gets it.
    let mut newcomer = lock.lock();
    assert_pending(poll_noop(&mut newcomer));

    let mut guard = ready(probe.poll(&mut waiter));
    *guard += 1;
    drop(guard);
    // And the newcomer is next.
    assert_eq!(*ready(poll_noop(&mut newcomer)), 1);
    drop(newcomer);
    assert_healthy(&lock);
}

#[test]
fn the_releasing_task_cannot_retake_the_lock() {
    // Two tasks that each re-lock right after releasing. Under direct
    // hand-off the releaser always finds the lock given away and queues
    // behind the other task, so they strictly alternate.
    let lock = Lock::new_fifo(());
    let log = RefCell::new(Vec::new());
    let rounds = 50;
    let worker = |name: char| {
        let (lock, log) = (&lock, &log);
        async move {
            for _ in 0..rounds {
                let guard = lock.lock().await;
                log.borrow_mut().push(name);
                yield_now().await;
                drop(guard);
                // Straight back to the lock, with no await in between.
            }
        }
    };
    let mut a = Box::pin(worker('a'));
    let mut b = Box::pin(worker('b'));
    let (mut a_done, mut b_done) = (false, false);
    let mut steps = 0;
    while !(a_done && b_done) {
        steps += 1;
        assert!(steps < 10 * rounds, "the two tasks stopped making progress");
        if !a_done {
            a_done = poll_pinned_noop(a.as_mut()).is_ready();
        }
        if !b_done {
            b_done = poll_pinned_noop(b.as_mut()).is_ready();
        }
    }
    drop((a, b));
    let log = log.into_inner();
    assert_eq!(log.len(), 2 * rounds);
    let expected: Vec<char> = "ab".chars().cycle().take(2 * rounds).collect();
    assert_eq!(log, expected, "the releasing task took the lock back");
    assert_healthy(&lock);
}

#[test]
fn a_queued_waiter_keeps_its_turn_against_a_blocking_thread() {
    // An async waiter queues; then a thread arrives with `lock_blocking`.
    // The release hands the lock to the async waiter, which has not run
    // yet: neither the thread nor a `try_lock` gets in first.
    let lock = Arc::new(Lock::new_fifo(Vec::new()));
    let holder = lock.try_lock().unwrap();
    let probe = Probe::new();
    let mut first = lock.lock();
    assert_pending(probe.poll(&mut first));
    let (arriving_tx, arriving_rx) = std::sync::mpsc::channel();
    let thread = {
        let lock = lock.clone();
        thread::spawn(move || {
            arriving_tx.send(()).unwrap();
            lock.lock_blocking().push("thread");
        })
    };
    // The thread is about to wait (or already waits) behind `first`.
    arriving_rx.recv().unwrap();
    drop(holder);
    assert!(
        lock.try_lock().is_none(),
        "the lock belongs to the queued waiter"
    );
    let mut guard = ready(probe.poll(&mut first));
    guard.push("first");
    drop(guard);
    common::join(thread);
    assert_eq!(*lock.try_lock().unwrap(), ["first", "thread"]);
    assert_healthy(&lock);
}

#[test]
fn lock_and_with_lock_callers_share_one_order() {
    let lock = Lock::new_fifo(());
    let log = RefCell::new(Vec::new());
    let holder = lock.try_lock().unwrap();
    let n = 10;
    let mut callers: Vec<Option<Pin<Box<dyn core::future::Future<Output = ()> + '_>>>> = (0..n)
        .map(|i| {
            let (lock, log) = (&lock, &log);
            let caller: Pin<Box<dyn core::future::Future<Output = ()> + '_>> = if i % 2 == 0 {
                Box::pin(async move {
                    let _guard = lock.lock().await;
                    log.borrow_mut().push(i);
                    yield_now().await;
                })
            } else {
                Box::pin(lock.with_lock(async move |()| {
                    log.borrow_mut().push(i);
                    yield_now().await;
                }))
            };
            Some(caller)
        })
        .collect();
    for caller in callers.iter_mut() {
        assert_pending(poll_pinned_noop(caller.as_mut().unwrap().as_mut()));
    }
    drop(holder);
    // Poll in reverse: the queue, not the polling order, decides.
    let mut rounds = 0;
    while callers.iter().any(Option::is_some) {
        rounds += 1;
        assert!(rounds < 10 * n, "callers stopped making progress");
        for slot in callers.iter_mut().rev() {
            if let Some(caller) = slot {
                if poll_pinned_noop(caller.as_mut()).is_ready() {
                    *slot = None;
                }
            }
        }
    }
    drop(callers);
    assert_eq!(log.into_inner(), (0..n).collect::<Vec<_>>());
    assert_healthy(&lock);
}

#[test]
fn a_free_lock_goes_to_the_first_caller_and_the_rest_queue_in_order() {
    // Starting from a free lock: the first poll takes it, later ones queue.
    let lock = Lock::new_fifo(());
    let mut futures: Vec<_> = (0..5).map(|_| Some(lock.lock())).collect();
    let mut done = poll_all(&mut futures, [3, 1, 4, 0, 2]);
    assert_eq!(done.len(), 1);
    let (first, mut guard) = done.pop().unwrap();
    assert_eq!(first, 3);
    let mut served = vec![first];
    while served.len() < 5 {
        drop(guard);
        let mut done = poll_all(&mut futures, 0..5);
        assert_eq!(done.len(), 1);
        let (index, next) = done.pop().unwrap();
        served.push(index);
        guard = next;
    }
    drop(guard);
    assert_eq!(served, [3, 1, 4, 0, 2]);
    assert_healthy(&lock);
}
