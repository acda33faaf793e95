//! Memory after a burst: once a burst of distinct keys is released, the map
//! gives the memory back, down to a small constant above an empty map's:
//! shard tables shrink when mostly empty and the node pool is bounded. The
//! same for `KeyedLocks` and for `KeyedRwLocks`, whose keys are read and
//! written.
//! Measured with a global allocator that counts the bytes each thread
//! allocates and frees.

#![cfg(feature = "keyed")]

mod common;

use common::scaled;
use turnlock::{KeyedLocks, KeyedRwLocks};

#[path = "common/counting.rs"]
#[allow(dead_code, reason = "this file uses only some of the helpers")]
mod counting;
use counting::{allocations_during, net_bytes_during};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// A bound on what a map keeps after any burst: the shard tables at their
/// floor and full pools of free nodes. About 50 KiB on 64-bit targets with
/// the release layout of a node; debug builds may make nodes larger. Before
/// tables shrank, 100 000 keys left 4.5 MB behind.
const KEPT_AT_MOST: i64 = 256 * 1024;

/// A burst that reaches every shard many times over: after it, every shard
/// has a full pool and a table at its floor, the most a map keeps.
const SATURATING: u64 = 2_000;

/// Locks `n` distinct keys at once, starting at `first`, then releases them.
fn burst(locks: &KeyedLocks<u64>, first: u64, n: u64) {
    let guards: Vec<_> = (first..first + n)
        .map(|key| locks.try_lock(key).expect("a distinct key is free"))
        .collect();
    assert_eq!(locks.len(), n as usize);
    drop(guards);
    assert!(locks.is_empty());
}

/// Locks `n` distinct keys of a reader-writer map at once, starting at
/// `first`: each even key read twice, each odd key written; then releases
/// them.
fn rw_burst(locks: &KeyedRwLocks<u64>, first: u64, n: u64) {
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for key in first..first + n {
        if key % 2 == 0 {
            reads.push(locks.try_read(key).expect("a distinct key is free"));
            reads.push(locks.try_read(key).expect("readers share a key"));
        } else {
            writes.push(locks.try_write(key).expect("a distinct key is free"));
        }
    }
    assert_eq!(locks.len(), n as usize);
    drop(reads);
    drop(writes);
    assert!(locks.is_empty());
}

/// Runs the bursts on a map that `new` makes (`fifo` names the policy in
/// messages), and checks what it keeps: at most [`KEPT_AT_MOST`] after the
/// saturating burst, exactly that much after any later burst as large, no
/// more after a smaller one.
fn check_memory_after_bursts<M>(fifo: bool, new: impl FnOnce() -> M, burst: impl Fn(&M, u64, u64)) {
    let map = core::any::type_name::<M>();
    let (mut live, locks) = net_bytes_during(new);
    let empty = live;
    let mut after = Vec::new();
    // Under Miri, which runs about 10^4 times slower, fewer and smaller
    // bursts after the saturating one.
    let bursts: &[u64] = if cfg!(miri) {
        &[20, SATURATING, 40, 2]
    } else {
        &[20, SATURATING, 100_000, 2_000, 100_000, 10]
    };
    for (round, &n) in bursts.iter().enumerate() {
        let (change, ()) = net_bytes_during(|| burst(&locks, round as u64 * 1_000_000, n));
        live += change;
        after.push((n, live - empty));
    }
    let floor = after[1].1;
    assert!(
        floor <= KEPT_AT_MOST,
        "{map} fifo {fifo}: {floor} bytes kept after a burst of {SATURATING} keys (an empty map has {empty})"
    );
    // After the saturating burst every shard is at its floor, and there
    // it stays: a later large burst leaves exactly as much behind, a
    // small one no more. (A 100 000-key burst left 4.5 MB before tables
    // shrank; and while shrinking went by `capacity()`, which the
    // tombstones of removed keys make look small, some tables stayed at
    // twice their floor, differently after every burst.)
    for &(n, kept) in &after[2..] {
        if n >= SATURATING {
            assert_eq!(
                kept, floor,
                "{map} fifo {fifo}: bytes kept after a burst of {n} keys != after {SATURATING}: {after:?}"
            );
        } else {
            assert!(
                kept <= floor,
                "{map} fifo {fifo}: {kept} bytes kept after a burst of {n} keys, more than the {floor} after {SATURATING}: {after:?}"
            );
        }
    }
    eprintln!("{map} fifo {fifo}: empty {empty}, kept {after:?}");
    drop(locks);
}

/// The policies to check: the map's code is the same for both; Miri
/// checks one.
fn policies() -> &'static [bool] {
    if cfg!(miri) { &[false] } else { &[false, true] }
}

#[test]
fn a_burst_of_keys_leaves_no_memory_behind() {
    // Bug: after 100 000 distinct keys, all released, the shard tables kept
    // their capacity (about 4.5 MB) for the life of the map.
    for &fifo in policies() {
        let new = || {
            if fifo {
                KeyedLocks::<u64>::new_fifo()
            } else {
                KeyedLocks::<u64>::new()
            }
        };
        check_memory_after_bursts(fifo, new, burst);
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the map's code is shared with KeyedLocks, whose burst test runs under Miri"
)]
fn a_burst_of_read_and_written_keys_leaves_no_memory_behind() {
    for &fifo in policies() {
        let new = || {
            if fifo {
                KeyedRwLocks::<u64>::new_fifo()
            } else {
                KeyedRwLocks::<u64>::new()
            }
        };
        check_memory_after_bursts(fifo, new, rw_burst);
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
