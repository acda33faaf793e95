//! Mapped guards: the lock of a [`Lock<T>`] held through a part of `T`.
//!
//! [`Guard::map`] and [`OwnedGuard::map`] turn a guard into one that
//! dereferences to a part of the value (a field, an element, the inside of
//! an enum variant). The lock stays held until the mapped guard is dropped.
//! A mapped guard keeps the lock's raw protocol and the live access to the
//! value (under loom, the tracked access, type-erased for [`MappedGuard`]),
//! and releases both in that order, exactly like the guard it came from.

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

#[cfg(target_has_atomic = "ptr")]
use crate::lock::OwnedGuard;
use crate::lock::{Guard, Lock};
use crate::raw::RawLock;
#[cfg(target_has_atomic = "ptr")]
use crate::sync::Access;
use crate::sync::ErasedAccess;

impl<'a, T: ?Sized> Guard<'a, T> {
    /// Narrows the guard to a part of the value; the lock stays held until
    /// the returned [`MappedGuard`] is dropped.
    ///
    /// An associated function (`Guard::map(guard, ...)`), so that it never
    /// shadows a method of `T`. If `f` panics, the guard is dropped and the
    /// lock released.
    ///
    /// ```
    /// use turnlock::{Guard, Lock, MappedGuard};
    ///
    /// struct Account {
    ///     owner: String,
    ///     balance: u64,
    /// }
    ///
    /// let lock = Lock::new(Account { owner: "ada".into(), balance: 10 });
    /// let mut balance: MappedGuard<'_, u64> =
    ///     Guard::map(lock.try_lock().unwrap(), |account| &mut account.balance);
    /// *balance += 5;
    /// assert!(lock.is_locked()); // held until `balance` is dropped
    /// drop(balance);
    /// assert_eq!(lock.try_lock().unwrap().balance, 15);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> MappedGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = Guard::into_parts(this);
        // SAFETY: the guard owned the lock and handed it over with its
        // access; `value` points into the value that the access covers.
        unsafe { MappedGuard::new(lock.raw(), access.erase(), value) }
    }

    /// Narrows the guard to a part of the value if `f` finds one, or gives
    /// the guard back.
    ///
    /// As [`Guard::map`], but `f` may return `None`; then the result is
    /// `Err` with the original guard, still holding the lock.
    ///
    /// ```
    /// use turnlock::{Guard, Lock};
    ///
    /// let lock = Lock::new(vec![1, 2, 3]);
    /// let guard = lock.try_lock().unwrap();
    /// // No tenth element: the guard comes back.
    /// let guard = Guard::try_map(guard, |v| v.get_mut(10)).unwrap_err();
    /// let mut last = Guard::try_map(guard, |v| v.last_mut()).unwrap();
    /// *last = 30;
    /// drop(last);
    /// assert_eq!(*lock.try_lock().unwrap(), [1, 2, 30]);
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<MappedGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = Guard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedGuard::new(lock.raw(), access.erase(), value) })
    }
}

/// Holds the lock of a [`Lock`] and dereferences to a part of its value;
/// made by [`Guard::map`] and [`Guard::try_map`].
///
/// The lock is released when it is dropped. It can be mapped again, to a
/// part of the part, with [`MappedGuard::map`] and [`MappedGuard::try_map`].
///
/// ```
/// use turnlock::{Guard, Lock, MappedGuard};
///
/// let lock = Lock::new((String::from("config"), vec![1, 2]));
/// let items = Guard::map(lock.try_lock().unwrap(), |(_, items)| items);
/// let mut first = MappedGuard::map(items, |items| &mut items[0]);
/// *first = 10;
/// drop(first);
/// assert_eq!(lock.try_lock().unwrap().1, [10, 2]);
/// ```
///
/// It is `Send` when `U: Send` and `Sync` when `U: Sync`, whatever the rest
/// of the value is: it reaches only its part, and releasing the lock touches
/// no value. So the part of a value that must stay on its thread can still
/// be handed to another thread:
///
/// ```
/// use std::rc::Rc;
/// use turnlock::{Guard, Lock};
///
/// let lock = Lock::new((Rc::new("local"), 0_u32));
/// let mut count = Guard::map(lock.try_lock().unwrap(), |(_, count)| count);
/// std::thread::scope(|scope| {
///     scope.spawn(move || *count += 1);
/// });
/// assert_eq!(lock.try_lock().unwrap().1, 1);
/// ```
///
/// but a part that is not `Send` cannot move:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use turnlock::{Guard, Lock};
///
/// let lock = Lock::new((Rc::new(0), 0_u32));
/// let rc = Guard::map(lock.try_lock().unwrap(), |(rc, _)| rc);
/// std::thread::scope(|scope| {
///     scope.spawn(move || drop(rc));
/// });
/// ```
///
/// and a part that is not `Sync` cannot be shared:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
/// use turnlock::{Guard, Lock};
///
/// let lock = Lock::new((Cell::new(0), 0_u32));
/// let cell = Guard::map(lock.try_lock().unwrap(), |(cell, _)| cell);
/// std::thread::scope(|scope| {
///     scope.spawn(|| cell.get());
/// });
/// ```
///
/// A mapped guard cannot outlive its lock:
///
/// ```compile_fail,E0597
/// let guard = {
///     let lock = turnlock::Lock::new((0, 0));
///     turnlock::Guard::map(lock.try_lock().unwrap(), |(a, _)| a)
/// };
/// ```
///
/// and is invariant in `U`, so a slot for a long-lived reference cannot be
/// filled with a short-lived one:
///
/// ```compile_fail
/// use turnlock::MappedGuard;
///
/// fn shorten<'a, 'b>(guard: MappedGuard<'a, &'static str>) -> MappedGuard<'a, &'b str> {
///     guard
/// }
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct MappedGuard<'a, U: ?Sized> {
    raw: &'a RawLock,
    /// Dropped before the lock is released (under loom the access is tracked).
    access: ManuallyDrop<ErasedAccess<'a>>,
    /// The part of the value; valid while the lock is held.
    value: NonNull<U>,
    /// Exclusive access to a `U` for `'a`: invariant in `U`.
    _value: PhantomData<&'a mut U>,
}

// SAFETY: the mapped guard gives `&mut U` to whichever thread holds it, which
// `U: Send` permits; dropping it releases a `RawLock`, which is not tied to a
// thread. It reaches no other part of the lock's value.
unsafe impl<U: ?Sized + Send> Send for MappedGuard<'_, U> {}
// SAFETY: `&MappedGuard` gives only `&U`.
unsafe impl<U: ?Sized + Sync> Sync for MappedGuard<'_, U> {}

impl<'a, U: ?Sized> MappedGuard<'a, U> {
    /// # Safety
    ///
    /// The caller owns the lock of `raw` and hands it over, with the access
    /// to the value that `value` points into.
    #[inline]
    unsafe fn new(raw: &'a RawLock, access: ErasedAccess<'a>, value: NonNull<U>) -> Self {
        debug_assert!(raw.is_locked());
        Self {
            raw,
            access: ManuallyDrop::new(access),
            value,
            _value: PhantomData,
        }
    }

    /// Ends the guard without releasing the lock.
    #[inline]
    fn into_parts(this: Self) -> (&'a RawLock, ErasedAccess<'a>) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the access is moved out once.
        let access = unsafe { ManuallyDrop::take(&mut this.access) };
        (this.raw, access)
    }

    /// Narrows the mapped guard further; the lock stays held.
    ///
    /// ```
    /// use turnlock::{Guard, Lock, MappedGuard};
    ///
    /// let lock = Lock::new(Some((1, 2)));
    /// let pair = Guard::try_map(lock.try_lock().unwrap(), Option::as_mut).unwrap();
    /// let mut second = MappedGuard::map(pair, |(_, b)| b);
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(*lock.try_lock().unwrap(), Some((1, 20)));
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(mut this: Self, f: F) -> MappedGuard<'a, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let value = NonNull::from(f(&mut *this));
        let (raw, access) = MappedGuard::into_parts(this);
        // SAFETY: the mapped guard owned the lock and handed it over with
        // its access; `value` points into the part it guarded.
        unsafe { MappedGuard::new(raw, access, value) }
    }

    /// Narrows the mapped guard further if `f` finds a part, or gives it back.
    ///
    /// ```
    /// use turnlock::{Guard, Lock, MappedGuard};
    ///
    /// let lock = Lock::new((0, vec![7]));
    /// let items = Guard::map(lock.try_lock().unwrap(), |(_, items)| items);
    /// let items = MappedGuard::try_map(items, |items| items.get_mut(3)).unwrap_err();
    /// assert_eq!(*items, [7]);
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(mut this: Self, f: F) -> Result<MappedGuard<'a, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (raw, access) = MappedGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { MappedGuard::new(raw, access, value) })
    }
}

impl<U: ?Sized> Deref for MappedGuard<'_, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: the guard owns the lock, `value` points into the locked
        // value, and `&self` rules out a live `&mut U`.
        unsafe { self.value.as_ref() }
    }
}

impl<U: ?Sized> DerefMut for MappedGuard<'_, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: the guard owns the lock, `value` points into the locked
        // value, and `&mut self` rules out other borrows.
        unsafe { self.value.as_mut() }
    }
}

impl<U: ?Sized> Drop for MappedGuard<'_, U> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the access ends before the lock is released.
        unsafe { ManuallyDrop::drop(&mut self.access) };
        // SAFETY: the guard owns the lock, and this is its only release.
        unsafe { self.raw.unlock() };
    }
}

impl<U: ?Sized + fmt::Debug> fmt::Debug for MappedGuard<'_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<U: ?Sized + fmt::Display> fmt::Display for MappedGuard<'_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedGuard<T> {
    /// Narrows the owned guard to a part of the value; the lock stays held
    /// until the returned [`OwnedMappedGuard`] is dropped.
    ///
    /// An associated function, like [`Guard::map`]. If `f` panics, the
    /// guard is dropped and the lock released.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{Lock, OwnedGuard, OwnedMappedGuard};
    ///
    /// let lock = Arc::new(Lock::new((String::from("jobs"), 0_u32)));
    /// let mut done: OwnedMappedGuard<(String, u32), u32> =
    ///     OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, done)| done);
    /// std::thread::spawn(move || *done += 1).join().unwrap();
    /// assert_eq!(lock.try_lock().unwrap().1, 1);
    /// ```
    #[inline]
    pub fn map<U: ?Sized, F>(mut this: Self, f: F) -> OwnedMappedGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = OwnedGuard::into_parts(this);
        // SAFETY: the guard owned the lock and handed it over with its
        // access; `value` points into the value that the access covers.
        unsafe { OwnedMappedGuard::new(lock, access, value) }
    }

    /// Narrows the owned guard to a part of the value if `f` finds one, or
    /// gives the guard back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{Lock, OwnedGuard};
    ///
    /// let lock = Arc::new(Lock::new(None::<u32>));
    /// let guard = OwnedGuard::try_map(lock.try_lock_owned().unwrap(), Option::as_mut)
    ///     .unwrap_err();
    /// assert!(guard.is_none());
    /// ```
    #[inline]
    pub fn try_map<U: ?Sized, F>(mut this: Self, f: F) -> Result<OwnedMappedGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedGuard::new(lock, access, value) })
    }
}

/// Holds the lock of an `Arc<Lock<T>>` and dereferences to a part `U` of its
/// value; `'static` like [`OwnedGuard`]. Made by [`OwnedGuard::map`] and
/// [`OwnedGuard::try_map`].
///
/// The lock is released when it is dropped; it can be mapped again.
///
/// ```
/// use std::sync::Arc;
/// use turnlock::{Lock, OwnedGuard, OwnedMappedGuard};
///
/// let lock = Arc::new(Lock::new(vec![(1, 'a'), (2, 'b')]));
/// let pair = OwnedGuard::map(lock.try_lock_owned().unwrap(), |v| &mut v[1]);
/// let letter = OwnedMappedGuard::map(pair, |(_, letter)| letter);
/// assert_eq!(*letter, 'b');
/// assert!(Arc::ptr_eq(OwnedMappedGuard::source(&letter), &lock));
/// ```
///
/// It is `Send` when `T: Send` and `U: Send`: it keeps the `Arc<Lock<T>>`,
/// which may be the last one and then drops `T` wherever the guard is
/// dropped. So a `Send` part of a value that is not `Send` stays on its
/// thread:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use std::sync::Arc;
/// use turnlock::{Lock, OwnedGuard};
///
/// let lock = Arc::new(Lock::new((Rc::new(0), 0_u32)));
/// let count = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, count)| count);
/// std::thread::spawn(move || drop(count));
/// ```
///
/// and so does a part that is not `Send`:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use std::sync::Arc;
/// use turnlock::{Lock, OwnedGuard};
///
/// let lock = Arc::new(Lock::new(Rc::new(0)));
/// let rc = OwnedGuard::map(lock.try_lock_owned().unwrap(), |rc| rc);
/// std::thread::spawn(move || drop(rc));
/// ```
///
/// It is `Sync` when `T` and `U` are both `Send + Sync`; a part that is not
/// `Sync` cannot be shared:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
/// use std::sync::Arc;
/// use turnlock::{Lock, OwnedGuard};
///
/// let lock = Arc::new(Lock::new((Cell::new(0), 0_u32)));
/// let cell = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(cell, _)| cell);
/// std::thread::scope(|scope| {
///     scope.spawn(|| cell.get());
/// });
/// ```
///
/// It is invariant in `U`:
///
/// ```compile_fail
/// use turnlock::OwnedMappedGuard;
///
/// fn shorten<'b, T>(guard: OwnedMappedGuard<T, &'static str>) -> OwnedMappedGuard<T, &'b str> {
///     guard
/// }
/// ```
#[cfg(target_has_atomic = "ptr")]
#[must_use = "if unused the lock is released at once"]
pub struct OwnedMappedGuard<T: ?Sized, U: ?Sized> {
    lock: Arc<Lock<T>>,
    /// Dropped before the lock is released (under loom the access is tracked).
    access: ManuallyDrop<Access<T>>,
    /// The part of the value; valid while the lock is held.
    value: NonNull<U>,
    /// Exclusive access to a `U`: invariant in `U`.
    _value: PhantomData<*mut U>,
}

// SAFETY: moving the guard moves the right to `&mut U` (`U: Send`) and the
// `Arc<Lock<T>>`, whose last drop may drop `T` on the new thread (`T: Send`,
// which also makes the `Arc` itself `Send`). Releasing the lock is not tied
// to a thread.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedGuard<T, U> {}
// SAFETY: `&OwnedMappedGuard` gives `&U` (`U: Sync`) and `&Arc<Lock<T>>`
// through `source` (`T: Send`); the other bounds follow tokio's
// `OwnedMappedMutexGuard`, which users of its rules expect.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Sync for OwnedMappedGuard<T, U> {}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> OwnedMappedGuard<T, U> {
    /// # Safety
    ///
    /// The caller owns the lock of `lock` and hands it over, with the access
    /// to its value; `value` points into that value.
    #[inline]
    unsafe fn new(lock: Arc<Lock<T>>, access: Access<T>, value: NonNull<U>) -> Self {
        debug_assert!(lock.is_locked());
        Self {
            lock,
            access: ManuallyDrop::new(access),
            value,
            _value: PhantomData,
        }
    }

    /// Ends the guard without releasing the lock.
    #[inline]
    fn into_parts(this: Self) -> (Arc<Lock<T>>, Access<T>) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the access and the `Arc` are
        // each moved out once.
        unsafe {
            let access = ManuallyDrop::take(&mut this.access);
            (core::ptr::read(&this.lock), access)
        }
    }

    /// The lock this guard holds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{Lock, OwnedGuard, OwnedMappedGuard};
    ///
    /// let lock = Arc::new(Lock::new((1, 2)));
    /// let first = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(a, _)| a);
    /// assert!(Arc::ptr_eq(OwnedMappedGuard::source(&first), &lock));
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &Arc<Lock<T>> {
        &this.lock
    }

    /// Narrows the mapped guard further; the lock stays held.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{Lock, OwnedGuard, OwnedMappedGuard};
    ///
    /// let lock = Arc::new(Lock::new(((0, 1), 2)));
    /// let inner = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(inner, _)| inner);
    /// let mut one = OwnedMappedGuard::map(inner, |(_, one)| one);
    /// *one = 10;
    /// drop(one);
    /// assert_eq!(*lock.try_lock().unwrap(), ((0, 10), 2));
    /// ```
    #[inline]
    pub fn map<V: ?Sized, F>(mut this: Self, f: F) -> OwnedMappedGuard<T, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let value = NonNull::from(f(&mut *this));
        let (lock, access) = OwnedMappedGuard::into_parts(this);
        // SAFETY: the mapped guard owned the lock and handed it over with
        // its access; `value` points into the part it guarded.
        unsafe { OwnedMappedGuard::new(lock, access, value) }
    }

    /// Narrows the mapped guard further if `f` finds a part, or gives it back.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::{Lock, OwnedGuard, OwnedMappedGuard};
    ///
    /// let lock = Arc::new(Lock::new((0, vec![1])));
    /// let items = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, items)| items);
    /// let first = OwnedMappedGuard::try_map(items, |items| items.first_mut()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    #[inline]
    pub fn try_map<V: ?Sized, F>(mut this: Self, f: F) -> Result<OwnedMappedGuard<T, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let Some(value) = f(&mut *this).map(NonNull::from) else {
            return Err(this);
        };
        let (lock, access) = OwnedMappedGuard::into_parts(this);
        // SAFETY: as in `map`.
        Ok(unsafe { OwnedMappedGuard::new(lock, access, value) })
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedGuard<T, U> {
    type Target = U;

    #[inline]
    fn deref(&self) -> &U {
        // SAFETY: the guard owns the lock, `value` points into the locked
        // value, and `&self` rules out a live `&mut U`.
        unsafe { self.value.as_ref() }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedGuard<T, U> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: the guard owns the lock, `value` points into the locked
        // value, and `&mut self` rules out other borrows.
        unsafe { self.value.as_mut() }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedGuard<T, U> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the access ends before the lock is released.
        unsafe { ManuallyDrop::drop(&mut self.access) };
        // SAFETY: the guard owns the lock, and this is its only release.
        unsafe { self.lock.raw().unlock() };
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedMappedGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized, U: ?Sized + fmt::Display> fmt::Display for OwnedMappedGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
