//! What the futures, the blocking calls and the keyed maps need from a lock
//! protocol, and the parts of waiting that every protocol shares: a
//! deadline, and a blocked thread.
//!
//! [`RawLock`] (exclusive), [`RawRwLock`] (an access of some [`Kind`]) and
//! [`Upgrade`](super::Upgrade) (an upgradable reader becoming the writer) each implement
//! [`Protocol`]; [`poll_until`] and [`acquire_blocking`] are written once
//! for all of them.

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

/// Blocks the thread until the lock is acquired in `mode` or `deadline`
/// passes. Returns `true` if the caller now holds it.
#[cfg(feature = "std")]
pub(crate) fn acquire_blocking<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    deadline: Option<super::Deadline>,
) -> bool {
    if protocol.try_acquire(mode) {
        return true;
    }
    acquire_blocking_slow(protocol, mode, deadline)
}

/// A blocking acquisition that gives up after `timeout`; `true` if the
/// caller now holds the lock. `Duration::ZERO` only tries; a timeout too
/// large to represent as a point in time means no timeout.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn acquire_blocking_timeout<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    timeout: core::time::Duration,
) -> bool {
    if timeout.is_zero() {
        protocol.try_acquire(mode)
    } else {
        acquire_blocking(
            protocol,
            mode,
            std::time::Instant::now().checked_add(timeout),
        )
    }
}

#[cfg(feature = "std")]
#[cold]
fn acquire_blocking_slow<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    deadline: Option<super::Deadline>,
) -> bool {
    let waker = super::blocking::thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut waiter = Waiter::new();
    loop {
        if protocol.poll_acquire(mode, &mut waiter, &mut cx).is_ready() {
            return true;
        }
        match deadline {
            None => crate::sync::park(),
            #[cfg(not(loom))]
            Some(deadline) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return protocol.abandon(&mut waiter);
                }
                crate::sync::park_timeout(deadline - now);
            }
            #[cfg(loom)]
            Some(never) => match never {},
        }
    }
}
