//! `with_hasher`: any `BuildHasher` works, even a terrible one; keys are
//! told apart by `Eq`, never by their hash alone.

#![cfg(feature = "keyed")]

mod common;

use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::thread;

use common::{Probe, assert_pending, join_all, ready, scaled, with_watchdog};
use turnlock::{DefaultHashBuilder, KeyGuard, KeyHasher, KeyedLocks};

/// Every key hashes to the same value: one shard, one probe chain.
#[derive(Default)]
struct Constant;

impl Hasher for Constant {
    fn finish(&self) -> u64 {
        42
    }

    fn write(&mut self, _: &[u8]) {}
}

/// Only the low 32 bits carry information (FNV-1a, truncated).
#[derive(Clone, Copy)]
struct Narrow;

struct NarrowHasher(u32);

impl BuildHasher for Narrow {
    type Hasher = NarrowHasher;

    fn build_hasher(&self) -> NarrowHasher {
        NarrowHasher(0x811c_9dc5)
    }
}

impl Hasher for NarrowHasher {
    fn finish(&self) -> u64 {
        u64::from(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u32::from(byte)).wrapping_mul(0x0100_0193);
        }
    }
}

fn exercise<S: BuildHasher>(locks: &KeyedLocks<u32, S>) {
    let n = scaled(2_000) as u32;
    let guards: Vec<_> = (0..n).map(|k| locks.try_lock(k).expect("free")).collect();
    assert_eq!(locks.len(), n as usize);
    for k in 0..n {
        assert!(locks.is_locked(&k));
        assert!(locks.try_lock(k).is_none());
    }
    assert!(!locks.is_locked(&n));
    for (k, guard) in guards.iter().enumerate() {
        assert_eq!(*KeyGuard::key(guard), k as u32);
    }
    // Release every other key; the rest stay held.
    let mut kept = Vec::new();
    for (k, guard) in guards.into_iter().enumerate() {
        if k % 2 == 0 {
            drop(guard);
        } else {
            kept.push(guard);
        }
    }
    assert_eq!(locks.len(), n as usize / 2);
    for k in 0..n {
        assert_eq!(locks.is_locked(&k), k % 2 == 1);
    }
    drop(kept);
    assert!(locks.is_empty());
}

#[test]
fn a_constant_hasher() {
    exercise(&KeyedLocks::with_hasher(
        BuildHasherDefault::<Constant>::default(),
    ));
    exercise(&KeyedLocks::with_hasher(BuildHasherDefault::<Constant>::default()).fifo());
}

#[test]
fn a_hasher_with_only_32_bits() {
    exercise(&KeyedLocks::with_hasher(Narrow));
}

#[test]
fn the_default_hasher_is_randomly_seeded() {
    let a: KeyedLocks<u8> = KeyedLocks::new();
    let b: KeyedLocks<u8> = KeyedLocks::new();
    let hash = |locks: &KeyedLocks<u8>| locks.hasher().hash_one("the same key");
    assert_ne!(hash(&a), hash(&b), "two maps share a seed");
    exercise(&KeyedLocks::new());
}

#[test]
fn waiting_under_a_constant_hasher() {
    let locks = KeyedLocks::with_hasher(BuildHasherDefault::<Constant>::default());
    let probe = Probe::new();
    let one = locks.try_lock(1).unwrap();
    let two = locks.try_lock(2).unwrap();
    let mut waiter = locks.lock(1);
    assert_pending(probe.poll(&mut waiter));
    drop(two);
    assert_pending(probe.poll(&mut waiter));
    drop(one);
    drop(ready(probe.poll(&mut waiter)));
    drop(waiter);
    assert!(locks.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn threads_under_a_constant_hasher() {
    with_watchdog(60, || {
        let locks = Arc::new(KeyedLocks::with_hasher(
            BuildHasherDefault::<Constant>::default(),
        ));
        let iters = scaled(5_000);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let locks = locks.clone();
                thread::spawn(move || {
                    for i in 0..iters {
                        let key = (i as u32 + t) % 16;
                        let guard = locks.lock_blocking(key);
                        assert_eq!(*KeyGuard::key(&guard), key);
                    }
                })
            })
            .collect();
        join_all(threads);
        assert!(locks.is_empty());
    });
}

/// `DefaultHashBuilder` and its `KeyHasher` are plain values: shareable,
/// clonable, printable (without the key).
#[test]
fn the_default_hasher_types_are_plain_values() {
    fn traits<T: Send + Sync + Unpin + Clone + core::fmt::Debug + 'static>() {}
    traits::<DefaultHashBuilder>();
    traits::<KeyHasher>();
    let builder = DefaultHashBuilder::with_keys(1, 2);
    assert_eq!(format!("{builder:?}"), "DefaultHashBuilder { .. }");
    let hasher: KeyHasher = builder.build_hasher();
    assert_eq!(format!("{hasher:?}"), "KeyHasher { .. }");
}

#[test]
fn a_fixed_key_hashes_alike_in_every_map() {
    let a = KeyedLocks::<&str>::with_hasher(DefaultHashBuilder::with_keys(7, 8));
    let b = KeyedLocks::<&str>::with_hasher(DefaultHashBuilder::with_keys(7, 8));
    let c = KeyedLocks::<&str>::with_hasher(DefaultHashBuilder::with_keys(8, 7));
    let hash = |locks: &KeyedLocks<&str>| locks.hasher().hash_one("the same key");
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
    exercise(&KeyedLocks::with_hasher(DefaultHashBuilder::with_keys(
        7, 8,
    )));
}

/// Keys told apart only by their bytes' order and length: a hasher that
/// ignored the length or mixed bytes poorly would send them to one bucket,
/// and the map would still work, but they should not collide.
#[test]
fn the_default_hasher_spreads_similar_keys() {
    let builder = DefaultHashBuilder::new();
    let keys = ["", "a", "aa", "ab", "ba", "a\0", "\0a", "\0", "\0\0"];
    let mut hashes: Vec<u64> = keys.iter().map(|key| builder.hash_one(key)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), keys.len(), "two similar keys collide");
    let locks = KeyedLocks::with_hasher(builder);
    let guards: Vec<_> = keys
        .iter()
        .map(|key| locks.try_lock(*key).unwrap())
        .collect();
    assert_eq!(locks.len(), keys.len());
    drop(guards);
    assert!(locks.is_empty());
}
