//! The cell that holds the waker of a lock's slot waiter.
//!
//! Both raw locks keep the waker of their one slot waiter in the lock
//! itself rather than in a listener. Who may touch the cell at a given
//! moment is decided by the lock's state word (`SLOT`, `READY`,
//! `HANDED`; see `slot.rs` and `rw/wait.rs`), so the cell checks nothing:
//! every access is an unsafe call whose caller states, in its `SAFETY`
//! comment, which flags make the cell its own.

use core::task::Waker;

use crate::sync::UnsafeCell;

/// A waker, or none, owned by one thread at a time as its lock's state word
/// says.
pub(super) struct WakerCell(UnsafeCell<Option<Waker>>);

// SAFETY: the cell is only read or written through `put`, `replace` and `take`,
// whose callers own it at that moment (the lock's state word gives it to
// one thread at a time, with Acquire/Release orderings on each hand-over),
// so two threads never touch it at once; `Waker` is `Send` and `Sync`.
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
