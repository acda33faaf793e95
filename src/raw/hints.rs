//! The hint waiters of a `new` lock: waiters that sleep on the wake-up queue
//! ([`RawLock::wake`]), where a notification is only a hint to look at the
//! lock again (see "Starvation without a clock" in the parent module).

use core::task::{Context, Poll};

use event_listener::{IntoNotification, Listener};

use super::RawLock;
use super::state::{ALL_HINTED, HINT_MASK, HINT_ONE, LOCKED, check, without_hint};
use super::waiter::{Stage, Waiter};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Who owns the lock when a hint listener is dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Holding {
    /// The departing waiter took the lock: its own release will wake someone.
    Lock,
    /// It leaves without the lock: a hint it consumed goes to someone else.
    Nothing,
}

impl RawLock {
    /// Joins the wake-up queue and polls the new listener (which registers
    /// the waker), or takes the lock if it became free.
    pub(super) fn join_hints(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        debug_assert!(!self.fifo);
        *waiter.listener = Some(self.wake.listen());
        // (none): a first guess for the compare-and-swap.
        let mut state = self.state.load(Relaxed);
        loop {
            let (next, order) = if state & LOCKED == 0 {
                // (own) Acquire: the last owner's section.
                (state | LOCKED, Acquire)
            } else {
                assert!(
                    state & HINT_MASK != HINT_MASK,
                    "too many waiters on one lock"
                );
                // A waiter that has not been notified: clear `ALL_HINTED`.
                // (count) Release: our listener, in `wake` since the line
                // above, to the release that reads this count.
                ((state + HINT_ONE) & !ALL_HINTED, Release)
            };
            // Failure (none): retry with the new value.
            match self
                .state
                .compare_exchange_weak(state, next, order, Relaxed)
            {
                Ok(_) if state & LOCKED == 0 => {
                    // Took the free lock; we were never counted.
                    self.drop_hint_listener(waiter, Holding::Lock);
                    waiter.stage = Stage::Done;
                    return Poll::Ready(());
                }
                Ok(_) => {
                    waiter.stage = Stage::Hint;
                    return self.poll_hint(waiter, cx);
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// A hint waiter takes a free lock, leaving the hint count.
    pub(super) fn take_counted(&self) -> bool {
        // (none): a first guess for the compare-and-swap.
        let mut state = self.state.load(Relaxed);
        loop {
            check(state, self.fifo);
            if state & LOCKED != 0 {
                return false;
            }
            // (own) Acquire: the last owner's section. Failure (none): retry.
            match self.state.compare_exchange_weak(
                state,
                without_hint(state | LOCKED),
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// A hint waiter gives up: leaves the count, then the queue (see the
    /// parent module), passing on a hint it had consumed.
    pub(super) fn leave_hints(&self, waiter: &mut Waiter) {
        // (none): a first guess for the compare-and-swap.
        let mut state = self.state.load(Relaxed);
        // AcqRel, of which neither half is needed: leaving the count
        // publishes nothing (our listener goes after it), and we read
        // nothing through it; (none) would do. Failure (none): retry.
        while let Err(actual) =
            self.state
                .compare_exchange_weak(state, without_hint(state), AcqRel, Relaxed)
        {
            state = actual;
        }
        self.drop_hint_listener(waiter, Holding::Nothing);
    }

    /// Discards the wake-up listener of `waiter`. A hint it held is passed on
    /// unless the waiter now owns the lock (its release will wake someone).
    pub(super) fn drop_hint_listener(&self, waiter: &mut Waiter, holding: Holding) {
        if let Some(listener) = waiter.listener.take() {
            if listener.discard() && holding == Holding::Nothing {
                self.pass_hint();
            }
        }
    }

    /// Re-sends a hint that a departing waiter consumed.
    fn pass_hint(&self) {
        // (count) Acquire: the listeners of the hint waiters counted here
        // are in `wake` before our notify looks for them.
        let state = self.state.load(Acquire);
        // If the lock is held, its release will wake a hint waiter.
        if state & (LOCKED | ALL_HINTED) == 0 && state & HINT_MASK != 0 {
            // Replaces the discarded hint, even if others are outstanding.
            self.wake.notify(1.additional().relaxed());
        }
    }

    /// The release that stored `freed` (the lock free, hint waiters counted,
    /// `ALL_HINTED` clear) wakes one more hint waiter.
    ///
    /// It does so on every such release, even if an earlier hint is still
    /// unconsumed: that waiter's task may not run for a while (its thread
    /// preempted, or busy), and with only one hint out, a running task could
    /// take the lock again and again while every other waiter sleeps. Each
    /// woken waiter that loses a race moves to the slot or the queue, so the
    /// barging releaser is soon made to hand off.
    #[inline(always)]
    pub(super) fn wake_one_more(&self, freed: usize) {
        if self.wake.notify(1.additional().relaxed()) == 0 {
            // Every hint waiter is awake already: let later releases skip
            // the list's mutex, unless a new hint waiter (which clears the
            // flag) or any other change came since our release. (none): the
            // flag carries no data, and it is set only on the very word our
            // release stored.
            let _ = self
                .state
                .compare_exchange(freed, freed | ALL_HINTED, Relaxed, Relaxed);
        }
    }
}
