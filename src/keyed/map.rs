//! The sharded table of per-key nodes, and the pool of free nodes.
//!
//! See the parent module's docs for the life of a node and why a counted
//! [`NodePtr`] is always valid.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ptr::NonNull;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::raw::{Policy, Protocol, RawLock, RawRwLock};
use crate::sync::ShardMutex;

/// Declares what the two public maps, [`KeyedLocks`](super::KeyedLocks)
/// and [`KeyedRwLocks`](super::KeyedRwLocks), share over their `map` (of
/// `$lock`s) and `hasher` fields: the constructors, `fifo`, `is_fifo`,
/// `len`, `is_empty`, `hasher`, `count_in` (for the holders of
/// `acquire.rs`), `Default` and `Debug`, with their docs.
///
/// `like $like` names the single lock whose policies the keys get (for the
/// docs' links); `taken by $take` is the map's non-blocking exclusive
/// acquisition, which the docs' examples use.
macro_rules! keyed_map {
    ($map:ident of $lock:ty, like $like:ident, taken by $take:ident) => {
        impl<K> $map<K, $crate::keyed::DefaultHashBuilder> {
            #[doc = concat!(
                "An empty map whose keys get the throughput policy of [`", stringify!($like),
                "::new`](crate::", stringify!($like), "::new): fast, and starvation-free.",
            )]
            ///
            /// With `std`, keys are hashed with a randomly keyed hasher;
            /// without, with a fixed key (see
            /// [`DefaultHashBuilder`](crate::DefaultHashBuilder)).
            ///
            /// ```
            #[doc = concat!("let locks: turnlock::", stringify!($map), "<u64> = turnlock::", stringify!($map), "::new();")]
            /// assert!(locks.is_empty() && !locks.is_fifo());
            /// ```
            pub fn new() -> Self {
                Self::with_hasher($crate::keyed::DefaultHashBuilder::new())
            }

            #[doc = concat!(
                "An empty map whose keys get the strict FIFO policy of [`", stringify!($like),
                "::new_fifo`](crate::", stringify!($like), "::new_fifo): waiters of a key are \
                 served in order of arrival.",
            )]
            ///
            /// ```
            #[doc = concat!("let locks: turnlock::", stringify!($map), "<String> = turnlock::", stringify!($map), "::new_fifo();")]
            /// assert!(locks.is_fifo());
            /// ```
            pub fn new_fifo() -> Self {
                Self::new().fifo()
            }
        }

        impl<K, S> $map<K, S> {
            $crate::sync::loom_const_fn! {
                /// An empty map that hashes keys with `hasher`, with the
                /// throughput policy. Works without `std`, allocates nothing
                /// until a key is first used, and is `const`: a map can be a
                /// `static`.
                ///
                /// ```
                /// use std::hash::BuildHasherDefault;
                /// use std::collections::hash_map::DefaultHasher;
                ///
                /// // A fixed-seed hasher, for keys that no attacker chooses.
                #[doc = concat!("let locks = turnlock::", stringify!($map), "::with_hasher(BuildHasherDefault::<DefaultHasher>::default());")]
                #[doc = concat!("let _guard = locks.", stringify!($take), "(3).unwrap();")]
                /// assert!(locks.is_locked(&3));
                /// ```
                ///
                /// In a `static`, as on a `no_std` target, with a hasher that
                /// can be built in a `const` context (here a small FNV-1a):
                ///
                /// ```
                /// use core::hash::{BuildHasherDefault, Hasher};
                ///
                /// struct Fnv(u64);
                ///
                /// impl Default for Fnv {
                ///     fn default() -> Self {
                ///         Fnv(0xcbf2_9ce4_8422_2325)
                ///     }
                /// }
                ///
                /// impl Hasher for Fnv {
                ///     fn finish(&self) -> u64 {
                ///         self.0
                ///     }
                ///
                ///     fn write(&mut self, bytes: &[u8]) {
                ///         for &byte in bytes {
                ///             self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                ///         }
                ///     }
                /// }
                ///
                #[doc = concat!("static SENSORS: turnlock::", stringify!($map), "<u8, BuildHasherDefault<Fnv>> =")]
                #[doc = concat!("    turnlock::", stringify!($map), "::with_hasher(BuildHasherDefault::new()).fifo();")]
                ///
                #[doc = concat!("let reading = SENSORS.", stringify!($take), "(3).unwrap();")]
                /// assert!(SENSORS.is_locked(&3) && SENSORS.is_fifo());
                /// drop(reading);
                /// assert!(SENSORS.is_empty());
                /// ```
                pub const fn with_hasher(hasher: S) -> Self {
                    Self {
                        map: $crate::keyed::map::Map::new($crate::raw::Policy::Throughput),
                        hasher,
                    }
                }
            }

            /// Switches every key's lock to the strict FIFO policy (builder
            /// style; `const`, so it works in a `static`, see
            #[doc = concat!("[`with_hasher`](", stringify!($map), "::with_hasher)).")]
            ///
            /// Meant right after construction: keys that are held or waited
            /// for at this point cannot exist (a guard borrows the map),
            /// except those of leaked guards, which keep their policy.
            ///
            /// ```
            /// use std::hash::RandomState;
            ///
            #[doc = concat!("let locks = turnlock::", stringify!($map), "::<u32, _>::with_hasher(RandomState::new()).fifo();")]
            /// assert!(locks.is_fifo());
            /// ```
            #[must_use = "`fifo` returns the changed map"]
            pub const fn fifo(mut self) -> Self {
                self.map.set_policy($crate::raw::Policy::Fifo);
                self
            }

            /// `true` if every key's lock is strict FIFO.
            ///
            /// ```
            #[doc = concat!("assert!(turnlock::", stringify!($map), "::<u8>::new_fifo().is_fifo());")]
            /// ```
            #[inline]
            pub fn is_fifo(&self) -> bool {
                self.map.is_fifo()
            }

            /// The number of keys that have a holder or a waiter right now.
            ///
            /// A snapshot, counted shard by shard: exact when nothing is
            /// being locked or released meanwhile. 0 once every guard is
            /// dropped and every waiter has finished, given up or been
            /// dropped.
            ///
            /// ```
            #[doc = concat!("let locks = turnlock::", stringify!($map), "::new();")]
            #[doc = concat!("let a = locks.", stringify!($take), "(\"a\").unwrap();")]
            #[doc = concat!("let b = locks.", stringify!($take), "(\"b\").unwrap();")]
            /// assert_eq!(locks.len(), 2);
            /// drop((a, b));
            /// assert_eq!(locks.len(), 0);
            /// ```
            pub fn len(&self) -> usize {
                self.map.len()
            }

            /// `true` if no key has a holder or a waiter (a snapshot, like
            #[doc = concat!("[`len`](", stringify!($map), "::len)).")]
            ///
            /// ```
            #[doc = concat!("let locks = turnlock::", stringify!($map), "::new();")]
            /// assert!(locks.is_empty());
            #[doc = concat!("let guard = locks.", stringify!($take), "(1).unwrap();")]
            /// assert!(!locks.is_empty());
            /// drop(guard);
            /// assert!(locks.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The map's hasher.
            ///
            /// ```
            /// use std::hash::RandomState;
            ///
            #[doc = concat!("let locks = turnlock::", stringify!($map), "::<u8, _>::with_hasher(RandomState::new());")]
            /// let _hasher: &RandomState = locks.hasher();
            /// ```
            #[inline]
            pub fn hasher(&self) -> &S {
                &self.hasher
            }
        }

        impl<K: Eq + core::hash::Hash, S: core::hash::BuildHasher> $map<K, S> {
            /// Counts in on `key`'s node (see the docs of the `keyed` module).
            #[inline]
            pub(in crate::keyed) fn count_in(&self, key: K) -> $crate::keyed::map::NodePtr<K, $lock> {
                let hash = core::hash::BuildHasher::hash_one(&self.hasher, &key);
                self.map.acquire(key, hash)
            }
        }

        impl<K, S: Default> Default for $map<K, S> {
            /// An empty map with the throughput policy and `S::default()`.
            fn default() -> Self {
                Self::with_hasher(S::default())
            }
        }

        impl<K, S> core::fmt::Debug for $map<K, S> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($map))
                    .field("len", &self.len())
                    .field("fifo", &self.is_fifo())
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(super) use keyed_map;

/// The lock inside a node: [`RawLock`] for `KeyedLocks`, [`RawRwLock`] for
/// `KeyedRwLocks`. The map needs only these snapshots and a constructor;
/// the acquisitions go through [`Protocol`].
pub(crate) trait NodeLock: Protocol + Sync {
    /// A free lock with the given policy.
    fn with_policy(policy: Policy) -> Self;
    /// `true` for the strict FIFO policy.
    fn is_fifo(&self) -> bool;
    /// Nobody holds or waits for it (a snapshot).
    fn is_idle(&self) -> bool;
    /// Somebody holds it (a snapshot).
    fn is_locked(&self) -> bool;
}

impl NodeLock for RawLock {
    #[inline]
    fn with_policy(policy: Policy) -> Self {
        RawLock::new(policy)
    }

    #[inline]
    fn is_fifo(&self) -> bool {
        RawLock::is_fifo(self)
    }

    #[inline]
    fn is_idle(&self) -> bool {
        RawLock::is_idle(self)
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawLock::is_locked(self)
    }
}

impl NodeLock for RawRwLock {
    #[inline]
    fn with_policy(policy: Policy) -> Self {
        RawRwLock::new(policy)
    }

    #[inline]
    fn is_fifo(&self) -> bool {
        RawRwLock::is_fifo(self)
    }

    #[inline]
    fn is_idle(&self) -> bool {
        RawRwLock::is_idle(self)
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }
}

/// Number of shards: a power of two. Under loom, two keep the models small
/// while still covering keys in different shards.
const SHARDS: usize = if cfg!(loom) {
    2
} else if usize::BITS >= 64 {
    64
} else {
    8
};
/// `log2(SHARDS)`.
const SHARD_BITS: u32 = SHARDS.trailing_zeros();
/// Free nodes kept per shard. More are freed back to the allocator, so a
/// burst of distinct keys does not stay allocated forever. A shard whose
/// number of keys moves between 0 and this allocates nothing.
const POOL: usize = 8;
/// A shard's table never shrinks below room for this many keys (at least
/// [`POOL`]), so that steady-state locking never reallocates it. hashbrown
/// sizes tables in powers of two with a load of 7/8: 14 keys fit in
/// [`KEPT_BUCKETS`] buckets, under 300 bytes per shard on 64-bit targets.
const KEPT_CAPACITY: usize = 14;
/// The buckets of a table with room for [`KEPT_CAPACITY`] keys.
const KEPT_BUCKETS: usize = 16;

/// The lock of one key, allocated on the heap and addressed by [`NodePtr`].
pub(super) struct Node<K, L = RawLock> {
    /// The key's lock. Free and without waiters whenever the node is pooled.
    pub(super) raw: L,
    /// The key's hash, as computed by the map's hasher. Written only while
    /// the node is pooled (owned by its shard).
    hash: u64,
    /// Initialized exactly while the node is in its shard's table.
    key: MaybeUninit<K>,
}

impl<K, L> Node<K, L> {
    /// The key of a node in the table.
    ///
    /// Every `&Node` that leaves this module comes from [`NodePtr::get`] on
    /// a node in the table, whose key is initialized.
    #[inline]
    pub(super) fn key(&self) -> &K {
        // SAFETY: see above: only nodes in the table are reachable through a
        // shared reference outside this module, and their keys are
        // initialized (a pooled node is owned by its shard, as a `Box`).
        unsafe { self.key.assume_init_ref() }
    }
}

/// A pointer to a node in the table.
///
/// Copying it is free; *using* it is what needs a reason (see
/// [`NodePtr::get`]). Whoever took a count with [`Map::acquire`] holds the
/// pointer until it gives the count back with [`Map::release`].
pub(super) struct NodePtr<K, L = RawLock>(NonNull<Node<K, L>>);

// SAFETY: a `NodePtr` is a shared reference to a node in all but name: other
// threads reach the node's lock (`L: Sync`) and its key through it (`&K` on
// several threads: `K: Sync`), and the last count released on any thread
// moves the key out and drops it (`K: Send`).
unsafe impl<K: Send + Sync, L: Sync> Send for NodePtr<K, L> {}
// SAFETY: as above; `&NodePtr` gives no more than `NodePtr` does.
unsafe impl<K: Send + Sync, L: Sync> Sync for NodePtr<K, L> {}

impl<K, L> Clone for NodePtr<K, L> {
    #[inline]
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, L> Copy for NodePtr<K, L> {}

impl<K, L> PartialEq for NodePtr<K, L> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K, L> NodePtr<K, L> {
    /// The node.
    ///
    /// # Safety
    ///
    /// The node is in its shard's table for as long as the reference is used:
    /// the caller holds a count on it (see [`Map::acquire`]), or holds the
    /// shard's lock and found the pointer in the table.
    #[inline]
    pub(super) unsafe fn get(&self) -> &Node<K, L> {
        // SAFETY: the caller guarantees that the node is in the table, and a
        // node in the table is a live allocation that only its shard frees,
        // after removing it from the table.
        unsafe { self.0.as_ref() }
    }
}

/// A key's entry in its shard's table: its node and its count of holders
/// and waiters.
struct KeyEntry<K, L> {
    node: NodePtr<K, L>,
    /// Counts handed out by `acquire` and not yet given back. Never 0 while
    /// the entry is in the table.
    refs: usize,
}

/// One shard: the nodes of the keys that hash here, and spare nodes.
struct Shard<K, L> {
    table: HashTable<KeyEntry<K, L>>,
    /// Free nodes, each free and without waiters, its key uninitialized. At
    /// most [`POOL`]; a node of the other policy (left from before
    /// [`Map::set_policy`]) is freed instead of reused.
    pool: Vec<Box<Node<K, L>>>,
}

impl<K, L> Shard<K, L> {
    crate::sync::loom_const_fn! {
        /// An empty shard; allocates nothing.
        const fn new() -> Self {
            Self {
                table: HashTable::new(),
                pool: Vec::new(),
            }
        }
    }

    /// Gives memory back after most of the table's keys have left: shrinks
    /// it to twice its length once at most about an eighth of its capacity
    /// is in use, never below [`KEPT_CAPACITY`].
    ///
    /// Called when a node leaves the table and the pool is full, that is
    /// while keys leave faster than new ones arrive (a burst draining). A
    /// shrink rehashes the few keys left (at most a ninth of the buckets),
    /// and at least half as many removals come between it and the table's
    /// previous resize, so the cost per removal is amortised O(1). A table
    /// at its floor never shrinks.
    #[inline]
    fn shrink_if_sparse(&mut self) {
        let buckets = self.buckets();
        if buckets > KEPT_BUCKETS && self.table.len() <= buckets / 9 {
            self.shrink();
        }
    }

    /// The number of buckets the table has allocated (0 if none).
    ///
    /// `capacity()` will not do: it is the length plus the room left before
    /// the next rehash, and the tombstones that removals may leave use up
    /// that room, so a large table can report a small capacity. hashbrown
    /// allocates a power of two of buckets, an entry and a control byte each,
    /// plus one group of control bytes (at most 16, fewer than the bytes of
    /// any 2 buckets): the power of two at or below `size / bytes per
    /// bucket` is the count.
    fn buckets(&self) -> usize {
        let estimate = self.table.allocation_size() / (mem::size_of::<KeyEntry<K, L>>() + 1);
        match estimate.checked_ilog2() {
            Some(log) => 1 << log,
            None => 0,
        }
    }

    #[cold]
    #[inline(never)]
    fn shrink(&mut self) {
        let target = (self.table.len() * 2).max(KEPT_CAPACITY);
        // SAFETY: we hold the shard (`&mut self` comes from its lock) and
        // every entry is in the table; rehashing reads the stored hash.
        self.table
            .shrink_to(target, |entry| unsafe { entry.node.get() }.hash);
    }
}

/// Pads a shard to its own cache line(s), so that shards locked by
/// different cores do not share one.
#[cfg_attr(
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    ),
    repr(align(128))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )),
    repr(align(64))
)]
struct Padded<T>(T);

/// The nodes of all keys with a holder or a waiter.
///
/// The shards are inline, so that an empty map allocates nothing and can be
/// built in a `const` context (a `static`); their tables allocate when keys
/// first arrive. Each shard fills its own cache line(s): 8 KiB in all with
/// 64 shards of 128 bytes (64-bit targets), 512 bytes with 8 shards of 64
/// bytes (32-bit targets).
pub(super) struct Map<K, L = RawLock> {
    shards: [Padded<ShardMutex<Shard<K, L>>>; SHARDS],
    /// The policy of every node this map creates.
    policy: Policy,
    /// The map owns keys (inside its nodes) and drops them.
    _keys: PhantomData<(K, L)>,
}

impl<K, L: NodeLock> Map<K, L> {
    /// An empty map whose nodes have the given policy. Allocates nothing.
    #[cfg(not(loom))]
    pub(super) const fn new(policy: Policy) -> Self {
        Self {
            shards: [const { Padded(ShardMutex::new(Shard::new())) }; SHARDS],
            policy,
            _keys: PhantomData,
        }
    }

    /// An empty map whose nodes have the given policy (loom's mutex has no
    /// `const` constructor).
    #[cfg(loom)]
    pub(super) fn new(policy: Policy) -> Self {
        Self {
            shards: core::array::from_fn(|_| Padded(ShardMutex::new(Shard::new()))),
            policy,
            _keys: PhantomData,
        }
    }

    /// `true` if new nodes get a FIFO lock.
    #[inline]
    pub(super) fn is_fifo(&self) -> bool {
        matches!(self.policy, Policy::Fifo)
    }

    /// Switches the policy of nodes created from now on. Pooled nodes of
    /// the old policy are freed when they come out of the pool.
    #[inline]
    pub(super) const fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// The shard of `hash`. Fibonacci hashing picks the shard from all bits
    /// of the hash, so it does not correlate with the bits the table uses
    /// inside the shard (the low bits for the bucket, the top seven for the
    /// tag), and hashers that fill only the low 32 bits still spread.
    #[inline]
    fn shard(&self, hash: u64) -> &ShardMutex<Shard<K, L>> {
        let index = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (u64::BITS - SHARD_BITS);
        // `index < SHARDS`, so the cast is lossless.
        &self.shards[index as usize].0
    }

    /// Takes a count on the node of `key`, creating it (from the pool if
    /// possible) if the key has none. The node stays in the table until the
    /// count is given back to [`Map::release`].
    pub(super) fn acquire(&self, key: K, hash: u64) -> NodePtr<K, L>
    where
        K: Eq,
    {
        let (node, spare) = {
            let mut shard = self.shard(hash).lock();
            let Shard { table, pool } = &mut *shard;
            let place = table.entry(
                hash,
                |entry| {
                    // SAFETY: we hold the shard lock and `entry` is in the table.
                    let node = unsafe { entry.node.get() };
                    node.hash == hash && *node.key() == key
                },
                // SAFETY: as above; the table rehashes only its own entries.
                |entry| unsafe { entry.node.get() }.hash,
            );
            match place {
                Entry::Occupied(mut occupied) => {
                    let entry = occupied.get_mut();
                    entry.refs += 1;
                    // The key is a duplicate: drop it after the section.
                    (entry.node, Some(key))
                }
                Entry::Vacant(vacant) => {
                    let node = match pool.pop() {
                        Some(mut node) if node.raw.is_fifo() == self.is_fifo() => {
                            debug_assert!(node.raw.is_idle(), "pooled node not idle");
                            node.hash = hash;
                            node.key.write(key);
                            node
                        }
                        // A node of the old policy (see `set_policy`) is freed
                        // here: rare, and only after a policy switch.
                        _ => Box::new(Node {
                            raw: L::with_policy(self.policy),
                            hash,
                            key: MaybeUninit::new(key),
                        }),
                    };
                    let node = NodePtr(NonNull::from(Box::leak(node)));
                    vacant.insert(KeyEntry { node, refs: 1 });
                    (node, None)
                }
            }
        };
        if let Some(spare) = spare {
            // The key's `Drop` is user code and may panic: then the count
            // we just took is given back as the panic unwinds.
            let count = Count { map: self, node };
            drop(spare);
            core::mem::forget(count);
        }
        node
    }

    /// Gives back a count taken by [`Map::acquire`]. The last count removes
    /// the node from the table and returns it to the pool.
    ///
    /// # Safety
    ///
    /// The caller holds a count on `node`, gives it up here and does not use
    /// `node` afterwards. If it owned the node's lock, it released it first;
    /// if it waited for the lock, it abandoned the wait first.
    pub(super) unsafe fn release(&self, node: NodePtr<K, L>) {
        // SAFETY: the caller's count keeps the node in the table, and `hash`
        // does not change while it is there.
        let hash = unsafe { node.get() }.hash;
        let (key, spare) = {
            let mut shard = self.shard(hash).lock();
            let Ok(mut place) = shard.table.find_entry(hash, |entry| entry.node == node) else {
                unreachable!("a counted node is in its shard's table");
            };
            let entry = place.get_mut();
            debug_assert!(entry.refs > 0);
            entry.refs -= 1;
            if entry.refs > 0 {
                return;
            }
            place.remove();
            // SAFETY: the node came from `Box::leak` in `acquire` and has just
            // left the table with no counts: nobody else can reach it, so the
            // shard owns it again.
            let node = unsafe { Box::from_raw(node.0.as_ptr()) };
            debug_assert!(node.raw.is_idle(), "last user left the lock busy");
            // SAFETY: the node was in the table, so its key is initialized;
            // it is moved out once, and the node never reads it again before
            // `acquire` writes a new one.
            let key = unsafe { node.key.assume_init_read() };
            if shard.pool.len() < POOL {
                shard.pool.push(node);
                (key, None)
            } else {
                // Keys are leaving faster than new ones arrive: the moment
                // to see whether the table has become sparse. (Steady-state
                // locking takes nodes from the pool and puts them back, so
                // it never comes here.)
                shard.shrink_if_sparse();
                (key, Some(node))
            }
        };
        // User code (the key's `Drop`) and deallocation run outside the
        // section (except a shrink's, which is rare).
        drop(key);
        drop(spare);
    }

    /// `look` at the lock of the key that `eq` matches, under the shard
    /// lock; `None` if the key has no node.
    pub(super) fn inspect<R>(
        &self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        look: impl FnOnce(&L) -> R,
    ) -> Option<R> {
        let shard = self.shard(hash).lock();
        shard
            .table
            .find(hash, |entry| {
                // SAFETY: we hold the shard lock and `entry` is in the table.
                let node = unsafe { entry.node.get() };
                node.hash == hash && eq(node.key())
            })
            // SAFETY: as above, and the lock is still held.
            .map(|entry| look(&unsafe { entry.node.get() }.raw))
    }

    /// The number of nodes in the table (a snapshot: shards are counted one
    /// after another).
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.0.lock().table.len())
            .sum()
    }
}

impl<K, L> Drop for Map<K, L> {
    fn drop(&mut self) {
        // Only nodes of leaked guards or futures (`mem::forget`) can still be
        // in a table: everything else that counts a node borrows or owns the
        // map, so it is gone by now. Their keys are dropped here, all of
        // them even if one's `Drop` panics.
        for_each_despite_panics(self.shards.iter(), |shard| {
            let table = core::mem::take(&mut shard.0.lock().table);
            for_each_despite_panics(table.into_iter(), |entry| {
                // SAFETY: the node came from `Box::leak` and nobody can use
                // it any more (see above); it has left the table.
                let mut node = unsafe { Box::from_raw(entry.node.0.as_ptr()) };
                // SAFETY: it was in the table, so its key is initialized; the
                // node is freed right after, unread.
                unsafe { node.key.assume_init_drop() };
            });
        });
    }
}

/// A count on a node, given back when dropped: the clean-up of a count
/// whose holder panics before it can pass the count on.
struct Count<'a, K, L: NodeLock> {
    map: &'a Map<K, L>,
    /// Counted, and nobody waits for or owns its lock through this count.
    node: NodePtr<K, L>,
}

impl<K, L: NodeLock> Drop for Count<'_, K, L> {
    fn drop(&mut self) {
        // SAFETY: the count is ours; we never waited and own no lock.
        unsafe { self.map.release(self.node) };
    }
}

/// Calls `f` on every item of `items`, also after a call panics.
///
/// After a panic, the remaining items are still passed to `f` while the
/// panic unwinds, and the panic then goes on; a second panic aborts, as it
/// does when a `Vec` drops its elements. User code (a key's `Drop`) that
/// panics while several things are released so releases the rest.
pub(super) fn for_each_despite_panics<I: Iterator>(items: I, f: impl FnMut(I::Item)) {
    /// The items not yet processed, and what to do with them.
    struct Rest<I: Iterator, F: FnMut(I::Item)> {
        items: I,
        f: F,
    }

    impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
        fn drop(&mut self) {
            // Empty unless a call below panicked.
            for item in &mut self.items {
                (self.f)(item);
            }
        }
    }

    let mut rest = Rest { items, f };
    for item in rest.items.by_ref() {
        (rest.f)(item);
    }
}
