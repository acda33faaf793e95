//! [`KeyedRwLocks::lock_many`]: several keys at once, some read and some
//! written, without deadlocks (the exclusive map's `lock_many`, with a
//! kind of access per key).

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use super::super::many::{Many, ManyKey, release_held};
use super::super::{DefaultHashBuilder, KeyedRwLocks};
use crate::raw::{Kind, RawRwLock};

impl<K: Ord + Hash, S: BuildHasher> KeyedRwLocks<K, S> {
    /// Reads all `reads` and writes all `writes`, and holds them together
    /// in one [`RwManyGuard`].
    ///
    /// The keys are sorted by `Ord` and taken in that order, so two calls
    /// that name the same keys in any order, or overlapping sets, never
    /// deadlock. A key named more than once is taken once: written if any
    /// of its mentions is in `writes`, else read. (`Ord` must agree with
    /// `Eq`.)
    ///
    /// The keys are collected into a `Vec` when this method is called (one
    /// allocation); locking starts on the first poll. Dropping the future
    /// at any point releases the keys it already holds and gives up the
    /// one it waits for. As with any lock, do not call it while holding
    /// one of the keys through another guard.
    ///
    /// ```
    /// use turnlock::RwManyGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let accounts = turnlock::KeyedRwLocks::new();
    /// // Read the rates, move money between two accounts.
    /// let held = accounts.lock_many(["rates"], ["savings", "checking"]).await;
    /// assert!(RwManyGuard::reads(&held).eq([&"rates"]));
    /// assert!(RwManyGuard::writes(&held).eq([&"checking", &"savings"]));
    /// assert!(accounts.try_read("rates").is_some()); // shared
    /// assert!(accounts.try_read("savings").is_none()); // exclusive
    /// drop(held);
    /// assert!(accounts.is_empty());
    /// # });
    /// ```
    pub fn lock_many(
        &self,
        reads: impl IntoIterator<Item = K>,
        writes: impl IntoIterator<Item = K>,
    ) -> RwManyFuture<'_, K, S> {
        let keys = reads
            .into_iter()
            .map(|key| (key, Kind::Read))
            .chain(writes.into_iter().map(|key| (key, Kind::Write)));
        RwManyFuture {
            locks: self,
            many: Many::new(keys, strongest, Kind::Read),
        }
    }
}

/// Of two mentions of one key, the kind of access that serves both.
fn strongest(a: Kind, b: Kind) -> Kind {
    if a == Kind::Write || b == Kind::Write {
        Kind::Write
    } else {
        Kind::Read
    }
}

/// The future of [`KeyedRwLocks::lock_many`]; resolves to an
/// [`RwManyGuard`]. Needs the `keyed` feature.
///
/// ```
/// use turnlock::{KeyedRwLocks, futures::RwManyFuture};
///
/// # futures_lite::future::block_on(async {
/// let locks = KeyedRwLocks::new();
/// let future: RwManyFuture<'_, u32> = locks.lock_many([1, 2], [3]);
/// let guard = future.await;
/// assert_eq!(turnlock::RwManyGuard::len(&guard), 3);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RwManyFuture<'a, K, S = DefaultHashBuilder> {
    locks: &'a KeyedRwLocks<K, S>,
    many: Many<K, RawRwLock>,
}

// Keys are never pinned: they move into the map one by one.
impl<K, S> Unpin for RwManyFuture<'_, K, S> {}

impl<'a, K: Eq + Hash, S: BuildHasher> Future for RwManyFuture<'a, K, S> {
    type Output = RwManyGuard<'a, K, S>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let locks = this.locks;
        let sorted = ready!(this.many.poll(|key| locks.count_in(key), cx));
        Poll::Ready(RwManyGuard { locks, sorted })
    }
}

#[cfg(feature = "futures-core")]
impl<K: Eq + Hash, S: BuildHasher> futures_core::future::FusedFuture for RwManyFuture<'_, K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.many.is_terminated()
    }
}

impl<K, S> Drop for RwManyFuture<'_, K, S> {
    fn drop(&mut self) {
        self.many.cancel(&self.locks.map);
    }
}

impl<K, S> fmt::Debug for RwManyFuture<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwManyFuture")
            .field("keys", &self.many.len())
            .field("held", &self.many.held())
            .finish_non_exhaustive()
    }
}

/// Holds several keys of a [`KeyedRwLocks`] at once, each read or written;
/// made by [`KeyedRwLocks::lock_many`]. All keys are released when it is
/// dropped, also if a key's `Drop` panics. Needs the `keyed` feature.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let locks = turnlock::KeyedRwLocks::new();
/// let guard = locks.lock_many([1], [2]).await;
/// assert!(locks.try_read(1).is_some() && locks.try_read(2).is_none());
/// drop(guard);
/// assert!(locks.try_write(1).is_some());
/// # });
/// ```
#[must_use = "if unused the keys are released at once"]
pub struct RwManyGuard<'a, K, S = DefaultHashBuilder> {
    locks: &'a KeyedRwLocks<K, S>,
    /// All held, sorted by key.
    sorted: Vec<ManyKey<K, RawRwLock>>,
}

impl<'a, K, S> RwManyGuard<'a, K, S> {
    /// The keys held with a read, in `Ord` order.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.lock_many(["b", "a"], ["c", "b"]).await;
    /// assert!(turnlock::RwManyGuard::reads(&guard).eq([&"a"]));
    /// # });
    /// ```
    pub fn reads<'g>(this: &'g Self) -> impl Iterator<Item = &'g K> + 'g {
        Self::keys_held(this, Kind::Read)
    }

    /// The keys held with the write, in `Ord` order.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.lock_many(["b", "a"], ["c", "b"]).await;
    /// assert!(turnlock::RwManyGuard::writes(&guard).eq([&"b", &"c"]));
    /// # });
    /// ```
    pub fn writes<'g>(this: &'g Self) -> impl Iterator<Item = &'g K> + 'g {
        Self::keys_held(this, Kind::Write)
    }

    /// The keys held in `kind`.
    fn keys_held(this: &Self, kind: Kind) -> impl Iterator<Item = &K> + '_ {
        this.sorted
            .iter()
            .map(ManyKey::held)
            .filter(move |(_, held)| *held == kind)
            .map(|(key, _)| key)
    }

    /// The number of keys held.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.lock_many([1, 1], [1, 2]).await;
    /// assert_eq!(turnlock::RwManyGuard::len(&guard), 2);
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
    /// let locks = turnlock::KeyedRwLocks::<u8>::new();
    /// let guard = locks.lock_many([], []).await;
    /// assert!(std::ptr::eq(turnlock::RwManyGuard::source(&guard), &locks));
    /// # });
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &'a KeyedRwLocks<K, S> {
        this.locks
    }
}

impl<K, S> Drop for RwManyGuard<'_, K, S> {
    fn drop(&mut self) {
        release_held(&self.locks.map, &mut self.sorted);
    }
}

impl<K: fmt::Debug, S> fmt::Debug for RwManyGuard<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwManyGuard")
            .field("reads", &DebugList(|| Self::reads(self)))
            .field("writes", &DebugList(|| Self::writes(self)))
            .finish()
    }
}

/// A list of keys, formatted as a list.
struct DebugList<F>(F);

impl<'k, K: fmt::Debug + 'k, I: Iterator<Item = &'k K>, F: Fn() -> I> fmt::Debug for DebugList<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries((self.0)()).finish()
    }
}
