//! `FusedFuture` (feature `futures-core`) for every lock future:
//! `is_terminated` is `false` before the first poll and while waiting, and
//! `true` exactly once the future has returned `Ready`, so `futures::select!`
//! takes the futures without `.fuse()` and never polls a finished one.
#![cfg(feature = "futures-core")]

mod common;

use core::future::{Future, pending, ready as ready_now};
use core::pin::Pin;
use core::task::Poll;
use std::sync::Arc;

use common::{Probe, assert_pending, ready, with_watchdog};
use futures::future::FusedFuture;
use futures::select;
use turnlock::{KeyedLocks, Lock};

/// Polls `future` until it is ready (each poll with `probe`'s waker),
/// checking `is_terminated` before and after every poll; `release` runs
/// after each poll that returned `Pending`, to let the future finish.
fn drive<F: Future + FusedFuture + Unpin>(
    probe: &Probe,
    future: &mut F,
    mut release: impl FnMut(),
) -> F::Output {
    assert!(!future.is_terminated(), "terminated before the first poll");
    loop {
        match probe.poll(future) {
            Poll::Ready(output) => {
                assert!(future.is_terminated(), "not terminated after Ready");
                return output;
            }
            Poll::Pending => {
                assert!(!future.is_terminated(), "terminated while pending");
                release();
            }
        }
    }
}

#[test]
fn lock_futures_terminate_exactly_at_ready() {
    for lock in [Lock::new(0), Lock::new_fifo(0)] {
        let lock = Arc::new(lock);
        let probe = Probe::new();

        // Free: ready at the first poll.
        let mut future = lock.lock();
        drop(drive(&probe, &mut future, || unreachable!("free lock")));

        // Held: pending first, ready after the holder goes.
        let mut holder = Some(lock.try_lock().unwrap());
        let mut future = lock.lock();
        let guard = drive(&probe, &mut future, || drop(holder.take()));
        drop(guard);

        let mut holder = Some(lock.try_lock().unwrap());
        let mut owned = lock.lock_owned();
        let guard = drive(&probe, &mut owned, || drop(holder.take()));
        drop(guard);
    }
}

#[test]
fn deadline_futures_terminate_with_the_guard_or_the_error() {
    let lock = Lock::new_fifo(());
    let probe = Probe::new();

    let mut until = lock.lock_until(pending::<()>());
    assert!(drive(&probe, &mut until, || unreachable!("free lock")).is_ok());

    let held = lock.try_lock().unwrap();
    let mut until = lock.lock_until(ready_now(()));
    assert!(drive(&probe, &mut until, || unreachable!("expired")).is_err());

    // Waiting, then the deadline fires.
    let (fire, deadline) = futures::channel::oneshot::channel::<()>();
    let mut fire = Some(fire);
    let mut until = lock.lock_until(deadline);
    let result = drive(&probe, &mut until, || {
        fire.take().expect("one wait").send(()).unwrap();
    });
    assert!(result.is_err());
    drop(held);

    #[cfg(feature = "async-io")]
    {
        use core::time::Duration;

        let mut timeout = lock.lock_timeout(Duration::from_secs(60));
        assert!(drive(&probe, &mut timeout, || unreachable!("free lock")).is_ok());
        let _held = lock.try_lock().unwrap();
        let mut timeout = lock.lock_timeout(Duration::ZERO);
        assert!(drive(&probe, &mut timeout, || unreachable!("zero timeout")).is_err());
    }
}

#[test]
fn keyed_futures_terminate_exactly_at_ready() {
    for locks in [KeyedLocks::new(), KeyedLocks::new_fifo()] {
        let locks = Arc::new(locks);
        let probe = Probe::new();

        let mut holder = Some(locks.try_lock(1).unwrap());
        let mut future = locks.lock(1);
        drop(drive(&probe, &mut future, || drop(holder.take())));

        let mut holder = Some(locks.try_lock(1).unwrap());
        let mut owned = locks.lock_owned(1);
        drop(drive(&probe, &mut owned, || drop(holder.take())));

        let mut until = locks.lock_until(2, pending::<()>());
        assert!(drive(&probe, &mut until, || unreachable!("free key")).is_ok());
        let held = locks.try_lock(2).unwrap();
        let mut until = locks.lock_until(2, ready_now(()));
        assert!(drive(&probe, &mut until, || unreachable!("expired")).is_err());
        drop(held);

        #[cfg(feature = "async-io")]
        {
            use core::time::Duration;

            let _held = locks.try_lock(3).unwrap();
            let mut timeout = locks.lock_timeout(3, Duration::ZERO);
            assert!(drive(&probe, &mut timeout, || unreachable!("zero")).is_err());
            let mut timeout = locks.lock_timeout(4, Duration::from_secs(60));
            assert!(drive(&probe, &mut timeout, || unreachable!("free")).is_ok());
        }

        let mut holder = Some(locks.try_lock(5).unwrap());
        let mut many = locks.lock_many([6, 5, 7]);
        drop(drive(&probe, &mut many, || drop(holder.take())));

        let mut none = locks.lock_many([]);
        drop(drive(&probe, &mut none, || unreachable!("no keys")));

        assert!(locks.is_empty());
    }
}

#[test]
fn select_skips_a_finished_lock_future_without_fuse() {
    with_watchdog(30, || {
        futures::executor::block_on(async {
            let busy = Lock::new_fifo("busy");
            let free = Lock::new_fifo("free");
            let mut holder = Some(busy.try_lock().unwrap());
            let mut busy_future = busy.lock();
            let mut free_future = free.lock();
            let mut order = Vec::new();
            loop {
                // A finished future polled again would panic ("polled after
                // completion"); one reported finished too early would never
                // complete and the watchdog would fire.
                select! {
                    guard = busy_future => order.push(*guard),
                    guard = free_future => {
                        order.push(*guard);
                        drop(guard);
                        drop(holder.take());
                    }
                    complete => break,
                }
            }
            assert_eq!(order, ["free", "busy"]);
            assert!(busy_future.is_terminated() && free_future.is_terminated());
        });
    });
}

#[test]
fn select_over_keyed_and_timed_futures() {
    with_watchdog(30, || {
        futures::executor::block_on(async {
            let locks = KeyedLocks::new();
            let lock = Lock::new(0);
            let held = lock.try_lock().unwrap();
            let mut gave_up = lock.lock_until(ready_now(()));
            let mut key = locks.lock("key");
            let mut many = locks.lock_many(["a", "b"]);
            let mut seen = 0;
            loop {
                select! {
                    result = gave_up => { assert!(result.is_err()); seen += 1; }
                    guard = key => { drop(guard); seen += 1; }
                    guard = many => { drop(guard); seen += 1; }
                    complete => break,
                }
            }
            assert_eq!(seen, 3);
            drop(held);
            assert!(locks.is_empty());
        });
    });
}

#[test]
fn a_pinned_deadline_future_is_fused_too() {
    // `LockUntil` with a deadline that is not `Unpin` is polled pinned.
    let lock = Lock::new(());
    let held = lock.try_lock().unwrap();
    let probe = Probe::new();
    let mut until = Box::pin(lock.lock_until(async {
        futures_lite::future::yield_now().await;
    }));
    assert!(!until.is_terminated());
    assert_pending(probe.poll_pinned(until.as_mut()));
    assert!(!until.is_terminated());
    let result = ready(probe.poll_pinned(Pin::as_mut(&mut until)));
    assert!(result.is_err());
    assert!(until.is_terminated());
    drop(held);
}
