//! Waiting for a reader-writer lock: joining the line, taking the turn,
//! waiting at the front (the slot), and giving up at any point.

use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::{
    BARGED_MASK, HANDED, Kind, QUEUED_MASK, QUEUED_ONE, READY, RawRwLock, ReadWrite, SLOT,
    SLOT_BITS, TURN, check,
};
use crate::raw::slot_cell::{Reclaimed, SlotProtocol, Want};
use crate::raw::waiter::{Stage, Waiter, WakerId};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

impl RawRwLock {
    /// Polls an acquisition of `kind`. `Ready` means the caller now holds it.
    #[inline]
    pub(crate) fn poll_acquire(
        &self,
        kind: Kind,
        waiter: &mut Waiter,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if let Stage::Idle = waiter.stage {
            // Acquire: the lock, and the last holder's writes with it.
            if self
                .state
                .compare_exchange(0, kind.grant(0), Acquire, Relaxed)
                .is_ok()
            {
                waiter.stage = Stage::Done;
                return Poll::Ready(());
            }
        }
        self.poll_acquire_slow(kind, waiter, cx)
    }

    #[inline(never)]
    fn poll_acquire_slow(&self, kind: Kind, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        if let Stage::Idle = waiter.stage {
            // Takes the lock if a newcomer may, or else waits.
            if let Some(poll) = self.join(kind, waiter, cx) {
                return poll;
            }
            // Joined the line: the listener's first poll registers our waker.
        }
        match waiter.stage {
            Stage::Queued => {
                let listener = waiter.listener.as_mut().expect("queued waiter listens");
                if Pin::new(listener).poll(cx).is_pending() {
                    self.check
                        .pending(&mut waiter.ticket, cx, || self.slot_handed());
                    return Poll::Pending;
                }
                // We hold the turn, which is no longer in the listener (a
                // ready poll consumes the notification): from here to the
                // end of `take_turn` nothing may unwind without passing it
                // on (see `clone_with_turn`).
                *waiter.listener = None;
                waiter.stage = Stage::Done;
                self.take_turn(kind, waiter, cx)
            }
            Stage::Slot(id) => {
                let owns = self.poll_slot(waiter, id, cx);
                self.check
                    .slot_polled(owns, &mut waiter.ticket, cx, || self.slot_handed())
            }
            Stage::Idle => unreachable!("a newcomer that joined has a stage"),
            Stage::Hint => unreachable!("a reader-writer waiter never waits for a hint"),
            Stage::Done => panic!("lock future polled after completion"),
        }
    }

    /// A newcomer: takes the lock if the policy lets it, or else waits at
    /// the front if the line is empty, or else joins the line. `None` when
    /// it joined the line (its listener has not been polled yet).
    fn join(&self, kind: Kind, waiter: &mut Waiter, cx: &mut Context<'_>) -> Option<Poll<()>> {
        let mut listener = None;
        // Relaxed: each compare-and-swap below orders what it takes.
        let mut state = self.state.load(Relaxed);
        loop {
            check(state);
            if self.admits(state, kind) {
                // Acquire: the lock, and the last holder's writes with it.
                match self.state.compare_exchange_weak(
                    state,
                    Self::admit(state, kind),
                    Acquire,
                    Relaxed,
                ) {
                    Ok(_) => {
                        self.leave_uncounted(listener, waiter);
                        waiter.stage = Stage::Done;
                        return Some(Poll::Ready(()));
                    }
                    Err(actual) => state = actual,
                }
                continue;
            }
            if state & (SLOT | TURN | QUEUED_MASK) == 0 {
                // The line is empty: wait at the front, with no listener.
                self.leave_uncounted(listener.take(), waiter);
                if let Some(poll) = self.enter_slot(kind, waiter, cx) {
                    return Some(poll);
                }
                // Relaxed: as above.
                state = self.state.load(Relaxed);
                continue;
            }
            if listener.is_none() {
                // Listen first, then count ourselves in: a count of `n`
                // means at least `n` listeners in the line.
                listener = Some(self.check.listen(&self.queue, &mut waiter.ticket, cx));
                // Relaxed: as above.
                state = self.state.load(Relaxed);
                continue;
            }
            assert!(
                state & QUEUED_MASK != QUEUED_MASK,
                "too many waiters on one lock"
            );
            // Relaxed: joining the count hands nothing over; our listener is
            // already in the line, so a turn finds it.
            match self
                .state
                .compare_exchange_weak(state, state + QUEUED_ONE, Relaxed, Relaxed)
            {
                Ok(_) => {
                    *waiter.listener = listener;
                    waiter.stage = Stage::Queued;
                    return None;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Discards the listener of a waiter that never counted itself into the
    /// line. A turn may still have reached it (a release notifies the
    /// oldest listener, counted or not): then it passes the turn on.
    fn leave_uncounted(
        &self,
        listener: Option<event_listener::EventListener>,
        waiter: &mut Waiter,
    ) {
        if let Some(listener) = listener {
            if self.check.leave(listener, &mut waiter.ticket) {
                self.pass_turn();
            }
        }
    }

    /// A newcomer waits at the front if the line is still empty, or takes
    /// the lock if it became free. `None` if the line is not empty.
    fn enter_slot(&self, kind: Kind, waiter: &mut Waiter, cx: &Context<'_>) -> Option<Poll<()>> {
        // Cloned before the slot is ours: user code (the waker's `clone`)
        // must not unwind while the cell is half taken.
        let waker = cx.waker().clone();
        // Relaxed: each compare-and-swap below orders what it takes.
        let mut state = self.state.load(Relaxed);
        loop {
            check(state);
            let next = if self.admits(state, kind) {
                Self::admit(state, kind)
            } else if state & (SLOT | TURN | QUEUED_MASK) == 0 {
                state | kind.slot_bits()
            } else {
                return None;
            };
            // Acquire: the lock, or the cell as its last user left it.
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) if next & SLOT == 0 => {
                    waiter.stage = Stage::Done;
                    return Some(Poll::Ready(()));
                }
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        Some(self.wait_in_slot(waiter, waker, cx))
    }

    /// The waiter notified with the turn (it has left the line's list, not
    /// its count) takes the lock if its kind allows, passing the turn on
    /// unless it writes; or else moves to the front. The caller has marked
    /// the waiter done, so that nothing is given up twice if this unwinds.
    fn take_turn(&self, kind: Kind, waiter: &mut Waiter, cx: &Context<'_>) -> Poll<()> {
        self.check.claimed(&mut waiter.ticket);
        // Only a waiter that moves to the front needs its waker.
        let mut waker = None;
        // Relaxed: the compare-and-swap below orders what it takes.
        let mut state = self.state.load(Relaxed);
        let next = loop {
            check(state);
            debug_assert!(state & TURN != 0, "took a turn that is not out");
            debug_assert!(
                state & SLOT == 0,
                "a turn out while a waiter is at the front"
            );
            debug_assert!(
                state & QUEUED_MASK != 0,
                "a turn to a waiter that is not queued"
            );
            // The turn is taken: the next one may be passed again.
            let left = (state - QUEUED_ONE) & !BARGED_MASK;
            let next = if kind.conflicts(state) {
                if waker.is_none() {
                    waker = Some(self.clone_with_turn(cx));
                    // Relaxed: as above.
                    state = self.state.load(Relaxed);
                    continue;
                }
                (left & !TURN) | kind.slot_bits()
            } else if kind == Kind::Write || left & QUEUED_MASK == 0 {
                kind.grant(left) & !TURN
            } else {
                // A reader: the waiter behind us may be one too.
                kind.grant(left)
            };
            // Acquire: the lock, or the cell as its last user left it.
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) => break next,
                Err(actual) => state = actual,
            }
        };
        if next & SLOT != 0 {
            let waker = waker.expect("a waiter moving to the front has its waker");
            return self.wait_in_slot(waiter, waker, cx);
        }
        if next & TURN != 0 {
            self.pass_turn();
        }
        drop(waker);
        Poll::Ready(())
    }

    /// Clones the waker of a waiter that holds the turn and is still
    /// counted in the line, before the front is its: if the clone (user
    /// code) unwinds, the waiter leaves the count and passes the turn on.
    #[cold]
    fn clone_with_turn(&self, cx: &Context<'_>) -> Waker {
        /// Gives the turn up if dropped.
        struct GiveUp<'a>(&'a RawRwLock);

        impl Drop for GiveUp<'_> {
            fn drop(&mut self) {
                // Relaxed: leaving the count hands nothing over; the turn
                // we pass on orders nothing either (see `pass_turn`).
                self.0.state.fetch_sub(QUEUED_ONE, Relaxed);
                self.0.pass_turn();
            }
        }

        let give_up = GiveUp(self);
        let waker = cx.waker().clone();
        core::mem::forget(give_up);
        waker
    }

    /// Writes the waker of a waiter that has just set `SLOT`, and publishes
    /// it.
    fn wait_in_slot(&self, waiter: &mut Waiter, waker: Waker, cx: &Context<'_>) -> Poll<()> {
        waiter.stage = Stage::Slot(WakerId::of(&waker));
        self.check.slot_joined(&mut waiter.ticket, cx);
        // SAFETY: the caller set `SLOT` with `READY` clear, so the cell
        // (empty while `SLOT` was clear) is ours until we publish it; a grant
        // meanwhile only sets `HANDED`.
        unsafe { self.slot.put(waker) };
        if ReadWrite::publish_slot(self, waiter) {
            return Poll::Ready(());
        }
        self.check
            .pending(&mut waiter.ticket, cx, || self.slot_handed());
        Poll::Pending
    }

    /// Gives up an acquisition that is in progress, at any point.
    ///
    /// Returns `true` if the waiter turned out to hold its access (it was
    /// granted at the front and had not observed it yet); the caller then
    /// keeps it or releases it. Afterwards the waiter is done.
    #[inline]
    pub(crate) fn abandon(&self, waiter: &mut Waiter) -> bool {
        waiter.finish_unless_waiting() && self.abandon_slow(waiter)
    }

    #[cold]
    fn abandon_slow(&self, waiter: &mut Waiter) -> bool {
        match waiter.stage {
            Stage::Queued => {
                waiter.stage = Stage::Done;
                // Leave the count first, then the line (see `join`).
                // AcqRel: ordered with the releasers that read the count.
                let prev = self.state.fetch_sub(QUEUED_ONE, AcqRel);
                debug_assert!(prev & QUEUED_MASK != 0, "queued count underflow");
                // A notification in our listener is the turn: pass it on.
                if waiter
                    .listener
                    .take()
                    .is_some_and(|listener| self.check.leave(listener, &mut waiter.ticket))
                {
                    self.pass_turn();
                }
                false
            }
            Stage::Slot(_) => self.abandon_slot(waiter),
            Stage::Hint => unreachable!("a reader-writer waiter never waits for a hint"),
            Stage::Idle | Stage::Done => false,
        }
    }

    /// The slot's waiter gives up. `true` if it turned out to hold its
    /// access (a release granted it first); the caller then releases it.
    #[cold]
    fn abandon_slot(&self, waiter: &mut Waiter) -> bool {
        if let Reclaimed::Granted = self.reclaim_cell(waiter, Want::Cell) {
            return true;
        }
        // SAFETY: we cleared `READY` with `HANDED` clear: the cell is ours.
        let waker = unsafe { self.slot.take() };
        // Recorded before `SLOT` is cleared, so that the next waiter of the
        // slot records its arrival after this.
        self.check.slot_left(&mut waiter.ticket);
        // Leave the front, unless a grant came while we emptied the cell (it
        // left the cell alone: `READY` was clear).
        let left = self.transition(|state| (state & HANDED == 0).then_some(state & !SLOT_BITS));
        let owner = if left.is_ok() {
            waiter.stage = Stage::Done;
            false
        } else {
            // Granted meanwhile: we hold the access.
            ReadWrite::take_granted(self, waiter);
            true
        };
        drop(waker);
        owner
    }
}

// SAFETY: `READY` is set only by the waiter's publication and cleared by
// the waiter, or by a grant once it has taken the waker; a grant sets
// `HANDED` before it takes the waker, which `releaser_at_cell` reports
// while `READY` is still set, and clears `READY` (Release) after; `granted`
// means `HANDED` with `READY` clear.
unsafe impl SlotProtocol for ReadWrite {
    const READY: usize = READY;

    #[inline]
    fn granted(_: &RawRwLock, state: usize) -> bool {
        check(state);
        state & (HANDED | READY) == HANDED
    }

    #[inline]
    fn releaser_at_cell(state: usize) -> bool {
        // Not granted: with `HANDED`, `READY` is still set and the granting
        // releaser is taking our waker.
        debug_assert!(state & READY != 0, "a published slot waiter without READY");
        state & HANDED != 0
    }

    fn publish_slot(raw: &RawRwLock, waiter: &mut Waiter) -> bool {
        // Acquire: a grant's critical section, if `HANDED` is set.
        let mut state = raw.state.load(Acquire);
        loop {
            check(state);
            debug_assert!(state & (SLOT | READY) == SLOT, "published a slot twice");
            if state & HANDED != 0 {
                // Granted while we wrote: the grant left the cell alone.
                raw.claim_slot(waiter);
                return true;
            }
            // Release: the waker, to the releaser that grants us the lock.
            // Acquire (on failure): a grant's critical section.
            match raw
                .state
                .compare_exchange_weak(state, state | READY, Release, Acquire)
            {
                Ok(_) => return false,
                Err(actual) => state = actual,
            }
        }
    }

    /// Leaves the front, passing a turn on if one is due.
    fn take_granted(raw: &RawRwLock, waiter: &mut Waiter) {
        // SAFETY: `HANDED` is set and `READY` clear: the granting releaser
        // is done with the cell (it clears `READY` after taking the waker),
        // or never touched it; the cell is ours.
        let waker = unsafe { raw.slot.take() };
        waiter.stage = Stage::Done;
        raw.update(|state| {
            debug_assert_eq!(
                state & (SLOT | READY | HANDED),
                SLOT | HANDED,
                "claimed a slot that was not granted"
            );
            state & !SLOT_BITS
        });
        drop(waker);
    }
}
