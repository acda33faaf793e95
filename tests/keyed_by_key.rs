//! The seed's upstream test 3, "locks by key", and the basics of the keyed
//! map: one lock per key, entries only while used, borrowed look-ups.

#![cfg(feature = "keyed")]

mod common;

use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

use common::{Probe, assert_pending, ready};
use turnlock::{KeyGuard, KeyedLocks};

fn both_policies<K>() -> [(&'static str, KeyedLocks<K>); 2] {
    [("new", KeyedLocks::new()), ("fifo", KeyedLocks::new_fifo())]
}

/// Upstream test 3: acquire a, a, b -> granted, pending, granted; release a
/// -> the second a is granted; release a and b, acquire a and b again ->
/// both granted at once; the map is empty after all releases.
#[test]
fn locks_by_key() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let mut first_a = locks.lock("a");
        let mut second_a = locks.lock("a");
        let mut b = locks.lock("b");
        let first_a_guard = ready(probe.poll(&mut first_a));
        assert_pending(probe.poll(&mut second_a));
        let b_guard = ready(probe.poll(&mut b));
        assert_eq!(locks.len(), 2, "{policy}");

        drop(first_a_guard);
        assert!(probe.wakes() > 0, "{policy}: the release woke nobody");
        let second_a_guard = ready(probe.poll(&mut second_a));
        assert_eq!(*KeyGuard::key(&second_a_guard), "a");
        assert_eq!(locks.len(), 2, "{policy}");

        drop(second_a_guard);
        drop(b_guard);
        assert_eq!(locks.len(), 0, "{policy}");

        let mut a = locks.lock("a");
        let mut b = locks.lock("b");
        let a_guard = ready(probe.poll(&mut a));
        let b_guard = ready(probe.poll(&mut b));
        assert!(locks.is_locked("a") && locks.is_locked("b"), "{policy}");
        drop((a_guard, b_guard));
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn an_unpolled_future_creates_no_entry() {
    let locks = KeyedLocks::new();
    let future = locks.lock(1);
    assert_eq!(locks.len(), 0);
    drop(future);
    assert_eq!(locks.len(), 0);
}

#[test]
fn a_failed_try_lock_leaves_only_the_holders_entry() {
    for (policy, locks) in both_policies() {
        let held = locks.try_lock(1).unwrap();
        for _ in 0..3 {
            assert!(locks.try_lock(1).is_none(), "{policy}");
        }
        assert_eq!(locks.len(), 1, "{policy}");
        drop(held);
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn is_locked_looks_up_borrowed_keys() {
    let locks: KeyedLocks<String> = KeyedLocks::new();
    assert!(!locks.is_locked("alice"));
    let guard = locks.lock_blocking("alice".to_owned());
    assert!(locks.is_locked("alice"));
    assert!(!locks.is_locked("bob"));
    assert!(locks.is_locked(&"alice".to_owned()));
    drop(guard);
    assert!(!locks.is_locked("alice"));
}

#[test]
fn the_guard_keeps_the_first_key() {
    // Equal keys share one entry; the entry keeps the key it was made with.
    #[derive(Debug)]
    struct Tagged(u32, &'static str);
    impl PartialEq for Tagged {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Tagged {}
    impl core::hash::Hash for Tagged {
        fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    let locks = KeyedLocks::new_fifo();
    let probe = Probe::new();
    let first = locks.try_lock(Tagged(1, "first")).unwrap();
    let mut second = locks.lock(Tagged(1, "second"));
    assert_pending(probe.poll(&mut second));
    drop(first);
    let second = ready(probe.poll(&mut second));
    assert_eq!(KeyGuard::key(&second).1, "first");
    drop(second);
    assert!(locks.is_empty());
}

#[test]
fn with_lock_releases_on_return_and_on_panic() {
    futures_lite::future::block_on(async {
        let locks = KeyedLocks::new();
        let value = locks
            .with_lock("k", async || {
                assert!(locks.is_locked("k"));
                7
            })
            .await;
        assert_eq!(value, 7);
        assert!(locks.is_empty());

        let panicked = catch_unwind(AssertUnwindSafe(|| {
            futures_lite::future::block_on(locks.with_lock("k", async || panic!("inside")))
        }));
        assert!(panicked.is_err());
        assert!(!locks.is_locked("k"));
        assert!(locks.is_empty());
        assert!(locks.try_lock("k").is_some());
    });
}

#[test]
fn a_guard_dropped_in_a_panic_releases_the_key() {
    let locks = KeyedLocks::new();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let _guard = locks.lock_blocking(3);
        panic!("while holding");
    }));
    assert!(panicked.is_err());
    assert!(locks.is_empty());
    assert!(locks.try_lock(3).is_some());
}

#[test]
fn debug_output() {
    let locks = KeyedLocks::new();
    let guard = locks.try_lock("k").unwrap();
    assert_eq!(format!("{guard:?}"), r#"KeyGuard { key: "k" }"#);
    assert_eq!(
        format!("{locks:?}"),
        "KeyedLocks { len: 1, fifo: false, .. }"
    );
    drop(guard);
    let future = locks.lock("k");
    assert!(format!("{future:?}").starts_with("KeyLockFuture"));
}

#[test]
fn keys_in_many_shards_are_independent() {
    let n = common::scaled(1_000);
    let locks = KeyedLocks::new();
    let guards: Vec<_> = (0..n).map(|k| locks.try_lock(k).unwrap()).collect();
    assert_eq!(locks.len(), n);
    for k in 0..n {
        assert!(locks.is_locked(&k));
        assert!(locks.try_lock(k).is_none());
    }
    assert!(!locks.is_locked(&n));
    drop(guards);
    assert!(locks.is_empty());
}
