//! The upgradable reader becoming the writer.
//!
//! The upgradable reader keeps writers and other upgradable readers out, so
//! once the plain readers are gone the lock can only go to it. With no
//! readers, it writes at once (`U` becomes `W`). Otherwise it sets `G`
//! ([`UPGRADING`]), which keeps new readers out, and waits: the last reader
//! out clears `G` and `U`, sets `W` and notifies [`Raw::wake`](crate::raw::Raw::wake).
//! The notification is only a wake-up; the state word says whether the
//! hand-over happened (a late notification of an earlier upgrade may reach
//! a later one), so the upgrader listens, looks at the word, and listens
//! again when a wake-up finds `G` still set.
//!
//! An upgrade is a [`Protocol`] whose acquisition is the write access, so
//! that deadlines and blocking come from `protocol.rs`. Its waiter is a
//! plain [`Waiter`] whose `Hint` stage means "listening for the wake-up
//! on `wake`". Abandoning an upgrade stops it and keeps the upgradable
//! read (clears `G`, letting readers in again), unless the write access
//! was handed over first.

use core::pin::Pin;
use core::task::{Context, Poll};

use super::{Kind, READER_MASK, RawRwLock, UPGRADABLE, UPGRADING, WRITER, check};
use crate::raw::protocol::Protocol;
use crate::raw::waiter::{Stage, Waiter};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed};

/// The upgrade of a lock's upgradable read to its write access: the same
/// lock, seen through another [`Protocol`].
#[repr(transparent)]
pub(crate) struct Upgrade(RawRwLock);

impl RawRwLock {
    /// The upgrade of this lock's upgradable read. Only its holder may use
    /// it (see [`Upgrade`]'s methods).
    #[inline]
    pub(crate) fn upgrade(&self) -> &Upgrade {
        // SAFETY: `Upgrade` is a `repr(transparent)` wrapper of `RawRwLock`,
        // so the two references have the same layout and validity.
        unsafe { &*core::ptr::from_ref(self).cast::<Upgrade>() }
    }
}

impl Upgrade {
    /// Ends an upgrade future that did not complete: stops the upgrade and
    /// releases what it held, the write access if it had been handed over,
    /// else the upgradable read.
    ///
    /// # Safety
    ///
    /// The caller held the upgradable read when the upgrade started, and
    /// the upgrade has not completed.
    pub(crate) unsafe fn cancel(&self, waiter: &mut Waiter) {
        let kind = if self.abandon(waiter) {
            Kind::Write
        } else {
            Kind::Upgradable
        };
        // SAFETY: `abandon` told which access we hold.
        unsafe { self.0.release(kind) };
    }
}

impl Protocol for Upgrade {
    type Mode = ();

    /// Writes at once if no reader holds the lock.
    ///
    /// The caller holds the upgradable read and is not upgrading.
    fn try_acquire(&self, (): ()) -> bool {
        let lock = &self.0;
        // Relaxed: the compare-and-swap below orders the lock.
        let mut state = lock.state.load(Relaxed);
        loop {
            check(state);
            debug_assert_eq!(
                state & (UPGRADABLE | UPGRADING),
                UPGRADABLE,
                "upgraded without the upgradable read, or twice"
            );
            if state & READER_MASK != 0 {
                return false;
            }
            // Acquire: the critical sections of the readers that have left.
            match lock.state.compare_exchange_weak(
                state,
                (state & !UPGRADABLE) | WRITER,
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    fn poll_acquire(&self, (): (), waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        let lock = &self.0;
        match waiter.stage {
            Stage::Idle => {
                if self.try_acquire(()) {
                    waiter.stage = Stage::Done;
                    return Poll::Ready(());
                }
                // Listen first, then set `G`: the last reader's wake-up
                // then finds the listener.
                *waiter.listener = Some(lock.wake.listen());
                // Relaxed: the compare-and-swap below orders the lock.
                let mut state = lock.state.load(Relaxed);
                loop {
                    check(state);
                    let next = if state & READER_MASK == 0 {
                        (state & !UPGRADABLE) | WRITER
                    } else {
                        state | UPGRADING
                    };
                    // AcqRel: Acquire if the readers are gone and we write
                    // at once; Release orders nothing but is harmless.
                    match lock
                        .state
                        .compare_exchange_weak(state, next, AcqRel, Relaxed)
                    {
                        Ok(_) if next & WRITER != 0 => {
                            *waiter.listener = None;
                            waiter.stage = Stage::Done;
                            return Poll::Ready(());
                        }
                        Ok(_) => break,
                        Err(actual) => state = actual,
                    }
                }
                waiter.stage = Stage::Hint;
            }
            Stage::Hint => {}
            Stage::Done => panic!("upgrade future polled after completion"),
            Stage::Queued | Stage::Slot(_) => unreachable!("an upgrade never queues"),
        }
        loop {
            // Acquire: the lock, which the last reader handed over by
            // clearing `G`.
            let state = lock.state.load(Acquire);
            if state & UPGRADING == 0 {
                debug_assert!(state & WRITER != 0, "an upgrade ended without the write");
                *waiter.listener = None;
                waiter.stage = Stage::Done;
                return Poll::Ready(());
            }
            match waiter.listener.as_mut() {
                None => *waiter.listener = Some(lock.wake.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // A wake-up; look at the word, listening again first.
                    *waiter.listener = None;
                }
            }
        }
    }

    /// Stops an upgrade in progress and keeps the upgradable read; `true`
    /// if the write access had been handed over (then the caller holds it
    /// instead).
    fn abandon(&self, waiter: &mut Waiter) -> bool {
        let stage = core::mem::replace(&mut waiter.stage, Stage::Done);
        if !matches!(stage, Stage::Hint) {
            return false;
        }
        *waiter.listener = None;
        self.0
            .transition(|state| (state & UPGRADING != 0).then_some(state & !UPGRADING))
            .is_err()
    }

    unsafe fn release(&self, (): ()) {
        // SAFETY: an upgrade acquires the write access; the caller holds it.
        unsafe { self.0.release(Kind::Write) }
    }
}
