//! [`KeyedRwLocks`]: a reader-writer lock per key, created on demand, gone
//! when unused.
//!
//! The same map as [`KeyedLocks`](crate::KeyedLocks)' (`map.rs`: sharded table, counted
//! nodes, pool, shrinking, panic safety), with a
//! [`RawRwLock`] in each node instead of a
//! [`RawLock`](crate::raw::RawLock): every part of the keyed layer is
//! generic over the node's lock, so the two maps share the map, the
//! acquisition, the futures and the many-key form, and differ only in
//! their public methods and guards (`rw/guards.rs`, `rw/many.rs`).

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
#[cfg(feature = "std")]
use core::time::Duration;

use super::DefaultHashBuilder;
#[cfg(feature = "std")]
use super::acquire::take_blocking;
#[cfg(all(feature = "std", not(loom)))]
use super::acquire::take_blocking_timeout;
use super::acquire::try_take;
use super::map::{Map, keyed_map};
use crate::raw::{Kind, RawRwLock};
use crate::rwlock::RwState;
#[cfg(all(feature = "std", not(loom)))]
use crate::timeout::TimedOut;

mod guards;
mod many;

pub use self::guards::{KeyReadFuture, KeyReadGuard, KeyReadUntil};
#[cfg(feature = "async-io")]
pub use self::guards::{KeyReadTimeout, KeyWriteTimeout};
pub use self::guards::{KeyWriteFuture, KeyWriteGuard, KeyWriteUntil};
#[cfg(target_has_atomic = "ptr")]
pub use self::guards::{
    OwnedKeyReadFuture, OwnedKeyReadGuard, OwnedKeyWriteFuture, OwnedKeyWriteGuard,
};
pub use self::many::{RwManyFuture, RwManyGuard};

/// A reader-writer lock per key: any number of readers of a key, or one
/// writer, with entries that exist only while someone holds or waits for
/// the key. Needs the `keyed` feature (no `std` needed).
///
/// `locks.read(key).await` gives a [`KeyReadGuard`], shared with the other
/// readers of the key; `locks.write(key).await` a [`KeyWriteGuard`], alone.
/// Each key's lock behaves exactly like an [`RwLock`](crate::RwLock): the
/// throughput policy with [`new`](KeyedRwLocks::new), strict order of
/// arrival with [`new_fifo`](KeyedRwLocks::new_fifo), neither readers nor
/// writers starved, cancel-safe futures, deadlines that only stop the
/// waiter, no poisoning. (Upgradable reads are left to `RwLock`.)
///
/// Everything else is [`KeyedLocks`](crate::KeyedLocks)': an entry is created when a first
/// caller starts waiting for a key and removed the moment the key has no
/// holder and no waiter, also after cancellations and timeouts;
/// [`len`](KeyedRwLocks::len) counts the entries; freed entries are pooled,
/// so steady-state locking allocates nothing; a key's `Hash`, `Eq` or
/// `Drop` may panic without leaving anything locked or counted.
/// [`lock_many`](KeyedRwLocks::lock_many) takes several keys, some shared
/// and some exclusive, without deadlocks.
///
/// `KeyedRwLocks` is a type of its own rather than a mode of `KeyedLocks`:
/// the exclusive map keeps its smaller nodes and its cheaper protocol, and
/// neither type has methods that do not apply to it.
///
/// # Examples
///
/// A per-user cache that every request reads and a refresh rewrites:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use turnlock::KeyedRwLocks;
///
/// # futures_lite::future::block_on(async {
/// let users: KeyedRwLocks<u64> = KeyedRwLocks::new();
/// let profiles = Mutex::new(HashMap::from([(7, "ada")]));
///
/// let a = users.read(7).await; // two requests read user 7 at once
/// let b = users.read(7).await;
/// assert!(users.try_write(7).is_none()); // a refresh waits for them
/// assert_eq!(profiles.lock().unwrap()[&7], "ada");
/// drop((a, b));
///
/// let refresh = users.write(7).await;
/// profiles.lock().unwrap().insert(7, "ada lovelace");
/// drop(refresh);
/// assert!(users.is_empty());
/// # });
/// ```
pub struct KeyedRwLocks<K, S = DefaultHashBuilder> {
    map: Map<K, RawRwLock>,
    hasher: S,
}

keyed_map!(KeyedRwLocks of RawRwLock, like RwLock, taken by try_write);

impl<K: Eq + Hash, S: BuildHasher> KeyedRwLocks<K, S> {
    /// Reads `key`, waiting as long as it takes.
    ///
    /// The future is lazy: the key gets an entry when it is first polled.
    /// Dropping it at any point gives up cleanly and removes the entry if
    /// nobody else holds or waits for the key.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let files = turnlock::KeyedRwLocks::new();
    /// let a = files.read("report.csv").await;
    /// let b = files.read("report.csv").await; // readers share a key
    /// assert!(files.try_write("report.csv").is_none());
    /// # drop((a, b));
    /// # });
    /// ```
    #[inline]
    pub fn read(&self, key: K) -> KeyReadFuture<'_, K, S> {
        KeyReadFuture::new(self, key)
    }

    /// Writes `key`, waiting as long as it takes (see
    /// [`read`](KeyedRwLocks::read)).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let files = turnlock::KeyedRwLocks::new();
    /// let writer = files.write("report.csv").await;
    /// assert!(files.try_read("report.csv").is_none());
    /// assert!(files.try_read("other.csv").is_some()); // other keys do not wait
    /// # drop(writer);
    /// # });
    /// ```
    #[inline]
    pub fn write(&self, key: K) -> KeyWriteFuture<'_, K, S> {
        KeyWriteFuture::new(self, key)
    }

    /// Reads `key` if it may be read right now. Never waits, and under
    /// `new_fifo` never passes a waiter; a failed attempt leaves no entry.
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let reader = locks.try_read(5).unwrap();
    /// assert!(locks.try_read(5).is_some());
    /// assert!(locks.try_write(5).is_none());
    /// # drop(reader);
    /// ```
    #[must_use = "if unused, a read it took is released at once"]
    #[inline]
    pub fn try_read(&self, key: K) -> Option<KeyReadGuard<'_, K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), Kind::Read) }?;
        // SAFETY: we hold a read of `node` and a count, and hand both over.
        Some(unsafe { KeyReadGuard::new(self, node) })
    }

    /// Writes `key` if it may be written right now (see
    /// [`try_read`](KeyedRwLocks::try_read)).
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let writer = locks.try_write(5).unwrap();
    /// assert!(locks.try_read(5).is_none());
    /// drop(writer);
    /// assert!(locks.is_empty());
    /// ```
    #[must_use = "if unused, a write it took is released at once"]
    #[inline]
    pub fn try_write(&self, key: K) -> Option<KeyWriteGuard<'_, K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), Kind::Write) }?;
        // SAFETY: we hold the write of `node` and a count, and hand both over.
        Some(unsafe { KeyWriteGuard::new(self, node) })
    }

    /// Reads `key`, or gives up when `deadline` completes (any future; see
    /// [`RwLock::read_until`](crate::RwLock::read_until)). A waiter that
    /// gives up leaves no entry behind unless others hold or wait for the
    /// key.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let writer = locks.write("k").await;
    /// assert!(locks.read_until("k", std::future::ready(())).await.is_err());
    /// drop(writer);
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "read_timeout"))]
    #[inline]
    pub fn read_until<D: Future>(&self, key: K, deadline: D) -> KeyReadUntil<'_, K, D, S> {
        KeyReadUntil::new(self, key, deadline, None)
    }

    /// Writes `key`, or gives up when `deadline` completes (see
    /// [`read_until`](KeyedRwLocks::read_until)).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let reader = locks.read("k").await;
    /// let err = locks.write_until("k", std::future::ready(())).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock");
    /// # drop(reader);
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "write_timeout"))]
    #[inline]
    pub fn write_until<D: Future>(&self, key: K, deadline: D) -> KeyWriteUntil<'_, K, D, S> {
        KeyWriteUntil::new(self, key, deadline, None)
    }

    /// Reads `key`, blocking the current thread while waiting (feature
    /// `std`; see [`Lock::lock_blocking`](crate::Lock::lock_blocking) for
    /// the caveats of blocking).
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let a = locks.read_blocking("config");
    /// let b = locks.read_blocking("config");
    /// assert_eq!(turnlock::KeyReadGuard::key(&a), turnlock::KeyReadGuard::key(&b));
    /// ```
    #[cfg(feature = "std")]
    pub fn read_blocking(&self, key: K) -> KeyReadGuard<'_, K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), Kind::Read) };
        // SAFETY: we hold a read of `node` and a count, and hand both over.
        unsafe { KeyReadGuard::new(self, node) }
    }

    /// Writes `key`, blocking the current thread while waiting (feature
    /// `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let reader = locks.read_blocking(1);
    /// let other = locks.clone();
    /// let writer = std::thread::spawn(move || drop(other.write_blocking(1)));
    /// drop(reader); // lets the writer in
    /// writer.join().unwrap();
    /// assert!(locks.is_empty());
    /// ```
    #[cfg(feature = "std")]
    pub fn write_blocking(&self, key: K) -> KeyWriteGuard<'_, K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), Kind::Write) };
        // SAFETY: we hold the write of `node` and a count, and hand both over.
        unsafe { KeyWriteGuard::new(self, node) }
    }

    /// Like [`read_blocking`](KeyedRwLocks::read_blocking), but gives up
    /// after `timeout` (feature `std`; `Duration::ZERO` only tries).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let writer = locks.write_blocking(1);
    /// assert!(locks.read_blocking_timeout(1, Duration::from_millis(5)).is_err());
    /// assert_eq!(locks.len(), 1); // only the writer's entry
    /// drop(writer);
    /// assert!(locks.read_blocking_timeout(1, Duration::ZERO).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn read_blocking_timeout(
        &self,
        key: K,
        timeout: Duration,
    ) -> Result<KeyReadGuard<'_, K, S>, TimedOut> {
        // SAFETY: a count we just took on a node of our map.
        let node =
            unsafe { take_blocking_timeout(&self.map, self.count_in(key), Kind::Read, timeout) }?;
        // SAFETY: we hold a read of `node` and a count, and hand both over.
        Ok(unsafe { KeyReadGuard::new(self, node) })
    }

    /// Like [`write_blocking`](KeyedRwLocks::write_blocking), but gives up
    /// after `timeout` (feature `std`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let reader = locks.read_blocking(1);
    /// let err = locks.write_blocking_timeout(1, Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
    /// # drop(reader);
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn write_blocking_timeout(
        &self,
        key: K,
        timeout: Duration,
    ) -> Result<KeyWriteGuard<'_, K, S>, TimedOut> {
        // SAFETY: a count we just took on a node of our map.
        let node =
            unsafe { take_blocking_timeout(&self.map, self.count_in(key), Kind::Write, timeout) }?;
        // SAFETY: we hold the write of `node` and a count, and hand both over.
        Ok(unsafe { KeyWriteGuard::new(self, node) })
    }

    /// Runs `f` with `key` read, and returns its result; the read is
    /// released when `f`'s future completes, panics or is dropped.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let answer = locks.with_read("user-7", async || 6 * 7).await;
    /// assert_eq!(answer, 42);
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    pub async fn with_read<R>(&self, key: K, f: impl AsyncFnOnce() -> R) -> R {
        let _guard = self.read(key).await;
        f().await
    }

    /// Runs `f` with `key` written, and returns its result; the write is
    /// released when `f`'s future completes, panics or is dropped.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// locks.with_write("user-7", async || { /* rewrite the profile */ }).await;
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    pub async fn with_write<R>(&self, key: K, f: impl AsyncFnOnce() -> R) -> R {
        let _guard = self.write(key).await;
        f().await
    }

    /// Whether `key` is held right now (read or written); looks the key up
    /// by any borrowed form. A snapshot, for assertions and metrics.
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.try_read(String::from("a")).unwrap();
    /// assert!(locks.is_locked("a"));
    /// assert!(!locks.is_locked("b"));
    /// # drop(guard);
    /// ```
    pub fn is_locked<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.state(key)
            .is_some_and(|state| state.readers > 0 || state.writer)
    }

    /// Who holds and who waits for `key` right now, or `None` if the key
    /// has no entry (nobody holds or waits for it). A snapshot, taken under
    /// the lock of the key's shard, for assertions, metrics and decisions
    /// that tolerate staleness.
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// assert_eq!(locks.state(&1), None);
    /// let (a, b) = (locks.try_read(1).unwrap(), locks.try_read(1).unwrap());
    /// let state = locks.state(&1).unwrap();
    /// assert_eq!((state.readers, state.writer, state.waiters), (2, false, 0));
    /// # drop((a, b));
    /// ```
    pub fn state<Q>(&self, key: &Q) -> Option<RwState>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.hasher.hash_one(key);
        self.map.inspect(
            hash,
            |k| k.borrow() == key,
            |raw| RwState::of(raw.snapshot()),
        )
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<K: Eq + Hash, S: BuildHasher> KeyedRwLocks<K, S> {
    /// Reads `key` through an `Arc`, for a guard that is `'static` (and
    /// `Send` when the keys and the hasher are `Send + Sync`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.read_owned(1).await;
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    #[inline]
    pub fn read_owned(self: &Arc<Self>, key: K) -> OwnedKeyReadFuture<K, S> {
        OwnedKeyReadFuture::new(self.clone(), key)
    }

    /// Writes `key` through an `Arc`, for a guard that is `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.write_owned(1).await;
    /// assert!(locks.try_read(1).is_none());
    /// # drop(guard);
    /// # });
    /// ```
    #[inline]
    pub fn write_owned(self: &Arc<Self>, key: K) -> OwnedKeyWriteFuture<K, S> {
        OwnedKeyWriteFuture::new(self.clone(), key)
    }

    /// Like [`try_read`](KeyedRwLocks::try_read), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.try_read_owned('x').unwrap();
    /// assert!(locks.try_write_owned('x').is_none());
    /// # drop(guard);
    /// ```
    #[must_use = "if unused, a read it took is released at once"]
    #[inline]
    pub fn try_read_owned(self: &Arc<Self>, key: K) -> Option<OwnedKeyReadGuard<K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), Kind::Read) }?;
        // SAFETY: we hold a read of `node` and a count, and hand both over.
        Some(unsafe { OwnedKeyReadGuard::new(self.clone(), node) })
    }

    /// Like [`try_write`](KeyedRwLocks::try_write), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.try_write_owned('x').unwrap();
    /// assert!(locks.try_read_owned('x').is_none());
    /// # drop(guard);
    /// ```
    #[must_use = "if unused, a write it took is released at once"]
    #[inline]
    pub fn try_write_owned(self: &Arc<Self>, key: K) -> Option<OwnedKeyWriteGuard<K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), Kind::Write) }?;
        // SAFETY: we hold the write of `node` and a count, and hand both over.
        Some(unsafe { OwnedKeyWriteGuard::new(self.clone(), node) })
    }

    /// Reads `key` through an `Arc`, blocking the current thread while
    /// waiting (feature `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.read_owned_blocking("k");
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    pub fn read_owned_blocking(self: &Arc<Self>, key: K) -> OwnedKeyReadGuard<K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), Kind::Read) };
        // SAFETY: we hold a read of `node` and a count, and hand both over.
        unsafe { OwnedKeyReadGuard::new(self.clone(), node) }
    }

    /// Writes `key` through an `Arc`, blocking the current thread while
    /// waiting (feature `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.write_owned_blocking("k");
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// ```
    #[cfg(feature = "std")]
    pub fn write_owned_blocking(self: &Arc<Self>, key: K) -> OwnedKeyWriteGuard<K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), Kind::Write) };
        // SAFETY: we hold the write of `node` and a count, and hand both over.
        unsafe { OwnedKeyWriteGuard::new(self.clone(), node) }
    }
}
