//! Timeouts on `async-io`'s timer (feature `async-io`): [`Lock::lock_timeout`]
//! and its future, built on `lock_until` with a timer as the deadline.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use async_io::Timer;

use crate::acquire::LockUntil;
use crate::lock::{Guard, Lock};
use crate::timeout::TimedOut;

/// The deadline of `lock_timeout`: "now" for a zero timeout, else a timer.
pub(crate) enum Deadline {
    /// `Duration::ZERO`: only a free lock is taken.
    Now,
    /// Fires at join time + timeout (never, if that is not representable).
    Timer(Timer),
}

impl Deadline {
    /// The deadline of a `Duration` timeout that starts now.
    pub(crate) fn after(timeout: Duration) -> Self {
        if timeout.is_zero() {
            Deadline::Now
        } else {
            Deadline::Timer(Timer::after(timeout))
        }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Deadline::Now => Poll::Ready(()),
            Deadline::Timer(timer) => Pin::new(timer).poll(cx).map(|_| ()),
        }
    }
}

/// The future of `Lock::lock_timeout`; resolves to `Ok(Guard)` or
/// `Err(TimedOut)` after the timeout. Needs the `async-io` feature.
///
/// ```
/// use std::time::Duration;
///
/// # futures_lite::future::block_on(async {
/// let lock = turnlock::Lock::new(());
/// let future: turnlock::futures::LockTimeout<'_, ()> =
///     lock.lock_timeout(Duration::from_secs(1));
/// assert!(future.await.is_ok());
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockTimeout<'a, T: ?Sized>(LockUntil<'a, T, Deadline>);

impl<'a, T: ?Sized> Future for LockTimeout<'a, T> {
    type Output = Result<Guard<'a, T>, TimedOut>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `LockUntil<_, _, Deadline>` is `Unpin`: `Deadline` holds a `Timer`.
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T: ?Sized> LockTimeout<'_, T> {
    /// `true` once the future has returned `Ready`.
    #[cfg(feature = "futures-core")]
    #[inline]
    pub(crate) fn finished(&self) -> bool {
        self.0.finished()
    }
}

impl<T: ?Sized> fmt::Debug for LockTimeout<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockTimeout").field(&self.0).finish()
    }
}

impl<T: ?Sized> Lock<T> {
    /// Acquires the lock, or gives up after `timeout` with [`TimedOut`].
    ///
    /// The clock starts when this method is called (this waiter's own
    /// deadline, not reset when the lock passes to others). A free lock
    /// is always taken; `Duration::ZERO` means "only if free right
    /// now"; a timeout too large to represent means no timeout. Runs on
    /// `async-io`'s timer, which works under any executor.
    ///
    /// Needs the `async-io` feature. Without it, use
    /// [`lock_until`](Lock::lock_until) with any timer future as the
    /// deadline (not `lock_blocking_timeout`, which blocks the thread).
    ///
    /// The classic self-deadlock, a second lock of the same lock from
    /// inside its own critical section, becomes an error instead of a
    /// hang:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let connection = turnlock::Lock::new_fifo(());
    /// let transaction = connection.lock().await;
    /// // A query on the outer connection from inside the transaction:
    /// let query = connection.lock_timeout(Duration::from_millis(20)).await;
    /// assert_eq!(
    ///     query.unwrap_err().to_string(),
    ///     "timed out waiting for lock after 20ms"
    /// );
    /// drop(transaction);
    /// # });
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> LockTimeout<'_, T> {
        LockTimeout(LockUntil::new(
            self,
            Deadline::after(timeout),
            Some(timeout),
        ))
    }
}
