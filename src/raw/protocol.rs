//! What the futures, the blocking calls and the keyed maps need from a lock
//! protocol, and waiting with a deadline, which every protocol shares.
//!
//! [`RawLock`] (exclusive), [`RawRwLock`] (an access of some [`Kind`]) and
//! [`Upgrade`](super::Upgrade) (an upgradable reader becoming the writer) each implement
//! [`Protocol`]; [`poll_until`] here and `acquire_blocking` (in
//! `blocking.rs`) are written once for all of them.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::{Kind, RawLock, RawRwLock, Waiter};

/// One lock protocol, seen from a waiter.
pub(crate) trait Protocol {
    /// What an acquisition asks for: nothing more for an exclusive lock,
    /// the [`Kind`] of access for a reader-writer lock.
    type Mode: Copy;

    /// Takes the lock in `mode` if it may be taken now. Never waits.
    fn try_acquire(&self, mode: Self::Mode) -> bool;

    /// Polls an acquisition. `Ready` means the caller now holds the lock.
    fn poll_acquire(&self, mode: Self::Mode, waiter: &mut Waiter, cx: &mut Context<'_>)
    -> Poll<()>;

    /// Gives up an acquisition at any point. `true` if the waiter turned
    /// out to hold the lock (it was handed over and not yet observed); the
    /// caller then keeps it or releases it. Afterwards the waiter is done.
    fn abandon(&self, waiter: &mut Waiter) -> bool;

    /// Releases what an acquisition in `mode` took.
    ///
    /// # Safety
    ///
    /// The caller holds it (acquired and not released since) and gives it
    /// up here.
    unsafe fn release(&self, mode: Self::Mode);
}

impl Protocol for RawLock {
    type Mode = ();

    #[inline]
    fn try_acquire(&self, (): ()) -> bool {
        self.try_lock()
    }

    #[inline]
    fn poll_acquire(&self, (): (), waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        RawLock::poll_acquire(self, waiter, cx)
    }

    #[inline]
    fn abandon(&self, waiter: &mut Waiter) -> bool {
        RawLock::abandon(self, waiter)
    }

    #[inline]
    unsafe fn release(&self, (): ()) {
        // SAFETY: the caller holds the lock.
        unsafe { self.unlock() }
    }
}

impl Protocol for RawRwLock {
    type Mode = Kind;

    #[inline]
    fn try_acquire(&self, kind: Kind) -> bool {
        RawRwLock::try_acquire(self, kind)
    }

    #[inline]
    fn poll_acquire(&self, kind: Kind, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        RawRwLock::poll_acquire(self, kind, waiter, cx)
    }

    #[inline]
    fn abandon(&self, waiter: &mut Waiter) -> bool {
        RawRwLock::abandon(self, waiter)
    }

    #[inline]
    unsafe fn release(&self, kind: Kind) {
        // SAFETY: the caller holds an access of `kind`.
        unsafe { RawRwLock::release(self, kind) }
    }
}

/// Polls an acquisition that gives up when `deadline` completes.
///
/// `Ready(true)`: the caller holds the lock. `Ready(false)`: the deadline
/// won and the waiter left the line; nothing else changed. The lock is
/// tried before the deadline is polled, so a free lock is taken even past
/// the deadline, and an expired deadline never makes the waiter queue. A
/// waiter handed the lock just as the deadline fires keeps it.
pub(crate) fn poll_until<P: Protocol + ?Sized, D: Future>(
    protocol: &P,
    mode: P::Mode,
    waiter: &mut Waiter,
    deadline: Pin<&mut D>,
    cx: &mut Context<'_>,
) -> Poll<bool> {
    assert!(!waiter.is_done(), "lock future polled after completion");
    if waiter.is_idle() {
        if protocol.try_acquire(mode) {
            waiter.finish();
            return Poll::Ready(true);
        }
        if deadline.poll(cx).is_ready() {
            waiter.finish();
            return Poll::Ready(false);
        }
        return protocol.poll_acquire(mode, waiter, cx).map(|()| true);
    }
    if protocol.poll_acquire(mode, waiter, cx).is_ready() {
        return Poll::Ready(true);
    }
    if deadline.poll(cx).is_ready() {
        return Poll::Ready(protocol.abandon(waiter));
    }
    Poll::Pending
}
