//! The slot's waker cell, and the steps of the slot's waiter that both raw
//! locks take alike.
//!
//! Both raw locks keep the waker of their one slot waiter in the lock
//! itself rather than in a listener. Who may touch the cell at a given
//! moment is decided by the lock's state word (`SLOT`, `READY`,
//! `HANDED`; see `slot.rs` and `rw/wait.rs`), so the cell checks nothing:
//! every access is an unsafe call whose caller states, in its `SAFETY`
//! comment, which flags make the cell its own.
//!
//! The locks differ in how a release grants the slot's waiter (`RawLock`
//! clears `READY` before it takes the waker and sets `HANDED` after;
//! `RawRwLock` sets `HANDED` first and clears `READY` after), but the
//! waiter's side is the same once [`SlotProtocol::granted`] and
//! [`SlotProtocol::releaser_at_cell`] have said what a state word means:
//! taking its cell back to write another waker or to leave
//! ([`Raw::reclaim_cell`]), replacing its waker ([`Raw::poll_slot`]) and
//! claiming a grant ([`Raw::claim_slot`]) are written once, here.

use core::task::{Context, Waker};

use super::Raw;
use super::waiter::{Stage, Waiter, WakerId};
use crate::sync::Ordering::Acquire;
use crate::sync::UnsafeCell;

/// A waker, or none, owned by one thread at a time as its lock's state word
/// says.
pub(super) struct WakerCell(UnsafeCell<Option<Waker>>);

// SAFETY: the cell is only read or written through `put`, `replace` and
// `take`, whose callers own it at that moment (the lock's state word gives
// it to one thread at a time, with Acquire/Release orderings on each
// hand-over), so two threads never touch it at once; `Waker` is `Send` and
// `Sync`.
unsafe impl Sync for WakerCell {}

impl WakerCell {
    crate::sync::loom_const_fn! {
        /// An empty cell.
        pub(super) const fn new() -> Self {
            Self(UnsafeCell::new(None))
        }
    }

    /// Puts `waker` in the empty cell.
    ///
    /// # Safety
    ///
    /// As for [`replace`](Self::replace).
    #[inline]
    pub(super) unsafe fn put(&self, waker: Waker) {
        // SAFETY: the caller owns the cell (this function's contract).
        let old = unsafe { self.replace(Some(waker)) };
        debug_assert!(old.is_none(), "a waker left in an empty slot's cell");
    }

    /// Puts `waker` in the cell and returns what was there.
    ///
    /// # Safety
    ///
    /// The caller owns the cell: its lock's state word gives it to this
    /// thread, and the write that made it so happens-before this call.
    #[inline]
    pub(super) unsafe fn replace(&self, waker: Option<Waker>) -> Option<Waker> {
        // SAFETY: the caller owns the cell, so nobody else accesses it.
        unsafe { core::mem::replace(self.0.access().get_mut(), waker) }
    }

    /// Empties the cell and returns what was there.
    ///
    /// # Safety
    ///
    /// As for [`replace`](Self::replace).
    #[inline]
    pub(super) unsafe fn take(&self) -> Option<Waker> {
        // SAFETY: the caller owns the cell (this function's contract).
        unsafe { self.replace(None) }
    }
}

/// What the slot's waiter wants of its published waker when it comes back
/// to the slot (the argument of [`Raw::reclaim_cell`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Want {
    /// The waker is still the right one: leave it in the cell.
    KeepWaker,
    /// The cell back (to replace the waker, or to leave the slot).
    Cell,
}

/// What the slot's waiter found when it went for its waker cell.
pub(super) enum Reclaimed {
    /// A release had granted it the lock, which it has now claimed.
    Granted,
    /// The published waker stays in the cell.
    Kept,
    /// The cell is the waiter's again (`READY` cleared).
    Cell,
}

/// A protocol of [`Raw`], as the slot waiter's shared steps (the methods of
/// `Raw<P>` below) need it: what its flags mean, how its waiter publishes
/// and how it takes a grant.
///
/// # Safety
///
/// [`READY`](Self::READY) must mean that the waiter published its waker
/// and only a release may take it; while the waiter's `SLOT` is set,
/// `READY` is clear and no release is taking the waker, the cell must be
/// the waiter's. [`granted`](Self::granted) must be `true` only when the
/// release that granted the lock is done with the cell, and
/// [`releaser_at_cell`](Self::releaser_at_cell) `false` only with `READY`
/// set. A release must set `HANDED` or clear `READY` with Release ordering
/// after its last access to the cell.
pub(crate) unsafe trait SlotProtocol: Sized {
    /// The state word's bit that says the slot's waiter published its waker.
    const READY: usize;

    /// Whether `state`, with the waiter's `SLOT` set, says that a release
    /// granted the waiter the lock and is done with the cell (the waiter
    /// then holds both).
    fn granted(raw: &Raw<Self>, state: usize) -> bool;

    /// Whether `state`, with the waiter's `SLOT` set and not
    /// [`granted`](Self::granted), says that a release is taking the
    /// waker, a few instructions from its next step with no user code in
    /// between; if not, the waiter's published waker is in the cell
    /// (`READY` is set).
    fn releaser_at_cell(state: usize) -> bool;

    /// Publishes the waker the slot's waiter has just written; `true` if a
    /// release granted it the lock meanwhile (it has claimed it).
    fn publish_slot(raw: &Raw<Self>, waiter: &mut Waiter) -> bool;

    /// The slot's waiter, whose departure is recorded, takes the lock it
    /// was granted: empties the cell and leaves the slot.
    ///
    /// The caller saw [`granted`](Self::granted) with Acquire ordering.
    fn take_granted(raw: &Raw<Self>, waiter: &mut Waiter);
}

impl<P: SlotProtocol> Raw<P> {
    /// The slot's waiter takes the lock it was granted.
    ///
    /// The caller saw [`granted`](SlotProtocol::granted) with Acquire ordering.
    pub(super) fn claim_slot(&self, waiter: &mut Waiter) {
        self.check.slot_left(&mut waiter.ticket);
        P::take_granted(self, waiter);
    }

    /// Polls the slot's waiter: `true` once it holds the lock.
    #[cold]
    pub(super) fn poll_slot(&self, waiter: &mut Waiter, id: WakerId, cx: &Context<'_>) -> bool {
        let same = id == WakerId::of(cx.waker());
        // Another waker, cloned before the cell is ours (user code must not
        // unwind while it is), to replace the published one.
        let waker = (!same).then(|| cx.waker().clone());
        let want = if same { Want::KeepWaker } else { Want::Cell };
        match self.reclaim_cell(waiter, want) {
            Reclaimed::Granted => true,
            Reclaimed::Kept => false,
            Reclaimed::Cell => {
                waiter.stage = Stage::Slot(WakerId::of(cx.waker()));
                // SAFETY: `reclaim_cell` cleared `READY` with `SLOT` set and
                // no release at the cell: it is ours until we publish it
                // again (`SlotProtocol`'s contract).
                let old = unsafe { self.slot.replace(waker) };
                let owner = P::publish_slot(self, waiter);
                // User code (the old waker's `drop`) runs once the cell is
                // published.
                drop(old);
                owner
            }
        }
    }

    /// The slot's waiter takes its waker cell back by clearing `READY`,
    /// unless a release granted it the lock meanwhile (it then claims it),
    /// or it wants to [keep](Want::KeepWaker) the published waker in place.
    /// Waits while a release is taking the waker.
    #[inline]
    pub(super) fn reclaim_cell(&self, waiter: &mut Waiter, want: Want) -> Reclaimed {
        // Acquire: on a grant, the releaser's section and the cell as it
        // left it.
        let mut state = self.state.load(Acquire);
        loop {
            if P::granted(self, state) {
                self.claim_slot(waiter);
                return Reclaimed::Granted;
            }
            if P::releaser_at_cell(state) {
                crate::sync::spin_loop();
                // Acquire: as above.
                state = self.state.load(Acquire);
                continue;
            }
            if want == Want::KeepWaker {
                return Reclaimed::Kept;
            }
            // Acquire on success: the cell as the last thread that read it
            // left it (a `RawRwLock` release may read the waker while
            // `READY` is set; under `RawLock` only we wrote it since we set
            // `READY`, so it is more than needed there). Failure: as above.
            match self
                .state
                .compare_exchange_weak(state, state & !P::READY, Acquire, Acquire)
            {
                Ok(_) => return Reclaimed::Cell,
                Err(actual) => state = actual,
            }
        }
    }
}
