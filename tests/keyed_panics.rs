//! User code may panic anywhere in `KeyedLocks`: a key's `Hash`, `Eq` or
//! `Drop`, and the hasher. Whatever panics, the map stays consistent: every
//! count taken is given back, every key held is released, `len()` returns
//! to 0 and the keys can be locked again.
//!
//! The keys here panic on purpose; the panic messages they print are
//! expected output.

#![cfg(feature = "keyed")]

mod common;

use core::hash::{BuildHasherDefault, Hash, Hasher};
use core::panic::AssertUnwindSafe;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::SeqCst;
use std::panic::catch_unwind;
use std::sync::Arc;
use std::thread;

use common::{Probe, assert_pending, poll_noop, ready};
use turnlock::{KeyedLocks, ManyGuard};

/// A key that panics on purpose in its `Drop`, `Hash` or `Eq`.
///
/// Only one panic at a time: while the thread is already unwinding, a
/// hostile key behaves, so that no test aborts on a panic during a panic.
#[derive(Debug)]
struct Key {
    id: u32,
    panics_on_drop: bool,
    panics_on_hash: bool,
    panics_on_eq: bool,
    /// Counts this key's drops, if set.
    drops: Option<Arc<AtomicUsize>>,
}

impl Key {
    fn with(id: u32, panics_on_drop: bool, panics_on_hash: bool, panics_on_eq: bool) -> Self {
        Self {
            id,
            panics_on_drop,
            panics_on_hash,
            panics_on_eq,
            drops: None,
        }
    }

    fn new(id: u32) -> Self {
        Self::with(id, false, false, false)
    }

    fn drop_panics(id: u32) -> Self {
        Self::with(id, true, false, false)
    }

    fn hash_panics(id: u32) -> Self {
        Self::with(id, false, true, false)
    }

    fn eq_panics(id: u32) -> Self {
        Self::with(id, false, false, true)
    }

    fn counted(mut self, drops: &Arc<AtomicUsize>) -> Self {
        self.drops = Some(drops.clone());
        self
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if let Some(drops) = &self.drops {
            drops.fetch_add(1, SeqCst);
        }
        if self.panics_on_drop && !thread::panicking() {
            panic!("planned: key {} panics on drop", self.id);
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.panics_on_hash && !thread::panicking() {
            panic!("planned: key {} panics on hash", self.id);
        }
        self.id.hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        if (self.panics_on_eq || other.panics_on_eq) && !thread::panicking() {
            panic!("planned: key {} panics on eq", self.id);
        }
        self.id == other.id
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl core::borrow::Borrow<u32> for Key {
    fn borrow(&self) -> &u32 {
        &self.id
    }
}

/// Every key hashes alike: all keys share one shard and one probe chain,
/// so every lookup compares keys with `Eq`.
#[derive(Default)]
struct Constant;

impl Hasher for Constant {
    fn finish(&self) -> u64 {
        7
    }

    fn write(&mut self, _: &[u8]) {}
}

type Collide = BuildHasherDefault<Constant>;

/// Runs `f`, which must panic with a planned panic.
#[track_caller]
fn planned_panic<R>(f: impl FnOnce() -> R) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(f)) else {
        panic!("expected a planned panic");
    };
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(text.starts_with("planned"), "unexpected panic: {text}");
}

/// Every id in `ids` is free, can be locked and released, and nothing else
/// has an entry.
#[track_caller]
fn assert_all_free<S: core::hash::BuildHasher>(locks: &KeyedLocks<Key, S>, ids: &[u32]) {
    for &id in ids {
        assert!(!locks.is_locked(&id), "key {id} is still locked");
    }
    assert_eq!(locks.len(), 0, "entries left behind");
    for &id in ids {
        drop(
            locks
                .try_lock(Key::new(id))
                .expect("a free key can be taken"),
        );
    }
    assert_eq!(locks.len(), 0);
}

#[test]
fn duplicate_acquire_with_a_panicking_key_drop_leaks_no_entry() {
    // Bug: the spare key of a duplicate acquire was dropped after its count
    // was taken, so its panic lost the count and the entry stayed forever.
    let locks = KeyedLocks::new();
    let held = locks.try_lock(Key::new(10)).unwrap();
    planned_panic(|| locks.try_lock(Key::drop_panics(10)));
    planned_panic(|| poll_noop(&mut locks.lock(Key::drop_panics(10))));
    planned_panic(|| {
        poll_noop(&mut locks.lock_until(Key::drop_panics(10), core::future::pending::<()>()))
    });
    planned_panic(|| locks.lock_blocking_timeout(Key::drop_panics(10), core::time::Duration::ZERO));
    assert_eq!(locks.len(), 1);
    assert!(locks.is_locked(&10));
    drop(held);
    assert_all_free(&locks, &[10]);
}

#[test]
fn duplicate_acquire_with_a_panicking_key_drop_in_lock_many() {
    let locks = KeyedLocks::new();
    let held = locks.try_lock(Key::new(2)).unwrap();
    planned_panic(|| poll_noop(&mut locks.lock_many([Key::new(1), Key::drop_panics(2)])));
    drop(held);
    assert_all_free(&locks, &[1, 2]);
}

#[test]
fn many_guard_releases_every_key_when_a_key_drop_panics() {
    // Bug: `ManyGuard`'s drop stopped at the first key whose drop panicked,
    // leaving the keys after it locked forever.
    let locks = KeyedLocks::new();
    let guard = ready(poll_noop(&mut locks.lock_many([
        Key::new(21),
        Key::new(22),
        Key::drop_panics(23),
    ])));
    assert_eq!(ManyGuard::len(&guard), 3);
    planned_panic(|| drop(guard));
    assert_all_free(&locks, &[21, 22, 23]);
}

#[test]
fn many_guard_releases_every_key_when_several_key_drops_panic() {
    let locks = KeyedLocks::new();
    let guard = ready(poll_noop(&mut locks.lock_many([
        Key::drop_panics(1),
        Key::new(2),
        Key::drop_panics(3),
        Key::new(4),
    ])));
    planned_panic(|| drop(guard));
    assert_all_free(&locks, &[1, 2, 3, 4]);
}

#[test]
fn lock_many_future_drop_releases_every_held_key_when_a_key_drop_panics() {
    // Bug: a dropped `lock_many` future released its held keys one by one
    // and stopped at the first key whose drop panicked.
    let locks = KeyedLocks::new();
    let blocker = locks.try_lock(Key::new(3)).unwrap();
    let mut future = locks.lock_many([Key::new(1), Key::drop_panics(2), Key::new(3)]);
    assert_pending(poll_noop(&mut future));
    assert!(locks.is_locked(&1) && locks.is_locked(&2));
    planned_panic(|| drop(future));
    drop(blocker);
    assert_all_free(&locks, &[1, 2, 3]);
}

#[test]
fn lock_many_future_drop_releases_held_keys_when_the_awaited_key_drop_panics() {
    // The key being waited for is given up first; its last count drops a
    // key that panics, and the keys already held must still be released.
    for fifo in [false, true] {
        let locks = if fifo {
            KeyedLocks::new_fifo()
        } else {
            KeyedLocks::new()
        };
        let probe = Probe::new();
        let blocker = locks.try_lock(Key::drop_panics(3)).unwrap();
        let mut future = locks.lock_many([Key::new(1), Key::new(2), Key::new(3)]);
        assert_pending(probe.poll(&mut future));
        // The holder leaves; the stored key (the holder's) now belongs to
        // the waiter's count alone.
        drop(blocker);
        planned_panic(|| drop(future));
        assert_all_free(&locks, &[1, 2, 3]);
    }
}

#[test]
fn a_key_guard_whose_key_drop_panics_releases_the_key() {
    let locks = KeyedLocks::new_fifo();
    let probe = Probe::new();
    let guard = locks.try_lock(Key::drop_panics(5)).unwrap();
    let mut waiter = locks.lock(Key::new(5));
    assert_pending(probe.poll(&mut waiter));
    drop(guard); // the waiter's count keeps the node: nothing is dropped yet
    let second = ready(probe.poll(&mut waiter));
    drop(waiter);
    // The last count drops the first key, which panics.
    planned_panic(|| drop(second));
    assert_all_free(&locks, &[5]);
}

#[test]
fn a_panicking_hash_takes_no_count() {
    let locks = KeyedLocks::new();
    planned_panic(|| locks.try_lock(Key::hash_panics(1)));
    planned_panic(|| poll_noop(&mut locks.lock(Key::hash_panics(1))));
    planned_panic(|| locks.lock_blocking(Key::hash_panics(1)));
    planned_panic(|| poll_noop(&mut locks.lock_many([Key::new(0), Key::hash_panics(1)])));
    assert_all_free(&locks, &[0, 1]);
}

#[test]
fn a_panicking_eq_inside_the_table_lookup_leaves_the_shard_usable() {
    // `Eq` runs while the shard's lock is held: the panic must release it
    // and leave the table unchanged.
    for fifo in [false, true] {
        let locks = KeyedLocks::with_hasher(Collide::default());
        let locks = if fifo { locks.fifo() } else { locks };
        let held = locks.try_lock(Key::new(1)).unwrap();
        planned_panic(|| locks.try_lock(Key::eq_panics(2)));
        planned_panic(|| locks.try_lock(Key::eq_panics(1)));
        planned_panic(|| poll_noop(&mut locks.lock(Key::eq_panics(1))));
        assert_eq!(locks.len(), 1);
        // Other threads still get the shard's lock.
        thread::scope(|s| {
            s.spawn(|| drop(locks.try_lock(Key::new(3)).unwrap()));
        });
        drop(held);
        assert_all_free(&locks, &[1, 2, 3]);
    }
}

/// A hasher whose `write` panics on purpose for one value.
#[derive(Default)]
struct Picky(u64);

impl Hasher for Picky {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if bytes == 13u32.to_ne_bytes() && !thread::panicking() {
            panic!("planned: the hasher refuses 13");
        }
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[test]
fn a_panicking_hasher_takes_no_count() {
    let locks = KeyedLocks::with_hasher(BuildHasherDefault::<Picky>::default());
    let held = locks.try_lock(Key::new(12)).unwrap();
    planned_panic(|| locks.try_lock(Key::new(13)));
    planned_panic(|| locks.is_locked(&13));
    planned_panic(|| poll_noop(&mut locks.lock_many([Key::new(11), Key::new(13)])));
    drop(held);
    assert_eq!(locks.len(), 0);
    drop(locks.try_lock(Key::new(12)).unwrap());
    assert_eq!(locks.len(), 0);
}

#[test]
fn dropping_the_map_drops_every_leaked_key_when_one_key_drop_panics() {
    // Keys of leaked (`mem::forget`) guards are dropped with the map; one
    // that panics must not keep the others from being dropped.
    let drops = Arc::new(AtomicUsize::new(0));
    let locks = KeyedLocks::with_hasher(Collide::default());
    for id in 0..5 {
        core::mem::forget(
            locks
                .try_lock(Key::drop_panics(id).counted(&drops))
                .unwrap(),
        );
    }
    let other = KeyedLocks::new();
    for id in 0..40 {
        core::mem::forget(
            other
                .try_lock(Key::drop_panics(id).counted(&drops))
                .unwrap(),
        );
    }
    planned_panic(|| drop(locks));
    assert_eq!(
        drops.load(SeqCst),
        5,
        "some keys of the first map were not dropped"
    );
    planned_panic(|| drop(other));
    assert_eq!(
        drops.load(SeqCst),
        45,
        "some keys of the second map were not dropped"
    );
}
