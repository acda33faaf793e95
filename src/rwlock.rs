//! [`RwLock<T>`]: many readers or one writer, on top of [`RawRwLock`].

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
#[cfg(feature = "std")]
use core::time::Duration;

#[cfg(feature = "std")]
use crate::raw::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
use crate::raw::acquire_blocking_timeout;
use crate::raw::{Kind, RawRwLock};
use crate::sync::UnsafeCell;
#[cfg(feature = "std")]
use crate::timeout::TimedOut;

mod futures;
mod guards;
mod mapped;
#[cfg(target_has_atomic = "ptr")]
mod owned;
#[cfg(feature = "async-io")]
mod timeout;
mod upgrade;

#[cfg(target_has_atomic = "ptr")]
pub use self::futures::{OwnedReadFuture, OwnedUpgradableReadFuture, OwnedWriteFuture};
pub use self::futures::{
    ReadFuture, ReadUntil, UpgradableReadFuture, UpgradableReadUntil, WriteFuture, WriteUntil,
};
pub use self::guards::{ReadGuard, UpgradableReadGuard, WriteGuard};
pub use self::mapped::{MappedReadGuard, MappedWriteGuard};
#[cfg(target_has_atomic = "ptr")]
pub use self::mapped::{OwnedMappedReadGuard, OwnedMappedWriteGuard};
#[cfg(target_has_atomic = "ptr")]
pub use self::owned::{OwnedReadGuard, OwnedUpgradableReadGuard, OwnedWriteGuard};
#[cfg(feature = "async-io")]
pub use self::timeout::{ReadTimeout, UpgradableReadTimeout, UpgradeTimeout, WriteTimeout};
#[cfg(target_has_atomic = "ptr")]
pub use self::upgrade::{OwnedUpgradeFuture, OwnedUpgradeUntil};
pub use self::upgrade::{UpgradeFuture, UpgradeUntil};

/// An async reader-writer lock: any number of readers, or one writer, for
/// any executor or none.
///
/// `RwLock<T>` protects a value of type `T`. [`read().await`](RwLock::read)
/// gives a [`ReadGuard`] (`&T`, shared with other readers),
/// [`write().await`](RwLock::write) a [`WriteGuard`] (`&mut T`, alone).
/// [`upgradable_read().await`](RwLock::upgradable_read) gives an
/// [`UpgradableReadGuard`]: a read that may turn into the write
/// ([`UpgradableReadGuard::upgrade`]) with no other writer in between; at
/// most one exists at a time, beside any number of plain readers.
///
/// Every acquisition comes in the styles of [`Lock`](crate::Lock): `try_*`
/// without waiting, `*_owned` through an `Arc` for `'static` guards,
/// `*_until(deadline)` with any future as the deadline, `*_timeout`
/// (feature `async-io`), `*_blocking` and `*_blocking_timeout` for plain
/// threads (feature `std`). Guards are released when dropped, also during
/// a panic (there is no poisoning); [`WriteGuard::downgrade`],
/// [`UpgradableReadGuard::downgrade`] and the `map` functions convert them.
///
/// # Policies and starvation
///
/// Waiters that cannot take the lock line up in order of arrival. The
/// oldest one that must wait for holders to leave waits at the *front*,
/// where it keeps every newcomer out; readers at the head of the line are
/// admitted together. So **a stream of readers never starves a writer**:
/// a writer at the front waits only for the readers that hold the lock
/// when it gets there. And **a stream of writers never starves a reader**:
/// writers that arrive after it line up behind it.
///
/// * [`RwLock::new`]: throughput. While a release is passing the lock down
///   the line (between waking a waiter and that waiter's next poll), up to
///   fifteen tasks (two on 32-bit targets) that find the lock compatible
///   take it at once, ahead of the waiter; that waiter then moves to the
///   front, where nobody overtakes it. So a waiter is served after the
///   waiters ahead of it, plus at most fifteen (two) such newcomers per
///   waiter ahead and for itself: a bound in hand-offs, with no clock.
/// * [`RwLock::new_fifo`]: strict order of arrival. Nobody passes a waiter,
///   not even `try_read` and `try_write`: while anyone waits, they fail.
///
/// The crate docs ("Reader-writer locks") compare the two, and the loom
/// models in `loom-tests/` check both bounds under both policies.
///
/// # Examples
///
/// ```
/// use turnlock::RwLock;
///
/// # futures_lite::future::block_on(async {
/// let config = RwLock::new(String::from("v1"));
/// {
///     // Any number of readers at once.
///     let a = config.read().await;
///     let b = config.read().await;
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
///     assert!(config.try_write().is_none());
/// }
/// config.write().await.push_str("-patched");
/// assert_eq!(*config.read().await, "v1-patched");
/// # });
/// ```
///
/// # Thread safety
///
/// `RwLock<T>` is `Sync` when `T: Send + Sync`: readers on several threads
/// share `&T`, and a writer on any thread gets `&mut T`. A value that is
/// not `Sync`, such as a `Cell`, makes a lock that cannot be shared:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
///
/// let lock = turnlock::RwLock::new(Cell::new(0));
/// std::thread::scope(|scope| {
///     scope.spawn(|| lock.read_blocking().get());
/// });
/// ```
///
/// and neither can one that is not `Send`:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
///
/// let lock = turnlock::RwLock::new(Rc::new(0));
/// std::thread::scope(|scope| {
///     scope.spawn(|| drop(lock.write_blocking()));
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    value: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (`T: Sync`) and a writer
// gets `&mut T` on whichever thread it runs (`T: Send`); `RawRwLock` lets
// only one of the two happen at a time.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

crate::macros::value_lock! {
    RwLock { raw: RawRwLock, value }

    /// A new lock with the throughput policy; neither readers nor
    /// writers starve (see [`RwLock`], "Policies and starvation").
    ///
    /// `const`, so it can build a `static`:
    ///
    /// ```
    /// use turnlock::RwLock;
    ///
    /// static SETTINGS: RwLock<Vec<&str>> = RwLock::new(Vec::new());
    ///
    /// SETTINGS.write_blocking().push("verbose");
    /// assert_eq!(*SETTINGS.read_blocking(), ["verbose"]);
    /// ```
    new;

    /// A new lock that serves waiters strictly in order of arrival,
    /// readers at the head of the line together.
    ///
    /// ```
    /// use turnlock::RwLock;
    ///
    /// static SCHEMA: RwLock<u32> = RwLock::new_fifo(1);
    ///
    /// *SCHEMA.write_blocking() += 1;
    /// assert_eq!(*SCHEMA.read_blocking(), 2);
    /// assert!(SCHEMA.is_fifo());
    /// ```
    new_fifo;
}

impl<T: ?Sized> RwLock<T> {
    /// Acquires a read, waiting as long as it takes.
    ///
    /// The future is lazy: it joins the line when it is first polled.
    /// Dropping it at any point gives up cleanly; if a read had just been
    /// handed to it, the read is released.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(5);
    /// let a = lock.read().await;
    /// let b = lock.read().await; // readers share the lock
    /// assert_eq!(*a + *b, 10);
    /// # });
    /// ```
    ///
    /// The future borrows the lock, so it cannot outlive it:
    ///
    /// ```compile_fail,E0597
    /// let future = {
    ///     let lock = turnlock::RwLock::new(0);
    ///     lock.read()
    /// };
    /// ```
    #[inline]
    pub fn read(&self) -> ReadFuture<'_, T> {
        ReadFuture::new(self)
    }

    /// Acquires the write, waiting as long as it takes.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(vec![1]);
    /// lock.write().await.push(2);
    /// assert_eq!(*lock.read().await, [1, 2]);
    /// # });
    /// ```
    #[inline]
    pub fn write(&self) -> WriteFuture<'_, T> {
        WriteFuture::new(self)
    }

    /// Acquires the upgradable read, waiting as long as it takes.
    ///
    /// An upgradable read shares the lock with plain readers but excludes
    /// writers and other upgradable readers; it can turn into the write
    /// with [`UpgradableReadGuard::upgrade`].
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let cache = turnlock::RwLock::new(None);
    /// let entry = cache.upgradable_read().await;
    /// let _reader = cache.try_read().expect("readers may share it");
    /// assert!(cache.try_upgradable_read().is_none());
    /// # drop(_reader);
    /// if entry.is_none() {
    ///     let mut entry = UpgradableReadGuard::upgrade(entry).await;
    ///     *entry = Some("computed");
    /// }
    /// assert_eq!(*cache.read().await, Some("computed"));
    /// # });
    /// ```
    #[inline]
    pub fn upgradable_read(&self) -> UpgradableReadFuture<'_, T> {
        UpgradableReadFuture::new(self)
    }

    /// Acquires a read if one may be taken right now.
    ///
    /// Fails while a writer holds the lock, while a waiter is at the front
    /// or an upgrade is in progress, and under `new_fifo` while anyone
    /// waits: it never passes a waiter that would block it.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(0);
    /// let reader = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// drop(reader);
    /// ```
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let lock = turnlock::RwLock::new(());
    ///     lock.try_read();
    /// }
    /// ```
    #[must_use = "if unused, a read it took is released at once"]
    #[inline]
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        if self.raw.try_acquire(Kind::Read) {
            // SAFETY: `try_acquire` succeeded, so we hold a read.
            Some(unsafe { ReadGuard::new(self) })
        } else {
            None
        }
    }

    /// Acquires the write if it may be taken right now.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(0);
    /// let mut writer = lock.try_write().unwrap();
    /// *writer += 1;
    /// assert!(lock.try_read().is_none());
    /// drop(writer);
    /// assert_eq!(*lock.try_read().unwrap(), 1);
    /// ```
    ///
    /// ```compile_fail
    /// #[deny(unused_must_use)]
    /// fn main() {
    ///     let lock = turnlock::RwLock::new(());
    ///     lock.try_write();
    /// }
    /// ```
    #[must_use = "if unused, a write it took is released at once"]
    #[inline]
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        if self.raw.try_acquire(Kind::Write) {
            // SAFETY: `try_acquire` succeeded, so we hold the write.
            Some(unsafe { WriteGuard::new(self) })
        } else {
            None
        }
    }

    /// Acquires the upgradable read if it may be taken right now.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(0);
    /// let upgradable = lock.try_upgradable_read().unwrap();
    /// assert!(lock.try_upgradable_read().is_none());
    /// assert!(lock.try_read().is_some());
    /// drop(upgradable);
    /// ```
    #[must_use = "if unused, an upgradable read it took is released at once"]
    #[inline]
    pub fn try_upgradable_read(&self) -> Option<UpgradableReadGuard<'_, T>> {
        if self.raw.try_acquire(Kind::Upgradable) {
            // SAFETY: `try_acquire` succeeded, so we hold the upgradable read.
            Some(unsafe { UpgradableReadGuard::new(self) })
        } else {
            None
        }
    }

    /// Acquires a read, or gives up when `deadline` completes.
    ///
    /// `deadline` is any future (an `async_io::Timer`, a
    /// `tokio::time::sleep`, a channel receiver...). As for
    /// [`Lock::lock_until`](crate::Lock::lock_until), a read that may be
    /// taken at once is taken even if the deadline has passed, giving up
    /// only stops this waiter, and a waiter handed a read just as the
    /// deadline fires keeps it.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let writer = lock.write().await;
    /// assert!(lock.read_until(std::future::ready(())).await.is_err());
    /// drop(writer);
    /// assert!(lock.read_until(std::future::ready(())).await.is_ok());
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "read_timeout"))]
    #[inline]
    pub fn read_until<D: Future>(&self, deadline: D) -> ReadUntil<'_, T, D> {
        ReadUntil::new(self, deadline, None)
    }

    /// Acquires the write, or gives up when `deadline` completes (see
    /// [`read_until`](RwLock::read_until)).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let reader = lock.read().await;
    /// let err = lock.write_until(std::future::ready(())).await.unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock");
    /// # drop(reader);
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "write_timeout"))]
    #[inline]
    pub fn write_until<D: Future>(&self, deadline: D) -> WriteUntil<'_, T, D> {
        WriteUntil::new(self, deadline, None)
    }

    /// Acquires the upgradable read, or gives up when `deadline` completes
    /// (see [`read_until`](RwLock::read_until)).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let first = lock.upgradable_read().await;
    /// assert!(lock.upgradable_read_until(std::future::ready(())).await.is_err());
    /// # drop(first);
    /// # });
    /// ```
    #[cfg_attr(not(feature = "async-io"), doc(alias = "upgradable_read_timeout"))]
    #[inline]
    pub fn upgradable_read_until<D: Future>(&self, deadline: D) -> UpgradableReadUntil<'_, T, D> {
        UpgradableReadUntil::new(self, deadline, None)
    }

    /// Acquires a read, blocking the current thread while waiting.
    ///
    /// Needs the `std` feature (on by default). For plain threads: on an
    /// executor's thread it parks that thread, and if the holder needs that
    /// thread to make progress the program hangs silently (see
    /// [`Lock::lock_blocking`](crate::Lock::lock_blocking)).
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(3);
    /// let a = lock.read_blocking();
    /// let b = lock.read_blocking();
    /// assert_eq!(*a * *b, 9);
    /// ```
    #[cfg(feature = "std")]
    pub fn read_blocking(&self) -> ReadGuard<'_, T> {
        let acquired = acquire_blocking(&self.raw, Kind::Read, None);
        debug_assert!(acquired);
        // SAFETY: a blocking acquisition without a deadline returns only
        // once it holds a read.
        unsafe { ReadGuard::new(self) }
    }

    /// Acquires the write, blocking the current thread while waiting (see
    /// [`read_blocking`](RwLock::read_blocking)).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let other = lock.clone();
    /// std::thread::spawn(move || *other.write_blocking() += 1).join().unwrap();
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn write_blocking(&self) -> WriteGuard<'_, T> {
        let acquired = acquire_blocking(&self.raw, Kind::Write, None);
        debug_assert!(acquired);
        // SAFETY: as in `read_blocking`, for the write.
        unsafe { WriteGuard::new(self) }
    }

    /// Acquires the upgradable read, blocking the current thread while
    /// waiting (see [`read_blocking`](RwLock::read_blocking)).
    ///
    /// ```
    /// use turnlock::UpgradableReadGuard;
    ///
    /// let lock = turnlock::RwLock::new(1);
    /// let guard = lock.upgradable_read_blocking();
    /// let mut guard = UpgradableReadGuard::upgrade_blocking(guard);
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    pub fn upgradable_read_blocking(&self) -> UpgradableReadGuard<'_, T> {
        let acquired = acquire_blocking(&self.raw, Kind::Upgradable, None);
        debug_assert!(acquired);
        // SAFETY: as in `read_blocking`, for the upgradable read.
        unsafe { UpgradableReadGuard::new(self) }
    }

    /// Like [`read_blocking`](RwLock::read_blocking), but gives up after
    /// `timeout`.
    ///
    /// It **blocks the thread**; in async code use `read_timeout` (feature
    /// `async-io`) or [`read_until`](RwLock::read_until). `Duration::ZERO`
    /// means "only if it may be taken right now"; a timeout too large to
    /// represent means no timeout.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = turnlock::RwLock::new(());
    /// let writer = lock.write_blocking();
    /// let err = lock.read_blocking_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
    /// drop(writer);
    /// assert!(lock.read_blocking_timeout(Duration::ZERO).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn read_blocking_timeout(&self, timeout: Duration) -> Result<ReadGuard<'_, T>, TimedOut> {
        if acquire_blocking_timeout(&self.raw, Kind::Read, timeout) {
            // SAFETY: the raw lock reported that we hold a read.
            Ok(unsafe { ReadGuard::new(self) })
        } else {
            Err(TimedOut::after(timeout))
        }
    }

    /// Like [`write_blocking`](RwLock::write_blocking), but gives up after
    /// `timeout` (see [`read_blocking_timeout`](RwLock::read_blocking_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = turnlock::RwLock::new(());
    /// let reader = lock.read_blocking();
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(5)).is_err());
    /// drop(reader);
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn write_blocking_timeout(&self, timeout: Duration) -> Result<WriteGuard<'_, T>, TimedOut> {
        if acquire_blocking_timeout(&self.raw, Kind::Write, timeout) {
            // SAFETY: the raw lock reported that we hold the write.
            Ok(unsafe { WriteGuard::new(self) })
        } else {
            Err(TimedOut::after(timeout))
        }
    }

    /// Like [`upgradable_read_blocking`](RwLock::upgradable_read_blocking),
    /// but gives up after `timeout` (see
    /// [`read_blocking_timeout`](RwLock::read_blocking_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = turnlock::RwLock::new(());
    /// let first = lock.upgradable_read_blocking();
    /// assert!(lock.upgradable_read_blocking_timeout(Duration::from_millis(5)).is_err());
    /// drop(first);
    /// assert!(lock.upgradable_read_blocking_timeout(Duration::from_millis(5)).is_ok());
    /// ```
    #[cfg(all(feature = "std", not(loom)))]
    pub fn upgradable_read_blocking_timeout(
        &self,
        timeout: Duration,
    ) -> Result<UpgradableReadGuard<'_, T>, TimedOut> {
        if acquire_blocking_timeout(&self.raw, Kind::Upgradable, timeout) {
            // SAFETY: the raw lock reported that we hold the upgradable read.
            Ok(unsafe { UpgradableReadGuard::new(self) })
        } else {
            Err(TimedOut::after(timeout))
        }
    }

    /// Runs `f` with a read held and returns its result; the read is
    /// released when `f`'s future completes, panics or is dropped.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(vec![1, 2, 3]);
    /// let sum: i32 = lock.with_read(async |items| items.iter().sum()).await;
    /// assert_eq!(sum, 6);
    /// # });
    /// ```
    pub async fn with_read<R>(&self, f: impl AsyncFnOnce(&T) -> R) -> R {
        let guard = self.read().await;
        f(&guard).await
    }

    /// Runs `f` with the write held and returns its result; the write is
    /// released when `f`'s future completes, panics or is dropped.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(0);
    /// let now = lock
    ///     .with_write(async |value| {
    ///         *value += 1;
    ///         *value
    ///     })
    ///     .await;
    /// assert_eq!(now, 1);
    /// # });
    /// ```
    pub async fn with_write<R>(&self, f: impl AsyncFnOnce(&mut T) -> R) -> R {
        let mut guard = self.write().await;
        f(&mut guard).await
    }

    /// Whether anyone holds the lock right now (a reader, the upgradable
    /// reader or the writer).
    ///
    /// Only a snapshot, for assertions and metrics. As for
    /// [`Lock::is_locked`](crate::Lock::is_locked), an access that was just
    /// handed to a waiter counts as held from the hand-off on, before the
    /// waiter has observed it.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(());
    /// assert!(!lock.is_locked());
    /// let reader = lock.try_read();
    /// assert!(lock.is_locked());
    /// # drop(reader);
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Who holds and who waits for the lock right now: a snapshot, for
    /// assertions and metrics.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(());
    /// let (a, b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    /// let state = lock.state();
    /// assert_eq!((state.readers, state.writer, state.waiters), (2, false, 0));
    /// drop((a, b));
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.state().writer);
    /// # drop(writer);
    /// ```
    #[inline]
    pub fn state(&self) -> RwState {
        RwState::of(self.raw.snapshot())
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> RwLock<T> {
    /// Acquires a read through an `Arc`, for a guard that is `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(4));
    /// let guard = lock.read_owned().await;
    /// let doubled = std::thread::spawn(move || *guard * 2).join().unwrap();
    /// assert_eq!(doubled, 8);
    /// # });
    /// ```
    #[inline]
    pub fn read_owned(self: &Arc<Self>) -> OwnedReadFuture<T> {
        OwnedReadFuture::new(self.clone())
    }

    /// Acquires the write through an `Arc`, for a guard that is `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let mut guard = lock.write_owned().await;
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*lock.read().await, 1);
    /// # });
    /// ```
    #[inline]
    pub fn write_owned(self: &Arc<Self>) -> OwnedWriteFuture<T> {
        OwnedWriteFuture::new(self.clone())
    }

    /// Acquires the upgradable read through an `Arc`, for a guard that is
    /// `'static`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// let mut guard = OwnedUpgradableReadGuard::upgrade(guard).await;
    /// *guard = 5;
    /// drop(guard);
    /// assert_eq!(*lock.read().await, 5);
    /// # });
    /// ```
    #[inline]
    pub fn upgradable_read_owned(self: &Arc<Self>) -> OwnedUpgradableReadFuture<T> {
        OwnedUpgradableReadFuture::new(self.clone())
    }

    /// Like [`try_read`](RwLock::try_read), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(()));
    /// let guard = lock.try_read_owned().unwrap();
    /// assert!(lock.try_write_owned().is_none());
    /// drop(guard);
    /// ```
    #[must_use = "if unused, a read it took is released at once"]
    #[inline]
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedReadGuard<T>> {
        if self.raw.try_acquire(Kind::Read) {
            // SAFETY: `try_acquire` succeeded, so we hold a read.
            Some(unsafe { OwnedReadGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Like [`try_write`](RwLock::try_write), through an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(()));
    /// let guard = lock.try_write_owned().unwrap();
    /// assert!(lock.try_read_owned().is_none());
    /// drop(guard);
    /// ```
    #[must_use = "if unused, a write it took is released at once"]
    #[inline]
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedWriteGuard<T>> {
        if self.raw.try_acquire(Kind::Write) {
            // SAFETY: `try_acquire` succeeded, so we hold the write.
            Some(unsafe { OwnedWriteGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Like [`try_upgradable_read`](RwLock::try_upgradable_read), through
    /// an `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(()));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// assert!(lock.try_upgradable_read_owned().is_none());
    /// drop(guard);
    /// ```
    #[must_use = "if unused, an upgradable read it took is released at once"]
    #[inline]
    pub fn try_upgradable_read_owned(self: &Arc<Self>) -> Option<OwnedUpgradableReadGuard<T>> {
        if self.raw.try_acquire(Kind::Upgradable) {
            // SAFETY: `try_acquire` succeeded, so we hold the upgradable read.
            Some(unsafe { OwnedUpgradableReadGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Acquires a read through an `Arc`, blocking the current thread while
    /// waiting (feature `std`; see [`read_blocking`](RwLock::read_blocking)).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new("shared"));
    /// let guard = lock.read_owned_blocking();
    /// std::thread::spawn(move || assert_eq!(*guard, "shared")).join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    pub fn read_owned_blocking(self: &Arc<Self>) -> OwnedReadGuard<T> {
        let acquired = acquire_blocking(&self.raw, Kind::Read, None);
        debug_assert!(acquired);
        // SAFETY: as in `read_blocking`.
        unsafe { OwnedReadGuard::new(self.clone()) }
    }

    /// Acquires the write through an `Arc`, blocking the current thread
    /// while waiting (feature `std`; see
    /// [`write_blocking`](RwLock::write_blocking)).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(Vec::new()));
    /// let mut guard = lock.write_owned_blocking();
    /// std::thread::spawn(move || guard.push(1)).join().unwrap();
    /// assert_eq!(*lock.read_blocking(), [1]);
    /// ```
    #[cfg(feature = "std")]
    pub fn write_owned_blocking(self: &Arc<Self>) -> OwnedWriteGuard<T> {
        let acquired = acquire_blocking(&self.raw, Kind::Write, None);
        debug_assert!(acquired);
        // SAFETY: as in `write_blocking`.
        unsafe { OwnedWriteGuard::new(self.clone()) }
    }

    /// Acquires the upgradable read through an `Arc`, blocking the current
    /// thread while waiting (feature `std`; see
    /// [`upgradable_read_blocking`](RwLock::upgradable_read_blocking)).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use turnlock::OwnedUpgradableReadGuard;
    ///
    /// let lock = Arc::new(turnlock::RwLock::new(1));
    /// let guard = lock.upgradable_read_owned_blocking();
    /// std::thread::spawn(move || *OwnedUpgradableReadGuard::upgrade_blocking(guard) += 1)
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    pub fn upgradable_read_owned_blocking(self: &Arc<Self>) -> OwnedUpgradableReadGuard<T> {
        let acquired = acquire_blocking(&self.raw, Kind::Upgradable, None);
        debug_assert!(acquired);
        // SAFETY: as in `upgradable_read_blocking`.
        unsafe { OwnedUpgradableReadGuard::new(self.clone()) }
    }
}

/// Who holds and who waits for a reader-writer lock, as
/// [`RwLock::state`] (or, with the `keyed` feature,
/// `KeyedRwLocks::state`) saw it: a snapshot, stale as soon as it is read.
///
/// An access handed to a waiter that has not observed it yet counts as
/// held (see [`RwLock::is_locked`]).
///
/// ```
/// use turnlock::{RwLock, RwState};
///
/// let lock = RwLock::new(());
/// assert_eq!(lock.state(), RwState::default());
/// let upgradable = lock.try_upgradable_read().unwrap();
/// assert!(lock.state().upgradable);
/// # drop(upgradable);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RwState {
    /// Plain readers holding the lock (the upgradable reader is not
    /// counted here).
    pub readers: usize,
    /// `true` if the writer holds the lock.
    pub writer: bool,
    /// `true` if the upgradable reader holds the lock (possibly upgrading).
    pub upgradable: bool,
    /// Waiters: in the line, at its front, or an upgrade waiting for the
    /// readers to leave.
    pub waiters: usize,
}

impl RwState {
    pub(crate) fn of(snapshot: crate::raw::Snapshot) -> Self {
        Self {
            readers: snapshot.readers(),
            writer: snapshot.writer(),
            upgradable: snapshot.upgradable(),
            waiters: snapshot.waiters(),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// Prints the value if a read may be taken at once, or `<locked>`;
    /// never waits.
    ///
    /// ```
    /// let lock = turnlock::RwLock::new(1);
    /// assert_eq!(format!("{lock:?}"), "RwLock { value: 1, fifo: false }");
    /// let writer = lock.try_write().unwrap();
    /// assert_eq!(format!("{lock:?}"), "RwLock { value: <locked>, fifo: false }");
    /// # drop(writer);
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => out.field("value", &&*guard),
            None => out.field("value", &format_args!("<locked>")),
        };
        out.field("fifo", &self.is_fifo()).finish()
    }
}
