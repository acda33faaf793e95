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

#[cfg(loom)]
pub(crate) use self::parking::{Thread, current as current_thread, park};
/// Thread parking for the blocking entry points.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::thread::{Thread, current as current_thread, park, park_timeout};

pub(crate) use cell::{Access, ErasedAccess, SharedAccess, UnsafeCell};

/// Declares a `const fn` that is a plain `fn` under loom (whose primitives
/// have no `const` constructors).
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// One turn of a wait for another thread that is a few instructions from
/// its next step; under loom, a yield that lets the model schedule it.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// Thread parking under loom, built on `loom::sync::Notify`.
///
/// `loom::thread::Thread::unpark` also resumes a thread that is blocked on a
/// loom `Mutex` (loom 0.7 marks any blocked thread runnable), which then
/// fails loom's "expected to be able to acquire lock" check. A real unpark
/// never ends a wait for a mutex, and a waker may well fire while its thread
/// waits for the mutex of event-listener's list. A per-thread `Notify` only
/// resumes a thread that waits on it, with the same token semantics as
/// `park`/`unpark`, and loom explores its spurious wake-ups too.
#[cfg(loom)]
mod parking {
    use alloc::sync::Arc;

    use loom::sync::Notify;

    /// Unparks one thread; the stand-in for `std::thread::Thread`.
    #[derive(Clone)]
    pub(crate) struct Thread(Arc<Notify>);

    impl Thread {
        pub(crate) fn unpark(&self) {
            self.0.notify();
        }
    }

    loom::thread_local! {
        static PARKER: Arc<Notify> = Arc::new(Notify::new());
    }

    /// The current thread's handle.
    pub(crate) fn current() -> Thread {
        PARKER.with(|notify| Thread(notify.clone()))
    }

    /// Blocks until the current thread is unparked (or spuriously).
    pub(crate) fn park() {
        PARKER.with(|notify| notify.wait());
    }
}

/// `erase` and `end` of the access types of a `cell` module (the same for
/// an exclusive and a shared access): `|$access| $erased` keeps the access
/// alive as an `ErasedAccess`.
macro_rules! access_lifetime {
    ($($ty:ident),+ => |$access:ident| $erased:expr) => {$(
        impl<T: ?Sized> $ty<T> {
            /// Keeps the access alive without its type, for a guard that
            /// only knows a part of the value.
            #[inline]
            pub(crate) fn erase<'a>(self) -> ErasedAccess<'a>
            where
                T: 'a,
            {
                let $access = self;
                $erased
            }

            /// Ends the access (under loom, where it is tracked, that
            /// matters: another access may begin after it).
            #[inline]
            pub(crate) fn end(self) {}
        }
    )+};
}
use access_lifetime;

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

    impl<T: ?Sized> UnsafeCell<T> {
        /// Starts a shared access (a reader's) that lasts as long as the
        /// returned value. Creating it is safe; dereferencing it is not (see
        /// [`SharedAccess`]).
        #[inline]
        pub(crate) fn shared_access(&self) -> SharedAccess<T> {
            // SAFETY: `UnsafeCell::get` never returns a null pointer.
            SharedAccess(unsafe { NonNull::new_unchecked(self.0.get()) })
        }
    }

    /// A live shared access to the contents of an [`UnsafeCell`], as a
    /// reader of a reader-writer lock holds it.
    ///
    /// # Safety
    ///
    /// Whoever dereferences a `SharedAccess` must hold a shared right to the
    /// contents (a read of the lock that guards the cell) until it ends.
    pub(crate) struct SharedAccess<T: ?Sized>(NonNull<T>);

    impl<T: ?Sized> SharedAccess<T> {
        /// # Safety
        ///
        /// The caller holds a read of the lock guarding the cell.
        #[inline]
        pub(crate) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds a read; the pointer came from a live cell.
            unsafe { self.0.as_ref() }
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

    // Nothing to keep outside loom.
    super::access_lifetime!(Access, SharedAccess => |_access| ErasedAccess(core::marker::PhantomData));

    /// An [`Access`] whose type is forgotten; it ends when this is dropped.
    pub(crate) struct ErasedAccess<'a>(core::marker::PhantomData<&'a ()>);
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

        pub(crate) fn shared_access(&self) -> SharedAccess<T> {
            SharedAccess(self.0.get())
        }
    }

    /// A live, loom-tracked shared access; see the plain variant.
    pub(crate) struct SharedAccess<T: ?Sized>(loom::cell::ConstPtr<T>);

    impl<T: ?Sized> SharedAccess<T> {
        /// # Safety
        ///
        /// As for the plain variant: the caller holds a read.
        pub(crate) unsafe fn get(&self) -> &T {
            // SAFETY: the caller holds a read; loom checks the claim.
            unsafe { self.0.deref() }
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

    // The tracked access stays alive in the box, so that loom still sees it
    // until the lock is released.
    super::access_lifetime!(Access, SharedAccess => |access| ErasedAccess(alloc::boxed::Box::new(access)));

    /// Anything kept alive only for its drop.
    trait Live {}

    impl<T: ?Sized> Live for Access<T> {}

    impl<T: ?Sized> Live for SharedAccess<T> {}

    /// A tracked access whose type is forgotten; it ends when this is dropped.
    pub(crate) struct ErasedAccess<'a>(
        #[allow(dead_code, reason = "kept for its drop")] alloc::boxed::Box<dyn Live + 'a>,
    );
}

/// The keyed map's shard lock: a short critical section that never awaits.
#[cfg(feature = "keyed")]
pub(crate) use shard::ShardMutex;

/// The lock of one shard of the keyed map.
///
/// | build            | primitive                    |
/// |------------------|------------------------------|
/// | feature `std`    | `std::sync::Mutex`           |
/// | without `std`    | a test-and-test-and-set spinlock |
/// | `--cfg loom`     | `loom::sync::Mutex`          |
///
/// The sections it guards are a few table operations: they never await and
/// never run user code except `Eq` on keys, so poisoning is ignored (a
/// panicking `Eq` leaves the table unchanged).
#[cfg(feature = "keyed")]
mod shard {
    #[cfg(all(feature = "std", not(loom)))]
    use std::sync::{Mutex, MutexGuard, PoisonError};

    #[cfg(loom)]
    use loom::sync::{Mutex, MutexGuard};
    #[cfg(loom)]
    use std::sync::PoisonError;

    /// A mutex for short, non-async critical sections.
    #[cfg(feature = "std")]
    pub(crate) struct ShardMutex<T>(Mutex<T>);

    #[cfg(feature = "std")]
    impl<T> ShardMutex<T> {
        crate::sync::loom_const_fn! {
            #[inline]
            pub(crate) const fn new(value: T) -> Self {
                Self(Mutex::new(value))
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[cfg(not(feature = "std"))]
    pub(crate) use spin::ShardMutex;

    #[cfg(not(feature = "std"))]
    mod spin {
        use core::cell::UnsafeCell;
        use core::ops::{Deref, DerefMut};

        use crate::sync::AtomicUsize;
        use crate::sync::Ordering::{Acquire, Relaxed, Release};

        /// A spinlock: `no_std` has no thread parking.
        ///
        /// Not for interrupt handlers: a handler that spins on a lock held by
        /// the code it interrupted never returns.
        pub(crate) struct ShardMutex<T> {
            /// 1 while a `SpinLocked` exists.
            locked: AtomicUsize,
            value: UnsafeCell<T>,
        }

        // SAFETY: the value is reached only through a `SpinLocked`, and the
        // flag admits one guard at a time, so sharing the mutex shares
        // exclusive access to `T` between threads in turn: `T: Send` is enough.
        unsafe impl<T: Send> Sync for ShardMutex<T> {}

        impl<T> ShardMutex<T> {
            #[inline]
            pub(crate) const fn new(value: T) -> Self {
                Self {
                    locked: AtomicUsize::new(0),
                    value: UnsafeCell::new(value),
                }
            }

            #[inline]
            pub(crate) fn lock(&self) -> SpinLocked<'_, T> {
                // Acquire on success: pairs with the Release store in
                // `SpinLocked::drop`, so the previous holder's writes to the
                // value are seen. Relaxed on failure: nothing is read then.
                while self
                    .locked
                    .compare_exchange_weak(0, 1, Acquire, Relaxed)
                    .is_err()
                {
                    // Spin on a plain load: it keeps the cache line shared.
                    // Relaxed: it only says when to try the CAS again, which
                    // does the synchronising.
                    while self.locked.load(Relaxed) != 0 {
                        core::hint::spin_loop();
                    }
                }
                SpinLocked { mutex: self }
            }
        }

        /// A [`ShardMutex`]'s value, locked: exclusive access until dropped.
        pub(crate) struct SpinLocked<'a, T> {
            mutex: &'a ShardMutex<T>,
        }

        impl<T> Deref for SpinLocked<'_, T> {
            type Target = T;

            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard exists only while `locked` is 1 and it
                // set it, so no other reference to the value is alive.
                unsafe { &*self.mutex.value.get() }
            }
        }

        impl<T> DerefMut for SpinLocked<'_, T> {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: as for `deref`, and `&mut self` rules out our own
                // shared borrows.
                unsafe { &mut *self.mutex.value.get() }
            }
        }

        impl<T> Drop for SpinLocked<'_, T> {
            #[inline]
            fn drop(&mut self) {
                // Release: this holder's writes to the value happen before
                // the next holder's Acquire CAS in `lock`.
                self.mutex.locked.store(0, Release);
            }
        }
    }
}
