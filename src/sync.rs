//! The one place that names the synchronisation primitives.
//!
//! Everything else in the crate imports atomics and the data cell from here,
//! so that a single switch decides where they come from:
//!
//! | build                          | atomics             | data cell             |
//! |--------------------------------|---------------------|-----------------------|
//! | default                        | `core::sync`        | `core::cell`          |
//! | feature `portable-atomic`      | `portable_atomic`   | `core::cell`          |
//! | `--cfg loom` + feature `loom`  | `loom::sync`        | `loom::cell` (tracked)|
//!
//! Under loom the data cell records every access, so two guards alive at once
//! are reported by the model checker itself instead of passing by luck.

#[cfg(all(not(loom), not(feature = "portable-atomic")))]
pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(all(not(loom), feature = "portable-atomic"))]
pub(crate) use portable_atomic::{AtomicUsize, Ordering};

/// Thread parking for the blocking entry points.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::thread::{Thread, current as current_thread, park, park_timeout};
#[cfg(loom)]
pub(crate) use loom::thread::{Thread, current as current_thread, park};

pub(crate) use cell::{Access, UnsafeCell};

#[cfg(not(loom))]
mod cell {
    use core::ptr::NonNull;

    /// A data cell with the access API of `loom::cell::UnsafeCell`.
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        #[inline]
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        #[inline]
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Exclusive access through an exclusive borrow: always safe.
        #[inline]
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }

        /// Starts an access that lasts as long as the returned value.
        ///
        /// Creating the access is safe; dereferencing it is not (see
        /// [`Access`]).
        #[inline]
        pub(crate) fn access(&self) -> Access<T> {
            // SAFETY: `UnsafeCell::get` never returns a null pointer.
            Access(unsafe { NonNull::new_unchecked(self.0.get()) })
        }
    }

    /// A live access to the contents of an [`UnsafeCell`].
    ///
    /// # Safety
    ///
    /// Whoever dereferences an `Access` must hold the right to the contents:
    /// the lock that guards the cell. The holder of the lock is the only one
    /// who may create and use the access, until the lock is released.
    pub(crate) struct Access<T: ?Sized>(NonNull<T>);

    impl<T: ?Sized> Access<T> {
        /// # Safety
        ///
        /// The caller holds the lock guarding the cell, and no `&mut T`
        /// obtained from this access is alive.
        #[inline]
        pub(crate) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock; the pointer came from a live cell.
            unsafe { self.0.as_ref() }
        }

        /// # Safety
        ///
        /// The caller holds the lock guarding the cell, and no other
        /// reference obtained from this access is alive.
        #[inline]
        pub(crate) unsafe fn get_mut(&mut self) -> &mut T {
            // SAFETY: the caller holds the lock; the pointer came from a live cell.
            unsafe { self.0.as_mut() }
        }
    }
}

#[cfg(loom)]
mod cell {
    /// loom's tracked cell, behind the same API as the plain one.
    pub(crate) struct UnsafeCell<T: ?Sized>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::cell::UnsafeCell::new(value))
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        pub(crate) fn get_mut(&mut self) -> &mut T {
            // SAFETY: `&mut self` proves that nobody else accesses the cell.
            self.0.with_mut(|ptr| unsafe { &mut *ptr })
        }

        pub(crate) fn access(&self) -> Access<T> {
            Access(self.0.get_mut())
        }
    }

    /// A live, loom-tracked access; see the plain variant for the contract.
    pub(crate) struct Access<T: ?Sized>(loom::cell::MutPtr<T>);

    impl<T: ?Sized> Access<T> {
        /// # Safety
        ///
        /// As for the plain variant: the caller holds the lock.
        pub(crate) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds the lock; loom checks the claim.
            unsafe { &*self.0.deref() }
        }

        /// # Safety
        ///
        /// As for the plain variant: the caller holds the lock.
        pub(crate) unsafe fn get_mut(&mut self) -> &mut T {
            // SAFETY: the caller holds the lock; loom checks the claim.
            unsafe { self.0.deref() }
        }
    }
}
