//! Upgrading an upgradable read to the write: the futures, the blocking
//! forms and the deadlines, for borrowed and owned guards.
//!
//! An upgrade waits for the plain readers to leave; meanwhile no new reader
//! comes in, and no writer can (the upgradable read keeps them out), so the
//! upgrade is the next write. Dropping an upgrade future that has not
//! completed releases what it holds: the upgradable read, or the write if
//! it had just been handed over. An upgrade with a deadline that passes
//! gives the upgradable guard back instead.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::future::Future;
#[cfg(feature = "std")]
use core::time::Duration;

use super::futures::{Acquire, Until, Upgrading};
#[cfg(target_has_atomic = "ptr")]
use super::{OwnedUpgradableReadGuard, OwnedWriteGuard};
use super::{RwLock, UpgradableReadGuard, WriteGuard};
use crate::macros::lock_future;
#[cfg(feature = "std")]
use crate::raw::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
use crate::raw::acquire_blocking_timeout;

lock_future! {
    /// The future of [`UpgradableReadGuard::upgrade`]; resolves to a
    /// [`WriteGuard`]. Dropping it before it completes releases the
    /// upgradable read (or the write, if it had just been handed over).
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.upgradable_read().await;
    /// let future: turnlock::futures::UpgradeFuture<'_, i32> = UpgradableReadGuard::upgrade(guard);
    /// *future.await += 1;
    /// # });
    /// ```
    pub struct UpgradeFuture['a, T: ?Sized]['a, T](Acquire<Upgrading<&'a RwLock<T>>>)
        -> WriteGuard<'a, T>;
    new(guard: UpgradableReadGuard<'a, T>) => Acquire::new(upgrading(guard));
}

#[cfg(target_has_atomic = "ptr")]
lock_future! {
    /// The future of [`OwnedUpgradableReadGuard::upgrade`]; resolves to an
    /// [`OwnedWriteGuard`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// let future: turnlock::futures::OwnedUpgradeFuture<i32> =
    ///     OwnedUpgradableReadGuard::upgrade(guard);
    /// *future.await += 1;
    /// # });
    /// ```
    pub struct OwnedUpgradeFuture[T: ?Sized][T](Acquire<Upgrading<Arc<RwLock<T>>>>)
        -> OwnedWriteGuard<T>;
    new(guard: OwnedUpgradableReadGuard<T>) => Acquire::new(owned_upgrading(guard));
}

lock_future! {
    /// The future of [`UpgradableReadGuard::upgrade_until`]; resolves to
    /// `Ok(WriteGuard)`, or gives the [`UpgradableReadGuard`] back as `Err`
    /// when the deadline completes first.
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.upgradable_read().await;
    /// let future: turnlock::futures::UpgradeUntil<'_, i32, _> =
    ///     UpgradableReadGuard::upgrade_until(guard, std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct UpgradeUntil['a, T: ?Sized, D: Future]['a, T, D](Until<Upgrading<&'a RwLock<T>>, D>)
        -> Result<WriteGuard<'a, T>, UpgradableReadGuard<'a, T>>;
    new(guard: UpgradableReadGuard<'a, T>, deadline: D, after: Option<core::time::Duration>) =>
        Until::new(upgrading(guard), deadline, after);
    map(|result| result.map_err(|(held, _)| held.stopped()));
}

#[cfg(target_has_atomic = "ptr")]
lock_future! {
    /// The future of [`OwnedUpgradableReadGuard::upgrade_until`]; resolves
    /// to `Ok(OwnedWriteGuard)`, or gives the [`OwnedUpgradableReadGuard`]
    /// back as `Err` when the deadline completes first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// let _reader = lock.read().await;
    /// let future: turnlock::futures::OwnedUpgradeUntil<i32, _> =
    ///     OwnedUpgradableReadGuard::upgrade_until(guard, std::future::ready(()));
    /// assert!(future.await.is_err()); // the reader is still there
    /// # });
    /// ```
    pub struct OwnedUpgradeUntil[T: ?Sized, D: Future][T, D](Until<Upgrading<Arc<RwLock<T>>>, D>)
        -> Result<OwnedWriteGuard<T>, OwnedUpgradableReadGuard<T>>;
    new(guard: OwnedUpgradableReadGuard<T>, deadline: D, after: Option<core::time::Duration>) =>
        Until::new(owned_upgrading(guard), deadline, after);
    map(|result| result.map_err(|(held, _)| held.stopped()));
}

/// The upgrade of a borrowed upgradable guard.
fn upgrading<T: ?Sized>(guard: UpgradableReadGuard<'_, T>) -> Upgrading<&RwLock<T>> {
    let (lock, access) = UpgradableReadGuard::into_parts(guard);
    Upgrading::new(lock, access)
}

/// The upgrade of an owned upgradable guard.
#[cfg(target_has_atomic = "ptr")]
fn owned_upgrading<T: ?Sized>(guard: OwnedUpgradableReadGuard<T>) -> Upgrading<Arc<RwLock<T>>> {
    let (lock, access) = OwnedUpgradableReadGuard::into_parts(guard);
    Upgrading::new(lock, access)
}

impl<'a, T: ?Sized> UpgradableReadGuard<'a, T> {
    /// Upgrades to the write once the plain readers have left.
    ///
    /// No new reader comes in while the upgrade waits, and no writer can
    /// (the upgradable read keeps writers out), so no other write comes in
    /// between. Dropping the future before it completes releases the
    /// upgradable read.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let reader = lock.read_owned().await;
    /// let guard = lock.upgradable_read().await;
    /// let release = std::thread::spawn(move || drop(reader));
    /// let mut writer = UpgradableReadGuard::upgrade(guard).await; // waits for the reader
    /// *writer += 1;
    /// release.join().unwrap();
    /// # });
    /// ```
    #[inline]
    pub fn upgrade(this: Self) -> UpgradeFuture<'a, T> {
        UpgradeFuture::new(this)
    }

    /// Upgrades to the write, or gives the guard back when `deadline`
    /// completes first.
    ///
    /// `deadline` is any future. An upgrade that may happen at once
    /// happens even if the deadline has passed; an upgrade that is handed
    /// the write just as the deadline fires keeps it.
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.upgradable_read().await;
    /// let reader = lock.read().await;
    /// let guard = UpgradableReadGuard::upgrade_until(guard, std::future::ready(()))
    ///     .await
    ///     .unwrap_err();
    /// drop(reader);
    /// let writer = UpgradableReadGuard::upgrade_until(guard, std::future::ready(())).await;
    /// assert!(writer.is_ok());
    /// # });
    /// ```
    #[inline]
    pub fn upgrade_until<D: Future>(this: Self, deadline: D) -> UpgradeUntil<'a, T, D> {
        UpgradeUntil::new(this, deadline, None)
    }

    /// Upgrades to the write, blocking the current thread while the plain
    /// readers leave (feature `std`; see
    /// [`RwLock::read_blocking`](crate::RwLock::read_blocking) for the
    /// caveats of blocking).
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.upgradable_read_blocking();
    /// *UpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn upgrade_blocking(this: Self) -> WriteGuard<'a, T> {
        let (lock, access) = UpgradableReadGuard::into_parts(this);
        access.end();
        let upgraded = acquire_blocking(lock.raw().upgrade(), (), None);
        debug_assert!(upgraded);
        // SAFETY: a blocking upgrade without a deadline returns only once it
        // holds the write.
        unsafe { WriteGuard::new(lock) }
    }

    /// Like [`upgrade_blocking`](UpgradableReadGuard::upgrade_blocking),
    /// but gives the guard back after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use turnlock::UpgradableReadGuard;
    ///
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.upgradable_read_blocking();
    /// let reader = lock.read_blocking();
    /// let guard = UpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_millis(5))
    ///     .unwrap_err();
    /// drop(reader);
    /// assert!(UpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::ZERO).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn upgrade_blocking_timeout(
        this: Self,
        timeout: Duration,
    ) -> Result<WriteGuard<'a, T>, Self> {
        let (lock, access) = UpgradableReadGuard::into_parts(this);
        access.end();
        if acquire_blocking_timeout(lock.raw().upgrade(), (), timeout) {
            // SAFETY: the upgrade reported that we hold the write.
            Ok(unsafe { WriteGuard::new(lock) })
        } else {
            // SAFETY: the upgrade stopped: we still hold the upgradable read.
            Err(unsafe { UpgradableReadGuard::new(lock) })
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedUpgradableReadGuard<T> {
    /// Upgrades to the write once the plain readers have left (see
    /// [`UpgradableReadGuard::upgrade`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// *OwnedUpgradableReadGuard::upgrade(guard).await += 1;
    /// # });
    /// ```
    #[inline]
    pub fn upgrade(this: Self) -> OwnedUpgradeFuture<T> {
        OwnedUpgradeFuture::new(this)
    }

    /// Upgrades to the write, or gives the guard back when `deadline`
    /// completes first (see [`UpgradableReadGuard::upgrade_until`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// let writer = OwnedUpgradableReadGuard::upgrade_until(guard, std::future::ready(())).await;
    /// assert!(writer.is_ok()); // no reader: upgraded at once
    /// # });
    /// ```
    #[inline]
    pub fn upgrade_until<D: Future>(this: Self, deadline: D) -> OwnedUpgradeUntil<T, D> {
        OwnedUpgradeUntil::new(this, deadline, None)
    }

    /// Upgrades to the write, blocking the current thread while the plain
    /// readers leave (feature `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// *OwnedUpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// ```
    #[cfg(feature = "std")]
    pub fn upgrade_blocking(this: Self) -> OwnedWriteGuard<T> {
        let (lock, access) = OwnedUpgradableReadGuard::into_parts(this);
        access.end();
        let upgraded = acquire_blocking(lock.raw().upgrade(), (), None);
        debug_assert!(upgraded);
        // SAFETY: a blocking upgrade without a deadline returns only once it
        // holds the write.
        unsafe { OwnedWriteGuard::new(lock) }
    }

    /// Like [`upgrade_blocking`](OwnedUpgradableReadGuard::upgrade_blocking),
    /// but gives the guard back after `timeout`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = OwnedUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::ZERO)
    ///     .unwrap_err();
    /// # drop((reader, guard));
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn upgrade_blocking_timeout(
        this: Self,
        timeout: Duration,
    ) -> Result<OwnedWriteGuard<T>, Self> {
        let (lock, access) = OwnedUpgradableReadGuard::into_parts(this);
        access.end();
        if acquire_blocking_timeout(lock.raw().upgrade(), (), timeout) {
            // SAFETY: the upgrade reported that we hold the write.
            Ok(unsafe { OwnedWriteGuard::new(lock) })
        } else {
            // SAFETY: the upgrade stopped: we still hold the upgradable read.
            Err(unsafe { OwnedUpgradableReadGuard::new(lock) })
        }
    }
}
