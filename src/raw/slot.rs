//! The slot of a `new` lock: one waiter that lost a race waits here for the
//! next release, with its waker in the lock ([`RawLock::slot`]) instead of
//! a second listener.
//!
//! A waiter that lost a race already used its hint listener up; waiting in
//! the hand-off queue would take a second listener (an allocation and four
//! rounds of the list's mutex). Instead it waits in the slot: one waiter at
//! a time, its waker in the cell, no listener at all. The slot is entered
//! only while nobody is queued, so its waiter is older than every queued
//! one, and a release serves it first. The flags pass the waker cell
//! between the waiter and the releaser:
//!
//! | flags | the cell belongs to | next |
//! |---|---|---|
//! | `S` | the waiter, writing its waker | it publishes (`R`), or sees `H` and owns the lock |
//! | `S R` | readable by the owner | a release clears `R`, takes the waker, sets `H`, wakes it; the waiter may clear `R` to write a new waker or to leave |
//! | `S` (after a release cleared `R`) | the releaser, a few instructions | the releaser sets `H`; a waiter that wants the cell spins until then |
//! | `S H` | the waiter, which owns the lock | it empties the cell and clears `S H` |
//!
//! A release with `S` and no `R` (the waiter is writing) only sets `H`: the
//! waiter sees it when it tries to publish, so it needs no wake-up. The only
//! spin is the waiter's wait for a releaser between its two steps, with no
//! user code in between ([`Raw::reclaim_cell`](super::Raw::reclaim_cell)).

use core::task::Context;

use super::slot_cell::{Reclaimed, SlotProtocol, Want};
use super::state::{HANDED, LOCKED, QUEUED_MASK, READY, SLOT, check, without_hint};
use super::waiter::{Stage, Waiter, WakerId};
use super::{Exclusive, RawLock};
use crate::sync::Ordering::{self, AcqRel, Acquire, Relaxed, Release};

/// Where [`RawLock::enter_slot`] put a waiter.
pub(super) enum Entered {
    /// The lock was free, or handed over at once: the waiter owns it.
    Owner,
    /// The waiter waits in the slot.
    Slot,
    /// The slot is taken, or waiters are queued: nothing changed.
    Full,
}

impl RawLock {
    /// After a lost race: takes the lock if it is free, or waits in the
    /// slot if the slot is empty and nobody is queued (the slot's waiter
    /// must be older than every queued one). Leaves the hint count either way
    /// except when it reports [`Entered::Full`].
    #[cold]
    pub(super) fn enter_slot(&self, waiter: &mut Waiter, cx: &Context<'_>) -> Entered {
        debug_assert!(!self.fifo);
        // Cloned before the slot is ours: user code (the waker's `clone`)
        // must not unwind while the cell is half taken.
        let waker = cx.waker().clone();
        // (none): a first guess for the compare-and-swap.
        let mut state = self.state.load(Relaxed);
        loop {
            check(state, self.fifo);
            let next = if state & LOCKED == 0 {
                without_hint(state | LOCKED)
            } else if state & (SLOT | QUEUED_MASK) == 0 {
                without_hint(state | SLOT)
            } else {
                return Entered::Full;
            };
            // (own) Acquire, if we take the free lock: the last owner's
            // section. (cell) Acquire, if we enter the slot: the cell as its
            // last user emptied it. Failure (none): retry.
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) if state & LOCKED == 0 => {
                    waiter.stage = Stage::Done;
                    return Entered::Owner;
                }
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        waiter.stage = Stage::Slot(WakerId::of(&waker));
        self.check.slot_joined(&mut waiter.ticket, cx);
        // SAFETY: we set `SLOT` with `READY` clear, so the cell (empty while
        // `SLOT` was clear) is ours until we publish it; a release meanwhile
        // only sets `HANDED`.
        unsafe { self.slot.put(waker) };
        if Exclusive::publish_slot(self, waiter) {
            Entered::Owner
        } else {
            Entered::Slot
        }
    }

    /// The slot's waiter gives up. `true` if it turned out to own the lock
    /// (a release handed it over first); the caller then releases it.
    #[cold]
    pub(super) fn abandon_slot(&self, waiter: &mut Waiter) -> bool {
        match self.reclaim_cell(waiter, Want::Cell) {
            Reclaimed::Granted => return true,
            Reclaimed::Kept => unreachable!("a leaving waiter keeps no waker"),
            Reclaimed::Cell => {}
        }
        self.check.slot_left(&mut waiter.ticket);
        // SAFETY: `reclaim_cell` cleared `READY` with `HANDED` clear: the
        // cell is ours.
        let waker = unsafe { self.slot.take() };
        // (cell) Release: the emptied cell, to the next waiter of the slot.
        let owner = self.update_unless_handed(|state| state & !SLOT, Release);
        if owner {
            // Handed the lock while we were leaving: we own it.
            Exclusive::take_granted(self, waiter);
        }
        // User code (the waker's `drop`) runs once the slot is settled.
        drop(waker);
        owner
    }

    /// Moves the state word of the slot's waiter to `next(state)` unless a
    /// release handed it the lock first. `true`: handed (the waiter owns
    /// the lock, and nothing changed).
    ///
    /// `success` is the ordering of the change (the caller names its row);
    /// a look that finds `HANDED` is (own), (cell) Acquire.
    fn update_unless_handed(&self, next: impl Fn(usize) -> usize, success: Ordering) -> bool {
        // (own), (cell) Acquire: on seeing `HANDED`, the releaser's section
        // and the cell it emptied.
        let mut state = self.state.load(Acquire);
        loop {
            check(state, self.fifo);
            debug_assert!(
                state & (SLOT | READY) == SLOT,
                "the slot's cell is not the waiter's"
            );
            if state & HANDED != 0 {
                return true;
            }
            // Failure (own), (cell) Acquire: as above.
            match self
                .state
                .compare_exchange_weak(state, next(state), success, Acquire)
            {
                Ok(_) => return false,
                Err(actual) => state = actual,
            }
        }
    }

    /// A release hands the lock to the slot's waiter, whose `SLOT` is in
    /// `state`: `LOCKED` stays set. `false` if the state word changed first.
    #[cold]
    pub(super) fn hand_to_slot(&self, state: usize) -> bool {
        if state & READY == 0 {
            // The waiter is writing its waker. It sees `HANDED` when it
            // publishes, so it needs no wake-up. (own) Release: our section,
            // to the waiter. Failure (none): the caller loads again.
            return self
                .state
                .compare_exchange(state, state | HANDED, Release, Relaxed)
                .is_ok();
        }
        // (waker) Acquire: the waker the waiter published. Failure (none):
        // the caller loads again.
        if self
            .state
            .compare_exchange(state, state & !READY, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: we cleared `READY`; the waiter does not touch the cell
        // again until it sees `HANDED`.
        let waker = unsafe { self.slot.take() };
        // (own), (cell) Release: our section and the emptied cell, to the
        // new owner.
        self.state.fetch_or(HANDED, Release);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Whether the lock has been handed to the slot's waiter and not yet
    /// claimed (a snapshot, for the debug check).
    pub(super) fn slot_handed(&self) -> bool {
        // (none): a snapshot for a heuristic.
        self.state.load(Relaxed) & HANDED != 0
    }
}

// SAFETY: `READY` is set only by the waiter's publication and cleared by
// the waiter or by a release that is about to take the waker; with `SLOT`
// set and `READY` and `HANDED` clear the cell is the waiter's, unless a
// release cleared `READY`, which `releaser_at_cell` reports until the
// release sets `HANDED` (with Release ordering, after taking the waker);
// `granted` means `HANDED` is set.
unsafe impl SlotProtocol for Exclusive {
    const READY: usize = READY;

    #[inline]
    fn granted(raw: &RawLock, state: usize) -> bool {
        check(state, raw.fifo);
        debug_assert!(state & SLOT != 0, "the slot's waiter without `SLOT`");
        state & HANDED != 0
    }

    #[inline]
    fn releaser_at_cell(state: usize) -> bool {
        // A release cleared `READY`, took our waker and is about to set
        // `HANDED`.
        state & READY == 0
    }

    fn publish_slot(raw: &RawLock, waiter: &mut Waiter) -> bool {
        // (waker) Release: the waker we wrote, to the releaser that takes it.
        if raw.update_unless_handed(|state| state | READY, Release) {
            raw.claim_slot(waiter);
            true
        } else {
            false
        }
    }

    /// Empties the cell and clears `SLOT` and `HANDED`, keeping `LOCKED`.
    fn take_granted(raw: &RawLock, waiter: &mut Waiter) {
        // SAFETY: `HANDED` is set, so the releaser is done with the cell (it
        // sets `HANDED` after taking the waker), and the cell is ours.
        let waker = unsafe { raw.slot.take() };
        // (cell) Release: the emptied cell, to the next waiter that enters
        // the slot. The Acquire half is spare: the caller saw `HANDED` with
        // Acquire already.
        let prev = raw.state.fetch_and(!(SLOT | HANDED), AcqRel);
        debug_assert_eq!(
            prev & (LOCKED | SLOT | READY | HANDED),
            LOCKED | SLOT | HANDED,
            "claimed a slot that was not handed the lock"
        );
        waiter.stage = Stage::Done;
        // User code (the waker's `drop`) runs once the slot is free.
        drop(waker);
    }
}
