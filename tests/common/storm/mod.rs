//! One storm harness for every lock primitive: seeded, bounded, model-based
//! stress with async tasks on a multi-threaded executor and plain blocking
//! threads on one primitive at the same time.
//!
//! A primitive takes part through [`Subject`]: it says which access
//! [`Mode`]s it has (exclusive; shared for a reader-writer lock) and makes
//! one acquisition in any [`Style`] it offers (`lock().await`, owned,
//! `try_lock`, a deadline, a timeout, `with_lock`, several keys, blocking),
//! handing back a [`Held`] that reaches the [`Checked`] values the
//! acquisition covers. A storm's [`Mix`] says which styles the actors use,
//! how lock futures are cancelled ([`Cancel`]: at the instant of wake-up,
//! raced against yields, polled once and dropped, two futures raced in one
//! task), how long sections last and whether holders panic on purpose.
//!
//! The model: every section counts itself in [`Counts`] as it begins, and
//! the checked values count the sections that reach them, in plain
//! (non-atomic) fields that also notice a writer beside anyone else: two
//! holders are an assertion failure natively and a data race under Miri
//! and ThreadSanitizer. At the end [`Subject::settle`] compares the values
//! with the model and checks that the primitive is free, empty and works.
//!
//! Covering a new primitive is an implementation of [`Subject`] (see
//! `lock.rs` and `keyed.rs` beside this file) and a test that picks sizes
//! and a mix:
//!
//! ```ignore
//! let report = Storm::new("exclusion_new")
//!     .tasks(32, 300)
//!     .threads(2, 2_000)
//!     .run(|storm| storm.rage(LockSubject::new(Lock::new(Checked::new())), &MIX));
//! assert_eq!(report.sections, 32 * 300 + 2 * 2_000);
//! ```
//!
//! Every failure names the seed. Environment variables:
//!
//! * `TURNLOCK_STORM_SEED=<u64>`: replay a seed. The seed fixes the random
//!   stream of every task and thread; which choices they make from it still
//!   depends on how threads interleave, so a replay repeats a failure often,
//!   not always.
//! * `TURNLOCK_STORM_OPS=<n>`: operations per task and per thread, instead
//!   of the storm's own sizes (under Miri, forward it with
//!   `MIRIFLAGS=-Zmiri-env-forward=TURNLOCK_STORM_OPS`, and the seed
//!   likewise).
//! * `TURNLOCK_STORM_WATCHDOG=<seconds>`: how long a storm may run before it
//!   counts as hung (default 60; 120 without debug assertions, where storms
//!   run more operations; one hour under Miri).
//!
//! Sizes are given for a debug build (tests scale them down under Miri, as
//! [`Storm::new`] does). A build without debug assertions (what users ship)
//! runs [`RELEASE_SCALE`] times as many operations, so that its storms last
//! about as long as the debug ones.
//!
//! Planned panics are not printed; any other panic is, and fails the storm.
//! Actors respect the crate's rule for set-aside lock futures: a polled
//! lock future is always polled again or dropped.

pub mod keyed;
pub mod keyed_rw;
pub mod lock;
pub mod rwlock;

use core::future::Future;
use core::ops::Range;
use core::ops::{Deref, DerefMut};
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{Relaxed, SeqCst};
use core::task::{Context, Poll};
use core::time::Duration;
use std::any::Any;
use std::panic::{self, catch_unwind, resume_unwind};
use std::sync::{Arc, Once};
use std::thread;

use futures_lite::FutureExt;
use futures_lite::future::{block_on, or, yield_now};

use super::{Checked, Rng, poll_noop, with_executor, with_watchdog};

/// How many more operations a build without debug assertions runs.
pub const RELEASE_SCALE: usize = 25;

// ---------------------------------------------------------------------------
// Sizes, seed, watchdog.

/// Sizes and seed of one storm.
#[derive(Clone, Copy, Debug)]
pub struct Storm {
    pub name: &'static str,
    pub seed: u64,
    /// Async tasks on the executor, and operations per task.
    pub tasks: usize,
    pub task_ops: usize,
    /// Plain threads that block, and operations per thread.
    pub threads: usize,
    pub thread_ops: usize,
    /// Threads of the executor; 0 runs every task on the calling thread.
    pub workers: usize,
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

impl Storm {
    /// A storm named after its test, seeded from `TURNLOCK_STORM_SEED` or at
    /// random: 12 tasks on 2 executor threads and 2 blocking threads, 2 000
    /// operations each; under Miri 3 tasks and 1 thread, 20 operations each.
    pub fn new(name: &'static str) -> Self {
        let seed = env_u64("TURNLOCK_STORM_SEED").unwrap_or_else(|| {
            use core::hash::BuildHasher;
            std::hash::RandomState::new().hash_one(name)
        });
        let miri = cfg!(miri);
        let ops = if miri { 20 } else { 2_000 };
        Self {
            name,
            seed,
            tasks: 0,
            task_ops: 0,
            threads: 0,
            thread_ops: 0,
            workers: 2,
        }
        .tasks(if miri { 3 } else { 12 }, ops)
        .threads(if miri { 1 } else { 2 }, ops)
    }

    /// `n` async tasks of `ops` operations each (sizes of a debug build;
    /// see the module docs).
    pub fn tasks(mut self, n: usize, ops: usize) -> Self {
        self.tasks = n;
        self.task_ops = scale(ops);
        self
    }

    /// `n` blocking threads of `ops` operations each (sizes of a debug
    /// build).
    pub fn threads(mut self, n: usize, ops: usize) -> Self {
        self.threads = n;
        self.thread_ops = scale(ops);
        self
    }

    /// `n` executor threads for the tasks; 0: the tasks share the calling
    /// thread.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The random choices of actor `actor` (a task or a thread).
    pub fn rng(&self, actor: usize) -> Rng {
        Rng::new(self.seed ^ (actor as u64).wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// Runs `body` under a watchdog and returns what it returns; any
    /// failure, a hang included, names the seed and how to replay it.
    pub fn run<R: Send + 'static>(self, body: impl FnOnce(Storm) -> R + Send + 'static) -> R {
        quiet_planned_panics();
        let secs = env_u64("TURNLOCK_STORM_WATCHDOG").unwrap_or(if cfg!(miri) {
            3_600
        } else if cfg!(debug_assertions) {
            60
        } else {
            120
        });
        eprintln!("storm {}: seed {} ({self:?})", self.name, self.seed);
        match catch_unwind(AssertUnwindSafe(|| with_watchdog(secs, move || body(self)))) {
            Ok(out) => out,
            Err(payload) => panic!(
                "storm {} failed with seed {} (replay: TURNLOCK_STORM_SEED={} cargo test {}): {}",
                self.name,
                self.seed,
                self.seed,
                self.name,
                text(&*payload)
            ),
        }
    }

    /// Lets the actors loose on `subject` with `mix`, then settles it:
    /// checks that it is free, empty and works and that its values agree
    /// with the model. Returns what happened.
    pub fn rage<S: Subject>(self, subject: S, mix: &'static Mix) -> Report {
        let subject = Arc::new(subject);
        let threads: Vec<_> = (0..self.threads)
            .map(|t| {
                let subject = subject.clone();
                let storm = self;
                thread::Builder::new()
                    .name(format!("storm-thread-{t}"))
                    .spawn(move || {
                        let mut rng = storm.rng(storm.tasks + t);
                        for _ in 0..storm.thread_ops {
                            let op = || thread_op(&*subject, mix, &mut rng);
                            op_blocking(subject.counts(), op);
                        }
                    })
                    .expect("spawn a storm thread")
            })
            .collect();
        let task = |t: usize| {
            let subject = subject.clone();
            let storm = self;
            async move {
                let mut rng = storm.rng(t);
                for _ in 0..storm.task_ops {
                    let op = task_op(&*subject, mix, &mut rng);
                    op_async(subject.counts(), op).await;
                }
            }
        };
        if self.workers == 0 {
            let executor = smol::LocalExecutor::new();
            let tasks: Vec<_> = (0..self.tasks).map(|t| executor.spawn(task(t))).collect();
            block_on(executor.run(async {
                for task in tasks {
                    task.await;
                }
            }));
        } else {
            with_executor(self.workers, |executor| {
                let tasks: Vec<_> = (0..self.tasks).map(|t| executor.spawn(task(t))).collect();
                async move {
                    for task in tasks {
                        task.await;
                    }
                }
            });
        }
        super::join_all(threads);
        let report = subject.counts().report();
        subject.settle(&report);
        eprintln!("storm {}: {report:?}", self.name);
        report
    }
}

/// `ops` for this build: see the module docs.
fn scale(ops: usize) -> usize {
    if let Some(ops) = env_u64("TURNLOCK_STORM_OPS") {
        ops as usize
    } else if cfg!(debug_assertions) || ops == 0 {
        ops
    } else {
        ops * RELEASE_SCALE
    }
}

// ---------------------------------------------------------------------------
// Planned panics.

/// Planned panics start with this.
pub const PLANNED: &str = "planned";

/// The text of a panic payload.
pub fn text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<a non-text panic>".to_owned()
    }
}

fn is_planned(payload: &(dyn Any + Send)) -> bool {
    text(payload).starts_with(PLANNED)
}

/// Keeps planned panics off stderr; every other panic is printed as usual.
fn quiet_planned_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !is_planned(info.payload()) {
                default(info);
            }
        }));
    });
}

/// Runs one operation of an async task: a planned panic is counted and
/// swallowed, any other panic goes on and fails the storm.
async fn op_async(counts: &Counts, op: impl Future<Output = ()>) {
    if let Err(payload) = AssertUnwindSafe(op).catch_unwind().await {
        if !is_planned(&*payload) {
            resume_unwind(payload);
        }
        Counts::bump(&counts.caught);
    }
}

/// [`op_async`] for a blocking thread.
fn op_blocking(counts: &Counts, op: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(op)) {
        if !is_planned(&*payload) {
            resume_unwind(payload);
        }
        Counts::bump(&counts.caught);
    }
}

// ---------------------------------------------------------------------------
// The model.

/// What happened in a storm, counted by the actors as it happens.
#[derive(Default, Debug)]
pub struct Counts {
    /// Exclusive sections begun (acquisitions that got exclusive access).
    pub sections: AtomicU64,
    /// Shared sections begun.
    pub shared_sections: AtomicU64,
    /// Acquisitions that gave up: `try_lock` failures, timeouts, deadlines.
    pub gave_up: AtomicU64,
    /// Lock futures (or whole operations) dropped before they completed.
    pub cancelled: AtomicU64,
    /// Planned panics while holding a lock.
    pub panics_holding: AtomicU64,
    /// Planned panics in keys: `Drop`, `Hash`, `Eq`.
    pub panics_drop: AtomicU64,
    pub panics_hash: AtomicU64,
    pub panics_eq: AtomicU64,
    /// Planned panics caught (all kinds).
    pub caught: AtomicU64,
}

/// A snapshot of [`Counts`] after a storm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub sections: u64,
    pub shared_sections: u64,
    pub gave_up: u64,
    pub cancelled: u64,
    pub panics_holding: u64,
    pub panics_drop: u64,
    pub panics_hash: u64,
    pub panics_eq: u64,
    pub caught: u64,
}

impl Counts {
    pub const fn new() -> Self {
        Self {
            sections: AtomicU64::new(0),
            shared_sections: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            panics_holding: AtomicU64::new(0),
            panics_drop: AtomicU64::new(0),
            panics_hash: AtomicU64::new(0),
            panics_eq: AtomicU64::new(0),
            caught: AtomicU64::new(0),
        }
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn report(&self) -> Report {
        let get = |counter: &AtomicU64| counter.load(SeqCst);
        Report {
            sections: get(&self.sections),
            shared_sections: get(&self.shared_sections),
            gave_up: get(&self.gave_up),
            cancelled: get(&self.cancelled),
            panics_holding: get(&self.panics_holding),
            panics_drop: get(&self.panics_drop),
            panics_hash: get(&self.panics_hash),
            panics_eq: get(&self.panics_eq),
            caught: get(&self.caught),
        }
    }
}

// ---------------------------------------------------------------------------
// What a primitive offers, and what a storm asks of it.

/// An access mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One holder at a time (a lock, a writer).
    Exclusive,
    /// Beside other shared holders, never beside an exclusive one (readers).
    Shared,
}

/// How an acquisition is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `lock().await` (`read()` / `write()`).
    Await,
    /// Through an `Arc`, for a `'static` guard: `lock_owned().await`.
    Owned,
    /// `try_lock()`: gives up if it cannot take it now.
    Try,
    /// `try_lock_owned()`.
    TryOwned,
    /// `lock_until(deadline)`: gives up when the deadline completes.
    Until(Deadline),
    /// `lock_timeout(short)` (an `async-io` timer; never under Miri, which
    /// has no timers that fire in time).
    Timeout,
    /// `with_lock(body)`: the section runs inside; the subject calls
    /// [`Plan::hold`] there.
    WithLock,
    /// Several at once (`lock_many`), for a primitive with keys.
    Many,
    /// An upgradable read (`upgradable_read().await`), for a reader-writer
    /// lock: held as it is in [`Mode::Shared`], upgraded to the write
    /// (`upgrade().await` or its siblings) in [`Mode::Exclusive`].
    Upgradable,
    /// `lock_blocking()` (a blocking thread only).
    Blocking,
    /// `lock_blocking_timeout(short)` (a blocking thread only).
    BlockingTimeout,
}

impl Style {
    /// Blocking styles go to [`Subject::acquire_blocking`]; a thread runs
    /// every other style with `block_on`.
    pub fn is_blocking(self) -> bool {
        matches!(self, Style::Blocking | Style::BlockingTimeout)
    }
}

/// A deadline for [`Style::Until`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Never completes.
    Never,
    /// Completes after fewer than `n` polls, waking its task each time (a
    /// yield): the lock future beside it is polled again and again
    /// meanwhile.
    AfterPolls(u64),
}

/// How an async task treats a lock future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// Awaits it.
    No,
    /// Polls it at most 1 to 3 times; polled once more, which happens when
    /// its waker fires (a release, a hand-off), it drops the lock future
    /// instead: the cancellation lands on the instant of release.
    OnWake,
    /// Races the whole operation (acquisition and section) against 0 to 3
    /// yields, the operation polled first: it is dropped before it is
    /// served, while waiting, after being woken or handed the lock, or
    /// inside the section (which still ends).
    Race,
    /// [`Cancel::Race`] with the yields polled first.
    RaceYieldsFirst,
    /// Polls the lock future once by hand and drops it (holding the lock
    /// for a section if that one poll got it).
    PollOnce,
    /// Two acquisitions in one task, both polled; whichever wins is held,
    /// the other is dropped.
    Two,
}

/// One way of acquiring: a style, and what the task does to the future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Way(pub Style, pub Cancel);

/// What the actors of a storm do.
#[derive(Debug)]
pub struct Mix {
    /// Ways of the async tasks, drawn with equal odds.
    pub tasks: &'static [Way],
    /// Styles of the blocking threads (non-blocking ones run under
    /// `block_on`), drawn with equal odds.
    pub threads: &'static [Style],
    /// How many times a task's section yields (drawn from the range).
    pub yields: Range<u64>,
    /// A thread's section yields its thread once in this many (0: never).
    pub thread_yield_one_in: u64,
    /// A holder panics on purpose once in this many sections (0: never).
    pub panic_one_in: u64,
    /// An acquisition that gives up is tried again (after a yield) until
    /// it succeeds, so that every operation makes one section.
    pub retry: bool,
}

/// What one section does.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Yields while holding (a thread yields its thread once if non-zero).
    pub yields: u64,
    /// Panics on purpose while holding.
    pub panic: bool,
}

/// One acquisition as a storm asks for it.
pub struct How {
    pub style: Style,
    pub mode: Mode,
    /// The section, for a style that runs it inside ([`Style::WithLock`]).
    pub plan: Plan,
    /// For [`Style::Timeout`] and [`Style::BlockingTimeout`].
    pub timeout: Duration,
    /// For [`Style::Until`]: the number its deadline counts.
    deadline_count: u64,
}

impl How {
    /// The deadline of a [`Style::Until`] acquisition.
    pub fn deadline(&self) -> DeadlineFuture {
        match self.style {
            Style::Until(Deadline::Never) => DeadlineFuture::Never,
            Style::Until(Deadline::AfterPolls(_)) => {
                DeadlineFuture::AfterPolls(self.deadline_count)
            }
            style => panic!("{style:?} has no deadline"),
        }
    }
}

/// A lock future made by a [`Subject`]: the held acquisition, or `None`
/// if it gave up.
pub type Acquiring<'a> = Pin<Box<dyn Future<Output = Option<Held<'a>>> + Send + 'a>>;

/// A primitive under test.
pub trait Subject: Send + Sync + 'static {
    /// Its access modes: `[Exclusive]` for a lock, both for a reader-writer
    /// lock. A storm draws one for every acquisition.
    const MODES: &'static [Mode] = &[Mode::Exclusive];

    /// Where this storm counts (the subject owns them; keys that panic on
    /// purpose may share them).
    fn counts(&self) -> &Counts;

    /// Starts one acquisition in `how.style` (not a blocking one) and
    /// `how.mode`, drawing whatever else it needs (a key) from `rng`.
    /// Panics for a style the primitive does not have.
    fn acquire<'a>(&'a self, how: &How, rng: &mut Rng) -> Acquiring<'a>;

    /// One acquisition in a blocking style, on a plain thread.
    fn acquire_blocking<'a>(&'a self, how: &How, rng: &mut Rng) -> Option<Held<'a>>;

    /// After the storm: checks that the primitive is free, empty and works,
    /// and that its values counted the sections that `report` counted.
    fn settle(&self, report: &Report);
}

// ---------------------------------------------------------------------------
// Held acquisitions and their sections.

/// The checked values an acquisition reaches, entered and left by its
/// section.
pub trait Hold: Send {
    /// How it holds them.
    fn mode(&self) -> Mode;
    /// The section begins: asserts that nobody conflicting is inside.
    fn enter(&mut self);
    /// The section ends (also while unwinding).
    fn leave(&mut self);
}

/// A held acquisition: what its section enters, and the guard released
/// (dropped) after the section has left.
pub struct Held<'a>(Option<Box<dyn Hold + 'a>>);

impl<'a> Held<'a> {
    /// Exclusive access to one value through `guard`.
    pub fn exclusive<G: DerefMut<Target = Checked> + Send + 'a>(guard: G) -> Self {
        Self::new(ExclusiveGuard(guard))
    }

    /// Shared access to one value through `guard`.
    pub fn shared<G: Deref<Target = Checked> + Send + 'a>(guard: G) -> Self {
        Self::new(SharedGuard(guard))
    }

    /// Any other holding (several values, values outside the primitive).
    pub fn new(hold: impl Hold + 'a) -> Self {
        Self(Some(Box::new(hold)))
    }

    /// The section already ran inside the acquisition ([`Style::WithLock`]).
    pub fn ran() -> Self {
        Self(None)
    }
}

struct ExclusiveGuard<G>(G);

impl<G: DerefMut<Target = Checked> + Send> Hold for ExclusiveGuard<G> {
    fn mode(&self) -> Mode {
        Mode::Exclusive
    }

    fn enter(&mut self) {
        self.0.enter();
    }

    fn leave(&mut self) {
        self.0.leave();
    }
}

struct SharedGuard<G>(G);

impl<G: Deref<Target = Checked> + Send> Hold for SharedGuard<G> {
    fn mode(&self) -> Mode {
        Mode::Shared
    }

    fn enter(&mut self) {
        self.0.enter_shared();
    }

    fn leave(&mut self) {
        self.0.leave_shared();
    }
}

/// A section in progress: counted in the model and entered when it begins,
/// left when dropped (also while unwinding), and only then is the guard
/// released.
struct Inside<'a>(Box<dyn Hold + 'a>);

impl<'a> Inside<'a> {
    fn begin(mut hold: Box<dyn Hold + 'a>, counts: &Counts) -> Self {
        Counts::bump(match hold.mode() {
            Mode::Exclusive => &counts.sections,
            Mode::Shared => &counts.shared_sections,
        });
        hold.enter();
        Self(hold)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Plan {
    fn draw(mix: &Mix, rng: &mut Rng) -> Self {
        Self {
            yields: mix.yields.start + rng.below((mix.yields.end - mix.yields.start).max(1)),
            panic: mix.panic_one_in != 0 && rng.one_in(mix.panic_one_in),
        }
    }

    /// The section of an async task over `held`: counts, enters, yields,
    /// maybe panics on purpose, leaves.
    pub async fn hold(self, held: Held<'_>, counts: &Counts) {
        let Some(hold) = held.0 else { return };
        let inside = Inside::begin(hold, counts);
        for _ in 0..self.yields {
            yield_now().await;
        }
        if self.panic {
            Counts::bump(&counts.panics_holding);
            panic!("{PLANNED}: panic while holding");
        }
        drop(inside);
    }

    /// The section of a blocking thread over `held`.
    pub fn hold_blocking(self, held: Held<'_>, counts: &Counts) {
        let Some(hold) = held.0 else { return };
        let inside = Inside::begin(hold, counts);
        if self.yields > 0 {
            thread::yield_now();
        }
        if self.panic {
            Counts::bump(&counts.panics_holding);
            panic!("{PLANNED}: panic while holding");
        }
        drop(inside);
    }
}

// ---------------------------------------------------------------------------
// The actors.

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// A short timeout: often enough 0, sometimes long enough to be served.
fn short(rng: &mut Rng) -> Duration {
    match rng.below(4) {
        0 => Duration::ZERO,
        1 => Duration::from_micros(rng.below(50)),
        _ => Duration::from_micros(100 + rng.below(900)),
    }
}

fn draw_how<S: Subject>(style: Style, plan: Plan, rng: &mut Rng) -> How {
    let deadline_count = match style {
        Style::Until(Deadline::AfterPolls(n)) => rng.below(n.max(1)),
        _ => 0,
    };
    How {
        style,
        mode: pick(rng, S::MODES),
        plan,
        timeout: short(rng),
        deadline_count,
    }
}

/// Drops the race of [`Cancel::Two`] in a statement of its own: the
/// loser's drop may panic (a key that panics on purpose), and a value just
/// produced by an expression whose temporaries then panic in their drop is
/// leaked by rustc (rust-lang/rust#47949), guard included. A bound local is
/// dropped while unwinding, as it should be.
async fn two<'a>(first: Acquiring<'a>, second: Acquiring<'a>) -> Option<Held<'a>> {
    let mut race = Box::pin(or(first, second));
    let got = race.as_mut().await;
    drop(race);
    got
}

/// What became of one acquisition.
enum Outcome<'a> {
    Got(Held<'a>),
    GaveUp,
    Cancelled,
    /// The whole operation ran (section included) or was cancelled.
    Done,
}

/// One operation of an async task.
async fn task_op<S: Subject>(subject: &S, mix: &Mix, rng: &mut Rng) {
    let counts = subject.counts();
    let Way(style, cancel) = pick(rng, mix.tasks);
    loop {
        let plan = Plan::draw(mix, rng);
        let how = draw_how::<S>(style, plan, rng);
        let outcome = match cancel {
            Cancel::No => subject
                .acquire(&how, rng)
                .await
                .map_or(Outcome::GaveUp, Outcome::Got),
            Cancel::OnWake => {
                let polls = rng.below(3) as u32 + 1;
                match (CancelOnWake::new(subject.acquire(&how, rng), polls)).await {
                    Some(Some(held)) => Outcome::Got(held),
                    Some(None) => Outcome::GaveUp,
                    None => Outcome::Cancelled,
                }
            }
            Cancel::Race | Cancel::RaceYieldsFirst => {
                let patience = rng.below(4);
                let operation = async {
                    match subject.acquire(&how, rng).await {
                        Some(held) => {
                            plan.hold(held, counts).await;
                            Some(true)
                        }
                        None => Some(false),
                    }
                };
                let done = if cancel == Cancel::Race {
                    or(operation, yields(patience)).await
                } else {
                    or(yields(patience), operation).await
                };
                match done {
                    Some(true) => Outcome::Done,
                    Some(false) => Outcome::GaveUp,
                    None => {
                        Counts::bump(&counts.cancelled);
                        Outcome::Done
                    }
                }
            }
            Cancel::PollOnce => {
                let mut future = subject.acquire(&how, rng);
                match poll_noop(&mut future) {
                    Poll::Ready(Some(held)) => Outcome::Got(held),
                    Poll::Ready(None) => Outcome::GaveUp,
                    Poll::Pending => Outcome::Cancelled,
                }
            }
            Cancel::Two => {
                let first = subject.acquire(&how, rng);
                let second = subject.acquire(&how, rng);
                two(first, second)
                    .await
                    .map_or(Outcome::GaveUp, Outcome::Got)
            }
        };
        match outcome {
            Outcome::Got(held) => return plan.hold(held, counts).await,
            Outcome::Done => return,
            Outcome::Cancelled => return Counts::bump(&counts.cancelled),
            Outcome::GaveUp if mix.retry => yield_now().await,
            Outcome::GaveUp => return Counts::bump(&counts.gave_up),
        }
    }
}

/// One operation of a blocking thread.
fn thread_op<S: Subject>(subject: &S, mix: &Mix, rng: &mut Rng) {
    let counts = subject.counts();
    let style = pick(rng, mix.threads);
    loop {
        let plan = Plan {
            yields: u64::from(mix.thread_yield_one_in != 0 && rng.one_in(mix.thread_yield_one_in)),
            panic: mix.panic_one_in != 0 && rng.one_in(mix.panic_one_in),
        };
        let how = draw_how::<S>(style, plan, rng);
        let got = if style.is_blocking() {
            subject.acquire_blocking(&how, rng)
        } else {
            block_on(subject.acquire(&how, rng))
        };
        match got {
            Some(held) => return plan.hold_blocking(held, counts),
            None if mix.retry => thread::yield_now(),
            None => return Counts::bump(&counts.gave_up),
        }
    }
}

// ---------------------------------------------------------------------------
// Futures that cancel, race and set deadlines.

/// The future of [`How::deadline`].
pub enum DeadlineFuture {
    Never,
    AfterPolls(u64),
}

impl Future for DeadlineFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut *self {
            DeadlineFuture::Never => Poll::Pending,
            DeadlineFuture::AfterPolls(0) => Poll::Ready(()),
            DeadlineFuture::AfterPolls(n) => {
                *n -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// Polls a lock future at most `polls` times. When it is polled once more
/// after that, which happens when the lock future's waker fires (a release,
/// a hand-off), it drops the lock future instead of polling it: the
/// cancellation lands on the instant of release.
pub struct CancelOnWake<F> {
    inner: Option<F>,
    polls: u32,
}

impl<F> CancelOnWake<F> {
    pub fn new(inner: F, polls: u32) -> Self {
        Self {
            inner: Some(inner),
            polls,
        }
    }
}

impl<F: Future + Unpin> Future for CancelOnWake<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            panic!("CancelOnWake polled after completion");
        };
        if this.polls == 0 {
            this.inner = None; // may run user code: a key's `Drop`
            return Poll::Ready(None);
        }
        this.polls -= 1;
        let output = core::task::ready!(Pin::new(inner).poll(cx));
        this.inner = None;
        Poll::Ready(Some(output))
    }
}

/// Yields `n` times, then completes with `None`: a competitor for `or`.
pub async fn yields<T>(n: u64) -> Option<T> {
    for _ in 0..n {
        yield_now().await;
    }
    None
}
