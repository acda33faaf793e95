//! The reader-writer protocol: one atomic state word, one `event-listener`
//! line, a one-waiter slot at its front, and a wake-up for an upgrade.
//!
//! [`RawRwLock`] knows nothing about the protected value; `RwLock<T>` and
//! the keyed read/write map add the data and the guards. Every atomic
//! operation of the reader-writer locks lives in this module and its two
//! children (`wait.rs`: waiting in the line and the slot; `upgrade.rs`:
//! an upgradable reader becoming the writer).
//!
//! # Three kinds of access
//!
//! A *reader* shares the lock with other readers and with one *upgradable
//! reader*; a *writer* holds it alone. The upgradable reader excludes
//! writers and other upgradable readers, and may *upgrade*: once the plain
//! readers are gone it becomes the writer, with no other writer in between.
//!
//! # The state word
//!
//! ```text
//!  usize::BITS-1                                 12  9   8   7   6   5   4   3   2   1   0
//! +-----------------+-----------------+---------+-------+---+---+---+---+---+---+---+---+---+
//! |  readers        |  queued waiters |         |  BG   |PU |PW | T | G | U | H | R | P | W |
//! +-----------------+-----------------+---------+-------+---+---+---+---+---+---+---+---+---+
//! ```
//!
//! (`W` is bit 0. On 64-bit targets `BG` is bits 9 to 12, 13 flag bits in
//! all, and 25 bits count the queued waiters and 26 the readers; on 32-bit
//! targets `BG` is bits 9 and 10, 11 flag bits, and the counts have 10 and
//! 11 bits.)
//!
//! * `W` ([`WRITER`]): a writer holds the lock (a guard, or a waiter that has
//!   been handed the lock and has not observed it yet).
//! * readers ([`READER_ONE`]): plain readers holding the lock, likewise.
//! * `U` ([`UPGRADABLE`]): the upgradable reader holds the lock.
//! * `G` ([`UPGRADING`]): the upgradable reader waits to become the writer
//!   ([`Raw::wake`](super::Raw::wake) wakes it). Set only with `U`. No new
//!   reader enters while it is set, so the readers drain, and the last one
//!   out hands the lock over: it clears `G` and `U` and sets `W`.
//! * queued waiters ([`QUEUED_ONE`]): waiters in the line
//!   ([`RawRwLock::queue`]), in order of arrival.
//! * `T` ([`TURN`]): the *turn* is out: the oldest queued waiter has been
//!   notified and is on its way to the front. At most one turn is out.
//! * `BG` ([`BARGED_MASK`]): how many newcomers took the lock while the turn
//!   is out (`new` only, at most [`BARGE_LIMIT`]); cleared when the turn is
//!   taken.
//! * `P` ([`SLOT`]) with `PW` / `PU` ([`SLOT_WRITE`], [`SLOT_UPGRADABLE`];
//!   neither for a reader): the *front*: one waiter that must wait for the
//!   holders it conflicts with waits in the slot, with its waker in
//!   [`RawRwLock::slot`] and no listener. `R` ([`READY`]) and `H`
//!   ([`HANDED`]) pass the waker cell between it and the releasers (see
//!   "The slot").
//!
//! # The line, the turn and the front
//!
//! A waiter that cannot take the lock goes to the front if the line is
//! empty (no `P`, no `T`, nobody queued), and otherwise joins the line. A
//! waiter at the front blocks every newcomer; when the holders it waits
//! for are gone, the release that made it so hands it the lock (sets its
//! kind's bits and `H`) and wakes it.
//!
//! The line moves by turns. Whenever the front is free (no `W`, `P` or `G`)
//! and somebody is queued, a turn is out: the release that frees the front
//! sets `T` and notifies the oldest listener of the line. The waiter that
//! receives the turn takes the lock if its kind allows it, or else moves to
//! the front. A reader or an upgradable reader that takes the lock passes
//! the turn straight on, so consecutive readers at the head of the line
//! are admitted one after another without waiting for any release; a
//! writer's turn ends the run. A waiter that leaves with the turn passes it
//! on. So:
//!
//! > **I1.** Nobody is queued without a turn out unless the front is busy:
//! > `queued > 0 && !T` implies `W || P || G`.
//!
//! Every transition that could break it (a release of the writer, a claim
//! or departure of the slot's waiter, an abandoned upgrade) sets `T` in the
//! same compare-and-swap and then notifies the line.
//!
//! # The two policies
//!
//! A newcomer (a waiter at its first poll, or a `try_*` call) takes the
//! lock when its kind is compatible with the holders and nobody is at the
//! front (`P`) or upgrading (`G`):
//!
//! * `new_fifo` also asks that the line be empty and no turn be out. So
//!   nobody overtakes a waiter: the lock is served strictly in order of
//!   arrival, readers at the head of the line together.
//! * `new` lets up to [`BARGE_LIMIT`] (fifteen on 64-bit targets, two on
//!   32-bit ones) newcomers in while a turn is out (barging): the lock
//!   stays busy while the notified waiter's task is being scheduled. That
//!   waiter may then find the lock taken (it lost a race): it moves to the
//!   front, where nobody overtakes it. The limit
//!   keeps the tasks that happen to be running from taking a lock over and
//!   over while others wait in the line for their turn's task to run: with
//!   no limit, readers that keep re-reading would be served several times
//!   as often as readers that had to queue once, and writers far less
//!   often (`benches/rwlock.rs`, fairness); with a limit of one, every
//!   other acquisition of a busy lock waits in the line, which costs a
//!   listener (`tools/counted.py --rw`). With a limit of two, short
//!   critical sections on several threads made a convoy: the running tasks
//!   joined the line one by one behind each turn in flight, and the line
//!   then moved one scheduled task at a time (README, "Benchmarks",
//!   "Reader-writer locks"). Fifteen keeps the readers and the writers
//!   each within a few percent of one another in the fairness figures;
//!   32-bit targets keep two, for the room their counts need.
//!
//! # Starvation bounds
//!
//! A waiter in the line is served after the waiters ahead of it, in order.
//! At the front it waits only for the holders present when it got there:
//! no newcomer enters while it is there. So a stream of readers never
//! starves a writer (it waits for the readers holding the lock when it
//! reached the front, no others), and a stream of writers never starves a
//! reader (the writers that arrive after it queue behind it). Under
//! `new_fifo` nothing else comes first. Under `new`, at most
//! [`BARGE_LIMIT`] newcomers may also take the lock while a turn is in
//! flight (between the notification and the notified task's poll), and
//! only then: a waiter is passed by at most [`BARGE_LIMIT`] newcomers
//! during the flight of each turn ahead of it and of its own, and by
//! nobody after it received its turn. That is a bound in hand-offs, with
//! no clock. The loom models
//! `loom-tests/tests/rw_starvation.rs` check both directions under both
//! policies, and the bound on barging.
//!
//! # States and transitions
//!
//! | state | meaning | left by |
//! |---|---|---|
//! | 0 | free, nobody waits | any acquisition (one CAS) |
//! | `r` readers | shared | more readers; the last release (one CAS back to 0 when it is the only one) |
//! | `W` | written | its release (one CAS to 0 when nobody waits) |
//! | `U` (+ readers) | upgradable read | readers come and go; `upgrade` sets `W` if no readers, else `G` |
//! | `U G` + readers | upgrading | the last reader out sets `W`, clears `U G`, wakes [`Raw::wake`](super::Raw::wake) |
//! | `P` + holders | a waiter at the front, blocked by the holders | the release that removes the last conflicting holder grants it (`H`) |
//! | `P H` + its grant | granted, not yet claimed | the waiter claims: clears `P H PW PU`, and passes a turn if due |
//! | `T` + `q` queued | a turn in flight | the notified waiter takes the lock or moves to the front |
//! | `q > 0`, no `T W P G` | **never** (I1) | — |
//!
//! # The slot
//!
//! The front waiter's waker lives in a cell that `R` and `H` pass around:
//!
//! | flags | the cell belongs to | next |
//! |---|---|---|
//! | `P` | the waiter, writing its waker | it publishes (`R`), or sees `H` and owns the lock |
//! | `P R` | readable by a releaser | a grant sets `H` (the cell goes to that releaser); the waiter may clear `R` to write a new waker |
//! | `P R H` | the granting releaser, a few instructions | it takes the waker, clears `R`, wakes it; the waiter spins until then |
//! | `P H` | the waiter, which owns its grant | it empties the cell and claims |
//!
//! Unlike [`RawLock`](super::RawLock)'s slot, several threads may release
//! (readers), so the grant sets `H` in the same compare-and-swap that gives
//! the waiter its access: a second releaser sees `H` and grants nothing.
//!
//! # Lock futures that are set aside
//!
//! A waiter that receives the turn, or is granted the lock at the front,
//! holds what it received from that moment on, polled or not, as with
//! [`RawLock`](super::RawLock) (crate docs, "Lock futures that are set
//! aside"). The debug mirror of `check.rs` follows the line (the turn is
//! its hand-off) and the slot, and names a task that waits for itself.

use core::fmt;

use super::Raw;
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

mod upgrade;
mod wait;

pub(crate) use self::upgrade::Upgrade;

/// Bit 0: a writer holds the lock.
const WRITER: usize = 1;
/// A waiter waits at the front, in the slot.
const SLOT: usize = 1 << 1;
/// The slot's waker is published: a releaser that grants the lock may take it.
const READY: usize = 1 << 2;
/// A release granted the slot's waiter its access; it has not claimed it yet.
const HANDED: usize = 1 << 3;
/// The upgradable reader holds the lock.
const UPGRADABLE: usize = 1 << 4;
/// The upgradable reader waits for the readers to leave (implies `U`).
const UPGRADING: usize = 1 << 5;
/// A turn is out: the oldest queued waiter was notified.
const TURN: usize = 1 << 6;
/// The slot's waiter wants to write.
const SLOT_WRITE: usize = 1 << 7;
/// The slot's waiter wants an upgradable read.
const SLOT_UPGRADABLE: usize = 1 << 8;
/// One newcomer took the lock while the turn is out (`new` only; implies
/// `T`): a count of them, cleared when the turn is taken.
const BARGED_ONE: usize = 1 << 9;
/// Width of the barged count: four bits on 64-bit targets, two where the
/// word is narrower and the counts need the room.
const BARGED_BITS: u32 = if usize::BITS >= 64 { 4 } else { 2 };
/// All bits of the barged count.
const BARGED_MASK: usize = ((1 << BARGED_BITS) - 1) * BARGED_ONE;
/// How many newcomers may pass one turn in flight (`new`): as many as the
/// count holds (fifteen) on 64-bit targets, two on narrower ones. The loom
/// models check the protocol with two (`rw_starvation.rs` counts every
/// barging write); the bound works the same way whatever the number.
const BARGE_LIMIT: usize = if BARGED_BITS == 4 && !cfg!(loom) {
    BARGED_MASK / BARGED_ONE
} else {
    2
};
/// Bits below the counts.
const FLAG_BITS: u32 = 9 + BARGED_BITS;
/// Width of the queued count: 2^25 - 1 waiters on 64-bit targets, 1 023 on
/// 32-bit targets; the readers get the bits left (2^26 - 1 readers, and
/// 2 047).
const QUEUED_BITS: u32 = (usize::BITS - FLAG_BITS) / 2;
/// One waiter in the line.
const QUEUED_ONE: usize = 1 << FLAG_BITS;
/// All bits of the queued count.
const QUEUED_MASK: usize = ((1 << QUEUED_BITS) - 1) * QUEUED_ONE;
/// One reader holding the lock.
const READER_ONE: usize = 1 << (FLAG_BITS + QUEUED_BITS);
/// All bits of the reader count.
const READER_MASK: usize = !(READER_ONE - 1);
/// The bits of the slot's waiter, whatever its kind.
const SLOT_BITS: usize = SLOT | READY | HANDED | SLOT_WRITE | SLOT_UPGRADABLE;
/// Whatever makes the front busy (see I1).
const FRONT: usize = WRITER | SLOT | UPGRADING;

/// The access an acquisition asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Shared with other readers and the upgradable reader.
    Read,
    /// Alone.
    Write,
    /// Shared with readers, alone among writers and upgradable readers.
    Upgradable,
}

impl Kind {
    /// The state bits of a slot waiter of this kind.
    const fn slot_bits(self) -> usize {
        match self {
            Kind::Read => SLOT,
            Kind::Write => SLOT | SLOT_WRITE,
            Kind::Upgradable => SLOT | SLOT_UPGRADABLE,
        }
    }

    /// The kind of the waiter in the slot of `state`.
    const fn in_slot(state: usize) -> Self {
        if state & SLOT_WRITE != 0 {
            Kind::Write
        } else if state & SLOT_UPGRADABLE != 0 {
            Kind::Upgradable
        } else {
            Kind::Read
        }
    }

    /// `true` if the holders of `state` (or an upgrade in progress) keep an
    /// acquisition of this kind out.
    #[inline]
    const fn conflicts(self, state: usize) -> bool {
        match self {
            Kind::Read => state & (WRITER | UPGRADING) != 0,
            Kind::Write => state & (WRITER | UPGRADABLE | READER_MASK) != 0,
            Kind::Upgradable => state & (WRITER | UPGRADABLE) != 0,
        }
    }

    /// `state` with one more holder of this kind.
    #[inline]
    fn grant(self, state: usize) -> usize {
        match self {
            Kind::Read => {
                assert!(
                    state & READER_MASK != READER_MASK,
                    "too many readers on one lock"
                );
                state + READER_ONE
            }
            Kind::Write => state | WRITER,
            Kind::Upgradable => state | UPGRADABLE,
        }
    }
}

/// The reader-writer protocol, of this file and `raw/rw/`.
pub(crate) enum ReadWrite {}

/// The reader-writer protocol without the protected value.
pub(crate) type RawRwLock = Raw<ReadWrite>;

impl RawRwLock {
    /// Whether anyone holds the lock right now (a snapshot).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Relaxed) & (WRITER | UPGRADABLE | READER_MASK) != 0
    }

    /// A snapshot of the holders and waiters, for `Debug` and status queries.
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot {
        // Relaxed: a snapshot that orders nothing.
        Snapshot(self.state.load(Relaxed))
    }

    /// `true` when nobody holds or waits for the lock (a snapshot): the
    /// state a keyed node must be in when it goes back to the pool.
    #[cfg(feature = "keyed")]
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Relaxed) == 0
    }

    /// `true` if a newcomer of `kind` may take the lock in `state`.
    #[inline]
    fn admits(&self, state: usize, kind: Kind) -> bool {
        let front_free = if self.fifo {
            state & (SLOT | UPGRADING | TURN | QUEUED_MASK) == 0
        } else {
            // A turn in flight blocks only after `BARGE_LIMIT` newcomers
            // passed it; its waiter moves to the front if it finds the lock
            // taken (one lost race).
            state & (SLOT | UPGRADING) == 0 && state & BARGED_MASK != BARGE_LIMIT * BARGED_ONE
        };
        front_free && !kind.conflicts(state)
    }

    /// `state` with a newcomer of `kind` admitted (see [`admits`](Self::admits)).
    #[inline]
    fn admit(state: usize, kind: Kind) -> usize {
        let next = kind.grant(state);
        if state & TURN != 0 {
            next + BARGED_ONE
        } else {
            next
        }
    }

    /// Takes the lock as `kind` if a newcomer may. Never waits or queues.
    #[inline]
    pub(crate) fn try_acquire(&self, kind: Kind) -> bool {
        let first = match kind {
            Kind::Read => READER_ONE,
            Kind::Write => WRITER,
            Kind::Upgradable => UPGRADABLE,
        };
        // Acquire: the lock, and the last holder's writes with it.
        match self.state.compare_exchange(0, first, Acquire, Relaxed) {
            Ok(_) => true,
            Err(state) => self.try_acquire_slow(kind, state),
        }
    }

    /// `try_acquire` when the word was not 0: other readers, or waiters.
    #[inline(never)]
    fn try_acquire_slow(&self, kind: Kind, mut state: usize) -> bool {
        loop {
            check(state);
            if !self.admits(state, kind) {
                return false;
            }
            // Acquire: the lock, and the last holder's writes with it.
            match self.state.compare_exchange_weak(
                state,
                Self::admit(state, kind),
                Acquire,
                Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Releases one access of `kind`.
    ///
    /// # Safety
    ///
    /// The caller holds an access of `kind` (acquired and not released
    /// since), and gives it up here.
    #[inline]
    pub(crate) unsafe fn release(&self, kind: Kind) {
        let only = match kind {
            Kind::Read => READER_ONE,
            Kind::Write => WRITER,
            Kind::Upgradable => UPGRADABLE,
        };
        // Release: our critical section, to whoever takes the lock next.
        if self
            .state
            .compare_exchange(only, 0, Release, Relaxed)
            .is_err()
        {
            self.release_slow(kind);
        }
    }

    /// Release with other holders or waiters.
    #[inline(never)]
    fn release_slow(&self, kind: Kind) {
        self.update(|state| match kind {
            Kind::Read => {
                debug_assert!(state & READER_MASK != 0, "released a read nobody holds");
                state - READER_ONE
            }
            Kind::Write => {
                debug_assert!(state & WRITER != 0, "released a write nobody holds");
                state & !WRITER
            }
            Kind::Upgradable => {
                debug_assert!(
                    state & (UPGRADABLE | UPGRADING) == UPGRADABLE,
                    "released an upgradable read nobody holds, or during its upgrade"
                );
                state & !UPGRADABLE
            }
        });
    }

    /// Turns a write into a read.
    ///
    /// # Safety
    ///
    /// The caller holds the write access and gives it up for a read.
    pub(crate) unsafe fn downgrade_write(&self) {
        self.update(|state| {
            debug_assert!(state & WRITER != 0, "downgraded a write nobody holds");
            Kind::Read.grant(state & !WRITER)
        });
    }

    /// Turns a write into an upgradable read.
    ///
    /// # Safety
    ///
    /// The caller holds the write access and gives it up for an upgradable
    /// read.
    pub(crate) unsafe fn downgrade_write_to_upgradable(&self) {
        self.update(|state| {
            debug_assert!(state & WRITER != 0, "downgraded a write nobody holds");
            (state & !WRITER) | UPGRADABLE
        });
    }

    /// Turns the upgradable read into a plain read.
    ///
    /// # Safety
    ///
    /// The caller holds the upgradable read (not upgrading) and gives it up
    /// for a plain read.
    pub(crate) unsafe fn downgrade_upgradable(&self) {
        self.update(|state| {
            debug_assert!(state & (UPGRADABLE | UPGRADING) == UPGRADABLE);
            Kind::Read.grant(state & !UPGRADABLE)
        });
    }

    /// Applies `change` to the state word and does what the new state asks
    /// for: hands the lock to the upgrading reader or to the slot's waiter
    /// once the holders they wait for are gone, or sends a turn down the
    /// line when the front becomes free (I1).
    ///
    /// `change` sees the current state and returns the next one, or `None`
    /// to leave the word alone. Returns the state it changed, or the one it
    /// left alone as `Err`.
    fn transition(&self, change: impl Fn(usize) -> Option<usize>) -> Result<usize, usize> {
        let (state, handed) = self.swap(change)?;
        if !matches!(handed, Handed::Nobody) {
            self.hand_over(state, handed);
        }
        Ok(state)
    }

    /// [`transition`](Self::transition) with a change that always applies.
    fn update(&self, change: impl Fn(usize) -> usize) {
        let changed = self.transition(|state| Some(change(state)));
        debug_assert!(changed.is_ok());
    }

    /// The compare-and-swap of [`transition`](Self::transition): returns
    /// the state it changed and what it handed over, which the caller
    /// passes to [`hand_over`](Self::hand_over).
    fn swap(&self, change: impl Fn(usize) -> Option<usize>) -> Result<(usize, Handed), usize> {
        // Acquire: a caller whose `change` leaves the word alone may rely on
        // what it saw (an upgrader seeing it was handed the write access).
        let mut state = self.state.load(Acquire);
        loop {
            check(state);
            let Some(mut next) = change(state) else {
                return Err(state);
            };
            let handed = if next & UPGRADING != 0 && next & READER_MASK == 0 {
                // The last reader is gone: the upgradable reader writes.
                next = (next & !(UPGRADING | UPGRADABLE)) | WRITER;
                Handed::Upgrader
            } else if next & (SLOT | HANDED) == SLOT && !Kind::in_slot(next).conflicts(next) {
                // `HANDED` in the same compare-and-swap as the grant: a
                // second releaser sees it and grants nothing.
                next = Kind::in_slot(next).grant(next) | HANDED;
                Handed::Slot
            } else {
                let (with, turn) = with_turn(next);
                next = with;
                if turn { Handed::Turn } else { Handed::Nobody }
            };
            check(next);
            // AcqRel: Release gives our critical section to whoever the new
            // state admits; Acquire reads the waker a slot waiter published
            // with `READY`, when we grant it the lock. Acquire on failure:
            // as for the load above.
            match self
                .state
                .compare_exchange_weak(state, next, AcqRel, Acquire)
            {
                Ok(_) => return Ok((state, handed)),
                Err(actual) => state = actual,
            }
        }
    }

    /// Acts on what [`swap`](Self::swap) handed over from `state`: wakes
    /// the upgrader or the slot's waiter, or passes the turn.
    #[inline(never)]
    fn hand_over(&self, state: usize, handed: Handed) {
        match handed {
            Handed::Upgrader => {
                self.wake.notify(1);
            }
            Handed::Slot => {
                if state & READY == 0 {
                    // The waiter is writing its waker: it sees `HANDED` when
                    // it publishes, and needs no wake-up.
                    return;
                }
                // SAFETY: the grant set `HANDED` while `READY` was set: the
                // cell is ours until we clear `READY`.
                let waker = unsafe { self.slot.take() };
                // Release: the emptied cell, back to the waiter.
                self.state.fetch_and(!READY, Release);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            Handed::Turn => self.pass_turn(),
            Handed::Nobody => {}
        }
    }

    /// Whether the slot's waiter was granted its access and has not claimed
    /// it (a snapshot, for the debug check).
    fn slot_handed(&self) -> bool {
        // Relaxed: a snapshot for a heuristic.
        self.state.load(Relaxed) & HANDED != 0
    }

    /// Sends the turn, which the caller holds (`TURN` is set on its
    /// behalf), to the oldest waiter in the line, or takes `TURN` back if
    /// the line is empty.
    fn pass_turn(&self) {
        // Relaxed: the turn is only a right to look at the word again; the
        // notified waiter's compare-and-swap orders the lock.
        let mut state = self.state.load(Relaxed);
        loop {
            debug_assert!(state & TURN != 0, "passed a turn that is not out");
            debug_assert!(
                state & SLOT == 0,
                "a turn out while a waiter is at the front"
            );
            if state & QUEUED_MASK != 0 {
                // Every queued waiter listens, so the notification finds one
                // unless a waiter left since our load: then look again.
                if self.check.hand_off(&self.queue) {
                    return;
                }
                // Relaxed: as above.
                state = self.state.load(Relaxed);
                continue;
            }
            // Relaxed: nobody receives anything from a turn taken back.
            match self.state.compare_exchange_weak(
                state,
                state & !(TURN | BARGED_MASK),
                Relaxed,
                Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }
}

/// What a transition handed over, to act on after its compare-and-swap.
enum Handed {
    /// The lock, to the upgrading reader.
    Upgrader,
    /// Its access, to the slot's waiter.
    Slot,
    /// The turn, to the line.
    Turn,
    /// Nothing.
    Nobody,
}

/// `next` with the turn taken if one is due by I1: somebody is queued, no
/// turn is out and the front is free. The caller passes the turn after its
/// compare-and-swap succeeded.
#[inline]
fn with_turn(next: usize) -> (usize, bool) {
    if next & QUEUED_MASK != 0 && next & (TURN | FRONT) == 0 {
        (next | TURN, true)
    } else {
        (next, false)
    }
}

/// Debug-checks the invariants of the state word: each row holds, or the
/// panic says which one broke.
#[inline]
fn check(state: usize) {
    if !cfg!(debug_assertions) {
        return;
    }
    let invariants = [
        (
            state & QUEUED_MASK == 0 || state & (TURN | FRONT) != 0,
            "waiters queued with no turn out and a free front (I1)",
        ),
        (
            state & (READY | HANDED | SLOT_WRITE | SLOT_UPGRADABLE) == 0 || state & SLOT != 0,
            "a slot flag without a slot waiter",
        ),
        (
            state & SLOT_WRITE == 0 || state & SLOT_UPGRADABLE == 0,
            "a slot waiter of two kinds",
        ),
        (
            state & UPGRADING == 0 || state & UPGRADABLE != 0,
            "upgrading without the upgradable read",
        ),
        (
            state & WRITER == 0 || state & (READER_MASK | UPGRADABLE) == 0,
            "a writer beside other holders",
        ),
        (
            state & TURN == 0 || state & SLOT == 0,
            "a turn out while a waiter is at the front",
        ),
        (
            state & BARGED_MASK == 0 || state & TURN != 0,
            "newcomers counted as passing a turn that is not out",
        ),
        (
            // Always true where the limit fills the count's bits (64-bit
            // targets outside loom); the division keeps clippy's mask
            // check from rejecting it there.
            (state & BARGED_MASK) / BARGED_ONE <= BARGE_LIMIT,
            "more newcomers passed a turn than the limit",
        ),
    ];
    for (holds, broken) in invariants {
        debug_assert!(holds, "{broken}: {state:#x}");
    }
}

/// A snapshot of a [`RawRwLock`]'s state word.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    /// Readers holding the lock (not counting the upgradable reader).
    pub(crate) fn readers(self) -> usize {
        self.0 / READER_ONE
    }

    /// `true` if a writer holds the lock.
    pub(crate) fn writer(self) -> bool {
        self.0 & WRITER != 0
    }

    /// `true` if the upgradable reader holds the lock.
    pub(crate) fn upgradable(self) -> bool {
        self.0 & UPGRADABLE != 0
    }

    /// Waiters: queued, at the front, or upgrading.
    pub(crate) fn waiters(self) -> usize {
        let front = usize::from(self.0 & (SLOT | HANDED) == SLOT);
        (self.0 & QUEUED_MASK) / QUEUED_ONE + front + usize::from(self.0 & UPGRADING != 0)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0;
        let mut out = f.debug_struct("RawRwLock");
        out.field("readers", &self.readers())
            .field("writer", &self.writer())
            .field("upgradable", &self.upgradable())
            .field("upgrading", &(state & UPGRADING != 0))
            .field("queued", &((state & QUEUED_MASK) / QUEUED_ONE))
            .field("turn", &(state & TURN != 0))
            .field("barged", &((state & BARGED_MASK) / BARGED_ONE));
        if state & SLOT != 0 {
            out.field("front", &Kind::in_slot(state))
                .field("front_ready", &(state & READY != 0))
                .field("front_handed", &(state & HANDED != 0));
        } else {
            out.field("front", &format_args!("None"));
        }
        out.finish()
    }
}

impl fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)?;
        if self.fifo {
            f.write_str(" (fifo)")?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use core::panic::AssertUnwindSafe;
    use std::panic::catch_unwind;

    use super::*;

    /// The limits of the crate docs ("Limits"): 2^26 - 1 readers and
    /// 2^25 - 1 queued waiters on 64-bit targets, 2 047 and 1 023 on 32-bit
    /// ones.
    const MAX_READERS: usize = if usize::BITS >= 64 {
        (1 << 26) - 1
    } else {
        2_047
    };
    const MAX_QUEUED: usize = if usize::BITS >= 64 {
        (1 << 25) - 1
    } else {
        1_023
    };

    #[test]
    fn the_counts_hold_the_documented_limits() {
        assert_eq!(READER_MASK / READER_ONE, MAX_READERS);
        assert_eq!(QUEUED_MASK / QUEUED_ONE, MAX_QUEUED);
    }

    #[test]
    fn a_reader_past_the_limit_panics_and_changes_nothing() {
        // Filling the count through the public API takes 2^26 acquisitions
        // (about 20 s in a debug build; `tests/rwlock.rs` does it in release
        // builds): here the word starts one reader short of the limit.
        let raw = RawRwLock::new(crate::raw::Policy::Throughput);
        // Relaxed throughout: this thread is the lock's only user.
        raw.state.store((MAX_READERS - 1) * READER_ONE, Relaxed);
        assert!(
            raw.try_acquire(Kind::Read),
            "the last reader within the limit"
        );
        let full = MAX_READERS * READER_ONE;
        assert_eq!(raw.snapshot().readers(), MAX_READERS);
        let payload = catch_unwind(AssertUnwindSafe(|| raw.try_acquire(Kind::Read)))
            .expect_err("a reader past the limit did not panic");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"too many readers on one lock")
        );
        assert_eq!(raw.state.load(Relaxed), full, "the panic changed the word");
        assert!(!raw.try_acquire(Kind::Write), "a writer passed the readers");
        // SAFETY: one of the readers counted above, released once.
        unsafe { raw.release(Kind::Read) };
        assert!(
            raw.try_acquire(Kind::Read),
            "a reader within the limit again"
        );
        assert_eq!(raw.state.load(Relaxed), full);
        raw.state.store(0, Relaxed);
    }
}
