//! Storms: seeded, bounded, model-based stress of `Lock` (both policies)
//! and `KeyedLocks` (both policies).
//!
//! Async tasks on a multi-threaded executor and plain blocking threads use
//! one lock (or one map) at the same time, in every acquisition style:
//! `lock`, `lock_owned`, `try_lock`, `try_lock_owned`, `lock_until` with a
//! deadline future, `lock_timeout`, `lock_blocking`, `lock_blocking_timeout`,
//! `with_lock`, and `lock_many` for keys. Lock futures are cancelled at
//! random points, among them the instant they are woken (a wrapper that,
//! once woken, drops the lock future instead of polling it), raced against
//! one another and against other futures. Holders panic on purpose, and
//! keyed storms use keys whose `Drop`, `Hash` or `Eq` panic on purpose.
//!
//! The model: every successful acquisition is counted, and the critical
//! section updates a plain, non-atomic counter (inside the lock's value, or
//! in an `UnsafeCell` per key) that also notices two holders at once; under
//! Miri and ThreadSanitizer two holders are a data race as well. At the end
//! the counters equal the model's, the lock is free (`try_lock` succeeds,
//! `is_locked()` is false) and a keyed map is empty (`len() == 0`).
//!
//! Every failure names the seed. Environment variables:
//!
//! * `TURNLOCK_STORM_SEED=<u64>`: replay a seed. The seed fixes the random
//!   stream of every task and thread; which choices they make from it still
//!   depends on how threads interleave, so a replay repeats a failure often,
//!   not always.
//! * `TURNLOCK_STORM_OPS=<n>`: operations per task and per thread (default
//!   2 000 natively, 20 under Miri; under Miri, forward it with
//!   `MIRIFLAGS=-Zmiri-env-forward=TURNLOCK_STORM_OPS`, and the seed likewise).
//! * `TURNLOCK_STORM_WATCHDOG=<seconds>`: how long a storm may run before it
//!   counts as hung (default 60, one hour under Miri).
//!
//! Planned panics are not printed; any other panic is, and fails the storm.
//! Tasks respect the crate's rule for set-aside lock futures: a polled lock
//! future is always polled again or dropped.

mod common;

use core::cell::UnsafeCell;
use core::future::Future;
use core::hash::{Hash, Hasher};
use core::ops::DerefMut;
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

use common::{Exclusive, Rng, Section, assert_healthy, with_executor, with_watchdog};
use futures_lite::FutureExt;
use futures_lite::future::{block_on, or, yield_now};
use turnlock::{KeyedLocks, Lock, ManyGuard};

// ---------------------------------------------------------------------------
// The harness: seed, sizes, watchdog, planned panics.

/// Sizes and seed of one storm.
#[derive(Clone, Copy, Debug)]
struct Storm {
    name: &'static str,
    seed: u64,
    /// Async tasks on the executor.
    tasks: usize,
    /// Plain threads that block.
    threads: usize,
    /// Threads of the executor.
    workers: usize,
    /// Operations per task and per thread.
    ops: usize,
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
    fn new(name: &'static str) -> Self {
        let seed = env_u64("TURNLOCK_STORM_SEED").unwrap_or_else(|| {
            use core::hash::BuildHasher;
            std::hash::RandomState::new().hash_one(name)
        });
        let miri = cfg!(miri);
        let ops =
            env_u64("TURNLOCK_STORM_OPS").map_or(if miri { 20 } else { 2_000 }, |n| n as usize);
        Self {
            name,
            seed,
            tasks: if miri { 3 } else { 12 },
            threads: if miri { 1 } else { 2 },
            workers: 2,
            ops,
        }
    }

    /// The random choices of actor `actor` (a task or a thread).
    fn rng(&self, actor: usize) -> Rng {
        Rng::new(self.seed ^ (actor as u64).wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// Runs `body` under a watchdog; any failure, hang included, names the
    /// seed and how to replay it.
    fn run(self, body: impl FnOnce(Storm) + Send + 'static) {
        quiet_planned_panics();
        let secs =
            env_u64("TURNLOCK_STORM_WATCHDOG").unwrap_or(if cfg!(miri) { 3_600 } else { 60 });
        eprintln!("storm {}: seed {} ({self:?})", self.name, self.seed);
        let outcome = catch_unwind(AssertUnwindSafe(|| with_watchdog(secs, move || body(self))));
        if let Err(payload) = outcome {
            panic!(
                "storm {} failed with seed {} (replay: TURNLOCK_STORM_SEED={} cargo test --test storm {}): {}",
                self.name,
                self.seed,
                self.seed,
                self.name,
                text(&*payload)
            );
        }
    }
}

/// The text of a panic payload.
fn text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<a non-text panic>".to_owned()
    }
}

/// Planned panics start with this.
const PLANNED: &str = "planned";

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
        counts.caught.fetch_add(1, Relaxed);
    }
}

/// [`op_async`] for a blocking thread.
fn op_blocking(counts: &Counts, op: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(op)) {
        if !is_planned(&*payload) {
            resume_unwind(payload);
        }
        counts.caught.fetch_add(1, Relaxed);
    }
}

/// What happened in a storm, for the final checks and the summary.
#[derive(Default, Debug)]
struct Counts {
    /// Successful acquisitions (critical sections entered).
    sections: AtomicU64,
    /// Acquisitions that gave up: `try_lock` failures, timeouts, deadlines.
    gave_up: AtomicU64,
    /// Lock futures dropped by a wrapper before they completed.
    cancelled: AtomicU64,
    /// Planned panics while holding a lock.
    panics_holding: AtomicU64,
    /// Planned panics in keys: `Drop`, `Hash`, `Eq`.
    panics_drop: AtomicU64,
    panics_hash: AtomicU64,
    panics_eq: AtomicU64,
    /// Planned panics caught (all kinds).
    caught: AtomicU64,
}

impl Counts {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(SeqCst)
    }
}

// ---------------------------------------------------------------------------
// Futures that cancel, race and set deadlines.

/// A deadline that completes after `n` polls, waking its task each time:
/// the lock future beside it is polled again and again meanwhile.
struct AfterPolls(u32);

impl Future for AfterPolls {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls a lock future at most `polls` times. When it is polled once more
/// after that, which happens when the lock future's waker fires (a release,
/// a hand-off), it drops the lock future instead of polling it: the
/// cancellation lands on the instant of release.
struct CancelOnWake<F> {
    inner: Option<F>,
    polls: u32,
}

impl<F> CancelOnWake<F> {
    fn new(inner: F, polls: u32) -> Self {
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
async fn yields<T>(n: u64) -> Option<T> {
    for _ in 0..n {
        yield_now().await;
    }
    None
}

/// The critical section of a `Lock<Exclusive>`: counts in the model, enters,
/// may await and may panic on purpose, leaves (also while unwinding).
async fn hold<G: DerefMut<Target = Exclusive>>(guard: G, counts: &Counts, rng: &mut Rng) {
    Counts::bump(&counts.sections);
    let section = Section::enter(guard);
    for _ in 0..rng.below(3) {
        yield_now().await;
    }
    if rng.one_in(40) {
        Counts::bump(&counts.panics_holding);
        panic!("{PLANNED}: panic while holding the lock");
    }
    drop(section);
}

/// [`hold`] for a blocking thread.
fn hold_blocking<G: DerefMut<Target = Exclusive>>(guard: G, counts: &Counts, rng: &mut Rng) {
    Counts::bump(&counts.sections);
    let section = Section::enter(guard);
    if rng.one_in(2) {
        thread::yield_now();
    }
    if rng.one_in(40) {
        Counts::bump(&counts.panics_holding);
        panic!("{PLANNED}: panic while holding the lock");
    }
    drop(section);
}

/// A short timeout: often enough 0, sometimes long enough to be served.
fn short(rng: &mut Rng) -> Duration {
    match rng.below(4) {
        0 => Duration::ZERO,
        1 => Duration::from_micros(rng.below(50)),
        _ => Duration::from_micros(100 + rng.below(900)),
    }
}

// ---------------------------------------------------------------------------
// `Lock` storms.

struct LockStorm {
    lock: Arc<Lock<Exclusive>>,
    counts: Counts,
}

/// One operation of an async task on a `Lock`.
async fn lock_task_op(shared: &LockStorm, rng: &mut Rng) {
    let lock = &shared.lock;
    let counts = &shared.counts;
    match rng.below(12) {
        0 => hold(lock.lock().await, counts, rng).await,
        1 => hold(lock.lock_owned().await, counts, rng).await,
        2 => match lock.try_lock() {
            Some(guard) => hold(guard, counts, rng).await,
            None => Counts::bump(&counts.gave_up),
        },
        3 => match lock.try_lock_owned() {
            Some(guard) => hold(guard, counts, rng).await,
            None => Counts::bump(&counts.gave_up),
        },
        4 => match lock.lock_until(AfterPolls(rng.below(4) as u32)).await {
            Ok(guard) => hold(guard, counts, rng).await,
            Err(_) => Counts::bump(&counts.gave_up),
        },
        5 if !cfg!(miri) => match lock.lock_timeout(short(rng)).await {
            Ok(guard) => hold(guard, counts, rng).await,
            Err(_) => Counts::bump(&counts.gave_up),
        },
        6 => {
            let panic = rng.one_in(40);
            let yields_inside = rng.below(3);
            lock.with_lock(async |value| {
                Counts::bump(&counts.sections);
                let _section = Section::enter(value);
                for _ in 0..yields_inside {
                    yield_now().await;
                }
                if panic {
                    Counts::bump(&counts.panics_holding);
                    panic!("{PLANNED}: panic inside with_lock");
                }
            })
            .await;
        }
        7 => match CancelOnWake::new(lock.lock(), rng.below(3) as u32 + 1).await {
            Some(guard) => hold(guard, counts, rng).await,
            None => Counts::bump(&counts.cancelled),
        },
        8 => match CancelOnWake::new(lock.lock_owned(), rng.below(3) as u32 + 1).await {
            Some(guard) => hold(guard, counts, rng).await,
            None => Counts::bump(&counts.cancelled),
        },
        9 => {
            // Raced against a few yields: dropped at a random point.
            let n = rng.below(4);
            match or(async { Some(lock.lock().await) }, yields(n)).await {
                Some(guard) => hold(guard, counts, rng).await,
                None => Counts::bump(&counts.cancelled),
            }
        }
        10 => {
            // Two lock futures of one lock in one task, both polled.
            let guard = or(lock.lock(), lock.lock()).await;
            hold(guard, counts, rng).await;
        }
        _ => {
            // A deadline that lands at a random point of a cancellable wait.
            let until = lock.lock_until(AfterPolls(rng.below(6) as u32));
            match CancelOnWake::new(until, rng.below(4) as u32 + 1).await {
                Some(Ok(guard)) => hold(guard, counts, rng).await,
                Some(Err(_)) => Counts::bump(&counts.gave_up),
                None => Counts::bump(&counts.cancelled),
            }
        }
    }
}

/// One operation of a blocking thread on a `Lock`.
fn lock_thread_op(shared: &LockStorm, rng: &mut Rng) {
    let lock = &shared.lock;
    let counts = &shared.counts;
    match rng.below(6) {
        0 => hold_blocking(lock.lock_blocking(), counts, rng),
        1 => match lock.lock_blocking_timeout(short(rng)) {
            Ok(guard) => hold_blocking(guard, counts, rng),
            Err(_) => Counts::bump(&counts.gave_up),
        },
        2 => match lock.try_lock() {
            Some(guard) => hold_blocking(guard, counts, rng),
            None => Counts::bump(&counts.gave_up),
        },
        3 => hold_blocking(block_on(lock.lock()), counts, rng),
        4 => hold_blocking(block_on(lock.lock_owned()), counts, rng),
        _ => block_on(lock.with_lock(async |value| {
            Counts::bump(&counts.sections);
            drop(Section::enter(value));
        })),
    }
}

fn lock_storm(storm: Storm, lock: Lock<Exclusive>) {
    let shared = Arc::new(LockStorm {
        lock: Arc::new(lock),
        counts: Counts::default(),
    });
    let threads: Vec<_> = (0..storm.threads)
        .map(|t| {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("storm-thread-{t}"))
                .spawn(move || {
                    let mut rng = storm.rng(storm.tasks + t);
                    for _ in 0..storm.ops {
                        op_blocking(&shared.counts, || lock_thread_op(&shared, &mut rng));
                    }
                })
                .expect("spawn a storm thread")
        })
        .collect();
    with_executor(storm.workers, |executor| {
        let shared = shared.clone();
        async move {
            let tasks: Vec<_> = (0..storm.tasks)
                .map(|t| {
                    let shared = shared.clone();
                    executor.spawn(async move {
                        let mut rng = storm.rng(t);
                        for _ in 0..storm.ops {
                            op_async(&shared.counts, lock_task_op(&shared, &mut rng)).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }
    });
    common::join_all(threads);

    let counts = &shared.counts;
    let lock = &shared.lock;
    assert!(!lock.is_locked(), "the lock is held after the storm");
    let done = lock
        .try_lock()
        .expect("the lock is free after the storm")
        .count();
    assert_eq!(
        done,
        Counts::get(&counts.sections),
        "sections counted by the lock != by the model"
    );
    assert_healthy(lock);
    eprintln!("storm {}: {counts:?}", storm.name);
    if storm.ops >= 100 {
        assert!(
            Counts::get(&counts.cancelled) > 0,
            "no cancellation happened"
        );
        assert!(
            Counts::get(&counts.panics_holding) > 0,
            "no planned panic happened"
        );
    }
}

#[test]
fn storm_lock_new() {
    Storm::new("storm_lock_new").run(|storm| lock_storm(storm, Lock::new(Exclusive::new())));
}

#[test]
fn storm_lock_fifo() {
    Storm::new("storm_lock_fifo").run(|storm| lock_storm(storm, Lock::new_fifo(Exclusive::new())));
}

// ---------------------------------------------------------------------------
// `KeyedLocks` storms.

/// Keys that many actors contend for; each has a plain counter.
const HOT_KEYS: u32 = 5;

/// A key that may panic on purpose in `Drop`, `Hash` or `Eq` (never while
/// its thread is already unwinding, which would abort).
struct Key {
    id: u32,
    hostile: Hostile,
    counts: &'static Counts,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hostile {
    No,
    Drop,
    Hash,
    Eq,
}

impl Key {
    fn random(rng: &mut Rng, counts: &'static Counts) -> Self {
        let id = if rng.one_in(6) {
            // A key nobody else is likely to use: new entries, pool churn,
            // tables that grow and shrink.
            1_000 + rng.below(100_000) as u32
        } else {
            rng.below(u64::from(HOT_KEYS)) as u32
        };
        let hostile = match rng.below(60) {
            0 => Hostile::Drop,
            1 => Hostile::Hash,
            2 => Hostile::Eq,
            _ => Hostile::No,
        };
        Self {
            id,
            hostile,
            counts,
        }
    }

    fn planned(&self, kind: Hostile) -> bool {
        self.hostile == kind && !thread::panicking()
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            hostile: self.hostile,
            counts: self.counts,
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.planned(Hostile::Drop) {
            Counts::bump(&self.counts.panics_drop);
            panic!("{PLANNED}: key {} panics on drop", self.id);
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.planned(Hostile::Hash) {
            Counts::bump(&self.counts.panics_hash);
            panic!("{PLANNED}: key {} panics on hash", self.id);
        }
        // Exactly as `u32`, so that `is_locked(&id)` finds the key.
        self.id.hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        for key in [self, other] {
            if key.planned(Hostile::Eq) {
                Counts::bump(&key.counts.panics_eq);
                panic!("{PLANNED}: key {} panics on eq", key.id);
            }
        }
        self.id == other.id
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl core::borrow::Borrow<u32> for Key {
    fn borrow(&self) -> &u32 {
        &self.id
    }
}

/// A plain counter per hot key.
struct Cells([UnsafeCell<Exclusive>; HOT_KEYS as usize]);

// SAFETY: cell `i` is only touched by whoever holds hot key `i` in the
// storm's map, one holder at a time; if the map ever let two holders in,
// the test fails (the flag natively, a data race under Miri and TSan).
unsafe impl Sync for Cells {}

impl Cells {
    /// Runs `f` on the counter of `id`, if it is a hot key.
    ///
    /// # Safety
    ///
    /// The caller holds the key `id`.
    unsafe fn with(&self, id: u32, f: impl FnOnce(&mut Exclusive)) {
        if let Some(cell) = self.0.get(id as usize) {
            // SAFETY: the caller holds the key, so nobody else touches the
            // cell meanwhile.
            f(unsafe { &mut *cell.get() });
        }
    }
}

struct KeyedStorm {
    locks: Arc<KeyedLocks<Key>>,
    cells: Cells,
    /// Sections per hot key, by the model.
    model: [AtomicU64; HOT_KEYS as usize],
    counts: &'static Counts,
}

/// A critical section over some keys: counts them in the model, enters
/// their counters, leaves them when dropped (also while unwinding), and
/// only then releases the guard it wraps.
struct KeysSection<'s, G> {
    shared: &'s KeyedStorm,
    ids: Vec<u32>,
    _guard: G,
}

impl<'s, G> KeysSection<'s, G> {
    /// # Safety
    ///
    /// `guard` holds every key in `ids`.
    unsafe fn enter(shared: &'s KeyedStorm, ids: Vec<u32>, guard: G) -> Self {
        Counts::bump(&shared.counts.sections);
        for &id in &ids {
            assert!(
                shared.locks.is_locked(&id),
                "key {id} is held but not locked"
            );
            if let Some(model) = shared.model.get(id as usize) {
                model.fetch_add(1, Relaxed);
            }
            // SAFETY: `guard` holds `id` (the caller's promise).
            unsafe { shared.cells.with(id, Exclusive::enter) };
        }
        Self {
            shared,
            ids,
            _guard: guard,
        }
    }
}

impl<G> Drop for KeysSection<'_, G> {
    fn drop(&mut self) {
        for &id in &self.ids {
            // SAFETY: the guard, dropped after this, still holds `id`.
            unsafe { self.shared.cells.with(id, Exclusive::leave) };
        }
    }
}

/// Holds `guard` (which holds `ids`) across a few yields, maybe panicking.
async fn hold_keys<G>(shared: &KeyedStorm, ids: Vec<u32>, guard: G, rng: &mut Rng) {
    // SAFETY: the callers pass the guard that holds `ids`.
    let section = unsafe { KeysSection::enter(shared, ids, guard) };
    for _ in 0..rng.below(3) {
        yield_now().await;
    }
    if rng.one_in(40) {
        Counts::bump(&shared.counts.panics_holding);
        panic!("{PLANNED}: panic while holding keys");
    }
    drop(section);
}

fn hold_keys_blocking<G>(shared: &KeyedStorm, ids: Vec<u32>, guard: G, rng: &mut Rng) {
    // SAFETY: the callers pass the guard that holds `ids`.
    let section = unsafe { KeysSection::enter(shared, ids, guard) };
    if rng.one_in(2) {
        thread::yield_now();
    }
    if rng.one_in(40) {
        Counts::bump(&shared.counts.panics_holding);
        panic!("{PLANNED}: panic while holding keys");
    }
    drop(section);
}

/// One operation of an async task on the map.
async fn keyed_task_op(shared: &KeyedStorm, rng: &mut Rng) {
    let locks = &shared.locks;
    let counts = shared.counts;
    let key = Key::random(rng, counts);
    let id = key.id;
    match rng.below(12) {
        0 => {
            let guard = locks.lock(key).await;
            hold_keys(shared, vec![id], guard, rng).await;
        }
        1 => {
            let guard = locks.lock_owned(key).await;
            hold_keys(shared, vec![id], guard, rng).await;
        }
        2 => match locks.try_lock(key) {
            Some(guard) => hold_keys(shared, vec![id], guard, rng).await,
            None => Counts::bump(&counts.gave_up),
        },
        3 => match locks.try_lock_owned(key) {
            Some(guard) => hold_keys(shared, vec![id], guard, rng).await,
            None => Counts::bump(&counts.gave_up),
        },
        4 => match locks.lock_until(key, AfterPolls(rng.below(4) as u32)).await {
            Ok(guard) => hold_keys(shared, vec![id], guard, rng).await,
            Err(_) => Counts::bump(&counts.gave_up),
        },
        5 if !cfg!(miri) => match locks.lock_timeout(key, short(rng)).await {
            Ok(guard) => hold_keys(shared, vec![id], guard, rng).await,
            Err(_) => Counts::bump(&counts.gave_up),
        },
        6 => {
            let panic = rng.one_in(40);
            locks
                .with_lock(key, async || {
                    // SAFETY: `with_lock` holds `id` while this runs.
                    let _section = unsafe { KeysSection::enter(shared, vec![id], ()) };
                    yield_now().await;
                    if panic {
                        Counts::bump(&counts.panics_holding);
                        panic!("{PLANNED}: panic inside with_lock");
                    }
                })
                .await;
        }
        7 | 8 => {
            // Up to three keys at once, in any order, maybe repeated.
            let mut keys = vec![key];
            for _ in 0..rng.below(3) {
                keys.push(Key::random(rng, counts));
            }
            let future = locks.lock_many(keys);
            let guard = if rng.one_in(2) {
                future.await
            } else {
                match CancelOnWake::new(future, rng.below(3) as u32 + 1).await {
                    Some(guard) => guard,
                    None => return Counts::bump(&counts.cancelled),
                }
            };
            let ids = ManyGuard::keys(&guard).map(|key| key.id).collect();
            hold_keys(shared, ids, guard, rng).await;
        }
        9 => match CancelOnWake::new(locks.lock(key), rng.below(3) as u32 + 1).await {
            Some(guard) => hold_keys(shared, vec![id], guard, rng).await,
            None => Counts::bump(&counts.cancelled),
        },
        10 => {
            // Two lock futures in one task, both polled: of one key, or of
            // two keys; whichever wins is held, the other is dropped.
            let other = if rng.one_in(2) {
                key.clone()
            } else {
                Key::random(rng, counts)
            };
            //
            // The race is dropped in a statement of its own: the loser's drop
            // may panic (a hostile key), and a value just produced by an
            // expression whose temporaries then panic in their drop is leaked
            // by rustc (rust-lang/rust#47949), guard included. A bound local
            // is dropped while unwinding, as it should be.
            let mut race = Box::pin(or(locks.lock(key), locks.lock(other)));
            let guard = race.as_mut().await;
            drop(race);
            let won = turnlock::KeyGuard::key(&guard).id;
            hold_keys(shared, vec![won], guard, rng).await;
        }
        _ => {
            let n = rng.below(4);
            let owned = locks.lock_owned(key);
            match or(async { Some(owned.await) }, yields(n)).await {
                Some(guard) => hold_keys(shared, vec![id], guard, rng).await,
                None => Counts::bump(&counts.cancelled),
            }
        }
    }
}

/// One operation of a blocking thread on the map.
fn keyed_thread_op(shared: &KeyedStorm, rng: &mut Rng) {
    let locks = &shared.locks;
    let counts = shared.counts;
    let key = Key::random(rng, counts);
    let id = key.id;
    match rng.below(5) {
        0 => {
            let guard = locks.lock_blocking(key);
            hold_keys_blocking(shared, vec![id], guard, rng);
        }
        1 => match locks.lock_blocking_timeout(key, short(rng)) {
            Ok(guard) => hold_keys_blocking(shared, vec![id], guard, rng),
            Err(_) => Counts::bump(&counts.gave_up),
        },
        2 => match locks.try_lock(key) {
            Some(guard) => hold_keys_blocking(shared, vec![id], guard, rng),
            None => Counts::bump(&counts.gave_up),
        },
        3 => {
            let keys = [key, Key::random(rng, counts)];
            let guard = block_on(locks.lock_many(keys));
            let ids = ManyGuard::keys(&guard).map(|key| key.id).collect();
            hold_keys_blocking(shared, ids, guard, rng);
        }
        _ => {
            let guard = block_on(locks.lock(key));
            hold_keys_blocking(shared, vec![id], guard, rng);
        }
    }
}

fn keyed_storm(storm: Storm, locks: KeyedLocks<Key>, counts: &'static Counts) {
    let shared = Arc::new(KeyedStorm {
        locks: Arc::new(locks),
        cells: Cells([const { UnsafeCell::new(Exclusive::new()) }; HOT_KEYS as usize]),
        model: [const { AtomicU64::new(0) }; HOT_KEYS as usize],
        counts,
    });
    let threads: Vec<_> = (0..storm.threads)
        .map(|t| {
            let shared = shared.clone();
            thread::Builder::new()
                .name(format!("storm-thread-{t}"))
                .spawn(move || {
                    let mut rng = storm.rng(storm.tasks + t);
                    for _ in 0..storm.ops {
                        op_blocking(shared.counts, || keyed_thread_op(&shared, &mut rng));
                    }
                })
                .expect("spawn a storm thread")
        })
        .collect();
    with_executor(storm.workers, |executor| {
        let shared = shared.clone();
        async move {
            let tasks: Vec<_> = (0..storm.tasks)
                .map(|t| {
                    let shared = shared.clone();
                    executor.spawn(async move {
                        let mut rng = storm.rng(t);
                        for _ in 0..storm.ops {
                            op_async(shared.counts, keyed_task_op(&shared, &mut rng)).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }
    });
    common::join_all(threads);

    let locks = &shared.locks;
    let locked: Vec<u32> = (0..HOT_KEYS).filter(|id| locks.is_locked(id)).collect();
    assert_eq!(
        locks.len(),
        0,
        "entries left after the storm (hot keys locked: {locked:?}; {counts:?})"
    );
    assert!(locks.is_empty());
    for id in 0..HOT_KEYS {
        assert!(!locks.is_locked(&id), "key {id} is locked after the storm");
        let guard = locks
            .try_lock(Key {
                id,
                hostile: Hostile::No,
                counts,
            })
            .unwrap_or_else(|| panic!("key {id} cannot be taken after the storm"));
        // SAFETY: we hold the key.
        unsafe {
            shared.cells.with(id, |cell| {
                let model = shared.model[id as usize].load(SeqCst);
                assert_eq!(
                    cell.count(),
                    model,
                    "key {id}: sections counted by the key != by the model"
                );
            });
        }
        drop(guard);
    }
    assert_eq!(locks.len(), 0);
    eprintln!("storm {}: {counts:?}", storm.name);
    if storm.ops >= 100 {
        for (what, counter) in [
            ("cancellation", &counts.cancelled),
            ("planned panic while holding", &counts.panics_holding),
            ("key drop panic", &counts.panics_drop),
            ("key hash panic", &counts.panics_hash),
            ("key eq panic", &counts.panics_eq),
        ] {
            assert!(Counts::get(counter) > 0, "no {what} happened");
        }
    }
}

#[test]
fn storm_keyed_new() {
    static COUNTS: Counts = Counts::new();
    Storm::new("storm_keyed_new").run(|storm| keyed_storm(storm, KeyedLocks::new(), &COUNTS));
}

#[test]
fn storm_keyed_fifo() {
    static COUNTS: Counts = Counts::new();
    Storm::new("storm_keyed_fifo").run(|storm| keyed_storm(storm, KeyedLocks::new_fifo(), &COUNTS));
}

impl Counts {
    const fn new() -> Self {
        Self {
            sections: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            panics_holding: AtomicU64::new(0),
            panics_drop: AtomicU64::new(0),
            panics_hash: AtomicU64::new(0),
            panics_eq: AtomicU64::new(0),
            caught: AtomicU64::new(0),
        }
    }
}
