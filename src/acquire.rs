//! Acquiring a [`Lock`] asynchronously: [`Lock::lock`], [`Lock::lock_owned`]
//! and [`Lock::lock_until`], and the named futures they return (exported
//! from `turnlock::futures`).
//!
//! Each future is a small state machine around one acquisition. All of them
//! are cancellation-safe: dropping one at any point leaves the lock as if it
//! had never been polled, except that a waiter that had just been handed the
//! lock passes it on to the next waiter.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

#[cfg(target_has_atomic = "ptr")]
use crate::lock::OwnedGuard;
use crate::lock::{Guard, Lock};
use crate::raw::{Waiter, poll_until};
use crate::timeout::TimedOut;

impl<T: ?Sized> Lock<T> {
    /// Acquires the lock, waiting as long as it takes.
    ///
    /// The returned future is lazy: it joins the line of waiters when it is
    /// first polled. Dropping it at any point gives up cleanly: no wake-up
    /// goes missing and, if the lock had just been handed to it, the lock is
    /// passed on.
    ///
    /// A free lock is taken at the first poll, without yielding to the
    /// executor. Unlike tokio's `Mutex`, whose cooperative budget makes an
    /// acquisition yield now and then, a loop that only takes and releases
    /// an uncontended lock (polling a flag that another task sets, say)
    /// never lets its executor run anything else, and on a single-threaded
    /// executor starves every other task. Give such a loop a yield point
    /// (`futures_lite::future::yield_now().await`, `tokio::task::yield_now()`).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::Lock::new(1);
    /// let mut guard = lock.lock().await;
    /// *guard += 1;
    /// assert_eq!(*guard, 2);
    /// # });
    /// ```
    ///
    /// The future borrows the lock, so it cannot outlive it:
    ///
    /// ```compile_fail,E0597
    /// let future = {
    ///     let lock = turnlock::Lock::new(0);
    ///     lock.lock()
    /// };
    /// ```
    #[inline]
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture::new(self)
    }

    /// Acquires the lock through an `Arc`, for a guard that is `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::Lock::new(0));
    /// let mut guard = lock.lock_owned().await;
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*lock.lock().await, 1);
    /// # });
    /// ```
    #[cfg(target_has_atomic = "ptr")]
    #[inline]
    pub fn lock_owned(self: &Arc<Self>) -> OwnedLockFuture<T> {
        OwnedLockFuture::new(self.clone())
    }

    /// Acquires the lock, or gives up when `deadline` completes.
    ///
    /// `deadline` is any future: an `async_io::Timer`, a `tokio::time::sleep`,
    /// an embassy timer, a channel receiver; it needs no feature. For a
    /// `Duration` on `async-io`'s timer there is [`lock_timeout`] (feature
    /// `async-io`). The lock is tried before the
    /// deadline is polled, so a free lock is taken even if the deadline has
    /// already passed. Giving up only stops this waiter: the holder keeps the
    /// lock and the other waiters keep their places. A waiter that was handed
    /// the lock at the moment its deadline fired returns the guard.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::Lock::new(());
    /// let _held = lock.lock().await;
    /// // A deadline that is already over: the held lock is not waited for.
    /// let attempt = lock.lock_until(std::future::ready(())).await;
    /// assert!(attempt.is_err());
    /// # });
    /// ```
    ///
    /// With tokio:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let lock = turnlock::Lock::new(());
    /// let _held = lock.lock().await;
    /// let attempt = lock.lock_until(tokio::time::sleep(Duration::from_millis(5))).await;
    /// assert!(attempt.is_err());
    /// # });
    /// ```
    #[cfg_attr(feature = "async-io", doc = "\n[`lock_timeout`]: Lock::lock_timeout")]
    #[cfg_attr(not(feature = "async-io"), doc = "\n[`lock_timeout`]: crate#features")]
    // Without `lock_timeout`, a docs search for it lands here, and so does
    // rustc's "similar name" hint in builds without `std` (nightly rustc
    // reads aliases across crates; with `std`, `lock_blocking_timeout` is
    // the closer name and rustc suggests it, which its docs answer).
    #[cfg_attr(not(feature = "async-io"), doc(alias = "lock_timeout"))]
    #[inline]
    pub fn lock_until<D: Future>(&self, deadline: D) -> LockUntil<'_, T, D> {
        LockUntil::new(self, deadline, None)
    }
}

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
        match poll_until(this.lock.raw(), (), &mut this.waiter, deadline, cx) {
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
