//! The bits of the state word, the invariants that tie them together, and
//! the `Debug` form that names them all (see the parent module's docs for
//! the layout and the state table).

use core::fmt;

/// Bit 0: the lock is owned.
pub(super) const LOCKED: usize = 1;
/// A waiter of a `new` lock that lost a race waits in the slot.
pub(super) const SLOT: usize = 1 << 1;
/// The slot's waker is published: the releaser may take it.
pub(super) const READY: usize = 1 << 2;
/// A release handed the lock to the slot's waiter, which owns it now.
pub(super) const HANDED: usize = 1 << 3;
/// Every counted hint waiter has been notified: a release need not notify
/// the wake-up queue, where it would reach nobody.
pub(super) const ALL_HINTED: usize = 1 << 4;
/// Bits below the counts.
const FLAG_BITS: u32 = 5;
/// Width of each waiter count: at most 2^29 - 1 waiters of each kind on
/// 64-bit targets, 8 191 on 32-bit targets.
const COUNT_BITS: u32 = (usize::BITS - FLAG_BITS) / 2;
/// One waiter in the hand-off queue.
pub(super) const QUEUED_ONE: usize = 1 << FLAG_BITS;
/// All bits of the hand-off queue count.
pub(super) const QUEUED_MASK: usize = ((1 << COUNT_BITS) - 1) * QUEUED_ONE;
/// One waiter in the wake-up queue.
pub(super) const HINT_ONE: usize = 1 << (FLAG_BITS + COUNT_BITS);
/// All bits of the wake-up queue count.
pub(super) const HINT_MASK: usize = !(QUEUED_MASK | (QUEUED_ONE - 1));

/// `state` with one hint waiter less; `ALL_HINTED` goes with the last one.
#[inline]
pub(super) fn without_hint(state: usize) -> usize {
    debug_assert!(state & HINT_MASK != 0, "hint count underflow");
    let next = state - HINT_ONE;
    if next & HINT_MASK == 0 {
        next & !ALL_HINTED
    } else {
        next
    }
}

/// Debug-checks the invariants of the state word (the rows marked "never"
/// in the state tables of the parent module).
#[inline]
pub(super) fn check(state: usize, fifo: bool) {
    debug_assert!(
        state & (QUEUED_MASK | SLOT) == 0 || state & LOCKED != 0,
        "queued or slot waiters on a free lock: {:?}",
        StateWord(state)
    );
    debug_assert!(
        state & (READY | HANDED) == 0 || state & SLOT != 0,
        "a slot flag without a slot waiter: {:?}",
        StateWord(state)
    );
    debug_assert!(
        state & (READY | HANDED) != READY | HANDED,
        "a handed slot with a published waker: {:?}",
        StateWord(state)
    );
    debug_assert!(
        !fifo || state & SLOT == 0,
        "a slot waiter on a FIFO lock: {:?}",
        StateWord(state)
    );
    debug_assert!(
        state & ALL_HINTED == 0 || state & HINT_MASK != 0,
        "all hint waiters notified, but there are none: {:?}",
        StateWord(state)
    );
    debug_assert!(
        !fifo || state & HINT_MASK == 0,
        "hint waiters on a FIFO lock: {:?}",
        StateWord(state)
    );
}

/// A state word, shown with every flag by name and both counts:
///
/// ```text
/// StateWord { locked: true, slot: true, ready: true, handed: false, all_hinted: false, queued: 2, hinted: 1 }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateWord(pub(super) usize);

impl StateWord {
    /// Waiters in the hand-off queue.
    pub(super) fn queued(self) -> usize {
        (self.0 & QUEUED_MASK) / QUEUED_ONE
    }

    /// Waiters in the wake-up queue.
    pub(super) fn hinted(self) -> usize {
        (self.0 & HINT_MASK) / HINT_ONE
    }
}

impl fmt::Debug for StateWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |bit: usize| self.0 & bit != 0;
        f.debug_struct("StateWord")
            .field("locked", &flag(LOCKED))
            .field("slot", &flag(SLOT))
            .field("ready", &flag(READY))
            .field("handed", &flag(HANDED))
            .field("all_hinted", &flag(ALL_HINTED))
            .field("queued", &self.queued())
            .field("hinted", &self.hinted())
            .finish()
    }
}
