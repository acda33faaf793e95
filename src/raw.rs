//! The lock protocol: one atomic state word, two `event-listener` queues and
//! a one-waiter slot.
//!
//! Every atomic operation and memory ordering of the crate lives in this file.
//! [`RawLock`] knows nothing about the protected value; `Lock<T>` adds the
//! data cell and the guards, so the protocol is compiled once, not per `T`.
//!
//! # The state word
//!
//! ```text
//!  usize::BITS-1                                         4   3   2   1   0
//! +---------------------+---------------------+-------+---+---+---+---+
//! |  hint waiters       |  queued waiters     |  AH   | H | R | S | L |
//! +---------------------+---------------------+-------+---+---+---+---+
//! ```
//!
//! * `L` ([`LOCKED`]): someone owns the lock. The owner is a guard, or a
//!   waiter that has been handed the lock and not yet observed it.
//! * queued waiters ([`QUEUED_ONE`]): waiters in the hand-off queue
//!   ([`RawLock::queue`]). Every waiter of a `new_fifo` lock is queued; a
//!   waiter of a `new` lock is queued when it has lost a race while the slot
//!   was taken. A release never clears `L` while this count is non-zero: it
//!   hands the lock to the oldest queued listener instead.
//! * hint waiters ([`HINT_ONE`]): waiters of a `new` lock that sleep on the
//!   wake-up queue ([`RawLock::wake`]). A release clears `L` and wakes one
//!   more of them (even if an earlier one has not run yet), which then
//!   competes with newcomers for the lock.
//! * `S`, `R`, `H` ([`SLOT`], [`READY`], [`HANDED`]): the slot of a `new`
//!   lock (see "The slot").
//! * `AH` ([`ALL_HINTED`]): every counted hint waiter has been notified, so
//!   a release skips the wake-up queue (its notify would reach nobody and
//!   still cost a round of the list's mutex). Set by a release whose notify
//!   reached nobody, with a compare-and-swap from the very state it stored,
//!   so that a waiter joining in between (which clears it) is never missed;
//!   cleared with the last hint waiter.
//!
//! Each waiter registers its listener *before* it adds itself to a count and
//! removes itself from the count *before* it discards its listener, so a
//! count of `n` means at least `n` listeners are in the matching queue. A
//! hand-off notification therefore always finds a listener, except when a
//! waiter left between the releaser's look at the count and its notify; then
//! `notify` reports 0 and the releaser looks again.
//!
//! # States and transitions
//!
//! | state (L, slot, queued, hints) | meaning | left by |
//! |---|---|---|
//! | (0, -, 0, 0) | free, nobody waits | any acquire (fast path CAS) |
//! | (1, -, 0, 0) | held, nobody waits | release (fast path CAS), a waiter joining |
//! | (0, -, 0, h) | free, `h` hint waiters (`new` only) | a newcomer or a woken hint waiter takes it |
//! | (1, -, 0, h) | held, hint waiters | release: clear L, wake one more hint waiter (unless `AH`) |
//! | (1, S, q, h) | held, a waiter in the slot (`new` only) | release: keep L, hand off to the slot (set `H`) |
//! | (1, -, q, h) | held, `q` queued | release: keep L, hand off to the oldest queued listener |
//! | (0, S or q > 0) | **never**: `L` is clear only when nobody is queued or in the slot | — |
//!
//! The invariant in the last row is what makes strict FIFO cheap: a newcomer
//! may take the lock whenever `L` is clear, because no queued waiter can be
//! passed over then. A `new_fifo` lock never has hint waiters or a slot, so
//! for it "`L` clear" means "the state word is 0".
//!
//! # Starvation without a clock
//!
//! A `new` lock lets newcomers take a free lock ahead of woken waiters
//! (barging), which keeps the lock busy while a woken task is still being
//! scheduled. A hint waiter that is woken and finds the lock taken again has
//! lost a race, which already shows that it is being overtaken, so it moves
//! to the slot or, if the slot is taken, to the hand-off queue behind it,
//! where no newcomer can overtake it and every release hands the lock on in
//! order (the slot first: it is entered only while nobody is queued). So a
//! waiter of a `new` lock gets the lock after at most one lost race plus the
//! number of waiters ahead of it in the slot and the queue: a bound in
//! hand-offs, not in time, and it holds in `no_std` and under loom.
//!
//! Why a release wakes *one more* hint waiter even while earlier hints are
//! unconsumed: a woken waiter's task may not run for a while (its thread
//! preempted or busy), and with a single hint out, a running task could
//! retake the lock again and again while every other waiter sleeps. Waking
//! one more per release lets the others lose their race, move to the slot
//! and the queue, and force the barging task to hand off. The price is
//! wake-ups that find the lock taken when critical sections are short; the
//! gain is the fairness of `new` (max/min acquisitions per task near 1).
//!
//! # The slot
//!
//! A waiter that lost a race already used its hint listener up; waiting in
//! the hand-off queue would take a second listener (an allocation and four
//! rounds of the list's mutex). Instead it waits in the slot: one waiter at
//! a time, its waker in [`RawLock::slot`], no listener at all. The flags
//! pass the waker cell between the waiter and the releaser:
//!
//! | flags | the cell belongs to | next |
//! |---|---|---|
//! | `S` | the waiter, writing its waker | it publishes (`R`), or sees `H` and owns the lock |
//! | `S R` | readable by the owner | a release clears `R`, takes the waker, sets `H`, wakes it; the waiter may clear `R` to write a new waker |
//! | `S` (after a release cleared `R`) | the releaser, a few instructions | the releaser sets `H`; a waiter that wants the cell spins until then |
//! | `S H` | the waiter, which owns the lock | it empties the cell and clears `S H` |
//!
//! A release with `S` and no `R` (the waiter is writing) only sets `H`: the
//! waiter sees it when it tries to publish, so it needs no wake-up. The only
//! spin is the waiter's wait for a releaser between its two steps, with no
//! user code in between.
//!
//! # Lock futures that are set aside
//!
//! The price of the bound is the rule for set-aside futures (crate docs,
//! "Lock futures that are set aside"): a waiter in the slot or the queue
//! owns the lock from the moment it is handed over, whether or not its
//! future is polled, so a task that keeps such a future aside and awaits
//! another one of the same lock waits for itself. Letting other futures
//! take a hand-off that is not claimed would let a running task overtake a
//! slow one without bound, which is what the slot and the queue exist to
//! prevent; the lock cannot tell a set-aside future from one whose task has
//! not run yet. Debug builds with `std` mirror the queue and the slot
//! (`check.rs`) and panic with an explanation when a task keeps polling
//! another future while its own hand-off waits.

use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::{fmt, future::Future};

use event_listener::{Event, EventListener, IntoNotification, Listener};

use self::check::{Check, Ticket};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::sync::{AtomicUsize, UnsafeCell};

mod check;
mod protocol;
mod rw;

#[cfg(feature = "std")]
pub(crate) use self::protocol::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use self::protocol::acquire_blocking_timeout;
pub(crate) use self::protocol::{Protocol, poll_until};
pub(crate) use self::rw::{Kind, RawRwLock, Snapshot, Upgrade};

/// Bit 0: the lock is owned.
const LOCKED: usize = 1;
/// A waiter of a `new` lock that lost a race waits in the slot.
const SLOT: usize = 1 << 1;
/// The slot's waker is published: the releaser may take it.
const READY: usize = 1 << 2;
/// A release handed the lock to the slot's waiter, which owns it now.
const HANDED: usize = 1 << 3;
/// Every counted hint waiter has been notified: a release need not notify
/// the wake-up queue, where it would reach nobody.
const ALL_HINTED: usize = 1 << 4;
/// Bits below the counts.
const FLAG_BITS: u32 = 5;
/// Width of each waiter count: at most 2^29 - 1 waiters of each kind on
/// 64-bit targets, 8 191 on 32-bit targets.
const COUNT_BITS: u32 = (usize::BITS - FLAG_BITS) / 2;
/// One waiter in the hand-off queue.
const QUEUED_ONE: usize = 1 << FLAG_BITS;
/// All bits of the hand-off queue count.
const QUEUED_MASK: usize = ((1 << COUNT_BITS) - 1) * QUEUED_ONE;
/// One waiter in the wake-up queue.
const HINT_ONE: usize = 1 << (FLAG_BITS + COUNT_BITS);
/// All bits of the wake-up queue count.
const HINT_MASK: usize = !(QUEUED_MASK | (QUEUED_ONE - 1));

/// The lock protocol without the protected value.
pub(crate) struct RawLock {
    /// The state word, laid out as in the module docs.
    state: AtomicUsize,
    /// `true` for `new_fifo`: every waiter goes straight to the hand-off queue.
    fifo: bool,
    /// Hand-off queue: a notification here *is* the lock.
    queue: Event,
    /// Wake-up queue of a `new` lock: a notification here is only a hint to
    /// try again.
    wake: Event,
    /// The waker of the slot's waiter (see "The slot" in the module docs).
    ///
    /// # Safety
    ///
    /// Owned by the slot's waiter while `SLOT` is set and `READY` is clear,
    /// unless a releaser cleared `READY` (then by that releaser until it
    /// sets `HANDED`); readable by the lock's owner while `READY` is set,
    /// which it takes over by clearing `READY`. Empty while `SLOT` is clear.
    slot: UnsafeCell<Option<Waker>>,
    /// Every change to `queue`'s list and to the slot goes through here: in
    /// debug builds with `std` it mirrors them to name a task that waits for
    /// itself.
    check: Check,
}

// SAFETY: the only field that is not `Sync` and `Send` on its own is the
// slot's waker cell, and the state word's `SLOT`, `READY` and `HANDED` bits
// give it to one thread at a time (see the field's docs); `Waker` is `Send`
// and `Sync`.
unsafe impl Sync for RawLock {}
// SAFETY: as above.
unsafe impl Send for RawLock {}

impl RawLock {
    crate::loom_const_fn! {
        /// A free lock with the given policy.
        pub(crate) const fn new(fifo: bool) -> Self {
            Self {
                state: AtomicUsize::new(0),
                fifo,
                queue: Event::new(),
                wake: Event::new(),
                slot: UnsafeCell::new(None),
                check: Check::new(),
            }
        }
    }

    /// `true` for a `new_fifo` lock.
    #[inline]
    pub(crate) fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Whether someone owns the lock right now (a snapshot).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Relaxed) & LOCKED != 0
    }

    /// `true` when nobody owns the lock and nobody waits for it (a snapshot):
    /// the state a keyed node must be in when it goes back to the pool.
    #[cfg(feature = "keyed")]
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.state.load(Relaxed) == 0
    }

    /// Takes the lock if it is free. Never waits and never queues.
    ///
    /// A free lock has no queued waiter (see the state table), so taking it
    /// passes nobody over, under either policy.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_ok()
            || self.try_lock_slow()
    }

    /// `try_lock` when the word is not 0: hint waiters may sleep on a free lock.
    #[cold]
    fn try_lock_slow(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            // Taking a free lock passes nobody over only if no waiter is
            // queued while `LOCKED` is clear.
            check(state, self.fifo);
            if state & LOCKED != 0 {
                return false;
            }
            match self
                .state
                .compare_exchange_weak(state, state | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The caller owns the lock: it acquired it and has not released it since.
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // Nobody waits: one CAS and no notification at all.
        if self
            .state
            .compare_exchange(LOCKED, 0, Release, Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// Release with waiters: hand off to the slot's waiter or the oldest
    /// queued one, or free the lock and wake one more hint waiter.
    #[cold]
    fn unlock_slow(&self) {
        let mut state = self.state.load(Acquire);
        loop {
            check(state, self.fifo);
            debug_assert!(state & LOCKED != 0, "released a lock nobody owns");
            debug_assert!(state & HANDED == 0, "released a lock handed to the slot");
            if state & SLOT != 0 {
                // The slot's waiter is older than every queued one.
                if self.hand_to_slot(state) {
                    return;
                }
                state = self.state.load(Acquire);
                continue;
            }
            if state & QUEUED_MASK != 0 {
                // Direct hand-off: `LOCKED` stays set and the oldest queued
                // listener becomes the owner. The list's own mutex orders our
                // critical section before the new owner's. A count of one or
                // more guarantees a listener unless a waiter left since our
                // load; then nobody was notified and we still own the lock.
                if self.check.hand_off(&self.queue) {
                    return;
                }
                state = self.state.load(Acquire);
                continue;
            }
            match self
                .state
                .compare_exchange(state, state & !LOCKED, AcqRel, Acquire)
            {
                Ok(_) => {
                    if state & HINT_MASK != 0 && state & ALL_HINTED == 0 {
                        // Wake one more hint waiter on every such release,
                        // even if an earlier hint is still unconsumed: that
                        // waiter's task may not run for a while (its thread
                        // preempted, or busy), and with only one hint out, a
                        // running task could take the lock again and again
                        // while every other waiter sleeps. Each woken waiter
                        // that loses a race moves to the slot or the queue,
                        // so the barging releaser is soon made to hand off.
                        if self.wake.notify(1.additional().relaxed()) == 0 {
                            // Every hint waiter is awake already: let later
                            // releases skip the list's mutex, unless a new
                            // hint waiter (which clears the flag) or any
                            // other change came since our release.
                            let freed = state & !LOCKED;
                            let _ = self.state.compare_exchange(
                                freed,
                                freed | ALL_HINTED,
                                Relaxed,
                                Relaxed,
                            );
                        }
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Polls an acquisition. `Ready` means the caller now owns the lock.
    #[inline]
    pub(crate) fn poll_acquire(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<()> {
        if let Stage::Idle = waiter.stage {
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
                        self.enqueue(waiter, false, cx);
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
                            self.drop_hint_listener(waiter, true);
                            waiter.stage = Stage::Done;
                            return Poll::Ready(());
                        }
                        self.check.pending(&mut waiter.ticket, cx);
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
                            self.check.pending(&mut waiter.ticket, cx);
                            return Poll::Pending;
                        }
                        Entered::Full => self.enqueue(waiter, true, cx),
                    }
                }
                Stage::Queued => {
                    let listener = waiter.listener.as_mut().expect("queued waiter listens");
                    if Pin::new(listener).poll(cx).is_pending() {
                        self.check.pending(&mut waiter.ticket, cx);
                        return Poll::Pending;
                    }
                    // Handed the lock: leave the queue count as its owner.
                    *waiter.listener = None;
                    self.check.claimed(&mut waiter.ticket);
                    let prev = self.state.fetch_sub(QUEUED_ONE, AcqRel);
                    debug_assert!(prev & QUEUED_MASK != 0, "queued count underflow");
                    debug_assert!(prev & LOCKED != 0, "handed a lock that is not locked");
                    waiter.stage = Stage::Done;
                    return Poll::Ready(());
                }
                Stage::Slot(id) => {
                    if self.poll_slot(waiter, id, cx) {
                        return Poll::Ready(());
                    }
                    self.check.pending(&mut waiter.ticket, cx);
                    return Poll::Pending;
                }
                Stage::Done => panic!("lock future polled after completion"),
            }
            if let Stage::Done = waiter.stage {
                return Poll::Ready(());
            }
        }
    }

    /// After a lost race: takes the lock if it is free, or waits in the
    /// slot if the slot is empty and nobody is queued (the slot's waiter
    /// must be older than every queued one). Leaves the hint count either way
    /// except when it reports [`Entered::Full`].
    #[cold]
    fn enter_slot(&self, waiter: &mut Waiter, cx: &Context<'_>) -> Entered {
        debug_assert!(!self.fifo);
        // Cloned before the slot is ours: user code (the waker's `clone`)
        // must not unwind while the cell is half taken.
        let waker = cx.waker().clone();
        let mut mirror = self.check.mirror();
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
            // Acquire: the lock, or the cell as its last user left it.
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
        mirror.slot_joined(&mut waiter.ticket, cx);
        drop(mirror);
        // SAFETY: we set `SLOT` with `READY` clear, so the cell (empty while
        // `SLOT` was clear) is ours until we publish it; a release meanwhile
        // only sets `HANDED`.
        unsafe { *self.slot.access().get_mut() = Some(waker) };
        if self.publish_slot(waiter) {
            Entered::Owner
        } else {
            Entered::Slot
        }
    }

    /// Publishes the waker that the slot's waiter has just written; `true`
    /// if a release handed it the lock meanwhile (it is now the owner).
    fn publish_slot(&self, waiter: &mut Waiter) -> bool {
        let mut state = self.state.load(Acquire);
        loop {
            check(state, self.fifo);
            debug_assert!(state & SLOT != 0 && state & READY == 0);
            if state & HANDED != 0 {
                self.claim_slot(waiter);
                return true;
            }
            // Release: the waker, to the releaser that takes it.
            match self
                .state
                .compare_exchange_weak(state, state | READY, Release, Acquire)
            {
                Ok(_) => return false,
                Err(actual) => state = actual,
            }
        }
    }

    /// Polls the slot's waiter: `true` once it owns the lock.
    #[cold]
    fn poll_slot(&self, waiter: &mut Waiter, id: WakerId, cx: &Context<'_>) -> bool {
        let mut state = self.state.load(Acquire);
        let mut waker = None;
        loop {
            check(state, self.fifo);
            if state & HANDED != 0 {
                self.claim_slot(waiter);
                return true;
            }
            if state & READY == 0 {
                // A release took our waker and is about to set `HANDED`, a
                // few instructions away, with no user code in between.
                crate::sync::spin_loop();
                state = self.state.load(Acquire);
                continue;
            }
            if id == WakerId::of(cx.waker()) {
                return false;
            }
            // Another waker, cloned before the cell is ours (user code must
            // not unwind while it is): take the cell back to replace it.
            if waker.is_none() {
                waker = Some(cx.waker().clone());
            }
            match self
                .state
                .compare_exchange_weak(state, state & !READY, Acquire, Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        waiter.stage = Stage::Slot(WakerId::of(cx.waker()));
        // SAFETY: we cleared `READY` with `SLOT` set and `HANDED` clear: the
        // cell is ours until we publish it again.
        let old = unsafe { core::mem::replace(self.slot.access().get_mut(), waker) };
        let owner = self.publish_slot(waiter);
        // User code (the old waker's `drop`) runs once the cell is published.
        drop(old);
        owner
    }

    /// The slot's waiter takes the lock it was handed.
    ///
    /// The caller saw `HANDED` with `Acquire` ordering.
    fn claim_slot(&self, waiter: &mut Waiter) {
        // SAFETY: `HANDED` is set, so the releaser is done with the cell (it
        // sets `HANDED` after taking the waker), and the cell is ours.
        let waker = unsafe { self.slot.access().get_mut().take() };
        self.check.mirror().claimed(&mut waiter.ticket);
        self.leave_slot_as_owner(waiter);
        drop(waker);
    }

    /// Clears the slot of a waiter that was handed the lock (and whose
    /// waker is out of the cell). The lock stays locked: it is the caller's.
    fn leave_slot_as_owner(&self, waiter: &mut Waiter) {
        // Release: the emptied cell, to the next waiter that enters the slot.
        let prev = self.state.fetch_and(!(SLOT | HANDED), AcqRel);
        debug_assert_eq!(
            prev & (LOCKED | SLOT | READY | HANDED),
            LOCKED | SLOT | HANDED,
            "claimed a slot that was not handed the lock"
        );
        waiter.stage = Stage::Done;
    }

    /// A release hands the lock to the slot's waiter, whose `SLOT` is in
    /// `state`: `LOCKED` stays set. `false` if the state word changed first.
    #[cold]
    fn hand_to_slot(&self, state: usize) -> bool {
        if state & READY == 0 {
            // The waiter is writing its waker. It sees `HANDED` when it
            // publishes, so it needs no wake-up. Release: our section.
            let mut mirror = self.check.mirror();
            let handed = self
                .state
                .compare_exchange(state, state | HANDED, Release, Relaxed)
                .is_ok();
            if handed {
                mirror.slot_handed();
            }
            return handed;
        }
        // Acquire: the waker the waiter published.
        if self
            .state
            .compare_exchange(state, state & !READY, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: we cleared `READY`; the waiter does not touch the cell
        // again until it sees `HANDED`.
        let waker = unsafe { self.slot.access().get_mut().take() };
        let mut mirror = self.check.mirror();
        mirror.slot_handed();
        // Release: our section and the emptied cell, to the new owner.
        self.state.fetch_or(HANDED, Release);
        drop(mirror);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The slot's waiter gives up. `true` if it turned out to own the lock
    /// (a release handed it over first); the caller then releases it.
    #[cold]
    fn abandon_slot(&self, waiter: &mut Waiter) -> bool {
        let mut state = self.state.load(Acquire);
        loop {
            check(state, self.fifo);
            if state & HANDED != 0 {
                self.claim_slot(waiter);
                return true;
            }
            if state & READY == 0 {
                // A release took our waker and is about to set `HANDED`, a
                // few instructions away, with no user code in between.
                crate::sync::spin_loop();
                state = self.state.load(Acquire);
                continue;
            }
            match self
                .state
                .compare_exchange_weak(state, state & !READY, Acquire, Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // SAFETY: we cleared `READY` with `HANDED` clear: the cell is ours.
        let waker = unsafe { self.slot.access().get_mut().take() };
        let mut mirror = self.check.mirror();
        let mut state = self.state.load(Acquire);
        let owner = loop {
            if state & HANDED != 0 {
                // Handed the lock while we were leaving: we own it.
                mirror.claimed(&mut waiter.ticket);
                self.leave_slot_as_owner(waiter);
                break true;
            }
            // Release: the emptied cell, to the next waiter of the slot.
            match self
                .state
                .compare_exchange_weak(state, state & !SLOT, Release, Acquire)
            {
                Ok(_) => {
                    mirror.slot_left(&mut waiter.ticket);
                    break false;
                }
                Err(actual) => state = actual,
            }
        };
        drop(mirror);
        drop(waker);
        owner
    }

    /// Joins the wake-up queue, or takes the lock if it became free.
    fn join_hints(&self, waiter: &mut Waiter) {
        debug_assert!(!self.fifo);
        *waiter.listener = Some(self.wake.listen());
        let mut state = self.state.load(Relaxed);
        loop {
            let (next, order) = if state & LOCKED == 0 {
                (state | LOCKED, Acquire)
            } else {
                assert!(
                    state & HINT_MASK != HINT_MASK,
                    "too many waiters on one lock"
                );
                // A waiter that has not been notified: clear `ALL_HINTED`.
                ((state + HINT_ONE) & !ALL_HINTED, Release)
            };
            match self
                .state
                .compare_exchange_weak(state, next, order, Relaxed)
            {
                Ok(_) if state & LOCKED == 0 => {
                    // Took the free lock; we were never counted.
                    self.drop_hint_listener(waiter, true);
                    waiter.stage = Stage::Done;
                    return;
                }
                Ok(_) => {
                    waiter.stage = Stage::Hint;
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// Joins the hand-off queue (leaving the hint count if `hint`), or takes
    /// the lock if it is free.
    fn enqueue(&self, waiter: &mut Waiter, hint: bool, cx: &Context<'_>) {
        let listener = self.check.listen(&self.queue, &mut waiter.ticket, cx);
        let mut state = self.state.load(Relaxed);
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
            let next = if hint { without_hint(next) } else { next };
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
                    return;
                }
                Ok(_) => {
                    *waiter.listener = Some(listener);
                    waiter.stage = Stage::Queued;
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }

    /// A hint waiter takes a free lock, leaving the hint count.
    fn take_counted(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            check(state, self.fifo);
            if state & LOCKED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                without_hint(state | LOCKED),
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Discards the wake-up listener of `waiter`. A hint it held is passed on
    /// unless we now own the lock (our own release will wake someone).
    fn drop_hint_listener(&self, waiter: &mut Waiter, holding: bool) {
        if let Some(listener) = waiter.listener.take() {
            if listener.discard() && !holding {
                self.pass_hint();
            }
        }
    }

    /// Re-sends a hint that a departing waiter consumed.
    fn pass_hint(&self) {
        let state = self.state.load(Acquire);
        // If the lock is held, its release will wake a hint waiter.
        if state & (LOCKED | ALL_HINTED) == 0 && state & HINT_MASK != 0 {
            // Replaces the discarded hint, even if others are outstanding.
            self.wake.notify(1.additional().relaxed());
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
                // Leave the count first, then the queue (see module docs).
                let mut state = self.state.load(Relaxed);
                while let Err(actual) =
                    self.state
                        .compare_exchange_weak(state, without_hint(state), AcqRel, Relaxed)
                {
                    state = actual;
                }
                self.drop_hint_listener(waiter, false);
                false
            }
            Stage::Queued => {
                let prev = self.state.fetch_sub(QUEUED_ONE, AcqRel);
                debug_assert!(prev & QUEUED_MASK != 0, "queued count underflow");
                debug_assert!(prev & LOCKED != 0, "queued waiter on a free lock");
                // A notification in our listener is the lock itself.
                waiter
                    .listener
                    .take()
                    .is_some_and(|listener| self.check.leave(listener, &mut waiter.ticket))
            }
            Stage::Slot(_) => self.abandon_slot(waiter),
            Stage::Idle | Stage::Done => false,
        }
    }

    /// Blocks the thread until the lock is acquired or `deadline` passes.
    /// Returns `true` if the caller now owns the lock.
    #[cfg(feature = "std")]
    pub(crate) fn lock_blocking(&self, deadline: Option<Deadline>) -> bool {
        if self.try_lock() {
            return true;
        }
        self.lock_blocking_slow(deadline)
    }

    #[cfg(feature = "std")]
    #[cold]
    fn lock_blocking_slow(&self, deadline: Option<Deadline>) -> bool {
        let waker = blocking::thread_waker();
        let mut cx = Context::from_waker(&waker);
        let mut waiter = Waiter::new();
        loop {
            if self.poll_acquire(&mut waiter, &mut cx).is_ready() {
                return true;
            }
            match deadline {
                None => crate::sync::park(),
                #[cfg(not(loom))]
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return self.abandon(&mut waiter);
                    }
                    crate::sync::park_timeout(deadline - now);
                }
                #[cfg(loom)]
                Some(never) => match never {},
            }
        }
    }
}

/// A point in time for the blocking timeout (no clocks under loom).
#[cfg(all(feature = "std", not(loom)))]
pub(crate) type Deadline = std::time::Instant;
#[cfg(loom)]
pub(crate) type Deadline = core::convert::Infallible;

#[cfg(feature = "std")]
mod blocking {
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::task::Waker;

    use crate::sync::{Thread, current_thread};

    /// Wakes a parked thread.
    struct Unparker(Thread);

    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    /// A waker that unparks the current thread; cached per thread.
    #[cfg(not(loom))]
    pub(super) fn thread_waker() -> Waker {
        std::thread_local! {
            static WAKER: Waker = Waker::from(Arc::new(Unparker(current_thread())));
        }
        WAKER
            .try_with(Waker::clone)
            .unwrap_or_else(|_| Waker::from(Arc::new(Unparker(current_thread()))))
    }

    #[cfg(loom)]
    pub(super) fn thread_waker() -> Waker {
        Waker::from(Arc::new(Unparker(current_thread())))
    }
}

/// `state` with one hint waiter less; `ALL_HINTED` goes with the last one.
#[inline]
fn without_hint(state: usize) -> usize {
    debug_assert!(state & HINT_MASK != 0, "hint count underflow");
    let next = state - HINT_ONE;
    if next & HINT_MASK == 0 {
        next & !ALL_HINTED
    } else {
        next
    }
}

/// Debug-checks the invariants of the state word.
#[inline]
fn check(state: usize, fifo: bool) {
    debug_assert!(
        state & (QUEUED_MASK | SLOT) == 0 || state & LOCKED != 0,
        "queued or slot waiters on a free lock: {state:#x}"
    );
    debug_assert!(
        state & (READY | HANDED) == 0 || state & SLOT != 0,
        "a slot flag without a slot waiter: {state:#x}"
    );
    debug_assert!(
        !fifo || state & SLOT == 0,
        "a slot waiter on a FIFO lock: {state:#x}"
    );
    debug_assert!(
        state & ALL_HINTED == 0 || state & HINT_MASK != 0,
        "all hint waiters notified, but there are none: {state:#x}"
    );
    debug_assert!(
        !fifo || state & HINT_MASK == 0,
        "hint waiters on a FIFO lock: {state:#x}"
    );
}

impl fmt::Debug for RawLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Relaxed);
        f.debug_struct("RawLock")
            .field("locked", &(state & LOCKED != 0))
            .field("queued", &((state & QUEUED_MASK) / QUEUED_ONE))
            .field("hinted", &((state & HINT_MASK) / HINT_ONE))
            .field("fifo", &self.fifo)
            .finish()
    }
}

/// Where one acquisition stands. Owned by a lock future; not generic over `T`.
pub(crate) struct Waiter {
    listener: ListenerSlot,
    stage: Stage,
    /// Its place in the debug mirror of the hand-off queue.
    ticket: Ticket,
}

/// The listener of a waiter, if it has one.
///
/// Dropping an empty slot costs one test, not a call into the drop glue of
/// `EventListener` (which the compiler does not inline): the uncontended
/// path drops a waiter that never listened on every acquisition.
struct ListenerSlot(core::mem::ManuallyDrop<Option<EventListener>>);

impl ListenerSlot {
    const fn empty() -> Self {
        Self(core::mem::ManuallyDrop::new(None))
    }
}

impl core::ops::Deref for ListenerSlot {
    type Target = Option<EventListener>;

    #[inline]
    fn deref(&self) -> &Option<EventListener> {
        &self.0
    }
}

impl core::ops::DerefMut for ListenerSlot {
    #[inline]
    fn deref_mut(&mut self) -> &mut Option<EventListener> {
        &mut self.0
    }
}

impl Drop for ListenerSlot {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            drop_listener(&mut self.0);
        }
    }
}

/// Drops the listener of a slot; what is left (`None`) owns nothing.
#[cold]
fn drop_listener(slot: &mut Option<EventListener>) {
    drop(slot.take());
}

#[derive(Clone, Copy, Debug)]
enum Stage {
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

/// Where [`RawLock::enter_slot`] put a waiter.
enum Entered {
    /// The lock was free, or handed over at once: the waiter owns it.
    Owner,
    /// The waiter waits in the slot.
    Slot,
    /// The slot is taken, or waiters are queued: nothing changed.
    Full,
}

/// What `Waker::will_wake` compares, kept so that a poll of the slot's
/// waiter can tell whether its waker changed without reading the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WakerId {
    data: usize,
    vtable: usize,
}

impl WakerId {
    fn of(waker: &Waker) -> Self {
        Self {
            data: waker.data().addr(),
            vtable: core::ptr::from_ref(waker.vtable()).addr(),
        }
    }
}

impl Waiter {
    /// A waiter that has not started.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            listener: ListenerSlot::empty(),
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
