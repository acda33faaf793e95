//! Mapped guards of a [`RwLock`]: a read or the write held through a part
//! of the value, as tokio's `RwLockReadGuard::map` and
//! `RwLockWriteGuard::map` give. The lock stays held until the mapped guard
//! is dropped; it keeps the raw protocol (or the `Arc` of an owned guard)
//! and the live access to the value, and releases both in that order.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::ptr::NonNull;

#[cfg(target_has_atomic = "ptr")]
use super::{OwnedReadGuard, OwnedWriteGuard};
use super::{ReadGuard, RwLock, WriteGuard};
use crate::macros::guard_fmt;
use crate::raw::{Kind, RawRwLock};
use crate::sync::ErasedAccess;
#[cfg(target_has_atomic = "ptr")]
use crate::sync::{Access, SharedAccess};

/// Declares a mapped guard: the struct, its constructor and parts, its
/// release on drop, `Deref`, `Debug` and `Display`. `[$($gen)*]` are the
/// generic parameters, `[$($arg)*]` the type's arguments.
macro_rules! mapped_guard {
    (
        $(#[$attr:meta])*
        pub struct $guard:ident[$($gen:tt)*][$($arg:tt)*] {
            keep: $keep:ty,
            access: $access:ty,
            part: $part:ty,
            kind: $kind:expr,
            raw: |$this:ident| $raw:expr,
        }
    ) => {
        $(#[$attr])*
        pub struct $guard<$($gen)*> {
            /// Keeps the lock alive, and releases it.
            keep: $keep,
            /// Ends before the lock is released (under loom it is tracked).
            access: ManuallyDrop<$access>,
            /// The part of the value; valid while the lock is held.
            value: NonNull<U>,
            /// What the guard gives: `&U` or `&mut U`.
            _part: PhantomData<$part>,
        }

        impl<$($gen)*> $guard<$($arg)*> {
            /// # Safety
            ///
            /// The caller holds the access of this guard's kind through
            /// `keep`, and hands it over with the access to the value that
            /// `value` points into.
            #[inline]
            unsafe fn new(keep: $keep, access: $access, value: NonNull<U>) -> Self {
                Self {
                    keep,
                    access: ManuallyDrop::new(access),
                    value,
                    _part: PhantomData,
                }
            }

            /// Ends the guard without releasing the lock.
            #[inline]
            fn into_parts(this: Self) -> ($keep, $access) {
                let mut this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped, so each field is moved
                // out exactly once.
                unsafe { (ptr::read(&this.keep), ManuallyDrop::take(&mut this.access)) }
            }
        }

        impl<$($gen)*> Drop for $guard<$($arg)*> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: dropped once, here; the access ends before the lock
                // is released.
                unsafe { ManuallyDrop::drop(&mut self.access) };
                let $this = &*self;
                // SAFETY: the guard holds its access, and this is its only
                // release.
                unsafe { $raw.release($kind) };
            }
        }

        impl<$($gen)*> Deref for $guard<$($arg)*> {
            type Target = U;

            #[inline]
            fn deref(&self) -> &U {
                // SAFETY: the guard holds its access, `value` points into the
                // locked value, and `&self` rules out a live `&mut U`.
                unsafe { self.value.as_ref() }
            }
        }

        guard_fmt!([$($gen)*] $guard<$($arg)*>);
    };
}

impl<'a, T: ?Sized> ReadGuard<'a, T> {
    /// Narrows the read to a part of the value; the read stays held until
    /// the returned [`MappedReadGuard`] is dropped.
    ///
    /// An associated function, so that it never shadows a method of `T`.
    /// If `f` panics, the guard is dropped and the read released.
    ///
    /// ```
    /// use turnlock::{ReadGuard, RwLock};
    ///
    /// let lock = RwLock::new((String::from("name"), 7));
    /// let number = ReadGuard::map(lock.try_read().unwrap(), |(_, n)| n);
    /// assert_eq!(*number, 7);
    /// assert!(lock.try_write().is_none()); // still read
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(this: Self, f: F) -> MappedReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let value = NonNull::from(f(&*this));
        let (raw, access) = ReadGuard::into_parts(this);
        // SAFETY: the guard held a read and hands it over with its access;
        // `value` points into the value the access covers.
        unsafe { MappedReadGuard::new(raw, access.erase(), value) }
    }

    /// Narrows the read to a part of the value if `f` finds one, or gives
    /// the guard back.
    ///
    /// ```
    /// use turnlock::{ReadGuard, RwLock};
    ///
    /// let lock = RwLock::new(vec![1, 2]);
    /// let guard = ReadGuard::try_map(lock.try_read().unwrap(), |v| v.get(5)).unwrap_err();
    /// let second = ReadGuard::try_map(guard, |v| v.get(1)).unwrap();
    /// assert_eq!(*second, 2);
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(this: Self, f: F) -> Result<MappedReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (raw, access) = ReadGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedReadGuard::new(raw, access.erase(), value) })
    }
}

impl<'a, T: ?Sized> WriteGuard<'a, T> {
    /// Narrows the write to a part of the value; the write stays held
    /// until the returned [`MappedWriteGuard`] is dropped.
    ///
    /// ```
    /// use turnlock::{RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new((String::new(), 0));
    /// let mut count = WriteGuard::map(lock.try_write().unwrap(), |(_, n)| n);
    /// *count += 1;
    /// drop(count);
    /// assert_eq!(lock.try_read().unwrap().1, 1);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> MappedWriteGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = WriteGuard::into_parts(this);
        // SAFETY: the guard held the write and hands it over with its
        // access; `value` points into the value the access covers.
        unsafe { MappedWriteGuard::new(lock.raw(), access.erase(), value) }
    }

    /// Narrows the write to a part of the value if `f` finds one, or gives
    /// the guard back.
    ///
    /// ```
    /// use turnlock::{RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new(Some(1));
    /// let mut inner = WriteGuard::try_map(lock.try_write().unwrap(), Option::as_mut).unwrap();
    /// *inner = 2;
    /// drop(inner);
    /// assert_eq!(*lock.try_read().unwrap(), Some(2));
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<MappedWriteGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = WriteGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedWriteGuard::new(lock.raw(), access.erase(), value) })
    }
}

impl<'a, T: ?Sized> WriteGuard<'a, T> {
    /// Turns the write into a read of a part of the value, atomically
    /// (tokio's `downgrade_map`): `f` picks the part while the write is
    /// still held, then readers may join.
    ///
    /// ```
    /// use turnlock::{RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new((1, String::from("name")));
    /// let mut writer = lock.try_write().unwrap();
    /// writer.0 += 1;
    /// let number = WriteGuard::downgrade_map(writer, |(n, _)| n);
    /// assert_eq!(*number, 2);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    pub fn downgrade_map<U: ?Sized, F>(this: Self, f: F) -> MappedReadGuard<'a, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let value = NonNull::from(f(&*this));
        let (raw, access) = ReadGuard::into_parts(WriteGuard::downgrade(this));
        // SAFETY: the downgrade left us a read with its access; `value`
        // points into the value, which nobody writes while we read.
        unsafe { MappedReadGuard::new(raw, access.erase(), value) }
    }

    /// Like [`downgrade_map`](WriteGuard::downgrade_map) if `f` finds a
    /// part; otherwise gives the write guard back, still writing.
    ///
    /// ```
    /// use turnlock::{RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new(vec![1]);
    /// let writer = lock.try_write().unwrap();
    /// let writer = WriteGuard::try_downgrade_map(writer, |v| v.get(3)).unwrap_err();
    /// let first = WriteGuard::try_downgrade_map(writer, |v| v.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[inline]
    pub fn try_downgrade_map<U: ?Sized, F>(this: Self, f: F) -> Result<MappedReadGuard<'a, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (raw, access) = ReadGuard::into_parts(WriteGuard::downgrade(this));
        // SAFETY: as in `downgrade_map`.
        Ok(unsafe { MappedReadGuard::new(raw, access.erase(), value) })
    }
}

mapped_guard! {
    /// Holds a read of a [`RwLock`] and dereferences to a part of its value;
    /// made by [`ReadGuard::map`] and [`ReadGuard::try_map`].
    ///
    /// The read is released when it is dropped; it can be mapped again.
    /// It is `Send` and `Sync` when `U: Sync`: it reaches only `&U`, and
    /// releasing a read touches no value.
    ///
    /// ```
    /// use turnlock::{MappedReadGuard, ReadGuard, RwLock};
    ///
    /// let lock = RwLock::new(vec![(1, 'a'), (2, 'b')]);
    /// let pair = ReadGuard::map(lock.try_read().unwrap(), |v| &v[1]);
    /// let letter: MappedReadGuard<'_, char> = MappedReadGuard::map(pair, |(_, c)| c);
    /// assert_eq!(*letter, 'b');
    /// ```
    ///
    /// A mapped guard cannot outlive its lock:
    ///
    /// ```compile_fail,E0597
    /// let guard = {
    ///     let lock = turnlock::RwLock::new((0, 0));
    ///     turnlock::ReadGuard::map(lock.try_read().unwrap(), |(a, _)| a)
    /// };
    /// ```
    #[must_use = "if unused the read is released at once"]
    pub struct MappedReadGuard['a, U: ?Sized]['a, U] {
        keep: &'a RawRwLock,
        access: ErasedAccess<'a>,
        part: &'a U,
        kind: Kind::Read,
        raw: |this| this.keep,
    }
}

// SAFETY: the mapped guard gives `&U` to whichever thread holds it (`U:
// Sync`); releasing a read is not tied to a thread.
unsafe impl<U: ?Sized + Sync> Send for MappedReadGuard<'_, U> {}
// SAFETY: `&MappedReadGuard` gives only `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedReadGuard<'_, U> {}

impl<'a, U: ?Sized> MappedReadGuard<'a, U> {
    /// Narrows the mapped read further.
    ///
    /// ```
    /// use turnlock::{MappedReadGuard, ReadGuard, RwLock};
    ///
    /// let lock = RwLock::new(((1, 2), 3));
    /// let inner = ReadGuard::map(lock.try_read().unwrap(), |(inner, _)| inner);
    /// assert_eq!(*MappedReadGuard::map(inner, |(_, b)| b), 2);
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(this: Self, f: F) -> MappedReadGuard<'a, V>
    where
        F: FnOnce(&U) -> &V,
    {
        let value = NonNull::from(f(&*this));
        let (raw, access) = MappedReadGuard::into_parts(this);
        // SAFETY: the mapped guard held a read and hands it over with its
        // access; `value` points into the part it guarded.
        unsafe { MappedReadGuard::new(raw, access, value) }
    }

    /// Narrows the mapped read further if `f` finds a part, or gives it back.
    ///
    /// ```
    /// use turnlock::{MappedReadGuard, ReadGuard, RwLock};
    ///
    /// let lock = RwLock::new((0, vec![7]));
    /// let items = ReadGuard::map(lock.try_read().unwrap(), |(_, items)| items);
    /// let items = MappedReadGuard::try_map(items, |items| items.get(3)).unwrap_err();
    /// assert_eq!(*items, [7]);
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(this: Self, f: F) -> Result<MappedReadGuard<'a, V>, Self>
    where
        F: FnOnce(&U) -> Option<&V>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (raw, access) = MappedReadGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedReadGuard::new(raw, access, value) })
    }
}

mapped_guard! {
    /// Holds the write of a [`RwLock`] and dereferences to a part of its
    /// value; made by [`WriteGuard::map`] and [`WriteGuard::try_map`].
    ///
    /// The write is released when it is dropped; it can be mapped again.
    /// It is `Send` when `U: Send` and `Sync` when `U: Sync`.
    ///
    /// ```
    /// use turnlock::{MappedWriteGuard, RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new((String::from("config"), vec![1, 2]));
    /// let items = WriteGuard::map(lock.try_write().unwrap(), |(_, items)| items);
    /// let mut first = MappedWriteGuard::map(items, |items| &mut items[0]);
    /// *first = 10;
    /// drop(first);
    /// assert_eq!(lock.try_read().unwrap().1, [10, 2]);
    /// ```
    ///
    /// It is invariant in `U`:
    ///
    /// ```compile_fail
    /// use turnlock::MappedWriteGuard;
    ///
    /// fn shorten<'a, 'b>(guard: MappedWriteGuard<'a, &'static str>) -> MappedWriteGuard<'a, &'b str> {
    ///     guard
    /// }
    /// ```
    #[must_use = "if unused the write is released at once"]
    pub struct MappedWriteGuard['a, U: ?Sized]['a, U] {
        keep: &'a RawRwLock,
        access: ErasedAccess<'a>,
        part: &'a mut U,
        kind: Kind::Write,
        raw: |this| this.keep,
    }
}

// SAFETY: the mapped guard gives `&mut U` to whichever thread holds it
// (`U: Send`); releasing the write is not tied to a thread.
unsafe impl<U: ?Sized + Send> Send for MappedWriteGuard<'_, U> {}
// SAFETY: `&MappedWriteGuard` gives only `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedWriteGuard<'_, U> {}

impl<U: ?Sized> DerefMut for MappedWriteGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: the guard holds the write, `value` points into the value,
        // and `&mut self` rules out other borrows.
        unsafe { self.value.as_mut() }
    }
}

impl<'a, U: ?Sized> MappedWriteGuard<'a, U> {
    /// Narrows the mapped write further.
    ///
    /// ```
    /// use turnlock::{MappedWriteGuard, RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new(((1, 2), 3));
    /// let inner = WriteGuard::map(lock.try_write().unwrap(), |(inner, _)| inner);
    /// *MappedWriteGuard::map(inner, |(_, b)| b) = 20;
    /// assert_eq!(*lock.try_read().unwrap(), ((1, 20), 3));
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(mut this: Self, f: F) -> MappedWriteGuard<'a, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let value = NonNull::from(f(&mut *this));
        let (raw, access) = MappedWriteGuard::into_parts(this);
        // SAFETY: the mapped guard held the write and hands it over with
        // its access; `value` points into the part it guarded.
        unsafe { MappedWriteGuard::new(raw, access, value) }
    }

    /// Narrows the mapped write further if `f` finds a part, or gives it
    /// back.
    ///
    /// ```
    /// use turnlock::{MappedWriteGuard, RwLock, WriteGuard};
    ///
    /// let lock = RwLock::new((0, vec![7]));
    /// let items = WriteGuard::map(lock.try_write().unwrap(), |(_, items)| items);
    /// let mut first = MappedWriteGuard::try_map(items, |items| items.first_mut()).unwrap();
    /// *first += 1;
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(mut this: Self, f: F) -> Result<MappedWriteGuard<'a, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (raw, access) = MappedWriteGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedWriteGuard::new(raw, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedReadGuard<T> {
    /// Narrows the owned read to a part of the value; the read stays held
    /// until the returned [`OwnedMappedReadGuard`] is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((String::from("jobs"), 3)));
    /// let count = OwnedReadGuard::map(lock.try_read_owned().unwrap(), |(_, n)| n);
    /// assert_eq!(std::thread::spawn(move || *count).join().unwrap(), 3);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(this: Self, f: F) -> OwnedMappedReadGuard<T, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let value = NonNull::from(f(&*this));
        let (lock, access) = OwnedReadGuard::into_parts(this);
        // SAFETY: the guard held a read and hands it over with its access;
        // `value` points into the value the access covers.
        unsafe { OwnedMappedReadGuard::new(lock, access, value) }
    }

    /// Narrows the owned read to a part of the value if `f` finds one, or
    /// gives the guard back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(None::<u8>));
    /// let guard = OwnedReadGuard::try_map(lock.try_read_owned().unwrap(), Option::as_ref);
    /// assert!(guard.is_err());
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(this: Self, f: F) -> Result<OwnedMappedReadGuard<T, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedReadGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedReadGuard::new(lock, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedWriteGuard<T> {
    /// Narrows the owned write to a part of the value; the write stays held
    /// until the returned [`OwnedMappedWriteGuard`] is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((String::from("jobs"), 0)));
    /// let mut done = OwnedWriteGuard::map(lock.try_write_owned().unwrap(), |(_, n)| n);
    /// std::thread::spawn(move || *done += 1).join().unwrap();
    /// assert_eq!(lock.try_read().unwrap().1, 1);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> OwnedMappedWriteGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = OwnedWriteGuard::into_parts(this);
        // SAFETY: the guard held the write and hands it over with its
        // access; `value` points into the value the access covers.
        unsafe { OwnedMappedWriteGuard::new(lock, access, value) }
    }

    /// Narrows the owned write to a part of the value if `f` finds one, or
    /// gives the guard back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(vec![1]));
    /// let mut last = OwnedWriteGuard::try_map(lock.try_write_owned().unwrap(), |v| v.last_mut())
    ///     .unwrap();
    /// *last = 5;
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<OwnedMappedWriteGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedWriteGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedWriteGuard::new(lock, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedWriteGuard<T> {
    /// Turns the owned write into a read of a part of the value, atomically
    /// (see [`WriteGuard::downgrade_map`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let second = OwnedWriteGuard::downgrade_map(lock.try_write_owned().unwrap(), |(_, b)| b);
    /// assert_eq!(*second, 2);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    pub fn downgrade_map<U: ?Sized, F>(this: Self, f: F) -> OwnedMappedReadGuard<T, U>
    where
        F: FnOnce(&T) -> &U,
    {
        let value = NonNull::from(f(&*this));
        let (lock, access) = OwnedReadGuard::into_parts(OwnedWriteGuard::downgrade(this));
        // SAFETY: as in `WriteGuard::downgrade_map`.
        unsafe { OwnedMappedReadGuard::new(lock, access, value) }
    }

    /// Like [`downgrade_map`](OwnedWriteGuard::downgrade_map) if `f` finds
    /// a part; otherwise gives the write guard back, still writing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(None::<u8>));
    /// let writer = lock.try_write_owned().unwrap();
    /// assert!(OwnedWriteGuard::try_downgrade_map(writer, Option::as_ref).is_err());
    /// ```
    #[inline]
    pub fn try_downgrade_map<U: ?Sized, F>(
        this: Self,
        f: F,
    ) -> Result<OwnedMappedReadGuard<T, U>, Self>
    where
        F: FnOnce(&T) -> Option<&U>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedReadGuard::into_parts(OwnedWriteGuard::downgrade(this));
        // SAFETY: as in `WriteGuard::downgrade_map`.
        Ok(unsafe { OwnedMappedReadGuard::new(lock, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
mapped_guard! {
    /// Holds a read of an `Arc<RwLock<T>>` and dereferences to a part `U`
    /// of its value; `'static`. Made by [`OwnedReadGuard::map`] and
    /// [`OwnedReadGuard::try_map`].
    ///
    /// It keeps the `Arc`, so it is `Send` and `Sync` when `T: Send + Sync`
    /// and `U: Sync`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedReadGuard, OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((1, (2, 3))));
    /// let inner = OwnedReadGuard::map(lock.try_read_owned().unwrap(), |(_, inner)| inner);
    /// let three = OwnedMappedReadGuard::map(inner, |(_, c)| c);
    /// assert_eq!(*three, 3);
    /// assert!(Arc::ptr_eq(OwnedMappedReadGuard::source(&three), &lock));
    /// ```
    #[must_use = "if unused the read is released at once"]
    pub struct OwnedMappedReadGuard[T: ?Sized, U: ?Sized][T, U] {
        keep: Arc<RwLock<T>>,
        access: SharedAccess<T>,
        part: *const U,
        kind: Kind::Read,
        raw: |this| this.keep.raw(),
    }
}

// SAFETY: moving the guard moves `&U` (`U: Sync`) and the `Arc<RwLock<T>>`,
// which is `Send` when `T: Send + Sync`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Send for OwnedMappedReadGuard<T, U> {}
// SAFETY: `&OwnedMappedReadGuard` gives `&U` and `&Arc<RwLock<T>>`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedReadGuard<T, U> {}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> OwnedMappedReadGuard<T, U> {
    /// The lock this guard reads.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedReadGuard, OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let first = OwnedReadGuard::map(lock.try_read_owned().unwrap(), |(a, _)| a);
    /// assert!(Arc::ptr_eq(OwnedMappedReadGuard::source(&first), &lock));
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &Arc<RwLock<T>> {
        &this.keep
    }

    /// Narrows the mapped read further.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedReadGuard, OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(((0, 1), 2)));
    /// let inner = OwnedReadGuard::map(lock.try_read_owned().unwrap(), |(inner, _)| inner);
    /// assert_eq!(*OwnedMappedReadGuard::map(inner, |(_, one)| one), 1);
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(this: Self, f: F) -> OwnedMappedReadGuard<T, V>
    where
        F: FnOnce(&U) -> &V,
    {
        let value = NonNull::from(f(&*this));
        let (lock, access) = OwnedMappedReadGuard::into_parts(this);
        // SAFETY: the mapped guard held a read and hands it over with its
        // access; `value` points into the part it guarded.
        unsafe { OwnedMappedReadGuard::new(lock, access, value) }
    }

    /// Narrows the mapped read further if `f` finds a part, or gives it back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedReadGuard, OwnedReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((0, vec![1])));
    /// let items = OwnedReadGuard::map(lock.try_read_owned().unwrap(), |(_, items)| items);
    /// let first = OwnedMappedReadGuard::try_map(items, |items| items.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(this: Self, f: F) -> Result<OwnedMappedReadGuard<T, V>, Self>
    where
        F: FnOnce(&U) -> Option<&V>,
    {
        let Some(value) = f(&*this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedMappedReadGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedReadGuard::new(lock, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
mapped_guard! {
    /// Holds the write of an `Arc<RwLock<T>>` and dereferences to a part
    /// `U` of its value; `'static`. Made by [`OwnedWriteGuard::map`] and
    /// [`OwnedWriteGuard::try_map`].
    ///
    /// It keeps the `Arc`, so it is `Send` when `T: Send + Sync` and
    /// `U: Send`, and `Sync` when `T: Send + Sync` and `U: Sync`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedWriteGuard, OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(vec![(1, 'a'), (2, 'b')]));
    /// let pair = OwnedWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v[1]);
    /// let mut letter = OwnedMappedWriteGuard::map(pair, |(_, c)| c);
    /// *letter = 'z';
    /// assert!(Arc::ptr_eq(OwnedMappedWriteGuard::source(&letter), &lock));
    /// ```
    #[must_use = "if unused the write is released at once"]
    pub struct OwnedMappedWriteGuard[T: ?Sized, U: ?Sized][T, U] {
        keep: Arc<RwLock<T>>,
        access: Access<T>,
        part: *mut U,
        kind: Kind::Write,
        raw: |this| this.keep.raw(),
    }
}

// SAFETY: moving the guard moves `&mut U` (`U: Send`) and the
// `Arc<RwLock<T>>`, which is `Send` when `T: Send + Sync`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send> Send for OwnedMappedWriteGuard<T, U> {}
// SAFETY: `&OwnedMappedWriteGuard` gives `&U` and `&Arc<RwLock<T>>`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedWriteGuard<T, U> {}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedWriteGuard<T, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: the guard holds the write, `value` points into the value,
        // and `&mut self` rules out other borrows.
        unsafe { self.value.as_mut() }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> OwnedMappedWriteGuard<T, U> {
    /// The lock this guard writes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedWriteGuard, OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((1, 2)));
    /// let first = OwnedWriteGuard::map(lock.try_write_owned().unwrap(), |(a, _)| a);
    /// assert!(Arc::ptr_eq(OwnedMappedWriteGuard::source(&first), &lock));
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &Arc<RwLock<T>> {
        &this.keep
    }

    /// Narrows the mapped write further.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedWriteGuard, OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(((0, 1), 2)));
    /// let inner = OwnedWriteGuard::map(lock.try_write_owned().unwrap(), |(inner, _)| inner);
    /// *OwnedMappedWriteGuard::map(inner, |(_, one)| one) = 10;
    /// assert_eq!(*lock.try_read().unwrap(), ((0, 10), 2));
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(mut this: Self, f: F) -> OwnedMappedWriteGuard<T, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = OwnedMappedWriteGuard::into_parts(this);
        // SAFETY: the mapped guard held the write and hands it over with
        // its access; `value` points into the part it guarded.
        unsafe { OwnedMappedWriteGuard::new(lock, access, value) }
    }

    /// Narrows the mapped write further if `f` finds a part, or gives it
    /// back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{OwnedMappedWriteGuard, OwnedWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new((0, vec![1])));
    /// let items = OwnedWriteGuard::map(lock.try_write_owned().unwrap(), |(_, items)| items);
    /// let items = OwnedMappedWriteGuard::try_map(items, |items| items.get_mut(4)).unwrap_err();
    /// assert_eq!(*items, [1]);
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(mut this: Self, f: F) -> Result<OwnedMappedWriteGuard<T, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedMappedWriteGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedWriteGuard::new(lock, access, value) })
    }
}
