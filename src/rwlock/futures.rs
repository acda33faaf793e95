//! The futures of [`RwLock`]'s acquisitions and of the upgrade.
//!
//! Each is one [`Acquire`] (or one [`Until`], with a deadline) around a
//! [`Holder`]: the lock, borrowed or owned ([`Handle`]), with the kind of
//! access it waits for, and the guard that access becomes. The public
//! futures are thin wrappers declared by `lock_future!`. All of them are cancellation-safe: dropping one at any
//! point leaves the lock as if it had never been polled, except that an
//! access handed to it is passed on (released).

#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

use super::RwLock;
use super::guards::Handle;
use crate::macros::lock_future;
use crate::raw::{Kind, Protocol, RawRwLock, Upgrade, Waiter, poll_until};
use crate::sync::SharedAccess;
use crate::timeout::TimedOut;

/// The lock an acquisition waits for, with what it asks for and what it
/// turns into once it holds it.
pub(crate) trait Holder: Sized {
    /// The protocol it waits on.
    type Protocol: Protocol + ?Sized;
    /// What it becomes: a guard.
    type Guard;
    /// What it asks the protocol for.
    const MODE: <Self::Protocol as Protocol>::Mode;

    /// The protocol.
    fn protocol(&self) -> &Self::Protocol;

    /// Turns the holder into its guard.
    ///
    /// # Safety
    ///
    /// The caller holds the access of [`MODE`](Holder::MODE).
    unsafe fn guard(self) -> Self::Guard;

    /// Ends an acquisition that did not complete: leaves the line and
    /// releases an access that was handed over meanwhile.
    fn cancel(self, waiter: &mut Waiter) {
        let protocol = self.protocol();
        if protocol.abandon(waiter) {
            // SAFETY: `abandon` reported that the waiter holds the access.
            unsafe { protocol.release(Self::MODE) };
        }
    }
}

/// A read of the lock of `H`.
pub(crate) struct Reading<H>(H);
/// The write of the lock of `H`.
pub(crate) struct Writing<H>(H);
/// The upgradable read of the lock of `H`.
pub(crate) struct UpgradableReading<H>(H);

/// Implements [`Holder`] for an acquisition of one kind of access.
macro_rules! kind_holder {
    ($holder:ident, $kind:expr, $guard:ident, $make:ident) => {
        impl<H: Handle> Holder for $holder<H> {
            type Protocol = RawRwLock;
            type Guard = H::$guard;
            const MODE: Kind = $kind;

            #[inline]
            fn protocol(&self) -> &RawRwLock {
                self.0.lock().raw()
            }

            #[inline]
            unsafe fn guard(self) -> H::$guard {
                // SAFETY: the caller holds the access of `MODE`.
                unsafe { self.0.$make() }
            }
        }
    };
}

kind_holder!(Reading, Kind::Read, Read, read);
kind_holder!(Writing, Kind::Write, Write, write);
kind_holder!(UpgradableReading, Kind::Upgradable, Upgradable, upgradable);

/// The upgrade of the upgradable read of `lock`, with the live (shared)
/// access to the value that the upgradable guard had. Holds the upgradable
/// read from the start: cancelled, it releases it.
pub(crate) struct Upgrading<H: Handle> {
    lock: H,
    access: SharedAccess<H::Value>,
}

// SAFETY: the access is a shared pointer into the value, which the
// upgradable read it stands for lets several threads read (`T: Sync`); the
// handle moves as it would in a guard.
unsafe impl<H: Handle + Send> Send for Upgrading<H> where H::Value: Sync {}
// SAFETY: `&Upgrading` gives nothing: the access is not reachable through it.
unsafe impl<H: Handle + Sync> Sync for Upgrading<H> {}

impl<H: Handle> Upgrading<H> {
    /// The upgrade of an upgradable guard, from its parts.
    pub(crate) fn new(lock: H, access: SharedAccess<H::Value>) -> Self {
        Self { lock, access }
    }

    /// Back to the upgradable guard, after a deadline stopped the upgrade.
    ///
    /// Only an `Until` gives an upgrade back, and only when the deadline
    /// won, that is when `abandon` reported that the write had not been
    /// handed over: the upgradable read is still held.
    pub(crate) fn stopped(self) -> H::Upgradable {
        self.access.end();
        // SAFETY: see above: we hold the upgradable read.
        unsafe { self.lock.upgradable() }
    }
}

impl<H: Handle> Holder for Upgrading<H> {
    type Protocol = Upgrade;
    type Guard = H::Write;
    const MODE: () = ();

    #[inline]
    fn protocol(&self) -> &Upgrade {
        self.lock.lock().raw().upgrade()
    }

    unsafe fn guard(self) -> H::Write {
        self.access.end();
        // SAFETY: the caller holds the write.
        unsafe { self.lock.write() }
    }

    fn cancel(self, waiter: &mut Waiter) {
        self.access.end();
        // SAFETY: the upgrade holds the upgradable read from the start and
        // has not completed (else it would not be cancelled).
        unsafe { self.lock.lock().raw().upgrade().cancel(waiter) };
    }
}

/// One acquisition: the holder until it becomes a guard, and the waiter.
pub(crate) struct Acquire<H: Holder> {
    /// `None` once the acquisition has completed.
    holder: Option<H>,
    waiter: Waiter,
}

impl<H: Holder> Acquire<H> {
    #[inline]
    pub(crate) fn new(holder: H) -> Self {
        Self {
            holder: Some(holder),
            waiter: Waiter::new(),
        }
    }

    /// Polls the acquisition, giving up when `deadline` completes: then
    /// `Ready(Err)` gives the holder back, and the waiter has left the line.
    pub(crate) fn poll_until<D: Future>(
        &mut self,
        deadline: Pin<&mut D>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<H::Guard, H>> {
        let holder = self
            .holder
            .as_ref()
            .expect("lock future polled after completion");
        let acquired = ready!(poll_until(
            holder.protocol(),
            H::MODE,
            &mut self.waiter,
            deadline,
            cx
        ));
        let holder = self.holder.take().expect("checked above");
        if acquired {
            // SAFETY: `poll_until` reported that we hold the access.
            Poll::Ready(Ok(unsafe { holder.guard() }))
        } else {
            Poll::Ready(Err(holder))
        }
    }
}

// Nothing in an acquisition is pinned: the holder moves into the guard.
impl<H: Holder> Unpin for Acquire<H> {}

impl<H: Holder> Future for Acquire<H> {
    type Output = H::Guard;

    /// Polls the acquisition; `Ready` with the guard once it holds the
    /// access.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<H::Guard> {
        let this = self.get_mut();
        let holder = this
            .holder
            .as_ref()
            .expect("lock future polled after completion");
        ready!(
            holder
                .protocol()
                .poll_acquire(H::MODE, &mut this.waiter, cx)
        );
        let holder = this.holder.take().expect("checked above");
        // SAFETY: `poll_acquire` returned `Ready`: we hold the access.
        Poll::Ready(unsafe { holder.guard() })
    }
}

#[cfg(feature = "futures-core")]
impl<H: Holder> futures_core::future::FusedFuture for Acquire<H> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.holder.is_none()
    }
}

impl<H: Holder> Drop for Acquire<H> {
    #[inline]
    fn drop(&mut self) {
        if let Some(holder) = self.holder.take() {
            holder.cancel(&mut self.waiter);
        }
    }
}

impl<H: Holder> fmt::Debug for Acquire<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

/// An acquisition with a deadline, which is structurally pinned.
pub(crate) struct Until<H: Holder, D> {
    acquire: Acquire<H>,
    /// Structurally pinned: never moved once `self` is pinned.
    deadline: D,
    /// The timeout that made the deadline, for the error message.
    after: Option<Duration>,
}

impl<H: Holder, D: Future> Until<H, D> {
    #[inline]
    pub(crate) fn new(holder: H, deadline: D, after: Option<Duration>) -> Self {
        Self {
            acquire: Acquire::new(holder),
            deadline,
            after,
        }
    }
}

impl<H: Holder, D: Future> Future for Until<H, D> {
    /// `Err` carries the holder back, with the [`TimedOut`] to report.
    type Output = Result<H::Guard, (H, TimedOut)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `deadline` is the only structurally pinned field; it is
        // re-pinned below and never moved. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `this.deadline` lives inside a pinned `Self` and is never
        // moved out of it (not even by `Drop`, which leaves it alone).
        let deadline = unsafe { Pin::new_unchecked(&mut this.deadline) };
        let after = this.after;
        this.acquire
            .poll_until(deadline, cx)
            .map(|result| result.map_err(|holder| (holder, TimedOut::new(after))))
    }
}

#[cfg(feature = "futures-core")]
impl<H: Holder, D: Future> futures_core::future::FusedFuture for Until<H, D> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.acquire.holder.is_none()
    }
}

impl<H: Holder, D> fmt::Debug for Until<H, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Until")
            .field("acquire", &self.acquire)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

lock_future! {
    /// The future of [`RwLock::read`]; resolves to a [`ReadGuard`](crate::ReadGuard).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(5);
    /// let future: turnlock::futures::ReadFuture<'_, i32> = lock.read();
    /// assert_eq!(*future.await, 5);
    /// # });
    /// ```
    pub struct ReadFuture['a, T: ?Sized]['a, T](Acquire<Reading<&'a RwLock<T>>>)
        -> crate::ReadGuard<'a, T>;
    new(lock: &'a RwLock<T>) => Acquire::new(Reading(lock));
}

lock_future! {
    /// The future of [`RwLock::write`]; resolves to a [`WriteGuard`](crate::WriteGuard).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(5);
    /// let future: turnlock::futures::WriteFuture<'_, i32> = lock.write();
    /// *future.await += 1;
    /// # });
    /// ```
    pub struct WriteFuture['a, T: ?Sized]['a, T](Acquire<Writing<&'a RwLock<T>>>)
        -> crate::WriteGuard<'a, T>;
    new(lock: &'a RwLock<T>) => Acquire::new(Writing(lock));
}

lock_future! {
    /// The future of [`RwLock::upgradable_read`]; resolves to an
    /// [`UpgradableReadGuard`](crate::UpgradableReadGuard).
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(5);
    /// let future: turnlock::futures::UpgradableReadFuture<'_, i32> = lock.upgradable_read();
    /// assert_eq!(*future.await, 5);
    /// # });
    /// ```
    pub struct UpgradableReadFuture['a, T: ?Sized]['a, T](Acquire<UpgradableReading<&'a RwLock<T>>>)
        -> crate::UpgradableReadGuard<'a, T>;
    new(lock: &'a RwLock<T>) => Acquire::new(UpgradableReading(lock));
}

#[cfg(target_has_atomic = "ptr")]
lock_future! {
    /// The future of [`RwLock::read_owned`]; resolves to an
    /// [`OwnedReadGuard`](crate::OwnedReadGuard).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(()));
    /// let future: turnlock::futures::OwnedReadFuture<()> = lock.read_owned();
    /// let guard = future.await;
    /// # drop(guard);
    /// # });
    /// ```
    pub struct OwnedReadFuture[T: ?Sized][T](Acquire<Reading<Arc<RwLock<T>>>>)
        -> crate::OwnedReadGuard<T>;
    new(lock: Arc<RwLock<T>>) => Acquire::new(Reading(lock));
}

#[cfg(target_has_atomic = "ptr")]
lock_future! {
    /// The future of [`RwLock::write_owned`]; resolves to an
    /// [`OwnedWriteGuard`](crate::OwnedWriteGuard).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(0));
    /// let future: turnlock::futures::OwnedWriteFuture<i32> = lock.write_owned();
    /// *future.await += 1;
    /// # });
    /// ```
    pub struct OwnedWriteFuture[T: ?Sized][T](Acquire<Writing<Arc<RwLock<T>>>>)
        -> crate::OwnedWriteGuard<T>;
    new(lock: Arc<RwLock<T>>) => Acquire::new(Writing(lock));
}

#[cfg(target_has_atomic = "ptr")]
lock_future! {
    /// The future of [`RwLock::upgradable_read_owned`]; resolves to an
    /// [`OwnedUpgradableReadGuard`](crate::OwnedUpgradableReadGuard).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures_lite::future::block_on(async {
    /// let lock = Arc::new(turnlock::RwLock::new(()));
    /// let future: turnlock::futures::OwnedUpgradableReadFuture<()> = lock.upgradable_read_owned();
    /// let guard = future.await;
    /// # drop(guard);
    /// # });
    /// ```
    pub struct OwnedUpgradableReadFuture[T: ?Sized][T](Acquire<UpgradableReading<Arc<RwLock<T>>>>)
        -> crate::OwnedUpgradableReadGuard<T>;
    new(lock: Arc<RwLock<T>>) => Acquire::new(UpgradableReading(lock));
}

lock_future! {
    /// The future of [`RwLock::read_until`]; resolves to `Ok(ReadGuard)`,
    /// or `Err(TimedOut)` when the deadline completes first.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::ReadUntil<'_, (), _> =
    ///     lock.read_until(std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct ReadUntil['a, T: ?Sized, D: Future]['a, T, D](Until<Reading<&'a RwLock<T>>, D>)
        -> Result<crate::ReadGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, deadline: D, after: Option<Duration>) =>
        Until::new(Reading(lock), deadline, after);
    map(|result| result.map_err(|(_, timed_out)| timed_out));
}

lock_future! {
    /// The future of [`RwLock::write_until`]; resolves to `Ok(WriteGuard)`,
    /// or `Err(TimedOut)` when the deadline completes first.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::WriteUntil<'_, (), _> =
    ///     lock.write_until(std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct WriteUntil['a, T: ?Sized, D: Future]['a, T, D](Until<Writing<&'a RwLock<T>>, D>)
        -> Result<crate::WriteGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, deadline: D, after: Option<Duration>) =>
        Until::new(Writing(lock), deadline, after);
    map(|result| result.map_err(|(_, timed_out)| timed_out));
}

lock_future! {
    /// The future of [`RwLock::upgradable_read_until`]; resolves to
    /// `Ok(UpgradableReadGuard)`, or `Err(TimedOut)` when the deadline
    /// completes first.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let lock = turnlock::RwLock::new(());
    /// let future: turnlock::futures::UpgradableReadUntil<'_, (), _> =
    ///     lock.upgradable_read_until(std::future::pending::<()>());
    /// assert!(future.await.is_ok());
    /// # });
    /// ```
    pub struct UpgradableReadUntil['a, T: ?Sized, D: Future]['a, T, D](Until<UpgradableReading<&'a RwLock<T>>, D>)
        -> Result<crate::UpgradableReadGuard<'a, T>, TimedOut>;
    new(lock: &'a RwLock<T>, deadline: D, after: Option<Duration>) =>
        Until::new(UpgradableReading(lock), deadline, after);
    map(|result| result.map_err(|(_, timed_out)| timed_out));
}
