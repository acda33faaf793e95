//! Polling an acquisition through its stages, and giving it up at any
//! point (deadlines are `protocol.rs`'s, for every protocol).

use core::pin::Pin;
use core::task::{Context, Poll};

use super::RawLock;
use super::hints::Holding;
use super::queue::JoinFrom;
use super::slot::Entered;
use super::state::LOCKED;
use super::waiter::{Stage, Waiter};
use crate::sync::Ordering::{Acquire, Relaxed};

impl RawLock {
    /// Polls an acquisition. `Ready` means the caller now owns the lock.
    ///
    /// Each stage has a function of its own, so that a contended poll runs
    /// only the code of the stage it is in.
    #[inline]
    pub(crate) fn poll_acquire(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        match waiter.stage {
            // (own) Acquire: the last owner's section. Failure (none): the
            // value is only a first guess for the slow path.
            Stage::Idle => match self.state.compare_exchange(0, LOCKED, Acquire, Relaxed) {
                Ok(_) => {
                    waiter.stage = Stage::Done;
                    Poll::Ready(())
                }
                Err(state) => self.start_waiting(waiter, state, cx),
            },
            Stage::Queued => self.poll_queued(waiter, cx),
            _ => self.poll_waiting(waiter, cx),
        }
    }

    /// The first poll found the lock taken, or hint waiters counted:
    /// `state` is the word the fast path saw.
    #[cold]
    fn start_waiting(&self, waiter: &mut Waiter, state: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.fifo {
            // Every waiter of a FIFO lock queues. A non-zero word means the
            // lock is held (see the state table), and if it has been
            // released since, `enqueue` takes it instead of joining.
            return self.enqueue(waiter, JoinFrom::Start, state, cx);
        }
        if self.try_lock_slow() {
            waiter.stage = Stage::Done;
            return Poll::Ready(());
        }
        self.join_hints(waiter, cx)
    }

    /// Polls a waiter that is a hint waiter or in the slot.
    #[inline(never)]
    fn poll_waiting(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        match waiter.stage {
            Stage::Hint => self.poll_hint(waiter, cx),
            Stage::Slot(id) => {
                let owns = self.poll_slot(waiter, id, cx);
                self.check
                    .slot_polled(owns, &mut waiter.ticket, cx, || self.slot_handed())
            }
            Stage::Idle | Stage::Queued => unreachable!("`poll_acquire` polls these"),
            Stage::Done => panic!("lock future polled after completion"),
        }
    }

    /// Polls a hint waiter.
    pub(super) fn poll_hint(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        let listener = waiter.listener.as_mut().expect("hint waiter listens");
        if Pin::new(listener).poll(cx).is_pending() {
            // Not woken for us, but our task runs: another future of this
            // task may hold an unconsumed hint, so look at the lock
            // ourselves before sleeping.
            if self.take_counted() {
                self.drop_hint_listener(waiter, Holding::Lock);
                waiter.stage = Stage::Done;
                return Poll::Ready(());
            }
            self.check
                .pending(&mut waiter.ticket, cx, || self.slot_handed());
            return Poll::Pending;
        }
        *waiter.listener = None;
        if self.take_counted() {
            waiter.stage = Stage::Done;
            return Poll::Ready(());
        }
        // Lost the race to a newcomer: wait in the slot, or join the
        // hand-off queue behind it (see "Starvation without a clock").
        match self.enter_slot(waiter, cx) {
            Entered::Owner => Poll::Ready(()),
            Entered::Slot => {
                self.check
                    .pending(&mut waiter.ticket, cx, || self.slot_handed());
                Poll::Pending
            }
            Entered::Full => {
                // (none): a first guess for `enqueue`'s compare-and-swap.
                let state = self.state.load(Relaxed);
                self.enqueue(waiter, JoinFrom::Hints, state, cx)
            }
        }
    }

    /// Gives up an acquisition that is in progress, at any point.
    ///
    /// Returns `true` if the waiter turned out to own the lock (it had been
    /// handed the lock but had not observed it yet); the caller then keeps
    /// the lock or releases it. Afterwards the waiter is finished.
    #[inline]
    pub(crate) fn abandon(&self, waiter: &mut Waiter) -> bool {
        waiter.finish_unless_waiting() && self.abandon_slow(waiter)
    }

    #[cold]
    fn abandon_slow(&self, waiter: &mut Waiter) -> bool {
        let stage = core::mem::replace(&mut waiter.stage, Stage::Done);
        match stage {
            Stage::Hint => {
                self.leave_hints(waiter);
                false
            }
            Stage::Queued => self.leave_queue(waiter),
            Stage::Slot(_) => self.abandon_slot(waiter),
            Stage::Idle | Stage::Done => false,
        }
    }
}
