//! [`Lock<T>`] and its guards: the protected value on top of [`RawLock`].

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
#[cfg(feature = "std")]
use core::time::Duration;

use crate::raw::RawLock;
#[cfg(feature = "std")]
use crate::raw::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
use crate::raw::acquire_blocking_timeout;
use crate::sync::{Access, UnsafeCell};
#[cfg(feature = "std")]
use crate::timeout::TimedOut;

/// An async lock: one holder at a time, for any executor or none.
///
/// `Lock<T>` protects a value of type `T`. Acquire it with
/// [`lock().await`](Lock::lock) in async code, [`lock_blocking`] on a plain
/// thread (feature `std`), or [`try_lock`](Lock::try_lock) without waiting;
/// give up after a while with [`lock_until`](Lock::lock_until) (any future
/// as the deadline), [`lock_timeout`] (feature `async-io`) or
/// [`lock_blocking_timeout`] (feature `std`). The lock is released when the
/// guard is dropped, also during a panic (there is no poisoning).
///
/// Two policies, chosen at construction (see "Choosing a policy" in the
/// crate docs):
///
/// * [`Lock::new`]: throughput. A task that finds the lock free takes it even
///   if others are waiting, but a waiter that keeps losing is moved to a
///   queue that nobody can overtake, so no waiter starves.
/// * [`Lock::new_fifo`]: strict order. Waiters are served in the order they
///   were first polled, and a release hands the lock straight to the next
///   one: neither a late `try_lock` nor the releasing task can cut in.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use turnlock::Lock;
///
/// # futures_lite::future::block_on(async {
/// let counter = Arc::new(Lock::new(0));
/// let tasks: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = counter.clone();
///         std::thread::spawn(move || {
///             futures_lite::future::block_on(async {
///                 *counter.lock().await += 1;
///             })
///         })
///     })
///     .collect();
/// for task in tasks {
///     task.join().unwrap();
/// }
/// assert_eq!(*counter.lock().await, 4);
/// # });
/// ```
///
/// # Thread safety
///
/// `Lock<T>` is `Send + Sync` whenever `T: Send`: the lock hands `&mut T` to
/// one holder at a time, so `T` itself need not be `Sync`. A value that must
/// stay on its thread, such as an `Rc`, makes a lock that cannot be shared:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let lock = turnlock::Lock::new(Rc::new(0));
/// std::thread::scope(|scope| {
///     scope.spawn(|| drop(lock.lock_blocking()));
/// });
/// ```
///
#[cfg_attr(
    feature = "std",
    doc = "[`lock_blocking`]: Lock::lock_blocking",
    doc = "[`lock_blocking_timeout`]: Lock::lock_blocking_timeout"
)]
#[cfg_attr(
    not(feature = "std"),
    doc = "[`lock_blocking`]: crate#features",
    doc = "[`lock_blocking_timeout`]: crate#features"
)]
#[cfg_attr(feature = "async-io", doc = "[`lock_timeout`]: Lock::lock_timeout")]
#[cfg_attr(not(feature = "async-io"), doc = "[`lock_timeout`]: crate#features")]
pub struct Lock<T: ?Sized> {
    raw: RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, possibly on
// another thread, which is exactly what `T: Send` permits. `Lock<T>` gives no
// shared `&T` to two threads at once, so `T: Sync` is not needed.
unsafe impl<T: ?Sized + Send> Sync for Lock<T> {}

crate::macros::value_lock! {
    Lock { raw: RawLock, value }

    /// A new lock with the throughput policy: fast, and starvation-free.
    ///
    /// A task that finds the lock free takes it at once, even when
    /// others are waiting; a waiter that is overtaken joins a strict
    /// queue, so every waiter gets the lock after a bounded number of
    /// hand-offs.
    ///
    /// `const`, so it can build a `static`:
    ///
    /// ```
    /// use turnlock::Lock;
    ///
    /// static REGISTRY: Lock<Vec<&str>> = Lock::new(Vec::new());
    ///
    /// REGISTRY.lock_blocking().push("hello");
    /// assert_eq!(REGISTRY.lock_blocking().len(), 1);
    /// ```
    new;

    /// A new lock with the strict FIFO policy and direct hand-off.
    ///
    /// Waiters are served in the order of their first poll. A release
    /// with waiters passes the lock directly to the oldest one, so no
    /// later `lock`, `try_lock` or the releasing task can take it first.
    ///
    /// ```
    /// use turnlock::Lock;
    ///
    /// static CONNECTION: Lock<u32> = Lock::new_fifo(0);
    ///
    /// *CONNECTION.lock_blocking() += 1;
    /// assert_eq!(*CONNECTION.lock_blocking(), 1);
    /// ```
    new_fifo;
}

impl<T: ?Sized> Lock<T> {
    /// Acquires the lock if it is free right now.
    ///
    /// Under `new_fifo` a free lock has nobody queued, so `try_lock` never
    /// passes a waiter over; while the lock is held or being handed off it
    /// returns `None`.
    ///
    /// ```
    /// let lock = turnlock::Lock::new(());
    /// let guard = lock.try_lock().expect("free");
    /// assert!(lock.try_lock().is_none());
    /// drop(guard);
    /// assert!(lock.try_lock().is_some());
    /// ```
    ///
    /// The result must be used: as a statement, a lock it took would be
    /// released at once, so the compiler warns.
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let lock = turnlock::Lock::new(());
    ///     lock.try_lock();
    /// }
    /// ```
    #[must_use = "if unused, a lock it took is released at once"]
    #[inline]
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        if self.raw.try_lock() {
            // SAFETY: `try_lock` succeeded, so we own the lock.
            Some(unsafe { Guard::new(self) })
        } else {
            None
        }
    }

    /// Like [`try_lock`](Lock::try_lock), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::Lock::new(()));
    /// let guard = lock.try_lock_owned().expect("free");
    /// assert!(lock.try_lock_owned().is_none());
    /// drop(guard);
    /// ```
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let lock = std::sync::Arc::new(turnlock::Lock::new(()));
    ///     lock.try_lock_owned();
    /// }
    /// ```
    #[cfg(target_has_atomic = "ptr")]
    #[must_use = "if unused, a lock it took is released at once"]
    #[inline]
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedGuard<T>> {
        if self.raw.try_lock() {
            // SAFETY: `try_lock` succeeded, so we own the lock.
            Some(unsafe { OwnedGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Acquires the lock, blocking the current thread while waiting.
    ///
    /// Needs the `std` feature (on by default). For plain threads: inside
    /// async code use [`lock`](Lock::lock) instead. Called on an executor's
    /// thread, it parks that thread until the lock is free, and if the
    /// holder is a task that needs that thread to make progress (on a
    /// single-threaded executor, any task), it never will: the program
    /// hangs silently. tokio's `blocking_lock` panics in that situation;
    /// turnlock cannot tell an executor's thread from any other, so it
    /// blocks. From async code, run blocking work with `spawn_blocking` or
    /// take the lock with `lock().await`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::Lock::new(0));
    /// let other = lock.clone();
    /// std::thread::spawn(move || *other.lock_blocking() += 1).join().unwrap();
    /// assert_eq!(*lock.lock_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[inline]
    pub fn lock_blocking(&self) -> Guard<'_, T> {
        let acquired = acquire_blocking(&self.raw, (), None);
        debug_assert!(acquired);
        // SAFETY: a blocking acquisition without a deadline returns only as
        // owner.
        unsafe { Guard::new(self) }
    }

    /// Acquires the lock through an `Arc`, blocking the current thread while
    /// waiting, for a guard that is `'static`.
    ///
    /// Needs the `std` feature (on by default).
    /// [`lock_owned`](Lock::lock_owned) for plain threads, with the caveats
    /// of [`lock_blocking`](Lock::lock_blocking): on an executor's thread
    /// while the holder needs that thread, it hangs silently.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::Lock::new(Vec::new()));
    /// let mut guard = lock.lock_owned_blocking();
    /// // The guard owns its `Arc`: it can move to a thread that outlives
    /// // this scope.
    /// let worker = std::thread::spawn(move || guard.push("done"));
    /// worker.join().unwrap();
    /// assert_eq!(*lock.lock_owned_blocking(), ["done"]);
    /// ```
    #[cfg(all(feature = "std", target_has_atomic = "ptr"))]
    #[inline]
    pub fn lock_owned_blocking(self: &Arc<Self>) -> OwnedGuard<T> {
        let acquired = acquire_blocking(&self.raw, (), None);
        debug_assert!(acquired);
        // SAFETY: a blocking acquisition without a deadline returns only as
        // owner.
        unsafe { OwnedGuard::new(self.clone()) }
    }

    /// Like [`lock_blocking`](Lock::lock_blocking), but gives up after
    /// `timeout`.
    ///
    /// Needs the `std` feature (on by default). It **blocks the thread**:
    /// in async code, use [`lock_timeout`] (feature `async-io`) or
    /// [`lock_until`](Lock::lock_until) with your runtime's timer instead.
    ///
    /// `Duration::ZERO` means "only if free right now"; a timeout too large
    /// to represent as a point in time means no timeout.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = turnlock::Lock::new(());
    /// let held = lock.lock_blocking();
    /// let err = lock.lock_blocking_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 10ms");
    /// drop(held);
    /// assert!(lock.lock_blocking_timeout(Duration::ZERO).is_ok());
    /// ```
    #[cfg_attr(feature = "async-io", doc = "\n[`lock_timeout`]: Lock::lock_timeout")]
    #[cfg_attr(not(feature = "async-io"), doc = "\n[`lock_timeout`]: crate#features")]
    #[cfg(all(feature = "std", not(loom)))]
    pub fn lock_blocking_timeout(&self, timeout: Duration) -> Result<Guard<'_, T>, TimedOut> {
        if acquire_blocking_timeout(&self.raw, (), timeout) {
            // SAFETY: the raw lock reported that we own it.
            Ok(unsafe { Guard::new(self) })
        } else {
            Err(TimedOut::after(timeout))
        }
    }

    /// Runs `f` with the lock held and returns its result.
    ///
    /// The lock is released when `f`'s future completes, and also if it
    /// panics or is dropped (for example by a timeout around `with_lock`).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::Lock::new(vec![1, 2]);
    /// let len = lock
    ///     .with_lock(async |items| {
    ///         items.push(3);
    ///         items.len()
    ///     })
    ///     .await;
    /// assert_eq!(len, 3);
    /// # });
    /// ```
    pub async fn with_lock<R>(&self, f: impl AsyncFnOnce(&mut T) -> R) -> R {
        let mut guard = self.lock().await;
        f(&mut guard).await
    }

    /// Whether the lock is held right now.
    ///
    /// Only a snapshot: by the time you look at the answer it may be stale.
    /// Useful for assertions and metrics, not for deciding whether to lock.
    ///
    /// ```
    /// let lock = turnlock::Lock::new(());
    /// assert!(!lock.is_locked());
    /// let guard = lock.try_lock();
    /// assert!(lock.is_locked());
    /// # drop(guard);
    /// ```
    ///
    /// "Held" includes a hand-off in progress. A release of a
    /// [`new_fifo`](Lock::new_fifo) lock with waiters hands the lock straight
    /// to the oldest one, so `is_locked()` stays `true` from that release
    /// until the waiter's next poll turns the hand-off into a guard (or its
    /// drop passes the lock on), even though no guard exists in between:
    ///
    /// ```
    /// use futures_lite::future::poll_once;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::Lock::new_fifo(());
    /// let holder = lock.lock().await;
    /// let mut waiter = lock.lock();
    /// assert!(poll_once(&mut waiter).await.is_none()); // queued
    /// drop(holder); // hands the lock to `waiter`
    /// assert!(lock.is_locked()); // no guard, but the lock is `waiter`'s
    /// let guard = poll_once(&mut waiter).await.expect("handed over");
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// # });
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }
}

/// Prints the value (or `<locked>`), the policy and the whole state word:
/// every flag by name and both waiter counts, as seen before the value was
/// read, so that the `{:?}` of a lock that hangs shows where it stands.
///
/// ```
/// let lock = turnlock::Lock::new_fifo(7);
/// assert_eq!(
///     format!("{lock:?}"),
///     "Lock { value: 7, fifo: true, state: StateWord { locked: false, slot: false, \
///      ready: false, handed: false, all_hinted: false, queued: 0, hinted: 0 } }"
/// );
/// ```
impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Before `try_lock`, which would show the lock held by `fmt` itself.
        let state = self.raw.state();
        let mut out = f.debug_struct("Lock");
        match self.try_lock() {
            Some(guard) => out.field("value", &&*guard),
            None => out.field("value", &format_args!("<locked>")),
        };
        out.field("fifo", &self.is_fifo())
            .field("state", &state)
            .finish()
    }
}

/// Holds the lock of a [`Lock<T>`]; the lock is released when it is dropped.
///
/// Dereferences to the protected value. Made by [`Lock::lock`],
/// [`Lock::try_lock`] and the other acquiring methods of [`Lock`].
/// [`Guard::map`] and [`Guard::try_map`] narrow it to a part of the value.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = turnlock::Lock::new(String::new());
/// let mut guard = lock.lock().await;
/// guard.push_str("hi");
/// assert!(std::ptr::eq(turnlock::Guard::source(&guard), &lock));
/// # });
/// ```
///
/// A guard cannot outlive its lock:
///
/// ```compile_fail
/// let guard = {
///     let lock = turnlock::Lock::new(0);
///     lock.try_lock().unwrap()
/// };
/// ```
///
/// and a reference into the value cannot outlive its guard:
///
/// ```compile_fail,E0505
/// let lock = turnlock::Lock::new(0);
/// let guard = lock.try_lock().unwrap();
/// let value: &i32 = &guard;
/// drop(guard);
/// assert_eq!(*value, 0);
/// ```
///
/// A guard is `Send` when `T: Send` and `Sync` when `T: Send + Sync`, as for
/// `std::sync::MutexGuard`'s value. The guard of an `Rc` stays on its thread:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let lock = turnlock::Lock::new(Rc::new(0));
/// let guard = lock.try_lock().unwrap();
/// std::thread::scope(|scope| {
///     scope.spawn(move || drop(guard));
/// });
/// ```
///
/// and the guard of a `Cell` cannot be shared by two threads, although it
/// can move to another one:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
///
/// let lock = turnlock::Lock::new(Cell::new(0));
/// let guard = lock.try_lock().unwrap();
/// std::thread::scope(|scope| {
///     scope.spawn(|| guard.get());
/// });
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct Guard<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    /// Dropped before the lock is released (under loom the access is tracked).
    access: ManuallyDrop<Access<T>>,
}

// SAFETY: the guard gives `&mut T` to whichever thread holds it and releases
// the lock from there; `RawLock` is not tied to a thread, so `T: Send` is all
// that is needed, as for `std::sync::MutexGuard` with a `Send` lock.
unsafe impl<T: ?Sized + Send> Send for Guard<'_, T> {}
// SAFETY: `&Guard` gives `&T` (needs `T: Sync`) and `&Lock<T>` through
// `Guard::source` (needs `Lock<T>: Sync`, so `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for Guard<'_, T> {}

impl<'a, T: ?Sized> Guard<'a, T> {
    /// # Safety
    ///
    /// The caller owns the lock of `lock` and gives that ownership to the guard.
    #[inline]
    pub(crate) unsafe fn new(lock: &'a Lock<T>) -> Self {
        debug_assert!(lock.is_locked());
        Self {
            lock,
            access: ManuallyDrop::new(lock.value.access()),
        }
    }

    /// The lock this guard holds.
    ///
    /// An associated function, so that it never shadows a method of `T`.
    ///
    /// ```
    /// let lock = turnlock::Lock::new(());
    /// let guard = lock.try_lock().unwrap();
    /// assert!(std::ptr::eq(turnlock::Guard::source(&guard), &lock));
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &'a Lock<T> {
        this.lock
    }

    /// Ends the guard without releasing the lock: the caller takes over the
    /// lock and the live access to the value.
    #[inline]
    pub(crate) fn into_parts(this: Self) -> (&'a Lock<T>, Access<T>) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the access is moved out once.
        let access = unsafe { ManuallyDrop::take(&mut this.access) };
        (this.lock, access)
    }
}

impl<T: ?Sized> Deref for Guard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the lock, and `&self` rules out a live `&mut T`.
        unsafe { self.access.get() }
    }
}

impl<T: ?Sized> DerefMut for Guard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard owns the lock, and `&mut self` rules out other borrows.
        unsafe { self.access.get_mut() }
    }
}

impl<T: ?Sized> Drop for Guard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the access ends before the lock is released.
        unsafe { ManuallyDrop::drop(&mut self.access) };
        // SAFETY: the guard owns the lock, and this is its only release.
        unsafe { self.lock.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Guard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Holds the lock of an `Arc<Lock<T>>`; `'static`, so it can move into
/// spawned tasks and threads.
///
/// Made by [`Lock::lock_owned`], [`Lock::try_lock_owned`] and
/// `Lock::lock_owned_blocking` (feature `std`);
/// [`OwnedGuard::map`] and [`OwnedGuard::try_map`] narrow it to a part of
/// the value.
///
/// ```
/// use std::sync::Arc;
///
/// let lock = Arc::new(turnlock::Lock::new(0));
/// let mut guard = lock.try_lock_owned().unwrap();
/// *guard += 1;
/// assert!(Arc::ptr_eq(turnlock::OwnedGuard::source(&guard), &lock));
/// ```
///
/// Being `'static` does not make it `Send`: the owned guard of an `Rc`
/// stays on its thread.
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use std::sync::Arc;
///
/// let lock = Arc::new(turnlock::Lock::new(Rc::new(0)));
/// let guard = lock.try_lock_owned().unwrap();
/// std::thread::spawn(move || drop(guard));
/// ```
#[cfg(target_has_atomic = "ptr")]
#[must_use = "if unused the lock is released at once"]
pub struct OwnedGuard<T: ?Sized> {
    lock: Arc<Lock<T>>,
    /// Dropped before the lock is released (under loom the access is tracked).
    access: ManuallyDrop<Access<T>>,
}

// SAFETY: as for `Guard`: moving the guard moves the right to `&mut T`, and
// the `Arc<Lock<T>>` it keeps is `Send` when `T: Send`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send> Send for OwnedGuard<T> {}
// SAFETY: `&OwnedGuard` gives `&T` and `&Arc<Lock<T>>`; see `Guard`.
#[cfg(target_has_atomic = "ptr")]
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedGuard<T> {}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> OwnedGuard<T> {
    /// # Safety
    ///
    /// The caller owns the lock of `lock` and gives that ownership to the guard.
    #[inline]
    pub(crate) unsafe fn new(lock: Arc<Lock<T>>) -> Self {
        debug_assert!(lock.is_locked());
        let access = ManuallyDrop::new(lock.value.access());
        Self { lock, access }
    }

    /// The lock this guard holds.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::Lock::new(()));
    /// let guard = lock.try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(turnlock::OwnedGuard::source(&guard), &lock));
    /// ```
    #[inline]
    pub fn source(this: &Self) -> &Arc<Lock<T>> {
        &this.lock
    }

    /// Ends the guard without releasing the lock: the caller takes over the
    /// lock, its `Arc` and the live access to the value.
    #[inline]
    pub(crate) fn into_parts(this: Self) -> (Arc<Lock<T>>, Access<T>) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the access and the `Arc` are
        // each moved out once.
        unsafe {
            let access = ManuallyDrop::take(&mut this.access);
            (core::ptr::read(&this.lock), access)
        }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> Deref for OwnedGuard<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the lock, and `&self` rules out a live `&mut T`.
        unsafe { self.access.get() }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> DerefMut for OwnedGuard<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard owns the lock, and `&mut self` rules out other borrows.
        unsafe { self.access.get_mut() }
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> Drop for OwnedGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: dropped once, here; the access ends before the lock is released.
        unsafe { ManuallyDrop::drop(&mut self.access) };
        // SAFETY: the guard owns the lock, and this is its only release.
        unsafe { self.lock.raw.unlock() };
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized + fmt::Display> fmt::Display for OwnedGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
