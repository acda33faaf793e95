//! `Duration` timeouts on `async-io`'s timer (feature `async-io`): the
//! deadline futures of `futures.rs` and `upgrade.rs` with a timer as the
//! deadline.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use super::{ReadUntil, RwLock, UpgradableReadGuard, UpgradeUntil, WriteUntil};
use crate::timeout::Deadline;
use crate::{ReadGuard, TimedOut, WriteGuard};

/// Declares a timeout future around a deadline future with a [`Deadline`].
macro_rules! rw_timeout {
    (
        $(#[$attr:meta])*
        pub struct $future:ident<'a, T>($inner:ident) -> $output:ty;
    ) => {
        $(#[$attr])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $future<'a, T: ?Sized>($inner<'a, T, Deadline>);

        impl<'a, T: ?Sized> Future for $future<'a, T> {
            type Output = $output;

            #[inline]
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$output> {
                // The inner future is `Unpin`: `Deadline` holds a `Timer`.
                Pin::new(&mut self.0).poll(cx)
            }
        }

        #[cfg(feature = "futures-core")]
        impl<T: ?Sized> futures_core::future::FusedFuture for $future<'_, T> {
            #[inline]
            fn is_terminated(&self) -> bool {
                self.0.is_terminated()
            }
        }

        impl<T: ?Sized> fmt::Debug for $future<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($future)).field(&self.0).finish()
            }
        }
    };
}

rw_timeout! {
    /// The future of `RwLock::read_timeout`; resolves to `Ok(ReadGuard)` or
    /// `Err(TimedOut)` after the timeout. Needs the `async-io` feature.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::ReadTimeout<'_, ()> = lock.read_timeout(Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct ReadTimeout<'a, T>(ReadUntil) -> Result<ReadGuard<'a, T>, TimedOut>;
}

rw_timeout! {
    /// The future of `RwLock::write_timeout`; resolves to `Ok(WriteGuard)`
    /// or `Err(TimedOut)` after the timeout. Needs the `async-io` feature.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::WriteTimeout<'_, ()> = lock.write_timeout(Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct WriteTimeout<'a, T>(WriteUntil) -> Result<WriteGuard<'a, T>, TimedOut>;
}

rw_timeout! {
    /// The future of `UpgradableReadGuard::upgrade_timeout`; resolves to
    /// `Ok(WriteGuard)`, or gives the upgradable guard back as `Err` after
    /// the timeout. Needs the `async-io` feature.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let guard = lock.upgradable_read().await;
    /// let future: turnlock::futures::UpgradeTimeout<'_, ()> =
    ///     UpgradableReadGuard::upgrade_timeout(guard, Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct UpgradeTimeout<'a, T>(UpgradeUntil)
        -> Result<WriteGuard<'a, T>, UpgradableReadGuard<'a, T>>;
}

impl<T: ?Sized> RwLock<T> {
    /// Acquires a read, or gives up after `timeout` with [`TimedOut`].
    ///
    /// The clock starts when this method is called. A read that may be
    /// taken at once is always taken; `Duration::ZERO` means "only if it may
    /// be taken right now"; a timeout too large to represent means no
    /// timeout. Runs on `async-io`'s timer, which works under any executor.
    /// Needs the `async-io` feature; without it, use
    /// [`read_until`](RwLock::read_until) with any timer future.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let writer = lock.write().await;
    /// let err = lock.read_timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 10ms");
    /// # drop(writer);
    /// # });
    /// ```
    pub fn read_timeout(&self, timeout: Duration) -> ReadTimeout<'_, T> {
        ReadTimeout(ReadUntil::new(
            self,
            Deadline::after(timeout),
            Some(timeout),
        ))
    }

    /// Acquires the write, or gives up after `timeout` with [`TimedOut`]
    /// (see [`read_timeout`](RwLock::read_timeout)). Needs the `async-io`
    /// feature.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let reader = lock.read().await;
    /// assert!(lock.write_timeout(Duration::from_millis(10)).await.is_err());
    /// drop(reader);
    /// assert!(lock.write_timeout(Duration::from_millis(10)).await.is_ok());
    /// # });
    /// ```
    pub fn write_timeout(&self, timeout: Duration) -> WriteTimeout<'_, T> {
        WriteTimeout(WriteUntil::new(
            self,
            Deadline::after(timeout),
            Some(timeout),
        ))
    }
}

impl<'a, T: ?Sized> UpgradableReadGuard<'a, T> {
    /// Upgrades to the write, or gives the guard back after `timeout` (see
    /// [`UpgradableReadGuard::upgrade_until`]). Needs the `async-io`
    /// feature.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let guard = lock.upgradable_read().await;
    /// let reader = lock.read().await;
    /// let guard = UpgradableReadGuard::upgrade_timeout(guard, Duration::from_millis(10))
    ///     .await
    ///     .unwrap_err();
    /// # drop((reader, guard));
    /// # });
    /// ```
    pub fn upgrade_timeout(this: Self, timeout: Duration) -> UpgradeTimeout<'a, T> {
        UpgradeTimeout(UpgradeUntil::new(
            this,
            Deadline::after(timeout),
            Some(timeout),
        ))
    }
}
