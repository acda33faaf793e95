//! One acquisition's side of the protocol: where it stands ([`Stage`]), its
//! listener, and its place in the debug mirror.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::task::Waker;

use event_listener::EventListener;

use super::check::Ticket;

/// Where one acquisition stands. Owned by a lock future; not generic over `T`.
pub(crate) struct Waiter {
    pub(super) listener: ListenerCell,
    pub(super) stage: Stage,
    /// Its place in the debug mirror of the hand-off line.
    pub(super) ticket: Ticket,
}

impl Waiter {
    /// A waiter that has not started.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            listener: ListenerCell::empty(),
            stage: Stage::Idle,
            ticket: Ticket::new(),
        }
    }

    /// `true` before the first poll.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.stage, Stage::Idle)
    }

    /// Marks a waiter that never joined a queue as finished.
    #[inline]
    pub(crate) fn finish(&mut self) {
        debug_assert!(self.is_idle());
        self.stage = Stage::Done;
    }

    /// The fast path of a lock's `abandon`: a waiter that never waited, or
    /// is finished already, is finished now (`false`); `true` if it waits
    /// somewhere, and the lock's slow path must take it out.
    #[inline]
    pub(super) fn finish_unless_waiting(&mut self) -> bool {
        match self.stage {
            Stage::Idle | Stage::Done => {
                self.stage = Stage::Done;
                false
            }
            _ => true,
        }
    }

    /// `true` once the acquisition completed or was abandoned.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("stage", &self.stage)
            .finish()
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Stage {
    /// Not polled yet: holds nothing, counted nowhere.
    Idle,
    /// Counted in the hint waiters, listening on `wake`.
    Hint,
    /// Counted in the queued waiters, listening on `queue`.
    Queued,
    /// In the slot (`SLOT` set), its waker, which has this identity, in the
    /// slot's cell.
    Slot(WakerId),
    /// Acquired or abandoned; counted nowhere.
    Done,
}

/// What `Waker::will_wake` compares, kept so that a poll of the slot's
/// waiter can tell whether its waker changed without reading the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct WakerId {
    data: usize,
    vtable: usize,
}

impl WakerId {
    pub(super) fn of(waker: &Waker) -> Self {
        Self {
            data: waker.data().addr(),
            vtable: core::ptr::from_ref(waker.vtable()).addr(),
        }
    }
}

/// The listener of a waiter, if it has one.
///
/// Dropping an empty cell costs one test, not a call into the drop glue of
/// `EventListener` (which the compiler does not inline): the uncontended
/// path drops a waiter that never listened on every acquisition.
pub(super) struct ListenerCell(ManuallyDrop<Option<EventListener>>);

impl ListenerCell {
    const fn empty() -> Self {
        Self(ManuallyDrop::new(None))
    }
}

impl Deref for ListenerCell {
    type Target = Option<EventListener>;

    #[inline]
    fn deref(&self) -> &Option<EventListener> {
        &self.0
    }
}

impl DerefMut for ListenerCell {
    #[inline]
    fn deref_mut(&mut self) -> &mut Option<EventListener> {
        &mut self.0
    }
}

impl Drop for ListenerCell {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            drop_listener(&mut self.0);
        }
    }
}

/// Drops the listener of a cell; what is left (`None`) owns nothing.
#[cold]
fn drop_listener(listener: &mut Option<EventListener>) {
    drop(listener.take());
}
