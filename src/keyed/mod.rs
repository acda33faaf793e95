//! [`KeyedLocks`]: one lock per key, created on demand, gone when unused;
//! and [`KeyedRwLocks`], a reader-writer lock per key, on the same map.
//!
//! # Shape
//!
//! Every key with a holder or a waiter has a *node* on the heap: its lock
//! (a [`RawLock`](crate::raw::RawLock) for `KeyedLocks`, a
//! [`RawRwLock`](crate::raw::RawRwLock) for `KeyedRwLocks`), its key and its
//! hash. Everything below is generic over the node's lock
//! ([`map::NodeLock`]): the map, the acquisition and its futures
//! (`acquire.rs`), the guards (the macro of `guard.rs`) and the many-key form
//! (`many.rs`); `locks.rs` and `rw.rs` add each map's public methods. The map
//! ([`map::Map`]) is split into shards by hash; each shard is a short
//! critical section ([`ShardMutex`](crate::sync::ShardMutex)) around a hash
//! table of key entries, `(node pointer, count)`, plus a small pool of free
//! nodes.
//! The count is the number of holders and waiters of the node, and it only
//! changes while the shard lock is held.
//!
//! Locking a key takes the shard lock, finds or creates the node, adds one to
//! its count and drops the shard lock; it then acquires the node's `RawLock`
//! exactly as [`Lock`](crate::Lock) does, with the same waiter state machine,
//! so both policies, cancellation and timeouts behave identically. Every path
//! that stops needing the node — a guard's drop (after unlocking), a dropped
//! future (after abandoning its wait, and unlocking if the lock had been
//! handed to it), a timed-out waiter, a failed `try_lock` — takes the shard
//! lock and subtracts one. The subtraction that reaches 0 removes the node
//! from the table and returns it to the pool. Because the count changes only
//! under the shard lock, a concurrent `lock` of the same key either finds the
//! node before that (and keeps it alive) or creates a new one after; there is
//! no window in which an entry without users survives or an entry with users
//! disappears, and no sweeping.
//!
//! The release path never hashes or compares keys: it finds its entry by
//! the hash stored in the node and the node's address.
//!
//! # Why a counted pointer is valid
//!
//! A node is a `Box<Node<K>>` that is either *pooled* (owned by its shard's
//! pool, key uninitialized) or *in the table* (leaked into a [`NodePtr`](map::NodePtr),
//! key initialized, count at least 1). It moves between the two only under
//! the shard lock: into the table when a `lock` finds no node, out of it
//! when the count drops to 0, and then `Box::from_raw` takes ownership back.
//! So:
//!
//! 1. Whoever holds a count (every guard, every started future, every
//!    blocking call in progress) may use the node: it stays in the table at
//!    least until that count is given back, which is the holder's last use of
//!    the pointer. The key and the hash do not change while it is there.
//! 2. Whoever holds the shard lock may use the nodes in that shard's table.
//! 3. The map outlives every count: guards and futures borrow the map or
//!    own an `Arc` of it. Dropping the map frees all nodes; any still in a
//!    table belong to leaked (`mem::forget`) guards or futures, which can no
//!    longer be used.
//!
//! When the count reaches 0 nobody holds or waits for the node's lock, and
//! each former user finished its `RawLock` calls before giving its count back
//! under the shard lock, so a node returns to the pool free and without
//! waiters; its `Event`s keep their allocations for the next key. That is
//! why steady-state locking allocates nothing.
//!
//! # Memory
//!
//! The shards live inside the map (no allocation until a key arrives, and a
//! `const` constructor). Each pool keeps at most a few nodes, and a table
//! that a draining burst leaves mostly empty shrinks (amortised, never below
//! a small floor), so after any burst the map keeps a bounded amount of
//! memory: about 50 KiB on 64-bit targets (release builds; nodes are
//! larger in debug builds).
//!
//! # Panics in user code
//!
//! A key's `Hash`, `Eq` and `Drop` and the hasher may panic. `Hash` runs
//! before any count is taken; `Eq` runs under the shard lock but only reads
//! the table (the lock is released as the panic unwinds); a key is dropped
//! only outside the shard lock, after the table is consistent, and a count
//! taken just before a spare key's drop is given back if that drop panics.
//! Code that releases several keys (a [`ManyGuard`], a dropped
//! [`LockManyFuture`], the map's own drop) keeps releasing after one key's
//! drop panics, then lets the panic go on, as dropping a `Vec` does.

mod acquire;
mod guard;
mod hash;
mod locks;
mod many;
mod map;
mod rw;

pub use self::hash::{DefaultHashBuilder, KeyHasher};
pub use self::locks::KeyGuard;
#[cfg(feature = "async-io")]
pub use self::locks::KeyLockTimeout;
pub use self::locks::KeyedLocks;
#[cfg(target_has_atomic = "ptr")]
pub use self::locks::OwnedKeyGuard;
#[cfg(target_has_atomic = "ptr")]
pub use self::locks::OwnedKeyLockFuture;
pub use self::locks::{KeyLockFuture, KeyLockUntil};
pub use self::many::{LockManyFuture, ManyGuard};
pub use self::rw::{
    KeyReadFuture, KeyReadGuard, KeyReadUntil, KeyWriteFuture, KeyWriteGuard, KeyWriteUntil,
    KeyedRwLocks, RwManyFuture, RwManyGuard,
};
#[cfg(feature = "async-io")]
pub use self::rw::{KeyReadTimeout, KeyWriteTimeout};
#[cfg(target_has_atomic = "ptr")]
pub use self::rw::{
    OwnedKeyReadFuture, OwnedKeyReadGuard, OwnedKeyWriteFuture, OwnedKeyWriteGuard,
};

/// Compile-time checks of the auto traits promised in the docs.
#[allow(dead_code, reason = "only type-checked")]
pub(crate) fn _assert_auto_traits() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn unpin<T: Unpin>() {}
    type NotUnpin = core::marker::PhantomPinned;
    send::<KeyedLocks<u8>>();
    sync::<KeyedLocks<u8>>();
    send::<KeyGuard<'_, u8>>();
    sync::<KeyGuard<'_, u8>>();
    send::<ManyGuard<'_, u8>>();
    sync::<ManyGuard<'_, u8>>();
    send::<KeyLockFuture<'_, u8>>();
    sync::<KeyLockFuture<'_, u8>>();
    unpin::<KeyLockFuture<'_, NotUnpin>>();
    send::<KeyLockUntil<'_, u8, core::future::Ready<()>>>();
    unpin::<KeyLockUntil<'_, NotUnpin, core::future::Ready<()>>>();
    send::<LockManyFuture<'_, u8>>();
    unpin::<LockManyFuture<'_, NotUnpin>>();
    send::<KeyedRwLocks<u8>>();
    sync::<KeyedRwLocks<u8>>();
    send::<KeyReadGuard<'_, u8>>();
    sync::<KeyWriteGuard<'_, u8>>();
    send::<RwManyGuard<'_, u8>>();
    send::<KeyReadFuture<'_, u8>>();
    unpin::<KeyWriteFuture<'_, NotUnpin>>();
    unpin::<KeyReadUntil<'_, NotUnpin, core::future::Ready<()>>>();
    send::<RwManyFuture<'_, u8>>();
    unpin::<RwManyFuture<'_, NotUnpin>>();
    #[cfg(target_has_atomic = "ptr")]
    {
        send::<OwnedKeyGuard<u8>>();
        sync::<OwnedKeyGuard<u8>>();
        send::<OwnedKeyLockFuture<u8>>();
        unpin::<OwnedKeyLockFuture<NotUnpin>>();
        send::<OwnedKeyReadGuard<i64>>();
        send::<OwnedKeyWriteGuard<i64>>();
        send::<OwnedKeyReadFuture<i64>>();
        unpin::<OwnedKeyWriteFuture<NotUnpin>>();
    }
}
