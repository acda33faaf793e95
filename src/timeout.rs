//! Giving up on a lock: the [`TimedOut`] error.

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
