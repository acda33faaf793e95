//! Memory after a burst: once a burst of distinct keys is released, the map
//! gives the memory back, down to a small constant above an empty map's:
//! shard tables shrink when mostly empty and the node pool is bounded.
//! Measured with a global allocator that counts the bytes each thread
//! allocates and frees.

#![cfg(feature = "keyed")]

mod common;

use common::scaled;
use turnlock::KeyedLocks;

#[path = "common/counting.rs"]
#[allow(dead_code, reason = "this file uses only some of the helpers")]
mod counting;
use counting::{allocations_during, net_bytes_during};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// What a map may keep, whatever the size of the bursts it has seen: the
/// shard tables at their floor and a full pool of free nodes (about 47 KiB
/// on 64-bit targets, against 4.5 MB after 100 000 keys before tables shrank).
const KEPT_AT_MOST: i64 = 64 * 1024;

/// Locks `n` distinct keys at once, starting at `first`, then releases them.
fn burst(locks: &KeyedLocks<u64>, first: u64, n: u64) {
    let guards: Vec<_> = (first..first + n)
        .map(|key| locks.try_lock(key).expect("a distinct key is free"))
        .collect();
    assert_eq!(locks.len(), n as usize);
    drop(guards);
    assert!(locks.is_empty());
}

#[test]
fn a_burst_of_keys_leaves_no_memory_behind() {
    // Bug: after 100 000 distinct keys, all released, the shard tables kept
    // their capacity (about 4.5 MB) for the life of the map.
    // The map's code is the same for both policies; Miri checks one.
    let policies: &[bool] = if cfg!(miri) { &[false] } else { &[false, true] };
    for &fifo in policies {
        let (mut live, locks) = net_bytes_during(|| {
            if fifo {
                KeyedLocks::<u64>::new_fifo()
            } else {
                KeyedLocks::<u64>::new()
            }
        });
        let empty = live;
        let mut after = Vec::new();
        // Under Miri, which runs about 10^4 times slower, fewer and smaller
        // bursts, still large enough that every shard fills its pool and
        // grows its table, so that the kept memory is at its floor after the
        // first large one.
        let bursts: &[u64] = if cfg!(miri) {
            &[20, 2_000, 40, 2]
        } else {
            &[1_000, 100_000, 2_000, 100_000, 2_000, 10]
        };
        for (round, &n) in bursts.iter().enumerate() {
            let (change, ()) = net_bytes_during(|| burst(&locks, round as u64 * 1_000_000, n));
            live += change;
            after.push((n, live - empty));
            assert!(
                live - empty <= KEPT_AT_MOST,
                "fifo {fifo}: {} bytes kept after a burst of {n} keys (an empty map has {empty})",
                live - empty
            );
        }
        // Later bursts reuse what the first large one left: the memory kept
        // does not creep up. (It did while shrinking went by `capacity()`,
        // which tombstones of removed keys make look small: some tables
        // stayed twice their floor.)
        for &(n, kept) in &after[2..] {
            assert!(
                kept <= after[1].1,
                "fifo {fifo}: {kept} bytes kept after a burst of {n}, more than after the first large one: {after:?}"
            );
        }
        eprintln!("fifo {fifo}: empty {empty}, kept {after:?}");
        drop(locks);
    }
}

#[test]
fn after_a_burst_steady_state_locking_allocates_nothing() {
    // The shrinking is amortised: it happens while a burst drains, never
    // while a handful of keys are locked and released.
    let locks = KeyedLocks::<u64>::new();
    burst(&locks, 0, scaled(20_000) as u64);
    let mut held = Vec::with_capacity(16);
    let mut round = || {
        for key in 0..64 {
            drop(locks.try_lock(key).unwrap());
        }
        held.extend((0..16).map(|key| locks.try_lock(key).unwrap()));
        held.clear();
    };
    round();
    let steady = allocations_during(|| {
        for _ in 0..scaled(1_000) {
            round();
        }
    });
    assert_eq!(
        steady, 0,
        "{steady} allocations in steady state after a burst"
    );
}
