//! The lock protocol: one atomic state word, two `event-listener` queues and
//! a one-waiter slot.
//!
//! Every atomic operation and memory ordering of the lock lives in this
//! module (this file and `raw/`); `crate::sync` only names the primitives.
//! [`RawLock`] knows nothing about the protected value; `Lock<T>` adds the
//! data cell and the guards, so the protocol is compiled once, not per `T`.
//!
//! The parts, one file each:
//!
//! | file | job |
//! |---|---|
//! | `raw.rs` | [`Raw`], the parts both protocols are made of; the state word, taking and releasing the lock, the tables below |
//! | `raw/state.rs` | the bits, their invariants, and the `Debug` form of a state word |
//! | `raw/waiter.rs` | one acquisition's side: its stage and its listener |
//! | `raw/acquire.rs` | polling an acquisition, deadlines, giving up |
//! | `raw/hints.rs` | the hint waiters of a `new` lock and the wake-up queue |
//! | `raw/queue.rs` | the hand-off queue |
//! | `raw/slot.rs` | the slot of a `new` lock |
//! | `raw/slot_cell.rs` | the slot's waker cell, and the slot waiter's steps both protocols share |
//! | `raw/blocking.rs` | acquisition that parks the thread (`std`), for every protocol |
//! | `raw/check.rs` | the debug check that names a set-aside lock future |
//! | `raw/protocol.rs` | what futures and keyed maps need from a protocol; deadlines for every protocol |
//! | `raw/rw.rs`, `raw/rw/` | the reader-writer protocol ([`RawRwLock`]), with its own state word and docs |
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
//! * `L` (`LOCKED`): someone owns the lock. The owner is a guard, or a
//!   waiter that has been handed the lock and not yet observed it.
//! * queued waiters (`QUEUED_ONE`): waiters in the hand-off queue
//!   ([`Raw::queue`]). Every waiter of a `new_fifo` lock is queued; a
//!   waiter of a `new` lock is queued when it has lost a race while the slot
//!   was taken. A release never clears `L` while this count is non-zero: it
//!   hands the lock to the oldest queued listener instead.
//! * hint waiters (`HINT_ONE`): waiters of a `new` lock that sleep on the
//!   wake-up queue ([`Raw::wake`]). A release clears `L` and wakes one
//!   more of them (even if an earlier one has not run yet), which then
//!   competes with newcomers for the lock.
//! * `S`, `R`, `H` (`SLOT`, `READY`, `HANDED`): the slot of a `new` lock,
//!   its waiter, its published waker, its hand-off (see `raw/slot.rs`).
//! * `AH` (`ALL_HINTED`): every counted hint waiter has been notified, so
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
//! `{:?}` of a [`RawLock`] (and of a `Lock`) shows every flag by name and
//! both counts, so the state of a lock that hangs can be read off at once.
//!
//! # States and transitions
//!
//! `q` and `h` are the two counts; `-` is a clear flag. A `new_fifo` lock
//! only ever has the first two rows and the `q > 0` row.
//!
//! | L | S R H | q | h | AH | meaning | left by |
//! |---|---|---|---|---|---|---|
//! | 0 | - - - | 0 | 0 | - | free, nobody waits | any acquire (a compare-and-swap that sets `L`) |
//! | 1 | - - - | 0 | 0 | - | held, nobody waits | release (`L` -> 0), a waiter joining |
//! | 0 | - - - | 0 | h | - | free, hint waiters, some not notified yet | a newcomer or a woken hint waiter takes it; a hint waiter leaving |
//! | 0 | - - - | 0 | h | AH | free, every hint waiter notified (all of them are about to look) | as above; a hint waiter joining clears `AH` |
//! | 1 | - - - | 0 | h | - | held, hint waiters | release: clear `L`, wake one more hint waiter |
//! | 1 | - - - | 0 | h | AH | held, every hint waiter notified | release: clear `L`, no notify |
//! | 1 | S - - | q | h | any | held, a waiter in the slot writing its waker (or a release taking it) | release: set `H` only; the waiter publishes (`R`) |
//! | 1 | S R - | q | h | any | held, the slot's waker published | release: clear `R`, take the waker, set `H`, wake it; the waiter may clear `R` to change its waker or to leave |
//! | 1 | S - H | q | h | any | handed to the slot's waiter, which owns the lock now | the waiter claims it: clears `S` and `H`, keeps `L` |
//! | 1 | - - - | q | h | any | held, `q` > 0 queued, slot empty | release: keep `L`, hand off to the oldest queued listener |
//! | 0 | any `S` or `q` > 0 | | | | **never**: `L` is clear only when nobody is queued or in the slot | — |
//! | | `R` or `H` without `S`; `R` and `H` together | | | | **never** | — |
//! | | | | 0 | AH | **never**: `AH` goes with the last hint waiter | — |
//!
//! The invariant in the first "never" row is what makes strict FIFO cheap: a
//! newcomer may take the lock whenever `L` is clear, because no queued
//! waiter can be passed over then. A `new_fifo` lock never has hint waiters
//! or a slot, so for it "`L` clear" means "the state word is 0". The "never"
//! rows are debug-asserted on every look at the word (`state::check`).
//!
//! # Memory orderings
//!
//! Every atomic operation names, in a comment beside it, the row of this
//! table that its ordering serves. The data that moves between threads is
//! the owner's critical section, the slot's waker cell, and listeners in
//! event-listener's lists.
//!
//! | row | what must happen before what | Release side | Acquire side |
//! |---|---|---|---|
//! | (own) | the last owner's critical section, before the next owner's | every release: clearing `L` (`unlock`, `unlock_slow`), setting `H` (`hand_to_slot`), and the queued hand-off (see (list)) | every acquire: a compare-and-swap that sets `L`, seeing `H` (the slot's waiter), a notified listener's ready poll or `discard` (see (list)) |
//! | (list) | a `notify` of a listener, before that listener's ready poll or `discard` | — | — |
//! | (count) | a waiter's `listen`, before the notify of a releaser that counted it | the compare-and-swap that counts the waiter, after its `listen` (`join_hints`, `enqueue`) | the read of the count that decides to notify (`unlock_slow`, `pass_hint`) |
//! | (waker) | the slot waiter's write of its waker, before a releaser takes it | setting `R` (`publish_slot`) | clearing `R` (`hand_to_slot`) |
//! | (cell) | the last user's emptying of the slot's cell, before the next user writes it | clearing `S` (`take_granted`, `abandon_slot`), setting `H` after taking the waker (`hand_to_slot`) | setting `S` (`enter_slot`), seeing `H` |
//! | (none) | nothing: Relaxed | | |
//!
//! (list): event-listener takes its list's lock (a mutex with `std`, a
//! spinlock without, loom's mutex under loom, so the models check this too)
//! in every `listen`, `notify`, poll and `discard`. A notify is therefore
//! ordered before the ready poll or the `discard` that reports it, and
//! whatever the releaser did before its notify comes first too. The queued
//! hand-off changes no bit of the state word; this is what carries (own)
//! for it.
//!
//! (count): listening and counting go through two different places (the
//! list, the state word). A waiter's `listen` releases the list's lock and
//! then counts itself with Release; a releaser reads the count with Acquire
//! and then notifies, which takes the list's lock: so the `listen`
//! happens before the notify, which finds the listener (or, if the waiter
//! has left meanwhile, reports 0).
//!
//! (none), Relaxed, where nothing is published or consumed: a snapshot that
//! decides nothing by itself (`is_locked`, `is_idle`, `Debug`); the first
//! guess of a compare-and-swap loop, which the compare-and-swap checks; the
//! failure of a compare-and-swap whose loop only retries with the value; a
//! flag that carries no data (`AH`).
//!
//! A few read-modify-writes are stronger than their rows need (the claim of
//! a queued hand-off, leaving a count, clearing the slot after a claim);
//! their comments say which half is spare. On x86 every read-modify-write
//! is a full barrier whatever its ordering, and elsewhere these run once per
//! waiting acquisition, so they stay as they are.
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
//! (`raw/check.rs`) and panic with an explanation when a task keeps polling
//! another future while its own hand-off waits.

use core::fmt;
use core::marker::PhantomData;

use event_listener::Event;

use self::check::Check;
use self::slot_cell::WakerCell;
pub(crate) use self::state::StateWord;
use self::state::{ALL_HINTED, HANDED, HINT_MASK, LOCKED, QUEUED_MASK, SLOT, check};
pub(crate) use self::waiter::Waiter;
use crate::sync::AtomicUsize;
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

mod acquire;
#[cfg(feature = "std")]
mod blocking;
mod check;
mod hints;
mod protocol;
mod queue;
mod rw;
mod slot;
mod slot_cell;
mod state;
mod waiter;

#[cfg(feature = "std")]
pub(crate) use self::blocking::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use self::blocking::acquire_blocking_timeout;
pub(crate) use self::protocol::{Protocol, poll_until};
pub(crate) use self::rw::{Kind, RawRwLock, Snapshot, Upgrade};

/// A lock protocol's state word and what its waiters wait on, without the
/// protected value. `P` names the protocol: [`Exclusive`] (this file and
/// `raw/`; `Lock` and `KeyedLocks`) or [`ReadWrite`](rw::ReadWrite)
/// (`raw/rw.rs`; `RwLock` and `KeyedRwLocks`). Each has its own state word,
/// methods and docs; the parts are the same.
pub(crate) struct Raw<P> {
    /// The state word, laid out as in the protocol's module docs.
    state: AtomicUsize,
    /// `true` for `new_fifo`. [`Exclusive`]: every waiter goes straight to
    /// the hand-off queue. [`ReadWrite`](rw::ReadWrite): a newcomer never
    /// passes the line.
    fifo: bool,
    /// The line: a notification here *is* the lock ([`Exclusive`]'s
    /// hand-off queue) or the turn ([`ReadWrite`](rw::ReadWrite)).
    queue: Event,
    /// Wake-ups that are only hints (the state word says what happened):
    /// [`Exclusive`]'s wake-up queue of a `new` lock, where a notification
    /// asks to try again; [`ReadWrite`](rw::ReadWrite)'s upgradable reader,
    /// woken once the last reader has handed it the lock.
    wake: Event,
    /// The waker of the slot's waiter (see `raw/slot_cell.rs`).
    ///
    /// # Safety
    ///
    /// Owned as the protocol's slot table says (`raw/slot.rs`; `raw/rw.rs`,
    /// "The slot"): by the slot's waiter while `SLOT` is set and `READY` is
    /// clear, except while a release takes the waker; readable by a release
    /// while `READY` is set, which it takes over to grant the lock. Empty
    /// while `SLOT` is clear.
    slot: WakerCell,
    /// Every change to the line's listeners and to the slot goes through
    /// here: in debug builds with `std` it mirrors them to name a task that
    /// waits for itself (see `raw/check.rs`).
    check: Check,
    /// Which protocol's methods apply; no data.
    protocol: PhantomData<P>,
}

/// Which policy a lock follows: what `new` and `new_fifo` choose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Policy {
    /// `new`: a newcomer may take a free lock before the woken waiters,
    /// within the starvation bound.
    Throughput,
    /// `new_fifo`: strict order of arrival, direct hand-off.
    Fifo,
}

/// The exclusive protocol, of this file and `raw/`.
pub(crate) enum Exclusive {}

/// The exclusive lock protocol without the protected value.
pub(crate) type RawLock = Raw<Exclusive>;

impl<P> Raw<P> {
    crate::sync::loom_const_fn! {
        /// A free lock with the given policy.
        pub(crate) const fn new(policy: Policy) -> Self {
            Self {
                state: AtomicUsize::new(0),
                fifo: matches!(policy, Policy::Fifo),
                queue: Event::new(),
                wake: Event::new(),
                slot: WakerCell::new(),
                check: Check::new(),
                protocol: PhantomData,
            }
        }
    }

    /// `true` for a `new_fifo` lock.
    #[inline]
    pub(crate) fn is_fifo(&self) -> bool {
        self.fifo
    }
}

impl RawLock {
    /// Whether someone owns the lock right now (a snapshot).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        // (none): a snapshot for the caller to look at.
        self.state.load(Relaxed) & LOCKED != 0
    }

    /// `true` when nobody owns the lock and nobody waits for it (a snapshot):
    /// the state a keyed node must be in when it goes back to the pool.
    #[cfg(feature = "keyed")]
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        // (none): a snapshot, for a debug assertion.
        self.state.load(Relaxed) == 0
    }

    /// The state word right now, for `Debug` (a snapshot).
    pub(crate) fn state(&self) -> StateWord {
        // (none): a snapshot to print.
        StateWord(self.state.load(Relaxed))
    }

    /// Takes the lock if it is free. Never waits and never queues.
    ///
    /// A free lock has no queued waiter (see the state table), so taking it
    /// passes nobody over, under either policy.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        // (own) Acquire: the last owner's section. Failure (none): the slow
        // path loads again.
        self.state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_ok()
            || self.try_lock_slow()
    }

    /// `try_lock` when the word is not 0: hint waiters may sleep on a free lock.
    #[cold]
    fn try_lock_slow(&self) -> bool {
        // (none): a first guess for the compare-and-swap.
        let mut state = self.state.load(Relaxed);
        loop {
            // Taking a free lock passes nobody over only if no waiter is
            // queued while `LOCKED` is clear.
            check(state, self.fifo);
            if state & LOCKED != 0 {
                return false;
            }
            // (own) Acquire: the last owner's section. Failure (none): retry.
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
        // Nobody waits: one CAS and no notification at all. (own) Release:
        // our section, to the next owner. Failure (none): the slow path
        // loads again.
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
        // (count) Acquire: the listeners of the queued waiters counted here
        // are in `queue` before our hand-off looks for them.
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
                // (count) Acquire: as above.
                state = self.state.load(Acquire);
                continue;
            }
            if state & QUEUED_MASK != 0 {
                // Direct hand-off: `LOCKED` stays set and the oldest queued
                // listener becomes the owner ((own) through (list)). A count
                // of one or more guarantees a listener unless a waiter left
                // since our load; then nobody was notified and we still own
                // the lock.
                if self.hand_off() {
                    return;
                }
                // (count) Acquire: as above.
                state = self.state.load(Acquire);
                continue;
            }
            // (own) Release: our section, to whoever takes the free lock.
            // (count) Acquire: the listeners of the hint waiters counted in
            // `state` are in `wake` before `wake_one_more` notifies. Failure
            // (count) Acquire: the loop may hand off with the new value.
            match self
                .state
                .compare_exchange(state, state & !LOCKED, AcqRel, Acquire)
            {
                Ok(_) => {
                    if state & HINT_MASK != 0 && state & ALL_HINTED == 0 {
                        self.wake_one_more(state & !LOCKED);
                    }
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}

impl fmt::Debug for RawLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawLock")
            .field("fifo", &self.fifo)
            .field("state", &self.state())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::state::{HINT_ONE, QUEUED_ONE, READY};
    use super::*;

    #[test]
    fn debug_names_every_flag_and_both_counts() {
        let lock = RawLock::new(Policy::Throughput);
        assert_eq!(
            format!("{lock:?}"),
            "RawLock { fifo: false, state: StateWord { locked: false, slot: false, \
             ready: false, handed: false, all_hinted: false, queued: 0, hinted: 0 } }"
        );
        let word = StateWord(LOCKED | SLOT | READY | ALL_HINTED | (3 * QUEUED_ONE + 2 * HINT_ONE));
        assert_eq!(
            format!("{word:?}"),
            "StateWord { locked: true, slot: true, ready: true, handed: false, \
             all_hinted: true, queued: 3, hinted: 2 }"
        );
        let word = StateWord(LOCKED | SLOT | HANDED | QUEUED_MASK);
        assert_eq!(word.queued(), QUEUED_MASK / QUEUED_ONE);
        assert!(format!("{word:?}").contains("handed: true"));
        let word = StateWord(HINT_MASK);
        assert_eq!(word.hinted(), HINT_MASK / HINT_ONE);
        assert_eq!(word.queued(), 0);
    }
}
