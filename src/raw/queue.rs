//! The hand-off queue ([`RawLock::queue`]): waiters that a release hands
//! the lock to directly, oldest first. A notification here *is* the lock.

use core::pin::Pin;
use core::task::{Context, Poll};

use super::RawLock;
use super::state::{LOCKED, QUEUED_MASK, QUEUED_ONE, check, without_hint};
use super::waiter::{Stage, Waiter};
use crate::sync::Ordering::{AcqRel, Relaxed};

/// Where a waiter joins the hand-off queue from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum JoinFrom {
    /// Its first poll (every waiter of a `new_fifo` lock).
    Start,
    /// The hint waiters of a `new` lock, after a lost race while the slot
    /// was taken: it leaves their count in the same step.
    Hints,
}

impl RawLock {
    /// Joins the hand-off queue and polls the new listener (which
    /// registers the waker), or takes the lock if it is free. `state` is a
    /// first guess of the state word.
    pub(super) fn enqueue(
        &self,
        waiter: &mut Waiter,
        from: JoinFrom,
        mut state: usize,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let listener = self.check.listen(&self.queue, &mut waiter.ticket, cx);
        loop {
            check(state, self.fifo);
            let next = if state & LOCKED == 0 {
                // Free, so nobody is queued: take it directly.
                state | LOCKED
            } else {
                assert!(
                    state & QUEUED_MASK != QUEUED_MASK,
                    "too many waiters on one lock"
                );
                state + QUEUED_ONE
            };
            let next = match from {
                JoinFrom::Start => next,
                JoinFrom::Hints => without_hint(next),
            };
            // (own) Acquire, if we take the free lock: the last owner's
            // section. (count) Release, if we join: our listener, in `queue`
            // since the first line, to the release that reads this count.
            // Failure (none): retry with the new value.
            match self
                .state
                .compare_exchange_weak(state, next, AcqRel, Relaxed)
            {
                Ok(_) if state & LOCKED == 0 => {
                    // Only an owner hands off, and nobody owned the lock: our
                    // listener cannot hold a notification.
                    let notified = self.check.leave(listener, &mut waiter.ticket);
                    debug_assert!(!notified, "hand-off to a waiter that was never queued");
                    waiter.stage = Stage::Done;
                    return Poll::Ready(());
                }
                Ok(_) => {
                    // The first poll registers our waker (or finds the
                    // lock handed to us already).
                    let mut listener = listener;
                    let poll = Pin::new(&mut listener).poll(cx);
                    *waiter.listener = Some(listener);
                    waiter.stage = Stage::Queued;
                    return self.queued_polled(waiter, poll, cx);
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Polls a queued waiter: `Ready` once it has been handed the lock.
    #[inline(never)]
    pub(super) fn poll_queued(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        let listener = waiter.listener.as_mut().expect("queued waiter listens");
        let poll = Pin::new(listener).poll(cx);
        self.queued_polled(waiter, poll, cx)
    }

    /// A queued waiter's listener was polled: `Ready` is the hand-off.
    #[inline(always)]
    fn queued_polled(&self, waiter: &mut Waiter, poll: Poll<()>, cx: &Context<'_>) -> Poll<()> {
        if poll.is_pending() {
            self.check
                .pending(&mut waiter.ticket, cx, || self.slot_handed());
            return Poll::Pending;
        }
        // Handed the lock ((own) through (list)): leave the queue count as
        // its owner.
        *waiter.listener = None;
        self.check.claimed(&mut waiter.ticket);
        self.leave_queue_count();
        waiter.stage = Stage::Done;
        Poll::Ready(())
    }

    /// A queued waiter gives up. `true` if its listener held the hand-off:
    /// the waiter owns the lock, and the caller releases it.
    pub(super) fn leave_queue(&self, waiter: &mut Waiter) -> bool {
        // Leave the count first, then the queue (see the parent module).
        self.leave_queue_count();
        // A notification in our listener is the lock itself ((own) through
        // (list): `discard` takes the list's lock).
        waiter
            .listener
            .take()
            .is_some_and(|listener| self.check.leave(listener, &mut waiter.ticket))
    }

    /// Takes one waiter off the queued count.
    fn leave_queue_count(&self) {
        // AcqRel, of which neither half is needed: a hand-off reaches its
        // waiter through the list ((list)), not through this word, and the
        // count carries no data; (none) would do.
        let prev = self.state.fetch_sub(QUEUED_ONE, AcqRel);
        debug_assert!(prev & QUEUED_MASK != 0, "queued count underflow");
        debug_assert!(prev & LOCKED != 0, "queued waiter on a free lock");
    }

    /// Hands the lock to the oldest queued listener that has not been
    /// notified; `false` if there was none (a waiter left since the
    /// caller's look at the count). `LOCKED` stays set: the listener's
    /// waiter owns the lock now.
    #[inline]
    pub(super) fn hand_off(&self) -> bool {
        self.check.hand_off(&self.queue)
    }
}
