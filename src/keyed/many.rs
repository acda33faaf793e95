//! [`KeyedLocks::lock_many`]: several keys at once, without deadlocks.

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use super::acquire::Acquire;
use super::hash::DefaultHashBuilder;
use super::locks::KeyedLocks;
use super::map::{Map, NodeLock, NodePtr, for_each_despite_panics};
use crate::raw::RawLock;

/// One key of a many-key acquisition, with the mode it is taken in.
pub(super) enum ManyKey<K, L: NodeLock> {
    /// Not reached yet.
    Key(K, L::Mode),
    /// Being acquired (the key moved into the in-progress [`Acquire`]), or
    /// released.
    Taking(L::Mode),
    /// Counted and locked in its mode.
    Held(NodePtr<K, L>, L::Mode),
}

impl<K, L: NodeLock> ManyKey<K, L> {
    /// A key that has not been reached.
    fn pending_key(&self) -> &K {
        match self {
            ManyKey::Key(key, _) => key,
            _ => unreachable!("keys are sorted before any is locked"),
        }
    }

    /// The key and mode of a held key.
    pub(super) fn held(&self) -> (&K, L::Mode) {
        match self {
            // SAFETY: a held key has a count on its node.
            ManyKey::Held(node, mode) => (unsafe { node.get() }.key(), *mode),
            _ => unreachable!("a guard holds all its keys"),
        }
    }
}

/// The acquisition of several keys in `Ord` order, for both maps: the keys
/// still to take, the ones held, and the one in progress.
pub(super) struct Many<K, L: NodeLock> {
    /// Sorted, without duplicates. `sorted[..next]` are held;
    /// `sorted[next]` is being taken once `acquire` has started.
    sorted: Vec<ManyKey<K, L>>,
    next: usize,
    acquire: Acquire<K, L>,
    done: bool,
}

impl<K: Ord, L: NodeLock> Many<K, L> {
    /// Collects and sorts the keys; a key named twice is taken once, in
    /// the mode `merge` picks from the two.
    pub(super) fn new(
        keys: impl IntoIterator<Item = (K, L::Mode)>,
        merge: impl Fn(L::Mode, L::Mode) -> L::Mode,
        first_mode: L::Mode,
    ) -> Self {
        let mut sorted: Vec<ManyKey<K, L>> = keys
            .into_iter()
            .map(|(key, mode)| ManyKey::Key(key, mode))
            .collect();
        sorted.sort_unstable_by(|a, b| a.pending_key().cmp(b.pending_key()));
        sorted.dedup_by(|later, earlier| {
            let (ManyKey::Key(later, later_mode), ManyKey::Key(earlier, earlier_mode)) =
                (later, earlier)
            else {
                unreachable!("keys are sorted before any is locked");
            };
            let same = later == earlier;
            if same {
                *earlier_mode = merge(*earlier_mode, *later_mode);
            }
            same
        });
        Self {
            sorted,
            next: 0,
            acquire: Acquire::new(first_mode),
            done: false,
        }
    }
}

impl<K, L: NodeLock> Many<K, L> {
    /// Takes the keys in order; `Ready` with all of them held (their
    /// keys move to the caller).
    pub(super) fn poll(
        &mut self,
        count_in: impl Fn(K) -> NodePtr<K, L>,
        cx: &mut Context<'_>,
    ) -> Poll<Vec<ManyKey<K, L>>> {
        assert!(!self.done, "lock_many future polled after completion");
        while let Some(item) = self.sorted.get_mut(self.next) {
            if let ManyKey::Key(..) = item {
                let ManyKey::Key(key, mode) =
                    core::mem::replace(item, ManyKey::Taking(mode_of(item)))
                else {
                    unreachable!("matched above");
                };
                self.acquire.start_in(count_in(key), mode);
            }
            let node = ready!(self.acquire.poll(cx));
            let ManyKey::Taking(mode) = self.sorted[self.next] else {
                unreachable!("the key in progress is being taken");
            };
            self.sorted[self.next] = ManyKey::Held(node, mode);
            self.next += 1;
        }
        self.done = true;
        self.next = 0;
        Poll::Ready(core::mem::take(&mut self.sorted))
    }

    /// `true` once the keys have been handed over.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(super) fn is_terminated(&self) -> bool {
        self.done
    }

    /// Gives up: gives up the key being waited for and releases the held
    /// ones (also if giving up panics: its last count drops a key).
    pub(super) fn cancel(&mut self, map: &Map<K, L>) {
        /// Releases the held keys when dropped.
        struct Held<'x, K, L: NodeLock> {
            map: &'x Map<K, L>,
            sorted: &'x mut [ManyKey<K, L>],
        }

        impl<K, L: NodeLock> Drop for Held<'_, K, L> {
            fn drop(&mut self) {
                release_held(self.map, self.sorted);
            }
        }

        let _held = Held {
            map,
            sorted: &mut self.sorted[..self.next],
        };
        self.acquire.cancel(map);
    }

    /// The number of keys to take.
    pub(super) fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The number of keys held so far.
    pub(super) fn held(&self) -> usize {
        self.next
    }
}

/// Releases the held keys, last first. A key whose `Drop` panics does not
/// keep the others locked: they are released while the panic unwinds.
pub(super) fn release_held<K, L: NodeLock>(map: &Map<K, L>, sorted: &mut [ManyKey<K, L>]) {
    for_each_despite_panics(sorted.iter_mut().rev(), |item| {
        if let ManyKey::Held(node, mode) = *item {
            *item = ManyKey::Taking(mode);
            // SAFETY: a held key owns the node's lock in `mode` and a
            // count; this is their only release (the item is no longer
            // `Held`): first the lock, then the count.
            unsafe {
                node.get().raw.release(mode);
                map.release(node);
            }
        }
    });
}

/// The mode a key is taken in.
fn mode_of<K, L: NodeLock>(item: &ManyKey<K, L>) -> L::Mode {
    match *item {
        ManyKey::Key(_, mode) | ManyKey::Taking(mode) | ManyKey::Held(_, mode) => mode,
    }
}

impl<K: Ord + Hash, S: BuildHasher> KeyedLocks<K, S> {
    /// Locks all `keys` and holds them together in one [`ManyGuard`].
    ///
    /// The keys are sorted by `Ord` and duplicates collapse, then each is
    /// locked in turn. Because every caller takes keys in the same order,
    /// two calls that name the same keys in any order, or overlapping sets,
    /// never deadlock; a key named twice is locked once. (`Ord` must agree
    /// with `Eq`, as it does for every derived pair.)
    ///
    /// The keys are collected into a `Vec` when this method is called (one
    /// allocation; the rest of the call allocates nothing in steady state);
    /// locking starts on the first poll. Dropping the future at any point
    /// releases the keys it already holds and gives up the one it waits for.
    ///
    /// Do not call it while holding one of the keys through another guard:
    /// as with any lock, waiting for a key you hold never ends.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let accounts = turnlock::KeyedLocks::new();
    /// let both = accounts.lock_many(["savings", "checking", "savings"]).await;
    /// let keys: Vec<_> = turnlock::ManyGuard::keys(&both).collect();
    /// assert_eq!(keys, [&"checking", &"savings"]);
    /// assert!(accounts.is_locked("savings") && accounts.is_locked("checking"));
    /// drop(both);
    /// assert!(accounts.is_empty());
    /// # });
    /// ```
    pub fn lock_many(&self, keys: impl IntoIterator<Item = K>) -> LockManyFuture<'_, K, S> {
        LockManyFuture {
            locks: self,
            many: Many::new(keys.into_iter().map(|key| (key, ())), |(), ()| (), ()),
        }
    }
}

/// The future of [`KeyedLocks::lock_many`]; resolves to a [`ManyGuard`].
/// Needs the `keyed` feature.
///
/// ```
/// use turnlock::{KeyedLocks, futures::LockManyFuture};
///
/// # futures_lite::future::block_on(async {
/// let locks = KeyedLocks::new();
/// let future: LockManyFuture<'_, u32> = locks.lock_many([3, 1, 2]);
/// let guard = future.await;
/// assert_eq!(turnlock::ManyGuard::len(&guard), 3);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockManyFuture<'a, K, S = DefaultHashBuilder> {
    locks: &'a KeyedLocks<K, S>,
    many: Many<K, RawLock>,
}

// Keys are never pinned: they move into the map one by one.
impl<K, S> Unpin for LockManyFuture<'_, K, S> {}

impl<'a, K: Eq + Hash, S: BuildHasher> Future for LockManyFuture<'a, K, S> {
    type Output = ManyGuard<'a, K, S>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let locks = this.locks;
        let sorted = ready!(this.many.poll(|key| locks.count_in(key), cx));
        Poll::Ready(ManyGuard { locks, sorted })
    }
}

#[cfg(feature = "futures-core")]
impl<K: Eq + Hash, S: BuildHasher> futures_core::future::FusedFuture for LockManyFuture<'_, K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.many.is_terminated()
    }
}

impl<K, S> Drop for LockManyFuture<'_, K, S> {
    fn drop(&mut self) {
        self.many.cancel(&self.locks.map);
    }
}

impl<K, S> fmt::Debug for LockManyFuture<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockManyFuture")
            .field("keys", &self.many.len())
            .field("held", &self.many.held())
            .finish_non_exhaustive()
    }
}

/// Holds several keys of a [`KeyedLocks`] at once; made by
/// [`KeyedLocks::lock_many`]. All keys are released when it is dropped.
/// Needs the `keyed` feature.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let locks = turnlock::KeyedLocks::new();
/// let guard = locks.lock_many([2, 1]).await;
/// assert!(locks.try_lock(1).is_none() && locks.try_lock(2).is_none());
/// drop(guard);
/// assert!(locks.try_lock(1).is_some());
/// # });
/// ```
#[must_use = "if unused the keys are released at once"]
pub struct ManyGuard<'a, K, S = DefaultHashBuilder> {
    locks: &'a KeyedLocks<K, S>,
    /// All `ManyKey::Held`, sorted by key.
    sorted: Vec<ManyKey<K, RawLock>>,
}

impl<'a, K, S> ManyGuard<'a, K, S> {
    /// The keys held, in `Ord` order, without duplicates.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.lock_many(["b", "a", "b"]).await;
    /// assert!(turnlock::ManyGuard::keys(&guard).eq([&"a", &"b"]));
    /// # });
    /// ```
    pub fn keys<'g>(this: &'g Self) -> impl ExactSizeIterator<Item = &'g K> + 'g {
        this.sorted.iter().map(|item| item.held().0)
    }

    /// The number of keys held.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.lock_many([1, 1, 1]).await;
    /// assert_eq!(turnlock::ManyGuard::len(&guard), 1);
    /// # });
    /// ```
    #[inline]
    pub fn len(this: &Self) -> usize {
        this.sorted.len()
    }

    /// The map the keys belong to.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedLocks::<u8>::new();
    /// let guard = locks.lock_many([]).await;
    /// assert!(std::ptr::eq(turnlock::ManyGuard::source(&guard), &locks));
    /// # });
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &'a KeyedLocks<K, S> {
        this.locks
    }
}

impl<K, S> Drop for ManyGuard<'_, K, S> {
    fn drop(&mut self) {
        release_held(&self.locks.map, &mut self.sorted);
    }
}

impl<K: fmt::Debug, S> fmt::Debug for ManyGuard<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManyGuard")
            .field("keys", &KeyList(self))
            .finish()
    }
}

/// The keys of a [`ManyGuard`], formatted as a list.
struct KeyList<'g, 'a, K, S>(&'g ManyGuard<'a, K, S>);

impl<K: fmt::Debug, S> fmt::Debug for KeyList<'_, '_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(ManyGuard::keys(self.0)).finish()
    }
}
