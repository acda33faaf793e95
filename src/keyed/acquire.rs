//! Waiting for one key: [`KeyedLocks::lock`], [`KeyedLocks::lock_owned`],
//! [`KeyedLocks::lock_until`] and `lock_timeout` (feature `async-io`), and
//! the named futures they return.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::hash::{BuildHasher, Hash};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

use super::hash::DefaultHashBuilder;
#[cfg(target_has_atomic = "ptr")]
use super::locks::OwnedKeyGuard;
use super::locks::{KeyGuard, KeyedLocks};
use super::map::{Map, NodePtr};
use crate::raw::Waiter;
use crate::timeout::TimedOut;

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

/// One key's acquisition: the counted node, from the first poll until the
/// lock is handed over, and the waiter of its `RawLock`.
///
/// Every future that owns an `Acquire` calls [`Acquire::cancel`] when it is
/// dropped; that is what keeps cancelled waiters from leaving entries behind.
pub(super) struct Acquire<K> {
    /// `Some` while this acquisition holds a count and has not handed it on.
    node: Option<NodePtr<K>>,
    waiter: Waiter,
}

impl<K> Acquire<K> {
    /// An acquisition that has not started.
    #[inline]
    pub(super) const fn new() -> Self {
        Self {
            node: None,
            waiter: Waiter::new(),
        }
    }

    /// Counts in on the node of `key`: from now on the key has an entry.
    #[inline]
    pub(super) fn start<S: BuildHasher>(&mut self, locks: &KeyedLocks<K, S>, key: K)
    where
        K: Eq + Hash,
    {
        debug_assert!(self.node.is_none(), "acquisition started twice");
        self.waiter = Waiter::new();
        self.node = Some(locks.count_in(key));
    }

    /// Polls the lock of the started key. `Ready` hands the count and the
    /// lock to the caller.
    #[inline]
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<NodePtr<K>> {
        let node = self.node.expect("key lock future polled after completion");
        // SAFETY: we hold a count on `node`.
        let raw = &unsafe { node.get() }.raw;
        ready!(raw.poll_acquire(&mut self.waiter, cx));
        self.node = None;
        Poll::Ready(node)
    }

    /// Like [`poll`](Self::poll), but gives up when `deadline` completes:
    /// then the count is given back and the result is `Ready(None)`.
    pub(super) fn poll_until<D: Future>(
        &mut self,
        map: &Map<K>,
        deadline: Pin<&mut D>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<NodePtr<K>>> {
        let node = self.node.expect("key lock future polled after completion");
        // SAFETY: we hold a count on `node`.
        let raw = &unsafe { node.get() }.raw;
        let acquired = ready!(raw.poll_until(&mut self.waiter, deadline, cx));
        self.node = None;
        if acquired {
            Poll::Ready(Some(node))
        } else {
            // SAFETY: our count; `poll_until` has left the line, and we do
            // not own the lock.
            unsafe { map.release(node) };
            Poll::Ready(None)
        }
    }

    /// `true` while this acquisition holds a count it has not handed on.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(super) fn is_counted(&self) -> bool {
        self.node.is_some()
    }

    /// Gives up at any point: leaves the line (releasing the lock if it had
    /// been handed to us meanwhile) and gives the count back.
    #[inline]
    pub(super) fn cancel(&mut self, map: &Map<K>) {
        if let Some(node) = self.node.take() {
            // SAFETY: we hold a count on `node`.
            let raw = &unsafe { node.get() }.raw;
            if raw.abandon(&mut self.waiter) {
                // SAFETY: `abandon` reported that this waiter owns the lock.
                unsafe { raw.unlock() };
            }
            // SAFETY: our count; we left the line and own no lock.
            unsafe { map.release(node) };
        }
    }
}

impl<K> fmt::Debug for Acquire<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("counted", &self.node.is_some())
            .field("waiter", &self.waiter)
            .finish()
    }
}

/// The future of [`KeyedLocks::lock`]; resolves to a [`KeyGuard`]. Needs
/// the `keyed` feature.
///
/// Lazy: the key gets an entry when the future is first polled. Dropping it
/// at any point gives up cleanly; if it was the key's last user, the entry
/// goes.
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
#[must_use = "futures do nothing unless polled"]
pub struct KeyLockFuture<'a, K, S = DefaultHashBuilder> {
    locks: &'a KeyedLocks<K, S>,
    /// The key, until the first poll counts it in.
    key: Option<K>,
    acquire: Acquire<K>,
}

// The key is never pinned: it moves into the map on the first poll.
impl<K, S> Unpin for KeyLockFuture<'_, K, S> {}

impl<'a, K, S> KeyLockFuture<'a, K, S> {
    #[inline]
    pub(super) fn new(locks: &'a KeyedLocks<K, S>, key: K) -> Self {
        Self {
            locks,
            key: Some(key),
            acquire: Acquire::new(),
        }
    }
}

impl<'a, K: Eq + Hash, S: BuildHasher> Future for KeyLockFuture<'a, K, S> {
    type Output = KeyGuard<'a, K, S>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(key) = this.key.take() {
            this.acquire.start(this.locks, key);
        }
        let node = ready!(this.acquire.poll(cx));
        // SAFETY: `poll` handed us a count on `node` and its lock.
        Poll::Ready(unsafe { KeyGuard::new(this.locks, node) })
    }
}

impl<K, S> KeyLockFuture<'_, K, S> {
    /// `true` once the future has returned `Ready`: the key was counted in
    /// and handed on with the lock.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.key.is_none() && !self.acquire.is_counted()
    }
}

impl<K, S> Drop for KeyLockFuture<'_, K, S> {
    #[inline]
    fn drop(&mut self) {
        self.acquire.cancel(&self.locks.map);
    }
}

impl<K, S> fmt::Debug for KeyLockFuture<'_, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLockFuture")
            .field("acquire", &self.acquire)
            .finish_non_exhaustive()
    }
}

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
#[cfg(target_has_atomic = "ptr")]
#[must_use = "futures do nothing unless polled"]
pub struct OwnedKeyLockFuture<K, S = DefaultHashBuilder> {
    /// `None` once the guard has taken it.
    locks: Option<Arc<KeyedLocks<K, S>>>,
    key: Option<K>,
    acquire: Acquire<K>,
}

#[cfg(target_has_atomic = "ptr")]
impl<K, S> Unpin for OwnedKeyLockFuture<K, S> {}

#[cfg(target_has_atomic = "ptr")]
impl<K, S> OwnedKeyLockFuture<K, S> {
    #[inline]
    pub(super) fn new(locks: Arc<KeyedLocks<K, S>>, key: K) -> Self {
        Self {
            locks: Some(locks),
            key: Some(key),
            acquire: Acquire::new(),
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<K: Eq + Hash, S: BuildHasher> Future for OwnedKeyLockFuture<K, S> {
    type Output = OwnedKeyGuard<K, S>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let locks = this
            .locks
            .as_ref()
            .expect("key lock future polled after completion");
        if let Some(key) = this.key.take() {
            this.acquire.start(locks, key);
        }
        let node = ready!(this.acquire.poll(cx));
        let locks = this.locks.take().expect("checked above");
        // SAFETY: `poll` handed us a count on `node` and its lock.
        Poll::Ready(unsafe { OwnedKeyGuard::new(locks, node) })
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<K, S> OwnedKeyLockFuture<K, S> {
    /// `true` once the future has returned `Ready`.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.key.is_none() && !self.acquire.is_counted()
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<K, S> Drop for OwnedKeyLockFuture<K, S> {
    #[inline]
    fn drop(&mut self) {
        if let Some(locks) = &self.locks {
            self.acquire.cancel(&locks.map);
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<K, S> fmt::Debug for OwnedKeyLockFuture<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedKeyLockFuture")
            .field("acquire", &self.acquire)
            .finish_non_exhaustive()
    }
}

/// The future of [`KeyedLocks::lock_until`]; resolves to `Ok(KeyGuard)`, or
/// `Err(TimedOut)` when the deadline completes first. Needs the `keyed`
/// feature.
///
/// A waiter that gives up leaves no entry behind unless someone else still
/// holds or waits for the key.
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
#[must_use = "futures do nothing unless polled"]
pub struct KeyLockUntil<'a, K, D, S = DefaultHashBuilder> {
    locks: &'a KeyedLocks<K, S>,
    key: Option<K>,
    acquire: Acquire<K>,
    /// Structurally pinned: never moved once `self` is pinned.
    deadline: D,
    /// The timeout that made the deadline, for the error message.
    after: Option<Duration>,
}

// Only the deadline is pinned structurally.
impl<K, D: Unpin, S> Unpin for KeyLockUntil<'_, K, D, S> {}

impl<'a, K, D, S> KeyLockUntil<'a, K, D, S> {
    #[inline]
    pub(super) fn new(
        locks: &'a KeyedLocks<K, S>,
        key: K,
        deadline: D,
        after: Option<Duration>,
    ) -> Self {
        Self {
            locks,
            key: Some(key),
            acquire: Acquire::new(),
            deadline,
            after,
        }
    }
}

impl<'a, K: Eq + Hash, D: Future, S: BuildHasher> Future for KeyLockUntil<'a, K, D, S> {
    type Output = Result<KeyGuard<'a, K, S>, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `deadline` is the only structurally pinned field; it is
        // re-pinned below and never moved. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `this.deadline` lives inside a pinned `Self` and is never
        // moved out of it (not even by `Drop`, which leaves it alone).
        let deadline = unsafe { Pin::new_unchecked(&mut this.deadline) };
        if let Some(key) = this.key.take() {
            this.acquire.start(this.locks, key);
        }
        match ready!(this.acquire.poll_until(&this.locks.map, deadline, cx)) {
            // SAFETY: `poll_until` handed us a count on `node` and its lock.
            Some(node) => Poll::Ready(Ok(unsafe { KeyGuard::new(this.locks, node) })),
            None => Poll::Ready(Err(TimedOut::new(this.after))),
        }
    }
}

impl<K, D, S> KeyLockUntil<'_, K, D, S> {
    /// `true` once the future has returned `Ready` (the guard or `TimedOut`).
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.key.is_none() && !self.acquire.is_counted()
    }
}

impl<K, D, S> Drop for KeyLockUntil<'_, K, D, S> {
    #[inline]
    fn drop(&mut self) {
        self.acquire.cancel(&self.locks.map);
    }
}

impl<K, D, S> fmt::Debug for KeyLockUntil<'_, K, D, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLockUntil")
            .field("acquire", &self.acquire)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async-io")]
pub use self::timer::KeyLockTimeout;

#[cfg(feature = "async-io")]
mod timer {
    use core::fmt;
    use core::future::Future;
    use core::hash::{BuildHasher, Hash};
    use core::pin::Pin;
    use core::task::{Context, Poll};
    use core::time::Duration;

    use async_io::Timer;

    use super::KeyLockUntil;
    use crate::keyed::hash::DefaultHashBuilder;
    use crate::keyed::locks::{KeyGuard, KeyedLocks};
    use crate::timeout::TimedOut;
    use crate::timer::Deadline;

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
    #[must_use = "futures do nothing unless polled"]
    pub struct KeyLockTimeout<'a, K, S = DefaultHashBuilder>(KeyLockUntil<'a, K, Deadline, S>);

    impl<'a, K: Eq + Hash, S: BuildHasher> Future for KeyLockTimeout<'a, K, S> {
        type Output = Result<KeyGuard<'a, K, S>, TimedOut>;

        #[inline]
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            // `KeyLockUntil<_, Deadline, _>` is `Unpin`: `Deadline` is.
            Pin::new(&mut self.0).poll(cx)
        }
    }

    impl<K, S> KeyLockTimeout<'_, K, S> {
        /// `true` once the future has returned `Ready`.
        #[cfg(feature = "futures-core")]
        #[inline]
        pub(crate) fn finished(&self) -> bool {
            self.0.finished()
        }
    }

    impl<K, S> fmt::Debug for KeyLockTimeout<'_, K, S> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_tuple("KeyLockTimeout").field(&self.0).finish()
        }
    }

    impl<K: Eq + Hash, S: BuildHasher> KeyedLocks<K, S> {
        /// Locks `key`, or gives up after `timeout` with [`TimedOut`].
        ///
        /// As [`Lock::lock_timeout`](crate::Lock::lock_timeout): the clock
        /// starts when this method is called, a free key is always taken,
        /// `Duration::ZERO` means "only if free right now", and a timeout
        /// too large to represent means no timeout. A waiter that times out
        /// leaves the key's entry only if others still hold or wait for it.
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
            let deadline = if timeout.is_zero() {
                Deadline::Now
            } else {
                Deadline::Timer(Timer::after(timeout))
            };
            KeyLockTimeout(KeyLockUntil::new(self, key, deadline, Some(timeout)))
        }
    }
}
