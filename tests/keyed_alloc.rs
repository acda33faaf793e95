//! Steady-state locking of keys allocates nothing: freed nodes are pooled
//! and the tables keep their capacity. Counted by a global allocator that
//! counts the allocations of the thread that asks.

#![cfg(feature = "keyed")]

use turnlock::KeyedLocks;

#[path = "common/counting.rs"]
mod counting;
use counting::{allocations_during as allocations, now, steady_state_allocations};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const KEYS: [u64; 4] = [1, 2, 3, 1_000_003];

/// One round: every way of locking, a few keys held at once.
fn round(locks: &KeyedLocks<u64>) {
    for key in KEYS {
        drop(now(locks.lock(key)));
    }
    let held: [_; 4] = KEYS.map(|key| locks.try_lock(key).expect("free"));
    drop(held);
    for key in KEYS {
        drop(locks.lock_blocking(key));
    }
    for key in KEYS {
        drop(now(locks.lock_until(key, core::future::pending::<()>())).expect("free"));
    }
    now(locks.with_lock(KEYS[0], async || ()));
    let a = now(locks.lock(KEYS[0]));
    assert!(locks.try_lock(KEYS[0]).is_none());
    drop(a);
}

#[test]
fn steady_state_locking_allocates_nothing() {
    for locks in [KeyedLocks::new(), KeyedLocks::new_fifo()] {
        let (steady, rounds) = steady_state_allocations(|| round(&locks));
        assert_eq!(
            steady, 0,
            "{steady} allocations in {rounds} rounds of steady-state locking"
        );
        assert!(locks.is_empty());
    }
}

#[test]
fn steady_state_block_on_allocates_nothing() {
    let locks = KeyedLocks::new();
    let run = || {
        futures_lite::future::block_on(async {
            for key in KEYS {
                drop(locks.lock(key).await);
            }
        })
    };
    for _ in 0..10 {
        run();
    }
    let steady = allocations(|| {
        for _ in 0..1_000 {
            run();
        }
    });
    assert_eq!(steady, 0);
}
