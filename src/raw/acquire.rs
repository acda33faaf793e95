//! Polling an acquisition through its stages, with or without a deadline,
//! and giving it up at any point.

use core::future::Future;
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
    #[inline]
    pub(crate) fn poll_acquire(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        if let Stage::Idle = waiter.stage {
            // (own) Acquire: the last owner's section. Failure (none): the
            // slow path looks again.
            if self
                .state
                .compare_exchange(0, LOCKED, Acquire, Relaxed)
                .is_ok()
            {
                waiter.stage = Stage::Done;
                return Poll::Ready(());
            }
        }
        self.poll_acquire_slow(waiter, cx)
    }

    #[cold]
    fn poll_acquire_slow(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match waiter.stage {
                Stage::Idle => {
                    if self.try_lock_slow() {
                        waiter.stage = Stage::Done;
                        return Poll::Ready(());
                    }
                    if self.fifo {
                        self.enqueue(waiter, JoinFrom::Start, cx);
                    } else {
                        self.join_hints(waiter);
                    }
                }
                Stage::Hint => {
                    let listener = waiter.listener.as_mut().expect("hint waiter listens");
                    if Pin::new(listener).poll(cx).is_pending() {
                        // Not woken for us, but our task runs: another
                        // future of this task may hold an unconsumed hint,
                        // so look at the lock ourselves before sleeping.
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
                    // Lost the race to a newcomer: wait in the slot, or
                    // join the hand-off queue behind it (see "Starvation
                    // without a clock").
                    match self.enter_slot(waiter, cx) {
                        Entered::Owner => return Poll::Ready(()),
                        Entered::Slot => {
                            self.check
                                .pending(&mut waiter.ticket, cx, || self.slot_handed());
                            return Poll::Pending;
                        }
                        Entered::Full => self.enqueue(waiter, JoinFrom::Hints, cx),
                    }
                }
                Stage::Queued => return self.poll_queued(waiter, cx),
                Stage::Slot(id) => {
                    if self.poll_slot(waiter, id, cx) {
                        return Poll::Ready(());
                    }
                    self.check
                        .pending(&mut waiter.ticket, cx, || self.slot_handed());
                    return Poll::Pending;
                }
                Stage::Done => panic!("lock future polled after completion"),
            }
            if let Stage::Done = waiter.stage {
                return Poll::Ready(());
            }
        }
    }

    /// Polls an acquisition that gives up when `deadline` completes.
    ///
    /// `Ready(true)`: the caller owns the lock. `Ready(false)`: the deadline
    /// won and the waiter left the line; nothing else changed. The lock is
    /// tried before the deadline is polled, so a free lock is taken even past
    /// the deadline, and an expired deadline never makes the waiter queue.
    /// A waiter handed the lock just as the deadline fires keeps it.
    pub(crate) fn poll_until<D: Future>(
        &self,
        waiter: &mut Waiter,
        deadline: Pin<&mut D>,
        cx: &mut Context<'_>,
    ) -> Poll<bool> {
        assert!(!waiter.is_done(), "lock future polled after completion");
        if waiter.is_idle() {
            if self.try_lock() {
                waiter.finish();
                return Poll::Ready(true);
            }
            if deadline.poll(cx).is_ready() {
                waiter.finish();
                return Poll::Ready(false);
            }
            return self.poll_acquire(waiter, cx).map(|()| true);
        }
        if self.poll_acquire(waiter, cx).is_ready() {
            return Poll::Ready(true);
        }
        if deadline.poll(cx).is_ready() {
            return Poll::Ready(self.abandon(waiter));
        }
        Poll::Pending
    }

    /// Gives up an acquisition that is in progress, at any point.
    ///
    /// Returns `true` if the waiter turned out to own the lock (it had been
    /// handed the lock but had not observed it yet); the caller then keeps
    /// the lock or releases it. Afterwards the waiter is finished.
    #[inline]
    pub(crate) fn abandon(&self, waiter: &mut Waiter) -> bool {
        match waiter.stage {
            Stage::Idle | Stage::Done => {
                waiter.stage = Stage::Done;
                false
            }
            _ => self.abandon_slow(waiter),
        }
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
