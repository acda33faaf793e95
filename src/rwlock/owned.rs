//! The guards of an `Arc<RwLock<T>>`: `'static`, so they move into spawned
//! tasks and threads. Each keeps its `Arc`; otherwise they are the guards of
//! `guards.rs`.

use alloc::sync::Arc;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr;

use super::RwLock;
use super::guards::{Handle, rw_guard, try_upgrade};
use crate::raw::Kind;
use crate::sync::{Access, SharedAccess};

impl<T: ?Sized> Handle for Arc<RwLock<T>> {
    type Value = T;
    type Read = OwnedReadGuard<T>;
    type Write = OwnedWriteGuard<T>;
    type Upgradable = OwnedUpgradableReadGuard<T>;

    #[inline]
    fn lock(&self) -> &RwLock<T> {
        self
    }

    #[inline]
    unsafe fn read(self) -> OwnedReadGuard<T> {
        // SAFETY: the caller holds a read.
        unsafe { OwnedReadGuard::new(self) }
    }

    #[inline]
    unsafe fn write(self) -> OwnedWriteGuard<T> {
        // SAFETY: the caller holds the write.
        unsafe { OwnedWriteGuard::new(self) }
    }

    #[inline]
    unsafe fn upgradable(self) -> OwnedUpgradableReadGuard<T> {
        // SAFETY: the caller holds the upgradable read.
        unsafe { OwnedUpgradableReadGuard::new(self) }
    }
}

rw_guard! {
    /// Holds a read of an `Arc<RwLock<T>>`; `'static`. Made by
    /// [`RwLock::read_owned`] and its siblings; otherwise a [`ReadGuard`].
    ///
    /// [`ReadGuard`]: crate::ReadGuard
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(1));
    /// let guard = lock.try_read_owned().unwrap();
    /// assert!(Arc::ptr_eq(turnlock::OwnedReadGuard::source(&guard), &lock));
    /// std::thread::spawn(move || assert_eq!(*guard, 1)).join().unwrap();
    /// ```
    ///
    /// It is `Send` and `Sync` when `T: Send + Sync`; the guard of a `Cell`
    /// stays on its thread:
    ///
    /// ```compile_fail,E0277
    /// use std::cell::Cell;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(Cell::new(0)));
    /// let guard = lock.try_read_owned().unwrap();
    /// std::thread::spawn(move || guard.get());
    /// ```
    #[must_use = "if unused the read is released at once"]
    pub struct OwnedReadGuard<T>(Arc<RwLock<T>>, SharedAccess = shared_access, Kind::Read);
    // SAFETY: `Send`: as for `ReadGuard`; the `Arc<RwLock<T>>` it keeps is
    // `Send` when `T: Send + Sync`.
    // `Sync`: as for `ReadGuard`.
    unsafe impl Send + Sync where T: Send + Sync;
    source[
        /// The lock this guard reads.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let lock = Arc::new(turnlock::RwLock::new(()));
        /// let guard = lock.try_read_owned().unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedReadGuard::source(&guard), &lock));
        /// ```
    ];
}

rw_guard! {
    /// Holds the write of an `Arc<RwLock<T>>`; `'static`. Made by
    /// [`RwLock::write_owned`] and its siblings, and by
    /// [`OwnedUpgradableReadGuard::upgrade`]; otherwise a [`WriteGuard`].
    ///
    /// [`WriteGuard`]: crate::WriteGuard
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedWriteGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(1));
    /// let mut guard = lock.try_write_owned().unwrap();
    /// *guard += 1;
    /// let reader = OwnedWriteGuard::downgrade(guard);
    /// assert_eq!(*reader, 2);
    /// ```
    ///
    /// It is `Send` and `Sync` when `T: Send + Sync`; the guard of an `Rc`
    /// stays on its thread:
    ///
    /// ```compile_fail,E0277
    /// use std::rc::Rc;
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(Rc::new(0)));
    /// let guard = lock.try_write_owned().unwrap();
    /// std::thread::spawn(move || drop(guard));
    /// ```
    #[must_use = "if unused the write is released at once"]
    pub struct OwnedWriteGuard<T>(Arc<RwLock<T>>, Access = access, Kind::Write);
    // SAFETY: `Send`: as for `WriteGuard`, with the `Arc` of `OwnedReadGuard`.
    // `Sync`: as for `WriteGuard`.
    unsafe impl Send + Sync where T: Send + Sync;
    source[
        /// The lock this guard writes.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let lock = Arc::new(turnlock::RwLock::new(()));
        /// let guard = lock.try_write_owned().unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedWriteGuard::source(&guard), &lock));
        /// ```
    ];
}

impl<T: ?Sized> DerefMut for OwnedWriteGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write, and `&mut self` rules out other
        // borrows through it.
        unsafe { self.access.get_mut() }
    }
}

impl<T: ?Sized> OwnedWriteGuard<T> {
    /// Turns the write into a read, atomically (see
    /// [`WriteGuard::downgrade`](crate::WriteGuard::downgrade)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedWriteGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let reader = OwnedWriteGuard::downgrade(lock.try_write_owned().unwrap());
    /// assert!(lock.try_read().is_some());
    /// # drop(reader);
    /// ```
    pub fn downgrade(this: Self) -> OwnedReadGuard<T> {
        let (lock, access) = OwnedWriteGuard::into_parts(this);
        access.end();
        // SAFETY: we held the write and its access to the value has ended.
        unsafe { lock.downgrade_write() }
    }

    /// Turns the write into the upgradable read, atomically.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedWriteGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = OwnedWriteGuard::downgrade_to_upgradable(lock.try_write_owned().unwrap());
    /// assert!(lock.try_upgradable_read().is_none());
    /// # drop(guard);
    /// ```
    pub fn downgrade_to_upgradable(this: Self) -> OwnedUpgradableReadGuard<T> {
        let (lock, access) = OwnedWriteGuard::into_parts(this);
        access.end();
        // SAFETY: we held the write and its access to the value has ended.
        unsafe { lock.downgrade_write_to_upgradable() }
    }
}

rw_guard! {
    /// Holds the upgradable read of an `Arc<RwLock<T>>`; `'static`. Made
    /// by [`RwLock::upgradable_read_owned`] and its siblings; otherwise an
    /// [`UpgradableReadGuard`].
    ///
    /// [`UpgradableReadGuard`]: crate::UpgradableReadGuard
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let mut guard = OwnedUpgradableReadGuard::try_upgrade(guard).unwrap();
    /// *guard += 1;
    /// ```
    ///
    /// It is `Send` and `Sync` when `T: Send + Sync`.
    #[must_use = "if unused the upgradable read is released at once"]
    pub struct OwnedUpgradableReadGuard<T>(Arc<RwLock<T>>, SharedAccess = shared_access, Kind::Upgradable);
    // SAFETY: `Send`: as for `UpgradableReadGuard`, with the `Arc` of
    // `OwnedReadGuard`.
    // `Sync`: as for `UpgradableReadGuard`.
    unsafe impl Send + Sync where T: Send + Sync;
    source[
        /// The lock this guard reads.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let lock = Arc::new(turnlock::RwLock::new(()));
        /// let guard = lock.try_upgradable_read_owned().unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedUpgradableReadGuard::source(&guard), &lock));
        /// ```
    ];
}

impl<T: ?Sized> OwnedUpgradableReadGuard<T> {
    /// Turns the upgradable read into a plain read, atomically.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = OwnedUpgradableReadGuard::downgrade(guard);
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(reader);
    /// ```
    pub fn downgrade(this: Self) -> OwnedReadGuard<T> {
        let (lock, access) = OwnedUpgradableReadGuard::into_parts(this);
        access.end();
        // SAFETY: we held the upgradable read, and its access has ended.
        unsafe { lock.downgrade_upgradable() }
    }

    /// Upgrades at once if no plain reader holds the lock, or gives the
    /// guard back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = OwnedUpgradableReadGuard::try_upgrade(guard).unwrap_err();
    /// drop(reader);
    /// assert!(OwnedUpgradableReadGuard::try_upgrade(guard).is_ok());
    /// ```
    pub fn try_upgrade(this: Self) -> Result<OwnedWriteGuard<T>, Self> {
        let (lock, access) = OwnedUpgradableReadGuard::into_parts(this);
        try_upgrade(lock, access)
    }
}
