//! Timed-out waiters leave no entry of their own; a waiter that times out
//! while the holder keeps the key leaves the entry to the holder.

#![cfg(feature = "keyed")]

mod common;

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::AtomicBool;
use core::sync::atomic::Ordering::SeqCst;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Arc;

use common::{Probe, assert_pending, ready};
use turnlock::KeyedLocks;

fn both_policies() -> [(&'static str, KeyedLocks<&'static str>); 2] {
    [("new", KeyedLocks::new()), ("fifo", KeyedLocks::new_fifo())]
}

/// A deadline that fires when the test says so.
#[derive(Clone, Default)]
struct Deadline(Arc<AtomicBool>);

impl Deadline {
    fn fire(&self) {
        self.0.store(true, SeqCst);
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Seed: "a waiter that times out while the holder keeps the key leaves the
/// entry alive for the holder; once the holder releases, the entry is gone."
#[test]
fn a_timed_out_waiter_leaves_the_entry_to_the_holder() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock("k").unwrap();
        let deadline = Deadline::default();
        let mut waiter = Box::pin(locks.lock_until("k", deadline.clone()));
        assert_pending(probe.poll(&mut waiter));
        deadline.fire();
        let err = ready(probe.poll(&mut waiter)).unwrap_err();
        assert_eq!(err.timeout(), None);
        assert_eq!(locks.len(), 1, "{policy}");
        assert!(locks.is_locked("k"), "{policy}: the holder keeps the key");
        drop(waiter);
        assert_eq!(locks.len(), 1, "{policy}");
        drop(holder);
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn the_last_waiter_timing_out_after_the_holder_left() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock("k").unwrap();
        let (early, late) = (Deadline::default(), Deadline::default());
        let mut first = Box::pin(locks.lock_until("k", early.clone()));
        let mut second = Box::pin(locks.lock_until("k", late.clone()));
        assert_pending(probe.poll(&mut first));
        assert_pending(probe.poll(&mut second));
        early.fire();
        assert!(ready(probe.poll(&mut first)).is_err());
        drop(holder);
        // The key went to (or woke) `second`; it still takes it even though
        // its deadline fires now: a handed key is kept.
        late.fire();
        let guard = ready(probe.poll(&mut second)).expect("handed or free");
        assert_eq!(locks.len(), 1, "{policy}");
        drop(guard);
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn an_expired_deadline_takes_a_free_key_and_leaves_a_held_one() {
    for (policy, locks) in both_policies() {
        futures_lite::future::block_on(async {
            let guard = locks.lock_until("k", async {}).await.expect("free");
            assert!(locks.lock_until("k", async {}).await.is_err());
            assert_eq!(locks.len(), 1, "{policy}");
            drop(guard);
            assert!(locks.lock_until("other", async {}).await.is_ok());
            assert!(locks.is_empty(), "{policy}");
        });
    }
}

#[test]
fn lock_blocking_timeout_leaves_no_entry() {
    for (policy, locks) in both_policies() {
        let holder = locks.lock_blocking("k");
        let err = locks
            .lock_blocking_timeout("k", Duration::from_millis(5))
            .unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
        assert!(
            locks.lock_blocking_timeout("k", Duration::ZERO).is_err(),
            "{policy}"
        );
        assert_eq!(locks.len(), 1, "{policy}");
        drop(holder);
        assert!(locks.is_empty(), "{policy}");
        drop(
            locks
                .lock_blocking_timeout("k", Duration::ZERO)
                .expect("free"),
        );
        assert!(locks.is_empty(), "{policy}");
    }
}

#[cfg(feature = "async-io")]
#[test]
#[cfg_attr(miri, ignore = "async-io's reactor needs timerfd, which Miri lacks")]
fn lock_timeout_leaves_no_entry() {
    for (policy, locks) in both_policies() {
        futures_lite::future::block_on(async {
            let holder = locks.lock("k").await;
            let err = locks
                .lock_timeout("k", Duration::from_millis(10))
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "timed out waiting for lock after 10ms");
            assert!(locks.lock_timeout("k", Duration::ZERO).await.is_err());
            assert_eq!(locks.len(), 1, "{policy}");
            drop(holder);
            assert!(locks.is_empty(), "{policy}");
            let guard = locks.lock_timeout("k", Duration::ZERO).await.expect("free");
            drop(guard);
            assert!(locks.is_empty(), "{policy}");
        });
    }
}

/// A timer that fires while the waiter is queued: the holder is untouched.
#[cfg(feature = "async-io")]
#[test]
#[cfg_attr(miri, ignore = "async-io's reactor needs timerfd, which Miri lacks")]
fn lock_timeout_while_queued_behind_others() {
    futures_lite::future::block_on(async {
        let locks = KeyedLocks::new_fifo();
        let holder = locks.lock("k").await;
        let probe = Probe::new();
        let mut patient = locks.lock("k");
        assert_pending(probe.poll(&mut patient));
        let err = locks.lock_timeout("k", Duration::from_millis(10)).await;
        assert!(err.is_err());
        drop(holder);
        drop(ready(probe.poll(&mut patient)));
        drop(patient);
        assert!(locks.is_empty());
    });
}
