//! The named futures returned by the lock methods.
//!
//! Each is a small state machine around one acquisition. All of them are
//! cancellation-safe: dropping one at any point leaves the lock as if it had
//! never been polled, except that a waiter that had just been handed the lock
//! passes it on to the next waiter. They are `Send` when the lock is `Sync`
//! (so when `T: Send`), and `Unpin` (`LockUntil` when its deadline is).
//!
//! With the `futures-core` feature, each of them also implements
//! `futures_core::future::FusedFuture`: `is_terminated` turns `true` when
//! the future returns `Ready`, so `futures::select!` takes them as they are,
//! without `.fuse()`, and skips the ones that have finished.
//!
//! ```
//! # #[cfg(feature = "futures-core")]
//! # futures::executor::block_on(async {
//! use futures::select;
//!
//! let config = turnlock::Lock::new("config");
//! let state = turnlock::Lock::new("state");
//! let (mut config_future, mut state_future) = (config.lock(), state.lock());
//! let mut taken = Vec::new();
//! loop {
//!     select! {
//!         guard = config_future => taken.push(*guard),
//!         guard = state_future => taken.push(*guard),
//!         complete => break,
//!     }
//! }
//! taken.sort();
//! assert_eq!(taken, ["config", "state"]);
//! # });
//! ```

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

#[cfg(target_has_atomic = "ptr")]
use crate::OwnedGuard;
use crate::raw::Waiter;
use crate::{Guard, Lock, TimedOut};

/// The future of [`Lock::lock`]; resolves to a [`Guard`].
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = turnlock::Lock::new(5);
/// let future: turnlock::futures::LockFuture<'_, i32> = lock.lock();
/// assert_eq!(*future.await, 5);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    waiter: Waiter,
}

impl<'a, T: ?Sized> LockFuture<'a, T> {
    #[inline]
    pub(crate) fn new(lock: &'a Lock<T>) -> Self {
        Self {
            lock,
            waiter: Waiter::new(),
        }
    }
}

impl<'a, T: ?Sized> Future for LockFuture<'a, T> {
    type Output = Guard<'a, T>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard<'a, T>> {
        let this = &mut *self;
        match this.lock.raw().poll_acquire(&mut this.waiter, cx) {
            // SAFETY: `poll_acquire` returned `Ready`: we own the lock.
            Poll::Ready(()) => Poll::Ready(unsafe { Guard::new(this.lock) }),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized> LockFuture<'_, T> {
    /// `true` once the future has returned `Ready`.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.waiter.is_done()
    }
}

impl<T: ?Sized> Drop for LockFuture<'_, T> {
    #[inline]
    fn drop(&mut self) {
        release_if_handed(self.lock, &mut self.waiter);
    }
}

impl<T: ?Sized> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture")
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

/// Abandons an unfinished acquisition; releases the lock if it had been
/// handed to this waiter without the future seeing it.
#[inline]
fn release_if_handed<T: ?Sized>(lock: &Lock<T>, waiter: &mut Waiter) {
    if !waiter.is_done() && lock.raw().abandon(waiter) {
        // SAFETY: `abandon` reported that this waiter owns the lock.
        unsafe { lock.raw().unlock() };
    }
}

/// The future of [`Lock::lock_owned`]; resolves to an [`OwnedGuard`].
///
/// ```
/// use std::sync::Arc;
///
/// # futures_lite::future::block_on(async {
/// let lock = Arc::new(turnlock::Lock::new(()));
/// let future: turnlock::futures::OwnedLockFuture<()> = lock.lock_owned();
/// let guard = future.await;
/// assert!(lock.is_locked());
/// drop(guard);
/// # });
/// ```
#[cfg(target_has_atomic = "ptr")]
#[must_use = "futures do nothing unless polled"]
pub struct OwnedLockFuture<T: ?Sized> {
    /// `None` once the guard has taken it.
    lock: Option<Arc<Lock<T>>>,
    waiter: Waiter,
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedLockFuture<T> {
    #[inline]
    pub(crate) fn new(lock: Arc<Lock<T>>) -> Self {
        Self {
            lock: Some(lock),
            waiter: Waiter::new(),
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> Future for OwnedLockFuture<T> {
    type Output = OwnedGuard<T>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedGuard<T>> {
        let this = &mut *self;
        let lock = this
            .lock
            .as_ref()
            .expect("lock future polled after completion");
        match lock.raw().poll_acquire(&mut this.waiter, cx) {
            Poll::Ready(()) => {
                let lock = this.lock.take().expect("checked above");
                // SAFETY: `poll_acquire` returned `Ready`: we own the lock.
                Poll::Ready(unsafe { OwnedGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedLockFuture<T> {
    /// `true` once the future has returned `Ready`.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.waiter.is_done()
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> Drop for OwnedLockFuture<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            release_if_handed(lock, &mut self.waiter);
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> fmt::Debug for OwnedLockFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedLockFuture")
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

/// The future of [`Lock::lock_until`]; resolves to `Ok(Guard)` or
/// `Err(TimedOut)` when the deadline completes first.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = turnlock::Lock::new(());
/// let future: turnlock::futures::LockUntil<'_, (), _> =
///     lock.lock_until(std::future::pending::<()>());
/// assert!(future.await.is_ok());
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockUntil<'a, T: ?Sized, D> {
    lock: &'a Lock<T>,
    waiter: Waiter,
    /// Structurally pinned: never moved once `self` is pinned.
    deadline: D,
    /// The timeout that made the deadline, for the error message.
    after: Option<Duration>,
}

impl<'a, T: ?Sized, D: Future> LockUntil<'a, T, D> {
    #[inline]
    pub(crate) fn new(lock: &'a Lock<T>, deadline: D, after: Option<Duration>) -> Self {
        Self {
            lock,
            waiter: Waiter::new(),
            deadline,
            after,
        }
    }
}

impl<'a, T: ?Sized, D: Future> Future for LockUntil<'a, T, D> {
    type Output = Result<Guard<'a, T>, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `deadline` is the only structurally pinned field; it is
        // re-pinned below and never moved. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `this.deadline` lives inside a pinned `Self` and is never
        // moved out of it (not even by `Drop`, which leaves it alone).
        let deadline = unsafe { Pin::new_unchecked(&mut this.deadline) };
        match this.lock.raw().poll_until(&mut this.waiter, deadline, cx) {
            // SAFETY: `poll_until` returned `Ready(true)`: we own the lock.
            Poll::Ready(true) => Poll::Ready(Ok(unsafe { Guard::new(this.lock) })),
            Poll::Ready(false) => Poll::Ready(Err(TimedOut::new(this.after))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized, D> LockUntil<'_, T, D> {
    /// `true` once the future has returned `Ready` (the guard or `TimedOut`).
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.waiter.is_done()
    }
}

impl<T: ?Sized, D> Drop for LockUntil<'_, T, D> {
    #[inline]
    fn drop(&mut self) {
        release_if_handed(self.lock, &mut self.waiter);
    }
}

impl<T: ?Sized, D> fmt::Debug for LockUntil<'_, T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockUntil")
            .field("waiter", &self.waiter)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "async-io")]
pub use crate::timeout::LockTimeout;

#[cfg(target_has_atomic = "ptr")]
pub use crate::rwlock::{
    OwnedReadFuture, OwnedUpgradableReadFuture, OwnedUpgradeFuture, OwnedUpgradeUntil,
    OwnedWriteFuture,
};
pub use crate::rwlock::{
    ReadFuture, ReadUntil, UpgradableReadFuture, UpgradableReadUntil, UpgradeFuture, UpgradeUntil,
    WriteFuture, WriteUntil,
};
#[cfg(feature = "async-io")]
pub use crate::rwlock::{ReadTimeout, UpgradeTimeout, WriteTimeout};

#[cfg(all(feature = "keyed", feature = "async-io"))]
pub use crate::keyed::KeyLockTimeout;
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::OwnedKeyLockFuture;
#[cfg(feature = "keyed")]
pub use crate::keyed::{KeyLockFuture, KeyLockUntil, LockManyFuture};
#[cfg(feature = "keyed")]
pub use crate::keyed::{KeyReadFuture, KeyReadUntil, KeyWriteFuture, KeyWriteUntil, RwManyFuture};
#[cfg(all(feature = "keyed", feature = "async-io"))]
pub use crate::keyed::{KeyReadTimeout, KeyWriteTimeout};
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::{OwnedKeyReadFuture, OwnedKeyWriteFuture};
