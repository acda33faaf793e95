//! Many distinct keys: 100 000 held at once, then released, leave the map
//! empty and working.

#![cfg(feature = "keyed")]

mod common;

use common::with_watchdog;

/// 100 000 keys; a few hundred under Miri, which is slow.
const KEYS: u64 = if cfg!(miri) { 300 } else { 100_000 };
use turnlock::KeyedLocks;

fn hold_all_then_release(locks: &KeyedLocks<u64>, keys: u64) {
    let guards: Vec<_> = (0..keys)
        .map(|k| locks.try_lock(k).expect("a fresh key is free"))
        .collect();
    assert_eq!(locks.len(), keys as usize);
    assert!(locks.try_lock(keys / 2).is_none());
    assert_eq!(locks.len(), keys as usize);
    drop(guards);
    assert_eq!(locks.len(), 0);
    assert!(locks.is_empty());
}

#[test]
fn a_hundred_thousand_keys_are_reclaimed() {
    with_watchdog(120, || {
        let keys = KEYS;
        for locks in [KeyedLocks::new(), KeyedLocks::new_fifo()] {
            hold_all_then_release(&locks, keys);
            // And again, on tables that have grown and pools that are full.
            hold_all_then_release(&locks, keys);
            let guard = locks.try_lock(7).unwrap();
            assert_eq!(locks.len(), 1);
            drop(guard);
            assert!(locks.is_empty());
        }
    });
}

#[test]
fn a_hundred_thousand_keys_through_futures() {
    with_watchdog(120, || {
        let keys = KEYS;
        let locks = KeyedLocks::new();
        futures_lite::future::block_on(async {
            let mut guards = Vec::with_capacity(keys as usize);
            for k in 0..keys {
                guards.push(locks.lock(k).await);
            }
            assert_eq!(locks.len(), keys as usize);
            let all = locks.lock_many(0..keys);
            drop(all); // never polled: takes nothing
            drop(guards);
            assert!(locks.is_empty());
            let all = locks.lock_many(0..keys).await;
            assert_eq!(locks.len(), keys as usize);
            drop(all);
            assert!(locks.is_empty());
        });
    });
}
