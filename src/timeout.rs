//! Giving up on a lock: the [`TimedOut`] error and the `async-io` timer.

use core::fmt;
use core::time::Duration;

/// The error of an acquisition that gave up waiting.
///
/// Returned by [`Lock::lock_until`](crate::Lock::lock_until),
/// [`lock_timeout`] (feature `async-io`) and [`lock_blocking_timeout`]
/// (feature `std`), and by their `KeyedLocks` counterparts.
/// Giving up only stops the waiter that timed out: whoever holds the lock
/// keeps it, and the other waiters keep their places.
///
/// Its message matches `@databases/lock`'s: "timed out waiting for lock",
/// followed by "after {ms}ms" when the timeout is known. A timeout that is
/// not a whole number of milliseconds is printed exactly, in the largest
/// unit that divides it: "after 500µs", "after 1500µs", "after 250ns". No
/// timeout is rounded, so "after 0ms" means `Duration::ZERO`.
///
/// ```
/// use std::time::Duration;
///
/// let lock = turnlock::Lock::new(());
/// let _held = lock.lock_blocking();
/// let err = lock.lock_blocking_timeout(Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err.timeout(), Some(Duration::from_millis(5)));
/// assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
///
/// let err = lock.lock_blocking_timeout(Duration::from_micros(500)).unwrap_err();
/// assert_eq!(err.to_string(), "timed out waiting for lock after 500µs");
/// ```
#[cfg_attr(
    feature = "std",
    doc = "[`lock_blocking_timeout`]: crate::Lock::lock_blocking_timeout"
)]
#[cfg_attr(
    not(feature = "std"),
    doc = "[`lock_blocking_timeout`]: crate#features"
)]
#[cfg_attr(
    feature = "async-io",
    doc = "[`lock_timeout`]: crate::Lock::lock_timeout"
)]
#[cfg_attr(not(feature = "async-io"), doc = "[`lock_timeout`]: crate#features")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimedOut {
    after: Option<Duration>,
}

impl TimedOut {
    #[inline]
    pub(crate) const fn new(after: Option<Duration>) -> Self {
        Self { after }
    }

    #[cfg(feature = "std")]
    #[inline]
    pub(crate) const fn after(timeout: Duration) -> Self {
        Self {
            after: Some(timeout),
        }
    }

    /// The timeout that expired, when the waiter was given a duration
    /// (`None` for a deadline future passed to `lock_until`).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::Lock::new(());
    /// let _held = lock.lock().await;
    /// let err = lock.lock_until(async {}).await.unwrap_err();
    /// assert_eq!(err.timeout(), None);
    /// assert_eq!(err.to_string(), "timed out waiting for lock");
    /// # });
    /// ```
    #[inline]
    pub const fn timeout(&self) -> Option<Duration> {
        self.after
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for lock")?;
        let Some(after) = self.after else {
            return Ok(());
        };
        // Exact, in the largest unit that divides the timeout.
        let nanos = after.as_nanos();
        if nanos % 1_000_000 == 0 {
            write!(f, " after {}ms", nanos / 1_000_000)
        } else if nanos % 1_000 == 0 {
            write!(f, " after {}µs", nanos / 1_000)
        } else {
            write!(f, " after {nanos}ns")
        }
    }
}

impl core::error::Error for TimedOut {}

#[cfg(feature = "async-io")]
pub(crate) use self::timer::Deadline;
#[cfg(feature = "async-io")]
pub use self::timer::LockTimeout;

#[cfg(feature = "async-io")]
mod timer {
    use core::fmt;
    use core::future::Future;
    use core::pin::Pin;
    use core::task::{Context, Poll};
    use core::time::Duration;

    use async_io::Timer;

    use crate::futures::LockUntil;
    use crate::{Guard, Lock, TimedOut};

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
            let deadline = if timeout.is_zero() {
                Deadline::Now
            } else {
                Deadline::Timer(Timer::after(timeout))
            };
            LockTimeout(LockUntil::new(self, deadline, Some(timeout)))
        }
    }
}
