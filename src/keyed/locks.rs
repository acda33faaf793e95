//! [`KeyedLocks`] and the guards of its keys: building a map, taking a key
//! without waiting or by blocking the thread, and what a guard gives back.
//! The futures that wait for one key are declared here on the generic
//! ones of `acquire.rs`; those for several keys are in `many.rs`.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
#[cfg(feature = "std")]
use core::time::Duration;

#[cfg(feature = "std")]
use super::acquire::take_blocking;
#[cfg(all(feature = "std", not(loom)))]
use super::acquire::take_blocking_timeout;
use super::acquire::{key_futures, key_holder, try_take};
use super::guard::key_guard;
use super::hash::DefaultHashBuilder;
use super::map::{Map, NodeLock, keyed_map};
use crate::raw::RawLock;
#[cfg(feature = "std")]
use crate::timeout::TimedOut;

/// A lock per key: serialise work per user, per account, per file, with
/// entries that exist only while someone holds or waits for the key.
///
/// Needs the `keyed` feature (no `std` needed: `core` and `alloc` only).
///
/// `locks.lock(key).await` gives a [`KeyGuard`]; other callers of the same
/// key wait until it is dropped, callers of other keys do not. Each key's
/// lock behaves exactly like a [`Lock`](crate::Lock): the throughput policy
/// with [`new`](KeyedLocks::new), strict FIFO with
/// [`new_fifo`](KeyedLocks::new_fifo), cancel-safe futures, timeouts that
/// only stop the waiter, no poisoning.
///
/// A key's entry is created when a first caller starts waiting for it and
/// removed the moment it has no holder and no waiter left: after the last
/// guard is dropped, and also after the last waiter is cancelled or times
/// out. [`len`](KeyedLocks::len) counts the entries, so it is back to 0
/// when everything is released. The memory of removed entries is pooled and
/// reused: locking and releasing keys in steady state allocates nothing.
///
/// [`lock_many`](KeyedLocks::lock_many) holds several keys at once without
/// deadlocks, whatever order callers name them in.
///
/// # Keys that panic
///
/// A key's `Hash`, `Eq` or `Drop`, or the hasher, may panic: the call that
/// runs it panics and the map stays consistent. Nothing is left counted or
/// locked, and a [`ManyGuard`](crate::ManyGuard) releases all its keys even if one key's drop
/// panics. One leak is rustc's, not the map's: a value that an expression
/// has just produced is leaked when a temporary of that expression panics
/// in its drop ([rust-lang/rust#47949](https://github.com/rust-lang/rust/issues/47949)),
/// so `futures_lite::future::or(locks.lock(a), locks.lock(b)).await`, whose
/// losing future drops a key that panics, leaks the winner's guard. Keep
/// such futures in locals, which are dropped as a panic unwinds.
///
/// # Examples
///
/// Transfers between accounts whose balances live in a store that only
/// reads and writes (a database, say): both accounts stay locked across the
/// awaits, so no transfer sees another one half done.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use turnlock::KeyedLocks;
///
/// struct Bank {
///     accounts: KeyedLocks<&'static str>,
///     store: Mutex<HashMap<&'static str, u64>>,
/// }
///
/// impl Bank {
///     async fn transfer(&self, from: &'static str, to: &'static str, amount: u64) -> bool {
///         // Keys are taken in order and duplicates collapse: opposite
///         // transfers never deadlock, and `from == to` works.
///         let _both = self.accounts.lock_many([from, to]).await;
///         let balance = self.read(from).await;
///         if balance < amount {
///             return false;
///         }
///         self.write(from, balance - amount).await;
///         let balance = self.read(to).await;
///         self.write(to, balance + amount).await;
///         true
///     }
///
///     async fn read(&self, account: &str) -> u64 {
///         futures_lite::future::yield_now().await; // a round trip
///         self.store.lock().unwrap()[account]
///     }
///
///     async fn write(&self, account: &'static str, balance: u64) {
///         futures_lite::future::yield_now().await;
///         self.store.lock().unwrap().insert(account, balance);
///     }
/// }
///
/// # futures_lite::future::block_on(async {
/// let bank = Bank {
///     accounts: KeyedLocks::new(),
///     store: Mutex::new(HashMap::from([("alice", 100), ("bob", 50)])),
/// };
/// let ((a, b), c) = futures_lite::future::zip(
///     futures_lite::future::zip(
///         bank.transfer("alice", "bob", 30),
///         bank.transfer("bob", "alice", 70),
///     ),
///     bank.transfer("alice", "alice", 10),
/// )
/// .await;
/// assert!(a && b && c);
/// let store = bank.store.lock().unwrap();
/// assert_eq!(store["alice"] + store["bob"], 150);
/// assert!(bank.accounts.is_empty());
/// # });
/// ```
///
/// Async tasks and plain threads share the keys:
///
/// ```
/// use std::sync::Arc;
///
/// let locks = Arc::new(turnlock::KeyedLocks::new());
/// let held = locks.lock_blocking("config");
/// let other = locks.clone();
/// let writer = std::thread::spawn(move || {
///     futures_lite::future::block_on(async {
///         let _config = other.lock("config").await; // waits for `held`
///     })
/// });
/// drop(held);
/// writer.join().unwrap();
/// assert!(locks.is_empty());
/// ```
pub struct KeyedLocks<K, S = DefaultHashBuilder> {
    pub(super) map: Map<K>,
    pub(super) hasher: S,
}

keyed_map!(KeyedLocks of RawLock, like Lock, taken by try_lock);

impl<K: Eq + Hash, S: BuildHasher> KeyedLocks<K, S> {
    /// Locks `key` if it is free right now.
    ///
    /// Never waits and never passes a waiter over (under `new_fifo`, a key
    /// with waiters is never free). A failed attempt leaves no entry behind.
    ///
    /// ```
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.try_lock(5).unwrap();
    /// assert!(locks.try_lock(5).is_none());
    /// assert!(locks.try_lock(6).is_some());
    /// drop(guard);
    /// assert!(locks.try_lock(5).is_some());
    /// ```
    ///
    /// Unused, it warns (a key it took would be released at once):
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let locks = turnlock::KeyedLocks::new();
    ///     locks.try_lock(5);
    /// }
    /// ```
    #[must_use = "if unused, a lock it took is released at once"]
    #[inline]
    pub fn try_lock(&self, key: K) -> Option<KeyGuard<'_, K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), ()) }?;
        // SAFETY: we own the lock and the count, and hand both over.
        Some(unsafe { KeyGuard::new(self, node) })
    }

    /// Like [`try_lock`](KeyedLocks::try_lock), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedLocks::new());
    /// let guard = locks.try_lock_owned('x').unwrap();
    /// assert!(locks.try_lock_owned('x').is_none());
    /// drop(guard);
    /// ```
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let locks = std::sync::Arc::new(turnlock::KeyedLocks::new());
    ///     locks.try_lock_owned('x');
    /// }
    /// ```
    #[cfg(target_has_atomic = "ptr")]
    #[must_use = "if unused, a lock it took is released at once"]
    #[inline]
    pub fn try_lock_owned(self: &Arc<Self>, key: K) -> Option<OwnedKeyGuard<K, S>> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { try_take(&self.map, self.count_in(key), ()) }?;
        // SAFETY: we own the lock and the count, and hand both over.
        Some(unsafe { OwnedKeyGuard::new(self.clone(), node) })
    }

    /// Locks `key`, blocking the current thread while waiting.
    ///
    /// Needs the `std` feature (on by default). For plain threads: on an
    /// executor's thread it parks that thread until the key is free, and if
    /// the holder needs that thread, the program hangs silently (see
    /// [`Lock::lock_blocking`](crate::Lock::lock_blocking)). Use
    /// [`lock`](KeyedLocks::lock) in async code.
    ///
    /// ```
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.lock_blocking(String::from("report.csv"));
    /// assert_eq!(turnlock::KeyGuard::key(&guard), "report.csv");
    /// ```
    #[cfg(feature = "std")]
    pub fn lock_blocking(&self, key: K) -> KeyGuard<'_, K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), ()) };
        // SAFETY: we own the lock and the count, and hand both over.
        unsafe { KeyGuard::new(self, node) }
    }

    /// Locks `key` through an `Arc`, blocking the current thread while
    /// waiting, for a guard that is `'static`.
    ///
    /// Needs the `std` feature (on by default).
    /// [`lock_owned`](KeyedLocks::lock_owned) for plain threads, with the
    /// caveats of [`lock_blocking`](KeyedLocks::lock_blocking).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedLocks::new());
    /// let guard = locks.lock_owned_blocking("report.csv");
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// ```
    #[cfg(all(feature = "std", target_has_atomic = "ptr"))]
    pub fn lock_owned_blocking(self: &Arc<Self>, key: K) -> OwnedKeyGuard<K, S> {
        // SAFETY: a count we just took.
        let node = unsafe { take_blocking(self.count_in(key), ()) };
        // SAFETY: we own the lock and the count, and hand both over.
        unsafe { OwnedKeyGuard::new(self.clone(), node) }
    }

    /// Like [`lock_blocking`](KeyedLocks::lock_blocking), but gives up after
    /// `timeout`.
    ///
    /// Needs the `std` feature (on by default). It **blocks the thread**:
    /// in async code, use `lock_timeout` (feature `async-io`) or
    /// [`lock_until`](KeyedLocks::lock_until) with your runtime's timer.
    ///
    /// `Duration::ZERO` means "only if free right now"; a timeout too large
    /// to represent means no timeout.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let locks = turnlock::KeyedLocks::new();
    /// let held = locks.lock_blocking(1);
    /// assert!(locks.lock_blocking_timeout(1, Duration::from_millis(5)).is_err());
    /// assert_eq!(locks.len(), 1);
    /// drop(held);
    /// assert!(locks.lock_blocking_timeout(1, Duration::ZERO).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn lock_blocking_timeout(
        &self,
        key: K,
        timeout: Duration,
    ) -> Result<KeyGuard<'_, K, S>, TimedOut> {
        // SAFETY: a count we just took on a node of our map.
        let node = unsafe { take_blocking_timeout(&self.map, self.count_in(key), (), timeout) }?;
        // SAFETY: we own the lock and the count, and hand both over.
        Ok(unsafe { KeyGuard::new(self, node) })
    }

    /// Runs `f` with `key` locked and returns its result.
    ///
    /// The key is released when `f`'s future completes, and also if it
    /// panics or is dropped.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedLocks::new();
    /// let answer = locks.with_lock("user-7", async || 6 * 7).await;
    /// assert_eq!(answer, 42);
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    pub async fn with_lock<R>(&self, key: K, f: impl AsyncFnOnce() -> R) -> R {
        let _guard = self.lock(key).await;
        f().await
    }

    /// Whether `key` is locked right now.
    ///
    /// Looks the key up by any borrowed form, like `HashMap::get`. Only a
    /// snapshot, for assertions and metrics, not for deciding whether to lock.
    /// As for [`Lock::is_locked`](crate::Lock::is_locked), a key of a
    /// [`new_fifo`](KeyedLocks::new_fifo) map that was just handed to a
    /// waiter stays locked until that waiter's next poll (or drop).
    ///
    /// ```
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.try_lock(String::from("a")).unwrap();
    /// assert!(locks.is_locked("a"));
    /// assert!(!locks.is_locked("b"));
    /// # drop(guard);
    /// ```
    pub fn is_locked<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.hasher.hash_one(key);
        self.map
            .inspect(hash, |k| k.borrow() == key, NodeLock::is_locked)
            .unwrap_or(false)
    }
}

// Waiting for a key: the futures of `acquire.rs`, for this map.

impl<K: Eq + Hash, S: BuildHasher> KeyedLocks<K, S> {
    /// Locks `key`, waiting as long as it takes.
    ///
    /// The future is lazy: the key gets an entry when it is first polled.
    /// Dropping it at any point gives up cleanly, as for
    /// [`Lock::lock`](crate::Lock::lock), and removes the entry if nobody
    /// else holds or waits for the key.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let users = turnlock::KeyedLocks::new();
    /// let alice = users.lock("alice").await;
    /// let bob = users.lock("bob").await; // other keys do not wait
    /// assert!(users.try_lock("alice").is_none());
    /// # drop((alice, bob));
    /// # });
    /// ```
    #[inline]
    pub fn lock(&self, key: K) -> KeyLockFuture<'_, K, S> {
        KeyLockFuture::new(self, key)
    }

    /// Locks `key` through an `Arc`, for a guard that is `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(turnlock::KeyedLocks::new());
    /// let guard = locks.lock_owned(1).await;
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    #[cfg(target_has_atomic = "ptr")]
    #[inline]
    pub fn lock_owned(self: &Arc<Self>, key: K) -> OwnedKeyLockFuture<K, S> {
        OwnedKeyLockFuture::new(self.clone(), key)
    }

    /// Locks `key`, or gives up when `deadline` completes.
    ///
    /// `deadline` is any future (an `async_io::Timer`, a
    /// `tokio::time::sleep`, an embassy timer, ...); it needs no feature
    /// beyond `keyed`. For a `Duration` on `async-io`'s timer there is
    /// `lock_timeout` (feature `async-io`). As for
    /// [`Lock::lock_until`](crate::Lock::lock_until), a free key is taken
    /// even if the deadline has passed, and giving up only stops this
    /// waiter; its entry goes unless others still hold or wait for the key.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedLocks::new();
    /// let held = locks.lock("k").await;
    /// let attempt = locks.lock_until("k", std::future::ready(())).await;
    /// assert!(attempt.is_err());
    /// drop(held);
    /// assert!(locks.is_empty());
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "lock_timeout"))]
    #[inline]
    pub fn lock_until<D: Future>(&self, key: K, deadline: D) -> KeyLockUntil<'_, K, D, S> {
        KeyLockUntil::new(self, key, deadline, None)
    }
}

/// The exclusive lock of a key of the `KeyedLocks` behind `H`.
pub(crate) struct Locking<H>(pub(super) H);

key_holder!(Locking<KeyedLocks>, RawLock, (), KeyGuard, OwnedKeyGuard);

key_futures! {
    Locking<KeyedLocks> => KeyGuard, OwnedKeyGuard;
    /// The future of [`KeyedLocks::lock`]; resolves to a [`KeyGuard`]. Needs
    /// the `keyed` feature.
    ///
    /// Lazy: the key gets an entry when the future is first polled. Dropping
    /// it at any point gives up cleanly; if it was the key's last user, the
    /// entry goes.
    ///
    /// ```
    /// use turnlock::{KeyedLocks, futures::KeyLockFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedLocks::new();
    /// let future: KeyLockFuture<'_, u32> = locks.lock(7);
    /// assert_eq!(locks.len(), 0); // not polled yet
    /// let guard = future.await;
    /// assert_eq!(locks.len(), 1);
    /// # drop(guard);
    /// # });
    /// ```
    future KeyLockFuture;

    /// The future of [`KeyedLocks::lock_owned`]; resolves to an
    /// [`OwnedKeyGuard`]. Needs the `keyed` feature.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{KeyedLocks, futures::OwnedKeyLockFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(KeyedLocks::new());
    /// let future: OwnedKeyLockFuture<&str> = locks.lock_owned("job");
    /// let guard = future.await;
    /// assert!(locks.is_locked("job"));
    /// # drop(guard);
    /// # });
    /// ```
    owned OwnedKeyLockFuture;

    /// The future of [`KeyedLocks::lock_until`]; resolves to `Ok(KeyGuard)`,
    /// or `Err(TimedOut)` when the deadline completes first. Needs the
    /// `keyed` feature.
    ///
    /// A waiter that gives up leaves no entry behind unless someone else
    /// still holds or waits for the key.
    ///
    /// ```
    /// use turnlock::{KeyedLocks, futures::KeyLockUntil};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedLocks::new();
    /// let future: KeyLockUntil<'_, u8, _> = locks.lock_until(1, std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    until KeyLockUntil;

    /// The future of [`KeyedLocks::lock_timeout`]; resolves to
    /// `Ok(KeyGuard)`, or `Err(TimedOut)` after the timeout. Needs the
    /// `keyed` and `async-io` features.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::{KeyedLocks, futures::KeyLockTimeout};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedLocks::new();
    /// let future: KeyLockTimeout<'_, &str> = locks.lock_timeout("a", Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    timeout KeyLockTimeout;
}

#[cfg(feature = "async-io")]
impl<K: Eq + Hash, S: BuildHasher> KeyedLocks<K, S> {
    /// Locks `key`, or gives up after `timeout` with [`TimedOut`].
    ///
    /// As [`Lock::lock_timeout`](crate::Lock::lock_timeout): the clock
    /// starts when this method is called, a free key is always taken,
    /// `Duration::ZERO` means "only if free right now", and a timeout too
    /// large to represent means no timeout. A waiter that times out leaves
    /// the key's entry only if others still hold or wait for it.
    ///
    /// Needs the `async-io` feature. Without it, use
    /// [`lock_until`](KeyedLocks::lock_until) with any timer future (not
    /// `lock_blocking_timeout`, which blocks the thread).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let files = turnlock::KeyedLocks::new();
    /// let writing = files.lock("log.txt").await;
    /// let err = files
    ///     .lock_timeout("log.txt", Duration::from_millis(10))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 10ms");
    /// assert_eq!(files.len(), 1); // the holder's entry stays
    /// drop(writing);
    /// assert!(files.is_empty());
    /// # });
    /// ```
    pub fn lock_timeout(&self, key: K, timeout: Duration) -> KeyLockTimeout<'_, K, S> {
        KeyLockTimeout::new(self, key, timeout)
    }
}

key_guard! {
    /// Holds the lock of one key of a [`KeyedLocks`]; the key is released
    /// when it is dropped. Needs the `keyed` feature.
    ///
    /// Protects no value of its own (the map holds none): what it guards is
    /// whatever the key stands for. [`KeyGuard::key`] tells which key.
    ///
    /// ```
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.try_lock(7).unwrap();
    /// assert_eq!(*turnlock::KeyGuard::key(&guard), 7);
    /// assert!(std::ptr::eq(turnlock::KeyGuard::source(&guard), &locks));
    /// ```
    ///
    /// A guard cannot outlive its map:
    ///
    /// ```compile_fail
    /// let guard = {
    ///     let locks = turnlock::KeyedLocks::new();
    ///     locks.try_lock(1).unwrap()
    /// };
    /// ```
    pub struct KeyGuard<'a>: &'a KeyedLocks, RawLock = ();
    key[
        /// The key this guard holds.
        ///
        /// An associated function, like [`Guard::source`](crate::Guard::source).
        ///
        /// ```
        /// let locks = turnlock::KeyedLocks::new();
        /// let guard = locks.try_lock("inbox").unwrap();
        /// assert_eq!(*turnlock::KeyGuard::key(&guard), "inbox");
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// let locks = turnlock::KeyedLocks::new();
        /// let guard = locks.try_lock(0).unwrap();
        /// assert!(std::ptr::eq(turnlock::KeyGuard::source(&guard), &locks));
        /// ```
    ];
}

#[cfg(target_has_atomic = "ptr")]
key_guard! {
    /// Holds the lock of one key of an `Arc<KeyedLocks>`; `'static`, so it
    /// can move into spawned tasks and threads. Needs the `keyed` feature.
    ///
    /// Made by [`KeyedLocks::lock_owned`], [`KeyedLocks::try_lock_owned`]
    /// and `KeyedLocks::lock_owned_blocking` (feature `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedLocks::new());
    /// let guard = locks.try_lock_owned("k").unwrap();
    /// assert_eq!(*turnlock::OwnedKeyGuard::key(&guard), "k");
    /// assert!(Arc::ptr_eq(turnlock::OwnedKeyGuard::source(&guard), &locks));
    /// ```
    pub struct OwnedKeyGuard: Arc<KeyedLocks>, RawLock = ();
    key[
        /// The key this guard holds.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedLocks::new());
        /// let guard = locks.try_lock_owned(9).unwrap();
        /// assert_eq!(*turnlock::OwnedKeyGuard::key(&guard), 9);
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedLocks::new());
        /// let guard = locks.try_lock_owned(9).unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedKeyGuard::source(&guard), &locks));
        /// ```
    ];
}
