//! The guards and futures of [`KeyedRwLocks`]: a read or the write of one
//! key, borrowed or owned, declared with the macros the exclusive map's
//! guards and futures use.

#[cfg(feature = "async-io")]
use core::hash::{BuildHasher, Hash};
#[cfg(feature = "async-io")]
use core::time::Duration;

use super::super::KeyedRwLocks;
use super::super::acquire::{key_futures, key_holder};
use super::super::guard::key_guard;
use crate::raw::{Kind, RawRwLock};

/// A read of a key of the `KeyedRwLocks` behind `H`.
pub(crate) struct Reading<H>(H);
/// The write of a key of the `KeyedRwLocks` behind `H`.
pub(crate) struct Writing<H>(H);

key_holder!(
    Reading<KeyedRwLocks>,
    RawRwLock,
    Kind::Read,
    KeyReadGuard,
    OwnedKeyReadGuard
);
key_holder!(
    Writing<KeyedRwLocks>,
    RawRwLock,
    Kind::Write,
    KeyWriteGuard,
    OwnedKeyWriteGuard
);

key_guard! {
    /// Holds a read of one key of a [`KeyedRwLocks`], shared with the other
    /// readers of the key; released when dropped. Needs the `keyed`
    /// feature.
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.try_read(7).unwrap();
    /// assert_eq!(*turnlock::KeyReadGuard::key(&guard), 7);
    /// assert!(std::ptr::eq(turnlock::KeyReadGuard::source(&guard), &locks));
    /// ```
    ///
    /// A guard cannot outlive its map:
    ///
    /// ```compile_fail,E0597
    /// let guard = {
    ///     let locks = turnlock::KeyedRwLocks::new();
    ///     locks.try_read(1).unwrap()
    /// };
    /// ```
    pub struct KeyReadGuard<'a>: &'a KeyedRwLocks, RawRwLock = Kind::Read;
    key[
        /// The key this guard reads.
        ///
        /// ```
        /// let locks = turnlock::KeyedRwLocks::new();
        /// let guard = locks.try_read("inbox").unwrap();
        /// assert_eq!(*turnlock::KeyReadGuard::key(&guard), "inbox");
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// let locks = turnlock::KeyedRwLocks::new();
        /// let guard = locks.try_read(0).unwrap();
        /// assert!(std::ptr::eq(turnlock::KeyReadGuard::source(&guard), &locks));
        /// ```
    ];
}

key_guard! {
    /// Holds the write of one key of a [`KeyedRwLocks`], alone; released
    /// when dropped. Needs the `keyed` feature.
    ///
    /// ```
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let guard = locks.try_write("k").unwrap();
    /// assert_eq!(*turnlock::KeyWriteGuard::key(&guard), "k");
    /// assert!(std::ptr::eq(turnlock::KeyWriteGuard::source(&guard), &locks));
    /// ```
    pub struct KeyWriteGuard<'a>: &'a KeyedRwLocks, RawRwLock = Kind::Write;
    key[
        /// The key this guard writes.
        ///
        /// ```
        /// let locks = turnlock::KeyedRwLocks::new();
        /// let guard = locks.try_write(3).unwrap();
        /// assert_eq!(*turnlock::KeyWriteGuard::key(&guard), 3);
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// let locks = turnlock::KeyedRwLocks::new();
        /// let guard = locks.try_write(0).unwrap();
        /// assert!(std::ptr::eq(turnlock::KeyWriteGuard::source(&guard), &locks));
        /// ```
    ];
}

#[cfg(target_has_atomic = "ptr")]
key_guard! {
    /// Holds a read of one key of an `Arc<KeyedRwLocks>`; `'static`, and
    /// `Send` when the keys and the hasher are `Send + Sync`. Needs the
    /// `keyed` feature.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.try_read_owned(1_i64).unwrap();
    /// assert_eq!(*turnlock::OwnedKeyReadGuard::key(&guard), 1);
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// ```
    pub struct OwnedKeyReadGuard: Arc<KeyedRwLocks>, RawRwLock = Kind::Read;
    key[
        /// The key this guard reads.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
        /// let guard = locks.try_read_owned(9).unwrap();
        /// assert_eq!(*turnlock::OwnedKeyReadGuard::key(&guard), 9);
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
        /// let guard = locks.try_read_owned(9).unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedKeyReadGuard::source(&guard), &locks));
        /// ```
    ];
}

#[cfg(target_has_atomic = "ptr")]
key_guard! {
    /// Holds the write of one key of an `Arc<KeyedRwLocks>`; `'static`, and
    /// `Send` when the keys and the hasher are `Send + Sync`. Needs the
    /// `keyed` feature.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
    /// let guard = locks.try_write_owned(1_i64).unwrap();
    /// std::thread::spawn(move || drop(guard)).join().unwrap();
    /// assert!(locks.is_empty());
    /// ```
    pub struct OwnedKeyWriteGuard: Arc<KeyedRwLocks>, RawRwLock = Kind::Write;
    key[
        /// The key this guard writes.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
        /// let guard = locks.try_write_owned(9).unwrap();
        /// assert_eq!(*turnlock::OwnedKeyWriteGuard::key(&guard), 9);
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedRwLocks::new());
        /// let guard = locks.try_write_owned(9).unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedKeyWriteGuard::source(&guard), &locks));
        /// ```
    ];
}

key_futures! {
    Reading<KeyedRwLocks> => KeyReadGuard, OwnedKeyReadGuard;
    /// The future of [`KeyedRwLocks::read`]; resolves to a [`KeyReadGuard`].
    /// Lazy: the key gets an entry at the first poll. Needs the `keyed`
    /// feature.
    ///
    /// ```
    /// use turnlock::{KeyedRwLocks, futures::KeyReadFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyReadFuture<'_, u32> = locks.read(7);
    /// assert_eq!(locks.len(), 0); // not polled yet
    /// let guard = future.await;
    /// assert_eq!(locks.len(), 1);
    /// # drop(guard);
    /// # });
    /// ```
    future KeyReadFuture;

    /// The future of [`KeyedRwLocks::read_owned`]; resolves to an
    /// [`OwnedKeyReadGuard`]. Needs the `keyed` feature.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{KeyedRwLocks, futures::OwnedKeyReadFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(KeyedRwLocks::new());
    /// let future: OwnedKeyReadFuture<&str> = locks.read_owned("k");
    /// let guard = future.await;
    /// # drop(guard);
    /// # });
    /// ```
    owned OwnedKeyReadFuture;

    /// The future of [`KeyedRwLocks::read_until`]; resolves to
    /// `Ok(KeyReadGuard)`, or `Err(TimedOut)` when the deadline completes
    /// first. Needs the `keyed` feature.
    ///
    /// ```
    /// use turnlock::{KeyedRwLocks, futures::KeyReadUntil};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyReadUntil<'_, u8, _> = locks.read_until(1, std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    until KeyReadUntil;

    /// The future of [`KeyedRwLocks::read_timeout`]; resolves to
    /// `Ok(KeyReadGuard)`, or `Err(TimedOut)` after the timeout. Needs the
    /// `keyed` and `async-io` features.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::{KeyedRwLocks, futures::KeyReadTimeout};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyReadTimeout<'_, &str> = locks.read_timeout("a", Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    timeout KeyReadTimeout;
}

key_futures! {
    Writing<KeyedRwLocks> => KeyWriteGuard, OwnedKeyWriteGuard;
    /// The future of [`KeyedRwLocks::write`]; resolves to a
    /// [`KeyWriteGuard`]. Needs the `keyed` feature.
    ///
    /// ```
    /// use turnlock::{KeyedRwLocks, futures::KeyWriteFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyWriteFuture<'_, &str> = locks.write("k");
    /// let guard = future.await;
    /// assert!(locks.is_locked("k"));
    /// # drop(guard);
    /// # });
    /// ```
    future KeyWriteFuture;

    /// The future of [`KeyedRwLocks::write_owned`]; resolves to an
    /// [`OwnedKeyWriteGuard`]. Needs the `keyed` feature.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{KeyedRwLocks, futures::OwnedKeyWriteFuture};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = Arc::new(KeyedRwLocks::new());
    /// let future: OwnedKeyWriteFuture<&str> = locks.write_owned("k");
    /// let guard = future.await;
    /// # drop(guard);
    /// # });
    /// ```
    owned OwnedKeyWriteFuture;

    /// The future of [`KeyedRwLocks::write_until`]; resolves to
    /// `Ok(KeyWriteGuard)`, or `Err(TimedOut)` when the deadline completes
    /// first. Needs the `keyed` feature.
    ///
    /// ```
    /// use turnlock::{KeyedRwLocks, futures::KeyWriteUntil};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyWriteUntil<'_, u8, _> = locks.write_until(1, std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    until KeyWriteUntil;

    /// The future of [`KeyedRwLocks::write_timeout`]; resolves to
    /// `Ok(KeyWriteGuard)`, or `Err(TimedOut)` after the timeout. Needs the
    /// `keyed` and `async-io` features.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::{KeyedRwLocks, futures::KeyWriteTimeout};
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = KeyedRwLocks::new();
    /// let future: KeyWriteTimeout<'_, &str> = locks.write_timeout("a", Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    timeout KeyWriteTimeout;
}

#[cfg(feature = "async-io")]
impl<K: Eq + Hash, S: BuildHasher> KeyedRwLocks<K, S> {
    /// Reads `key`, or gives up after `timeout` with [`TimedOut`](crate::TimedOut) (as
    /// [`RwLock::read_timeout`](crate::RwLock::read_timeout)). Needs the
    /// `keyed` and `async-io` features.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let writer = locks.write("log").await;
    /// let err = locks.read_timeout("log", Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 10ms");
    /// assert_eq!(locks.len(), 1); // the writer's entry stays
    /// # drop(writer);
    /// # });
    /// ```
    pub fn read_timeout(&self, key: K, timeout: Duration) -> KeyReadTimeout<'_, K, S> {
        KeyReadTimeout::new(self, key, timeout)
    }

    /// Writes `key`, or gives up after `timeout` with [`TimedOut`](crate::TimedOut). Needs
    /// the `keyed` and `async-io` features.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let locks = turnlock::KeyedRwLocks::new();
    /// let reader = locks.read("log").await;
    /// assert!(locks.write_timeout("log", Duration::from_millis(10)).await.is_err());
    /// drop(reader);
    /// assert!(locks.write_timeout("log", Duration::ZERO).await.is_ok());
    /// # });
    /// ```
    pub fn write_timeout(&self, key: K, timeout: Duration) -> KeyWriteTimeout<'_, K, S> {
        KeyWriteTimeout::new(self, key, timeout)
    }
}
