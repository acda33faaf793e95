//! The hand-off queue's listeners and the slot, and the debug check that
//! names a task waiting for a lock that one of its own set-aside lock
//! futures holds.
//!
//! A waiter in the queue or the slot may be handed the lock while its
//! future is not being polled. If its task meanwhile awaits another future
//! of the same lock, the task waits for itself (see "Lock futures that are
//! set aside" in the crate docs). No protocol that keeps the clock-free
//! starvation bound can avoid that, but debug builds with `std` can say so
//! instead of hanging: [`Check`] mirrors who waits where (every queued
//! listener and the slot's waiter, each with the waker of its last poll)
//! and who holds an unclaimed hand-off. When a task polls a lock future of
//! its own that is not the recipient while the recipient's waker wakes the
//! same task, the future wakes its task once more; if it is polled a third
//! time with the same hand-off still unclaimed, its task has had a round
//! that did not poll the recipient, and it panics with a message that names
//! the problem.
//!
//! Release builds, `no_std` and loom get the same operations without any
//! bookkeeping: each is exactly the `event-listener` call it wraps.
//!
//! # What the mirror serialises
//!
//! The check must not change which interleavings of the state word a build
//! can reach beyond what it must, so its mutex is never held across an
//! operation on the state word:
//!
//! * The queue: the mirror's order must be the list's order, because a
//!   hand-off goes to the oldest listener and the mirror must name it. So
//!   the three operations that change the list (`listen`, the hand-off
//!   `notify`, `discard`) run inside the mirror's mutex. They take the
//!   list's own lock anyway, so this orders nothing that was not ordered;
//!   the waker is cloned before the mutex is taken.
//! * The slot: its waiter records its own arrival and departure, each after
//!   the compare-and-swap that made it, and a release records nothing: a
//!   hand-off to the slot is the `HANDED` bit itself, which the check reads
//!   from the state word when it looks ([`Check::pending`]). A record that
//!   lags behind the word can only belong to another task's future (a
//!   task's futures are polled one at a time, so its own records are
//!   complete whenever one of them is polled), and the check only acts on
//!   the futures of the polling task.
//!
//! Beyond those, the check takes its mutex only to record a claim and on a
//! poll that returns `Pending`, and it adds wake-ups only when a task polls
//! a future while a sibling's hand-off waits (above).

use core::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener, IntoNotification, Listener};

pub(super) use self::imp::{Check, Ticket};

#[cfg(all(debug_assertions, feature = "std", not(loom)))]
mod imp {
    use alloc::collections::BTreeMap;
    use core::task::{Context, Waker};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    /// Who waits where, as the check sees it.
    struct Mirror {
        /// Tickets handed out so far; 0 means "no ticket".
        last: u64,
        /// Queued listeners that have not been notified, oldest first, with
        /// the waker of their future's last poll.
        queued: BTreeMap<u64, Waker>,
        /// The queued waiter that was handed the lock and has not claimed it.
        handed: Option<(u64, Waker)>,
        /// The waiter in the slot, handed the lock or not (the state word's
        /// `HANDED` says which).
        slot: Option<(u64, Waker)>,
    }

    /// The mirror of a lock's hand-off line.
    pub(in crate::raw) struct Check(Mutex<Mirror>);

    /// A waiter's place in the mirror.
    #[derive(Debug, Default)]
    pub(in crate::raw) struct Ticket {
        /// Its ticket in the queue or the slot, 0 when it has none.
        id: u64,
        /// The hand-off a sibling future held unclaimed at this waiter's
        /// last poll, 0 if none.
        suspect: u64,
        /// How many polls in a row have seen `suspect` unclaimed.
        seen: u32,
    }

    impl Ticket {
        pub(in crate::raw) const fn new() -> Self {
            Self {
                id: 0,
                suspect: 0,
                seen: 0,
            }
        }
    }

    impl Check {
        pub(in crate::raw) const fn new() -> Self {
            Self(Mutex::new(Mirror {
                last: 0,
                queued: BTreeMap::new(),
                handed: None,
                slot: None,
            }))
        }

        /// Locks the mirror to record a change. A panic of the check
        /// poisons nothing that matters: the mirror is consistent between
        /// records.
        pub(super) fn record(&self) -> Recording<'_> {
            Recording(self.0.lock().unwrap_or_else(PoisonError::into_inner))
        }
    }

    /// The mirror, locked while a change is recorded.
    pub(in crate::raw) struct Recording<'a>(MutexGuard<'a, Mirror>);

    impl Recording<'_> {
        /// A listener joined the back of the queue with `waker`.
        pub(in crate::raw) fn joined(&mut self, ticket: &mut Ticket, waker: Waker) {
            self.0.last += 1;
            ticket.id = self.0.last;
            self.0.queued.insert(ticket.id, waker);
        }

        /// The oldest queued listener was handed the lock.
        pub(in crate::raw) fn handed(&mut self) {
            debug_assert!(self.0.handed.is_none(), "two unclaimed hand-offs");
            self.0.handed = self.0.queued.pop_first();
            debug_assert!(self.0.handed.is_some(), "a hand-off to nobody");
        }

        /// The recipient of a queued hand-off claimed it.
        pub(in crate::raw) fn claimed(&mut self, ticket: &mut Ticket) {
            let handed = self.0.handed.take();
            debug_assert_eq!(handed.map(|(id, _)| id), Some(ticket.id));
            *ticket = Ticket::new();
        }

        /// A listener left the queue; `notified` if it held the hand-off.
        pub(in crate::raw) fn left(&mut self, ticket: &mut Ticket, notified: bool) {
            if notified {
                let handed = self.0.handed.take();
                debug_assert_eq!(handed.map(|(id, _)| id), Some(ticket.id));
            } else {
                let removed = self.0.queued.remove(&ticket.id);
                debug_assert!(removed.is_some(), "left a queue it was not in");
            }
            *ticket = Ticket::new();
        }

        /// A waiter entered the slot, with `waker` in its cell.
        pub(in crate::raw) fn slot_joined(&mut self, ticket: &mut Ticket, waker: Waker) {
            debug_assert!(self.0.slot.is_none(), "two waiters in the slot");
            self.0.last += 1;
            ticket.id = self.0.last;
            self.0.slot = Some((ticket.id, waker));
        }

        /// The slot's waiter left it: with the lock it was handed, or
        /// without.
        pub(in crate::raw) fn slot_left(&mut self, ticket: &mut Ticket) {
            let left = self.0.slot.take();
            debug_assert_eq!(left.map(|(id, _)| id), Some(ticket.id));
            *ticket = Ticket::new();
        }
    }

    /// Whether two wakers wake the same task, as far as that can be told.
    ///
    /// Compares the data pointers only: the vtable pointers of two clones
    /// of one waker may differ (they do under Miri). A null data pointer, as
    /// in the no-op waker that hand-polled futures of unrelated "tasks"
    /// share, identifies no task.
    fn same_task(a: &Waker, b: &Waker) -> bool {
        !a.data().is_null() && a.data() == b.data()
    }

    /// A waiter's poll is about to return `Pending`: records its waker, and
    /// looks for a sibling future that holds an unclaimed hand-off (a
    /// queued one, or the slot's waiter if `slot_handed()`).
    ///
    /// # Panics
    ///
    /// If the same sibling's hand-off was already unclaimed at this
    /// waiter's previous poll: its task polls this future, not that one.
    pub(in crate::raw) fn pending(
        check: &Check,
        ticket: &mut Ticket,
        cx: &Context<'_>,
        slot_handed: impl FnOnce() -> bool,
    ) {
        let waker = cx.waker();
        let mut mirror = check.record();
        let Mirror {
            queued,
            slot,
            handed,
            ..
        } = &mut *mirror.0;
        let own = match (&mut *handed, &mut *slot) {
            (Some((id, own)), _) | (_, Some((id, own))) if *id == ticket.id => Some(own),
            _ => queued.get_mut(&ticket.id),
        };
        if let Some(own) = own {
            if !own.will_wake(waker) {
                own.clone_from(waker);
            }
        }
        let theirs = match (&*handed, &*slot) {
            (Some(theirs), _) => Some(theirs),
            (None, Some(theirs)) if slot_handed() => Some(theirs),
            _ => None,
        };
        let sibling = match theirs {
            Some((id, theirs)) if *id != ticket.id && same_task(theirs, waker) => *id,
            _ => 0,
        };
        drop(mirror);
        if sibling != ticket.suspect {
            ticket.suspect = sibling;
            ticket.seen = 0;
        }
        if sibling == 0 {
            return;
        }
        ticket.seen += 1;
        // A task that polls all its futures on every round (`select!`,
        // `join!`, `race`, in any order) polls this one at most twice while
        // the recipient's hand-off waits: once in the round in which the
        // hand-off arrived after the recipient's poll, once in the next
        // round before the recipient claims it. A third time means a round
        // that did not poll the recipient.
        if ticket.seen >= 3 {
            panic!(
                "turnlock: this task waits for a lock that another lock future of the same \
                 task was handed: that future was polled, then set aside, and has not \
                 been polled since. Poll a lock future until it completes, or drop it; see \
                 \"Lock futures that are set aside\" in the turnlock docs"
            );
        } else {
            // Maybe the task polls the recipient in its next round: give it
            // that round.
            waker.wake_by_ref();
        }
    }
}

#[cfg(not(all(debug_assertions, feature = "std", not(loom))))]
mod imp {
    use core::task::{Context, Waker};

    /// Without the debug check: nothing to mirror.
    pub(in crate::raw) struct Check;

    /// Without the debug check: no place to keep.
    #[derive(Debug, Default)]
    pub(in crate::raw) struct Ticket;

    impl Ticket {
        #[inline]
        pub(in crate::raw) const fn new() -> Self {
            Self
        }
    }

    impl Check {
        #[inline]
        pub(in crate::raw) const fn new() -> Self {
            Self
        }

        #[inline]
        pub(super) fn record(&self) -> Recording {
            Recording
        }
    }

    /// Without the debug check: every record is a no-op.
    pub(in crate::raw) struct Recording;

    /// Ends the (empty) critical section where the debug check's would end.
    impl Drop for Recording {
        #[inline]
        fn drop(&mut self) {}
    }

    impl Recording {
        #[inline]
        pub(in crate::raw) fn joined(&mut self, _: &mut Ticket, _: Waker) {}

        #[inline]
        pub(in crate::raw) fn handed(&mut self) {}

        #[inline]
        pub(in crate::raw) fn claimed(&mut self, _: &mut Ticket) {}

        #[inline]
        pub(in crate::raw) fn left(&mut self, _: &mut Ticket, _: bool) {}

        #[inline]
        pub(in crate::raw) fn slot_joined(&mut self, _: &mut Ticket, _: Waker) {}

        #[inline]
        pub(in crate::raw) fn slot_left(&mut self, _: &mut Ticket) {}
    }

    #[inline]
    pub(in crate::raw) fn pending(
        _: &Check,
        _: &mut Ticket,
        _: &Context<'_>,
        _: impl FnOnce() -> bool,
    ) {
    }
}

/// A clone of `cx`'s waker for the mirror, made before the mirror is
/// locked (user code runs in `clone`); nothing without the debug check.
#[inline]
fn waker_to_record(cx: &Context<'_>) -> Option<Waker> {
    cfg!(all(debug_assertions, feature = "std", not(loom))).then(|| cx.waker().clone())
}

impl Check {
    /// Joins the back of `queue`, the hand-off queue.
    #[inline(always)]
    pub(super) fn listen(
        &self,
        queue: &Event,
        ticket: &mut Ticket,
        cx: &Context<'_>,
    ) -> EventListener {
        let waker = waker_to_record(cx);
        let mut record = self.record();
        let listener = queue.listen();
        if let Some(waker) = waker {
            record.joined(ticket, waker);
        }
        listener
    }

    /// Hands the lock to the oldest listener of `queue` that has not been
    /// notified; `false` if there was none.
    #[inline(always)]
    pub(super) fn hand_off(&self, queue: &Event) -> bool {
        let mut record = self.record();
        let handed = queue.notify(1.additional().relaxed()) == 1;
        if handed {
            record.handed();
        }
        handed
    }

    /// Leaves the hand-off queue; `true` if the listener held the hand-off.
    #[inline(always)]
    pub(super) fn leave(&self, listener: EventListener, ticket: &mut Ticket) -> bool {
        let mut record = self.record();
        let notified = listener.discard();
        record.left(ticket, notified);
        notified
    }

    /// The listener of `ticket` observed its hand-off.
    #[inline(always)]
    pub(super) fn claimed(&self, ticket: &mut Ticket) {
        self.record().claimed(ticket);
    }

    /// A waiter entered the slot (recorded after the compare-and-swap that
    /// set `SLOT`).
    #[inline(always)]
    pub(super) fn slot_joined(&self, ticket: &mut Ticket, cx: &Context<'_>) {
        let waker = waker_to_record(cx);
        if let Some(waker) = waker {
            self.record().slot_joined(ticket, waker);
        }
    }

    /// The slot's waiter leaves it, with a lock it was handed or without
    /// (recorded before the operation that clears `SLOT`, so that the next
    /// waiter of the slot records its arrival after this).
    #[inline(always)]
    pub(super) fn slot_left(&self, ticket: &mut Ticket) {
        self.record().slot_left(ticket);
    }

    /// A waiter's poll returns `Pending` (see the module docs);
    /// `slot_handed` reads the state word's `HANDED` bit.
    #[inline(always)]
    pub(super) fn pending(
        &self,
        ticket: &mut Ticket,
        cx: &Context<'_>,
        slot_handed: impl FnOnce() -> bool,
    ) {
        imp::pending(self, ticket, cx, slot_handed);
    }

    /// The end of a poll of the slot's waiter: `Ready` once it `owns` its
    /// lock, or else `Pending`, recorded as by [`pending`](Self::pending).
    #[inline(always)]
    pub(super) fn slot_polled(
        &self,
        owns: bool,
        ticket: &mut Ticket,
        cx: &Context<'_>,
        slot_handed: impl FnOnce() -> bool,
    ) -> Poll<()> {
        if owns {
            return Poll::Ready(());
        }
        self.pending(ticket, cx, slot_handed);
        Poll::Pending
    }
}
