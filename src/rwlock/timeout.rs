//! `Duration` timeouts on `async-io`'s timer (feature `async-io`): the
//! deadline futures of `futures.rs` and `upgrade.rs` with a timer as the
//! deadline.

use core::time::Duration;

use super::{ReadGuard, WriteGuard};
use super::{
    ReadUntil, RwLock, UpgradableReadGuard, UpgradableReadUntil, UpgradeUntil, WriteUntil,
};
use crate::macros::lock_future;
use crate::timeout::TimedOut;
use crate::timer::Deadline;

lock_future! {
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
    pub struct ReadTimeout['a, T: ?Sized]['a, T](ReadUntil<'a, T, Deadline>)
        -> Result<ReadGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, timeout: Duration) =>
        ReadUntil::new(lock, Deadline::after(timeout), Some(timeout));
}

lock_future! {
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
    pub struct WriteTimeout['a, T: ?Sized]['a, T](WriteUntil<'a, T, Deadline>)
        -> Result<WriteGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, timeout: Duration) =>
        WriteUntil::new(lock, Deadline::after(timeout), Some(timeout));
}

lock_future! {
    /// The future of `RwLock::upgradable_read_timeout`; resolves to
    /// `Ok(UpgradableReadGuard)` or `Err(TimedOut)` after the timeout.
    /// Needs the `async-io` feature.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::UpgradableReadTimeout<'_, ()> =
    ///     lock.upgradable_read_timeout(Duration::from_secs(1));
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct UpgradableReadTimeout['a, T: ?Sized]['a, T](UpgradableReadUntil<'a, T, Deadline>)
        -> Result<UpgradableReadGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, timeout: Duration) =>
        UpgradableReadUntil::new(lock, Deadline::after(timeout), Some(timeout));
}

lock_future! {
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
    pub struct UpgradeTimeout['a, T: ?Sized]['a, T](UpgradeUntil<'a, T, Deadline>)
        -> Result<WriteGuard<'a, T>, UpgradableReadGuard<'a, T>>;
    new(guard: UpgradableReadGuard<'a, T>, timeout: Duration) =>
        UpgradeUntil::new(guard, Deadline::after(timeout), Some(timeout));
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
        ReadTimeout::new(self, timeout)
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
        WriteTimeout::new(self, timeout)
    }

    /// Acquires the upgradable read, or gives up after `timeout` with
    /// [`TimedOut`] (see [`read_timeout`](RwLock::read_timeout)). Needs the
    /// `async-io` feature.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let first = lock.upgradable_read().await;
    /// assert!(lock.upgradable_read_timeout(Duration::from_millis(10)).await.is_err());
    /// drop(first);
    /// assert!(lock.upgradable_read_timeout(Duration::from_millis(10)).await.is_ok());
    /// # });
    /// ```
    pub fn upgradable_read_timeout(&self, timeout: Duration) -> UpgradableReadTimeout<'_, T> {
        UpgradableReadTimeout::new(self, timeout)
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
        UpgradeTimeout::new(this, timeout)
    }
}
