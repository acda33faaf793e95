//! The guards of a borrowed [`RwLock`]: [`ReadGuard`], [`WriteGuard`] and
//! [`UpgradableReadGuard`], their conversions, and what the guards of an
//! `Arc<RwLock<T>>` (`owned.rs`) share with them.
//!
//! Every guard keeps its lock (a reference or an `Arc`, a [`Handle`]) and
//! the live access to the value (shared for readers, exclusive for the
//! writer; tracked under loom), and on drop ends the access before it
//! releases its kind of access to the lock.

use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr;

use super::RwLock;
use crate::raw::{Kind, Protocol, RawRwLock};
use crate::sync::{Access, SharedAccess};

/// Declares a reader-writer guard: the struct, its constructor, its
/// parts, its release on drop, `Send` and `Sync` for `T: Send + Sync`
/// (argued where it is invoked, above `unsafe impl Send + Sync`),
/// `source` (documented by the attributes in `source[...]`), `Deref`,
/// `Debug` and `Display`. `pub struct G<'a, T>(&'a RwLock<T>, ...)`
/// borrows the lock; `pub struct G<T>(Arc<RwLock<T>>, ...)` owns a share.
macro_rules! rw_guard {
    (
        $(#[$attr:meta])*
        pub struct $guard:ident<$lt:lifetime, T>(&$lt2:lifetime RwLock<T>, $($rest:tt)*);
        unsafe impl Send + Sync where T: Send + Sync;
        source[$(#[$source_doc:meta])*];
    ) => {
        $crate::rwlock::guards::rw_guard! {
            @impl $(#[$attr])*
            pub struct $guard[$lt](&$lt2 RwLock<T>, $($rest)*);
            source[$(#[$source_doc])*] -> &$lt2 RwLock<T> = |this| this.lock;
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $guard:ident<T>(Arc<RwLock<T>>, $($rest:tt)*);
        unsafe impl Send + Sync where T: Send + Sync;
        source[$(#[$source_doc:meta])*];
    ) => {
        $crate::rwlock::guards::rw_guard! {
            @impl $(#[$attr])*
            pub struct $guard[](alloc::sync::Arc<RwLock<T>>, $($rest)*);
            source[$(#[$source_doc])*] -> &alloc::sync::Arc<RwLock<T>> = |this| &this.lock;
        }
    };
    (
        @impl $(#[$attr:meta])*
        pub struct $guard:ident[$($lt:lifetime)?]($lock:ty, $access:ident = $make:ident, $kind:expr);
        source[$(#[$source_doc:meta])*] -> $source:ty = |$this:ident| $get_source:expr;
    ) => {
        $(#[$attr])*
        pub struct $guard<$($lt,)? T: ?Sized> {
            lock: $lock,
            /// Ends before the lock is released (under loom it is tracked).
            access: ManuallyDrop<$access<T>>,
        }

        impl<$($lt,)? T: ?Sized> $guard<$($lt,)? T> {
            /// # Safety
            ///
            /// The caller holds an access of this guard's kind to `lock`,
            /// and hands it to the guard.
            #[inline]
            pub(crate) unsafe fn new(lock: $lock) -> Self {
                debug_assert!(lock.is_locked());
                let access = ManuallyDrop::new(lock.value.$make());
                Self { lock, access }
            }

            /// Ends the guard without releasing its access to the lock: the
            /// caller takes over the lock and the live access to the value.
            #[inline]
            pub(crate) fn into_parts(this: Self) -> ($lock, $access<T>) {
                let mut this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped, so each field is moved
                // out exactly once.
                unsafe { (ptr::read(&this.lock), ManuallyDrop::take(&mut this.access)) }
            }
        }

        impl<$($lt,)? T: ?Sized> Drop for $guard<$($lt,)? T> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: dropped once, here; the access to the value ends
                // before the lock is released.
                unsafe { ManuallyDrop::drop(&mut self.access) };
                // SAFETY: the guard holds this access, and this is its only
                // release.
                unsafe { self.lock.raw().release($kind) };
            }
        }

        impl<$($lt,)? T: ?Sized> Deref for $guard<$($lt,)? T> {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard holds its access, and `&self` rules out
                // a live `&mut T` obtained through it.
                unsafe { self.access.get() }
            }
        }

        // SAFETY: argued where the macro is invoked, for these bounds.
        unsafe impl<$($lt,)? T: ?Sized + Send + Sync> Send for $guard<$($lt,)? T> {}
        // SAFETY: as above.
        unsafe impl<$($lt,)? T: ?Sized + Send + Sync> Sync for $guard<$($lt,)? T> {}

        impl<$($lt,)? T: ?Sized> $guard<$($lt,)? T> {
            $(#[$source_doc])*
            #[inline]
            pub fn source($this: &Self) -> $source {
                $get_source
            }
        }

        $crate::macros::guard_fmt!([$($lt,)? T: ?Sized] $guard<$($lt,)? T>);
    };
}
pub(super) use rw_guard;

/// Where a guard's lock lives: borrowed (`&RwLock<T>`) or owned
/// (`Arc<RwLock<T>>`), with the guards of each kind of access.
pub(crate) trait Handle: Sized {
    /// The protected value.
    type Value: ?Sized;
    /// The guard of a read.
    type Read;
    /// The guard of the write.
    type Write;
    /// The guard of the upgradable read.
    type Upgradable;

    /// The lock.
    fn lock(&self) -> &RwLock<Self::Value>;

    /// # Safety
    ///
    /// The caller holds a read of the lock and hands it to the guard.
    unsafe fn read(self) -> Self::Read;

    /// # Safety
    ///
    /// The caller holds the write of the lock and hands it to the guard.
    unsafe fn write(self) -> Self::Write;

    /// # Safety
    ///
    /// The caller holds the upgradable read and hands it to the guard.
    unsafe fn upgradable(self) -> Self::Upgradable;

    /// Turns the write into a read.
    ///
    /// # Safety
    ///
    /// The caller holds the write, and no access to the value from it is
    /// alive.
    unsafe fn downgrade_write(self) -> Self::Read {
        // SAFETY: the caller holds the write and gives it up for a read,
        // which goes to the new guard.
        unsafe {
            self.lock().raw().downgrade_write();
            self.read()
        }
    }

    /// Turns the write into the upgradable read.
    ///
    /// # Safety
    ///
    /// As for [`downgrade_write`](Handle::downgrade_write).
    unsafe fn downgrade_write_to_upgradable(self) -> Self::Upgradable {
        // SAFETY: the caller holds the write and gives it up for the
        // upgradable read, which goes to the new guard.
        unsafe {
            self.lock().raw().downgrade_write_to_upgradable();
            self.upgradable()
        }
    }

    /// Turns the upgradable read into a plain read.
    ///
    /// # Safety
    ///
    /// The caller holds the upgradable read (and is not upgrading).
    unsafe fn downgrade_upgradable(self) -> Self::Read {
        // SAFETY: the caller holds the upgradable read and gives it up for
        // a read, which goes to the new guard.
        unsafe {
            self.lock().raw().downgrade_upgradable();
            self.read()
        }
    }

    /// Upgrades at once if no reader holds the lock; gives the lock back
    /// otherwise.
    ///
    /// # Safety
    ///
    /// The caller holds the upgradable read (and is not upgrading), and no
    /// access to the value from it is alive.
    unsafe fn try_upgrade(self) -> Result<Self::Write, Self> {
        if self.lock().raw().upgrade().try_acquire(()) {
            // SAFETY: the upgrade succeeded: we hold the write.
            Ok(unsafe { self.write() })
        } else {
            Err(self)
        }
    }
}

impl<'a, T: ?Sized> Handle for &'a RwLock<T> {
    type Value = T;
    type Read = ReadGuard<'a, T>;
    type Write = WriteGuard<'a, T>;
    type Upgradable = UpgradableReadGuard<'a, T>;

    #[inline]
    fn lock(&self) -> &RwLock<T> {
        self
    }

    #[inline]
    unsafe fn read(self) -> ReadGuard<'a, T> {
        // SAFETY: the caller holds a read.
        unsafe { ReadGuard::new(self) }
    }

    #[inline]
    unsafe fn write(self) -> WriteGuard<'a, T> {
        // SAFETY: the caller holds the write.
        unsafe { WriteGuard::new(self) }
    }

    #[inline]
    unsafe fn upgradable(self) -> UpgradableReadGuard<'a, T> {
        // SAFETY: the caller holds the upgradable read.
        unsafe { UpgradableReadGuard::new(self) }
    }
}

/// Holds a read of a [`RwLock<T>`]: shared access to the value, beside
/// other readers. The read is released when the guard is dropped.
///
/// Made by [`RwLock::read`], [`RwLock::try_read`] and the other reading
/// methods, and by the downgrades; [`ReadGuard::map`] narrows it to a part
/// of the value.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = turnlock::RwLock::new(String::from("shared"));
/// let guard = lock.read().await;
/// assert_eq!(guard.len(), 6);
/// # });
/// ```
///
/// It gives only `&T`:
///
/// ```compile_fail,E0596
/// let lock = turnlock::RwLock::new(0);
/// let mut guard = lock.try_read().unwrap();
/// *guard += 1;
/// ```
///
/// and cannot outlive its lock:
///
/// ```compile_fail,E0597
/// let guard = {
///     let lock = turnlock::RwLock::new(0);
///     lock.try_read().unwrap()
/// };
/// ```
///
/// Like a shared reference, it is covariant in `T` (as the read guards of
/// async-lock and tokio are), so a guard of `&'static str` serves where one
/// of a shorter-lived `&str` is expected:
///
/// ```
/// fn shorten<'g>(guard: turnlock::ReadGuard<'g, &'static str>) -> turnlock::ReadGuard<'g, &'g str> {
///     guard
/// }
/// let lock = turnlock::RwLock::new("hello");
/// assert_eq!(*shorten(lock.try_read().unwrap()), "hello");
/// ```
///
/// It is `Send` and `Sync` when `T: Sync`: it reaches only `&T`, and
/// releasing a read is not tied to a thread. The guard of a `Cell` stays on
/// its thread:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
///
/// let lock = turnlock::RwLock::new(Cell::new(0));
/// let guard = lock.try_read().unwrap();
/// std::thread::scope(|scope| {
///     scope.spawn(move || guard.get());
/// });
/// ```
#[must_use = "if unused the read is released at once"]
pub struct ReadGuard<'a, T: ?Sized> {
    /// The protocol only, not the `RwLock<T>` (which would make the guard
    /// invariant in `T`).
    raw: &'a RawRwLock,
    /// Ends before the read is released (under loom it is tracked).
    access: ManuallyDrop<SharedAccess<T>>,
    /// Shared access to a `T` for `'a`: covariant in `T`.
    _value: PhantomData<&'a T>,
}

// SAFETY: moving the guard moves a shared `&T` (`T: Sync`) to another
// thread; releasing a read is not tied to a thread.
unsafe impl<T: ?Sized + Sync> Send for ReadGuard<'_, T> {}
// SAFETY: `&ReadGuard` gives only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for ReadGuard<'_, T> {}

impl<'a, T: ?Sized> ReadGuard<'a, T> {
    /// # Safety
    ///
    /// The caller holds a read of `lock` and hands it to the guard.
    #[inline]
    pub(crate) unsafe fn new(lock: &'a RwLock<T>) -> Self {
        debug_assert!(lock.is_locked());
        Self {
            raw: lock.raw(),
            access: ManuallyDrop::new(lock.value.shared_access()),
            _value: PhantomData,
        }
    }

    /// Ends the guard without releasing the read: the caller takes over the
    /// read and the live access to the value.
    #[inline]
    pub(crate) fn into_parts(this: Self) -> (&'a RawRwLock, SharedAccess<T>) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the access is moved out once.
        let access = unsafe { ManuallyDrop::take(&mut this.access) };
        (this.raw, access)
    }
}

impl<T: ?Sized> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the access to the value ends before
        // the read is released.
        unsafe { ManuallyDrop::drop(&mut self.access) };
        // SAFETY: the guard holds a read, and this is its only release.
        unsafe { self.raw.release(Kind::Read) };
    }
}

impl<T: ?Sized> Deref for ReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read: nobody holds a `&mut T`.
        unsafe { self.access.get() }
    }
}

crate::macros::guard_fmt!(['a, T: ?Sized] ReadGuard<'a, T>);

rw_guard! {
    /// Holds the write of a [`RwLock<T>`]: exclusive access to the value.
    /// The write is released when the guard is dropped.
    ///
    /// Made by [`RwLock::write`], [`RwLock::try_write`] and the other
    /// writing methods, and by [`UpgradableReadGuard::upgrade`].
    /// [`WriteGuard::downgrade`] turns it into a read without letting
    /// another writer in; [`WriteGuard::map`] narrows it to a part of the
    /// value.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(vec![1]);
    /// let mut guard = lock.write().await;
    /// guard.push(2);
    /// assert!(std::ptr::eq(turnlock::WriteGuard::source(&guard), &lock));
    /// # });
    /// ```
    ///
    /// A reference into the value cannot outlive the guard:
    ///
    /// ```compile_fail,E0505
    /// let lock = turnlock::RwLock::new(0);
    /// let guard = lock.try_write().unwrap();
    /// let value: &i32 = &guard;
    /// drop(guard);
    /// assert_eq!(*value, 0);
    /// ```
    ///
    /// It is `Send` and `Sync` when `T: Send + Sync` (it gives `&mut T`
    /// where it is, and can become a read that others share). The guard of
    /// an `Rc` stays on its thread:
    ///
    /// ```compile_fail,E0277
    /// use std::rc::Rc;
    ///
    /// let lock = turnlock::RwLock::new(Rc::new(0));
    /// let guard = lock.try_write().unwrap();
    /// std::thread::scope(|scope| {
    ///     scope.spawn(move || drop(guard));
    /// });
    /// ```
    #[must_use = "if unused the write is released at once"]
    pub struct WriteGuard<'a, T>(&'a RwLock<T>, Access = access, Kind::Write);
    // SAFETY: `Send`: moving the guard moves `&mut T` (`T: Send`), which a
    // downgrade turns into a `&T` shared with other threads' readers
    // (`T: Sync`); the release is not tied to a thread.
    // `Sync`: `&WriteGuard` gives `&T` and `&RwLock<T>`.
    unsafe impl Send + Sync where T: Send + Sync;
    source[
        /// The lock this guard writes.
        ///
        /// ```
        /// let lock = turnlock::RwLock::new(());
        /// let guard = lock.try_write().unwrap();
        /// assert!(std::ptr::eq(turnlock::WriteGuard::source(&guard), &lock));
        /// ```
    ];
}

impl<T: ?Sized> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write, and `&mut self` rules out other
        // borrows through it.
        unsafe { self.access.get_mut() }
    }
}

impl<'a, T: ?Sized> WriteGuard<'a, T> {
    /// Turns the write into a read, atomically: no writer comes in between,
    /// and readers waiting behind this writer may join at once.
    ///
    /// ```
    /// use turnlock::WriteGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(0);
    /// let mut writer = lock.write().await;
    /// *writer = 42;
    /// let reader = WriteGuard::downgrade(writer);
    /// assert_eq!(*reader, 42);
    /// assert!(lock.try_read().is_some()); // others may read too
    /// assert!(lock.try_write().is_none());
    /// # });
    /// ```
    pub fn downgrade(this: Self) -> ReadGuard<'a, T> {
        let (lock, access) = WriteGuard::into_parts(this);
        access.end();
        // SAFETY: we held the write and its access to the value has ended.
        unsafe { lock.downgrade_write() }
    }

    /// Turns the write into the upgradable read, atomically.
    ///
    /// ```
    /// use turnlock::{UpgradableReadGuard, WriteGuard};
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(1);
    /// let writer = lock.write().await;
    /// let upgradable = WriteGuard::downgrade_to_upgradable(writer);
    /// assert!(lock.try_read().is_some());
    /// let mut writer = UpgradableReadGuard::upgrade(upgradable).await;
    /// *writer = 2;
    /// # });
    /// ```
    pub fn downgrade_to_upgradable(this: Self) -> UpgradableReadGuard<'a, T> {
        let (lock, access) = WriteGuard::into_parts(this);
        access.end();
        // SAFETY: we held the write and its access to the value has ended.
        unsafe { lock.downgrade_write_to_upgradable() }
    }
}

rw_guard! {
    /// Holds the upgradable read of a [`RwLock<T>`]: shared access beside
    /// plain readers, exclusive among writers and upgradable readers, with
    /// the right to become the writer. Released when dropped.
    ///
    /// Made by [`RwLock::upgradable_read`] and its siblings.
    /// [`UpgradableReadGuard::upgrade`] waits for the plain readers to leave
    /// and turns it into a [`WriteGuard`] with no other writer in between;
    /// while it waits, no new reader comes in.
    /// [`UpgradableReadGuard::try_upgrade`] does so only if no reader holds
    /// the lock, and [`UpgradableReadGuard::downgrade`] turns it into a plain
    /// read.
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(vec![3, 1, 2]);
    /// let guard = lock.upgradable_read().await;
    /// if !guard.is_sorted() {
    ///     let mut guard = UpgradableReadGuard::upgrade(guard).await;
    ///     guard.sort();
    /// }
    /// assert_eq!(*lock.read().await, [1, 2, 3]);
    /// # });
    /// ```
    ///
    /// It gives only `&T`:
    ///
    /// ```compile_fail,E0596
    /// let lock = turnlock::RwLock::new(0);
    /// let mut guard = lock.try_upgradable_read().unwrap();
    /// *guard += 1;
    /// ```
    ///
    /// It is `Send` and `Sync` when `T: Send + Sync`.
    #[must_use = "if unused the upgradable read is released at once"]
    pub struct UpgradableReadGuard<'a, T>(&'a RwLock<T>, SharedAccess = shared_access, Kind::Upgradable);
    // SAFETY: `Send`: moving the guard moves a `&T` shared with other
    // threads' readers (`T: Sync`) and the right to a `&mut T` after an
    // upgrade (`T: Send`).
    // `Sync`: `&UpgradableReadGuard` gives `&T` and `&RwLock<T>`.
    unsafe impl Send + Sync where T: Send + Sync;
    source[
        /// The lock this guard reads.
        ///
        /// ```
        /// let lock = turnlock::RwLock::new(());
        /// let guard = lock.try_upgradable_read().unwrap();
        /// assert!(std::ptr::eq(turnlock::UpgradableReadGuard::source(&guard), &lock));
        /// ```
    ];
}

impl<'a, T: ?Sized> UpgradableReadGuard<'a, T> {
    /// Turns the upgradable read into a plain read, atomically; another
    /// upgradable reader (or, once the readers are gone, a writer) may then
    /// come in.
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// let lock = turnlock::RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// let reader = UpgradableReadGuard::downgrade(upgradable);
    /// assert!(lock.try_upgradable_read().is_some());
    /// # drop(reader);
    /// ```
    pub fn downgrade(this: Self) -> ReadGuard<'a, T> {
        let (lock, access) = UpgradableReadGuard::into_parts(this);
        access.end();
        // SAFETY: we held the upgradable read, and its access has ended.
        unsafe { lock.downgrade_upgradable() }
    }

    /// Upgrades at once if no plain reader holds the lock, or gives the
    /// guard back.
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// let lock = turnlock::RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let upgradable = UpgradableReadGuard::try_upgrade(upgradable).unwrap_err();
    /// drop(reader);
    /// let mut writer = UpgradableReadGuard::try_upgrade(upgradable).unwrap();
    /// *writer += 1;
    /// ```
    pub fn try_upgrade(this: Self) -> Result<WriteGuard<'a, T>, Self> {
        let (lock, access) = UpgradableReadGuard::into_parts(this);
        try_upgrade(lock, access)
    }
}

/// `try_upgrade` of an upgradable guard of either handle, from its parts.
pub(super) fn try_upgrade<H: Handle>(
    lock: H,
    access: SharedAccess<H::Value>,
) -> Result<H::Write, H::Upgradable> {
    access.end();
    // SAFETY: the guard held the upgradable read and its access has ended.
    match unsafe { lock.try_upgrade() } {
        Ok(writer) => Ok(writer),
        // SAFETY: we still hold the upgradable read: a new guard takes it.
        Err(lock) => Err(unsafe { lock.upgradable() }),
    }
}
