//! The lock protocol: one atomic state word plus two `event-listener` queues.
//!
//! Every atomic operation and memory ordering of the crate lives in this file.
//! [`RawLock`] knows nothing about the protected value; `Lock<T>` adds the
//! data cell and the guards, so the protocol is compiled once, not per `T`.
//!
//! # The state word
//!
//! ```text
//!  usize::BITS-1          HINT_SHIFT  HINT_SHIFT-1      1   0
//! +----------------------+-----------+-----------------+---+
//! |  hint waiters        |           |  queued waiters | L |
//! +----------------------+-----------+-----------------+---+
//! ```
//!
//! * `L` ([`LOCKED`]): someone owns the lock. The owner is a guard, or a
//!   queued waiter that has been handed the lock and not yet observed it.
//! * queued waiters ([`QUEUED_ONE`]): waiters in the hand-off queue
//!   ([`RawLock::queue`]). Every waiter of a `new_fifo` lock is queued; a
//!   waiter of a `new` lock is queued once it has lost a race.
//!   A release never clears `L` while this count is non-zero: it hands the
//!   lock to the oldest queued listener instead.
//! * hint waiters ([`HINT_ONE`]): waiters of a `new` lock that sleep on the
//!   wake-up queue ([`RawLock::wake`]). A release clears `L` and wakes one
//!   more of them (even if an earlier one has not run yet), which then
//!   competes with newcomers for the lock.
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
//! | state (L, queued, hints) | meaning | left by |
//! |---|---|---|
//! | (0, 0, 0) | free, nobody waits | any acquire (fast path CAS) |
//! | (1, 0, 0) | held, nobody waits | release (fast path CAS), a waiter joining |
//! | (0, 0, h) | free, `h` hint waiters (`new` only) | a newcomer or a woken hint waiter takes it |
//! | (1, 0, h) | held, hint waiters | release: clear L, wake one hint waiter |
//! | (1, q, h) | held, `q` queued | release: keep L, hand off to the oldest queued listener |
//! | (0, q > 0, _) | **never**: `L` is clear only when nobody is queued | — |
//!
//! The invariant in the last row is what makes strict FIFO cheap: a newcomer
//! may take the lock whenever `L` is clear, because no queued waiter can be
//! passed over then. A `new_fifo` lock never has hint waiters, so for it
//! "`L` clear" means "the state word is 0".
//!
//! # Starvation without a clock
//!
//! A `new` lock lets newcomers take a free lock ahead of woken waiters
//! (barging), which keeps the lock busy while a woken task is still being
//! scheduled. A hint waiter that is woken and finds the lock taken again has
//! lost a race, which already shows that it is being overtaken, so it moves
//! to the hand-off queue, where no newcomer can overtake it and every release
//! hands the lock on in order. So a waiter of a `new` lock gets the lock
//! after at most one lost race plus the number of waiters queued ahead of it: a bound in
//! hand-offs, not in time, and it holds in `no_std` and under loom.
//!
//! The price is the rule for set-aside futures (crate docs, "Lock futures
//! that are set aside"): a queued waiter owns the lock from the moment it is
//! handed over, whether or not its future is polled, so a task that keeps a
//! queued future aside and awaits another one of the same lock waits for
//! itself. Letting other futures take a hand-off that is not claimed would
//! let a running task overtake a slow one without bound, which is what the
//! queue exists to prevent; the lock cannot tell a set-aside future from
//! one whose task has not run yet. Debug builds with `std` mirror the queue
//! (`check.rs`) and panic with an explanation when a task keeps polling
//! another future while its own hand-off waits.

use core::pin::Pin;
use core::task::{Context, Poll};
use core::{fmt, future::Future};

use event_listener::{Event, EventListener, IntoNotification, Listener};

use self::check::{Check, Ticket};
use crate::sync::AtomicUsize;
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

mod check;

/// Bit 0: the lock is owned.
const LOCKED: usize = 1;
/// Width of each waiter count: at most 2^31 - 1 waiters of each kind on
/// 64-bit targets, 32 767 on 32-bit targets.
const COUNT_BITS: u32 = (usize::BITS - 1) / 2;
/// One waiter in the hand-off queue.
const QUEUED_ONE: usize = 1 << 1;
/// All bits of the hand-off queue count.
const QUEUED_MASK: usize = ((1 << COUNT_BITS) - 1) * QUEUED_ONE;
/// One waiter in the wake-up queue.
const HINT_ONE: usize = 1 << (1 + COUNT_BITS);
/// All bits of the wake-up queue count.
const HINT_MASK: usize = !(QUEUED_MASK | LOCKED);

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
    /// Every change to `queue`'s list goes through here: in debug builds
    /// with `std` it mirrors the queue to name a task that waits for itself.
    check: Check,
}

impl RawLock {
    crate::loom_const_fn! {
        /// A free lock with the given policy.
        pub(crate) const fn new(fifo: bool) -> Self {
            Self {
                state: AtomicUsize::new(0),
                fifo,
                queue: Event::new(),
                wake: Event::new(),
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

    /// Release with waiters: hand off to a queued waiter, or free the lock
    /// and wake one hint waiter.
    #[cold]
    fn unlock_slow(&self) {
        let mut state = self.state.load(Acquire);
        loop {
            check(state, self.fifo);
            debug_assert!(state & LOCKED != 0, "released a lock nobody owns");
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
                    if state & HINT_MASK != 0 {
                        // Wake one more hint waiter on every such release,
                        // even if an earlier hint is still unconsumed: that
                        // waiter's task may not run for a while (its thread
                        // preempted, or busy), and with only one hint out, a
                        // running task could take the lock again and again
                        // while every other waiter sleeps. Each woken waiter
                        // that loses a race joins the hand-off queue, so the
                        // barging releaser is soon made to hand off.
                        self.wake.notify(1.additional().relaxed());
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
                        self.enqueue(waiter, 0, cx);
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
                        if self.take_counted(HINT_ONE) {
                            self.drop_hint_listener(waiter, true);
                            waiter.stage = Stage::Done;
                            return Poll::Ready(());
                        }
                        self.check.pending(&mut waiter.ticket, cx);
                        return Poll::Pending;
                    }
                    *waiter.listener = None;
                    if self.take_counted(HINT_ONE) {
                        waiter.stage = Stage::Done;
                        return Poll::Ready(());
                    }
                    // Lost the race to a newcomer: join the hand-off queue
                    // (see "Starvation without a clock").
                    self.enqueue(waiter, HINT_ONE, cx);
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
                Stage::Done => panic!("lock future polled after completion"),
            }
            if let Stage::Done = waiter.stage {
                return Poll::Ready(());
            }
        }
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
                (state + HINT_ONE, Release)
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

    /// Joins the hand-off queue (leaving the count `leaving`, 0 or
    /// `HINT_ONE`), or takes the lock if it is free.
    fn enqueue(&self, waiter: &mut Waiter, leaving: usize, cx: &Context<'_>) {
        let listener = self.check.listen(&self.queue, &mut waiter.ticket, cx);
        let mut state = self.state.load(Relaxed);
        loop {
            check(state, self.fifo);
            debug_assert!(state & HINT_MASK >= leaving, "hint count underflow");
            let next = if state & LOCKED == 0 {
                // Free, so nobody is queued: take it directly.
                (state | LOCKED) - leaving
            } else {
                assert!(
                    state & QUEUED_MASK != QUEUED_MASK,
                    "too many waiters on one lock"
                );
                state + QUEUED_ONE - leaving
            };
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

    /// Takes a free lock while leaving the count `one`.
    fn take_counted(&self, one: usize) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            check(state, self.fifo);
            if state & LOCKED != 0 {
                return false;
            }
            debug_assert!(state & HINT_MASK >= one, "hint count underflow");
            match self
                .state
                .compare_exchange_weak(state, (state | LOCKED) - one, Acquire, Relaxed)
            {
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
        if state & LOCKED == 0 && state & HINT_MASK != 0 {
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
                let prev = self.state.fetch_sub(HINT_ONE, AcqRel);
                debug_assert!(prev & HINT_MASK != 0, "hint count underflow");
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

/// Debug-checks the invariants of the state word.
#[inline]
fn check(state: usize, fifo: bool) {
    debug_assert!(
        state & QUEUED_MASK == 0 || state & LOCKED != 0,
        "queued waiters on a free lock: {state:#x}"
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
    /// Acquired or abandoned; counted nowhere.
    Done,
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
