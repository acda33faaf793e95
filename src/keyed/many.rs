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
use super::map::{NodePtr, for_each_despite_panics};

/// One key of a `lock_many` call.
enum ManyKey<K> {
    /// Not reached yet.
    Key(K),
    /// Being acquired: the key moved into the in-progress [`Acquire`].
    Taking,
    /// Counted and locked.
    Held(NodePtr<K>),
}

impl<K> ManyKey<K> {
    /// A key that has not been reached.
    fn pending_key(&self) -> &K {
        match self {
            ManyKey::Key(key) => key,
            _ => unreachable!("keys are sorted before any is locked"),
        }
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
        let mut sorted: Vec<ManyKey<K>> = keys.into_iter().map(ManyKey::Key).collect();
        sorted.sort_unstable_by(|a, b| a.pending_key().cmp(b.pending_key()));
        sorted.dedup_by(|a, b| a.pending_key() == b.pending_key());
        LockManyFuture {
            locks: self,
            sorted,
            next: 0,
            acquire: Acquire::new(),
            done: false,
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
    /// Sorted, without duplicates. `sorted[..next]` are held;
    /// `sorted[next]` is being taken once `acquire` has started.
    sorted: Vec<ManyKey<K>>,
    next: usize,
    acquire: Acquire<K>,
    done: bool,
}

// Keys are never pinned: they move into the map one by one.
impl<K, S> Unpin for LockManyFuture<'_, K, S> {}

impl<'a, K: Eq + Hash, S: BuildHasher> Future for LockManyFuture<'a, K, S> {
    type Output = ManyGuard<'a, K, S>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(!this.done, "lock_many future polled after completion");
        while let Some(item) = this.sorted.get_mut(this.next) {
            if let ManyKey::Key(_) = item {
                let ManyKey::Key(key) = core::mem::replace(item, ManyKey::Taking) else {
                    unreachable!("matched above");
                };
                this.acquire.start(this.locks, key);
            }
            let node = ready!(this.acquire.poll(cx));
            this.sorted[this.next] = ManyKey::Held(node);
            this.next += 1;
        }
        this.done = true;
        this.next = 0;
        Poll::Ready(ManyGuard {
            locks: this.locks,
            sorted: core::mem::take(&mut this.sorted),
        })
    }
}

impl<K, S> LockManyFuture<'_, K, S> {
    /// `true` once the future has returned `Ready`.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.done
    }
}

impl<K, S> Drop for LockManyFuture<'_, K, S> {
    fn drop(&mut self) {
        /// Releases the held keys when dropped: also if giving up the key
        /// being waited for panics (its last count drops a key).
        struct Held<'x, K, S> {
            locks: &'x KeyedLocks<K, S>,
            sorted: &'x mut [ManyKey<K>],
        }

        impl<K, S> Drop for Held<'_, K, S> {
            fn drop(&mut self) {
                release_held(self.locks, self.sorted);
            }
        }

        let _held = Held {
            locks: self.locks,
            sorted: &mut self.sorted[..self.next],
        };
        self.acquire.cancel(&self.locks.map);
    }
}

/// Releases the held keys, last first. A key whose `Drop` panics does not
/// keep the others locked: they are released while the panic unwinds.
fn release_held<K, S>(locks: &KeyedLocks<K, S>, sorted: &mut [ManyKey<K>]) {
    for_each_despite_panics(sorted.iter_mut().rev(), |item| {
        if let ManyKey::Held(node) = core::mem::replace(item, ManyKey::Taking) {
            // SAFETY: a held item owns the node's lock and a count; this is
            // their only release (the item is no longer `Held`): first the
            // lock, then the count.
            unsafe {
                node.get().raw.unlock();
                locks.map.release(node);
            }
        }
    });
}

impl<K, S> fmt::Debug for LockManyFuture<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockManyFuture")
            .field("keys", &self.sorted.len())
            .field("held", &self.next)
            .field("acquire", &self.acquire)
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
    sorted: Vec<ManyKey<K>>,
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
        this.sorted.iter().map(|item| match item {
            // SAFETY: a held item has a count on its node.
            ManyKey::Held(node) => unsafe { node.get() }.key(),
            _ => unreachable!("a guard holds all its keys"),
        })
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
        release_held(self.locks, &mut self.sorted);
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
