//! The contended scenarios of the counted benchmarks (`benches/instructions.rs`
//! and `benches/counts.rs`): the worker tasks, a minimal single-thread FIFO
//! executor, the floors (a no-op lock and the smallest locks on
//! `event-listener`'s public API), and the instruments of the counting runs
//! (a waker that counts, an allocator that counts what lock futures allocate).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::future::Future;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::alloc::System;
use std::sync::Arc;
use std::task::Wake;

use event_listener::{Event, Listener};

pub use super::floor::ListenerFloor;

use super::{BenchLock, Visit};

/// Tasks of the single-thread scenario.
pub const TASKS_1000: usize = 1000;

/// The body of every task: `sections` critical sections, each incrementing
/// the counter and, when `hold` is set, holding the lock across one
/// `yield_now().await`. With `COUNT`, every acquisition goes through
/// [`Counted`] and every release through [`count_release`].
pub async fn worker<L: BenchLock, const COUNT: bool>(lock: &L, sections: u64, hold: bool) {
    for _ in 0..sections {
        let mut guard = if COUNT {
            Counted::new(lock.acquire()).await
        } else {
            lock.acquire().await
        };
        *guard += 1;
        if hold {
            futures_lite::future::yield_now().await;
        }
        if COUNT {
            count_release(guard);
        } else {
            drop(guard);
        }
    }
}

/// The executors the single-thread scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Executor {
    /// [`run_fifo`]: the least an executor can do.
    Fifo,
    /// smol's `LocalExecutor`.
    SmolLocal,
}

impl Executor {
    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::SmolLocal => "smol-local",
        }
    }

    /// The executor called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Fifo, Self::SmolLocal]
            .into_iter()
            .find(|e| e.name() == name)
    }
}

/// Runs `tasks` workers of `per_task` held sections each on one thread, on
/// `executor`, and checks that no update was lost (except for the no-op
/// lock, which does not exclude anybody).
pub fn run_single<L: BenchLock, const COUNT: bool>(
    executor: Executor,
    lock: &L,
    tasks: usize,
    per_task: u64,
    check: bool,
) {
    let before = *super::poll_once(lock.acquire());
    let workers = (0..tasks).map(|_| worker::<L, COUNT>(lock, per_task, true));
    match executor {
        Executor::Fifo => run_fifo(workers),
        Executor::SmolLocal => {
            let local = smol::LocalExecutor::new();
            let handles: Vec<_> = workers.map(|w| local.spawn(w)).collect();
            futures_lite::future::block_on(local.run(async {
                for handle in handles {
                    handle.await;
                }
            }));
        }
    }
    let after = *super::poll_once(lock.acquire());
    if check {
        assert_eq!(after - before, tasks as u64 * per_task, "lost an update");
    }
}

/// The run queue of [`run_fifo`]: a ring of task indices in wake-up order
/// and a flag per task that says it is in the ring. Relaxed atomics, which
/// compile to plain loads and stores: the queue is only ever used by the
/// thread that runs the executor (a wake-up from another thread would be
/// a logic error, not undefined behaviour).
struct RunQueue {
    ring: Box<[AtomicUsize]>,
    mask: usize,
    head: AtomicUsize,
    tail: AtomicUsize,
    queued: Box<[AtomicBool]>,
}

impl RunQueue {
    /// A queue for `tasks` tasks, all of them queued in order.
    fn new(tasks: usize) -> Self {
        let capacity = (tasks + 1).next_power_of_two();
        Self {
            ring: (0..capacity).map(AtomicUsize::new).collect(),
            mask: capacity - 1,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(tasks),
            queued: (0..tasks).map(|_| AtomicBool::new(true)).collect(),
        }
    }

    /// Puts task `index` at the back, unless it is already queued.
    #[inline]
    fn push(&self, index: usize) {
        if !self.queued[index].load(Relaxed) {
            self.queued[index].store(true, Relaxed);
            let tail = self.tail.load(Relaxed);
            self.ring[tail & self.mask].store(index, Relaxed);
            self.tail.store(tail.wrapping_add(1), Relaxed);
        }
    }

    /// Takes the task at the front.
    #[inline]
    fn pop(&self) -> Option<usize> {
        let head = self.head.load(Relaxed);
        if head == self.tail.load(Relaxed) {
            return None;
        }
        let index = self.ring[head & self.mask].load(Relaxed);
        self.head.store(head.wrapping_add(1), Relaxed);
        self.queued[index].store(false, Relaxed);
        Some(index)
    }
}

/// What a waker of [`run_fifo`] points to: the queue and the task's index.
struct WakerSlot {
    queue: &'static RunQueue,
    index: usize,
}

/// A waker of [`run_fifo`]: cloning and dropping cost nothing, waking
/// allocates nothing.
fn fifo_waker(slot: &'static WakerSlot) -> Waker {
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(data: *const ()) {
        // SAFETY: `data` is a `&'static WakerSlot` (see `fifo_waker`).
        let slot = unsafe { &*data.cast::<WakerSlot>() };
        slot.queue.push(slot.index);
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    // SAFETY: the data pointer is a `&'static WakerSlot`, valid for as long
    // as any clone of the waker may live; the slot is `Sync` (atomics only),
    // so the vtable functions are sound on any thread.
    unsafe { Waker::from_raw(RawWaker::new((slot as *const WakerSlot).cast(), &VTABLE)) }
}

/// A minimal single-thread executor: polls ready tasks in the order they
/// were woken (first in, first out) until every task has finished.
///
/// The run queue and the waker slots are leaked (a few bytes per task and
/// run), so that a waker a lock keeps after the run can never dangle.
///
/// # Panics
///
/// If the run queue empties while a task is unfinished (a lost wake-up).
pub fn run_fifo<F: Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut tasks: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let queue: &'static RunQueue = Box::leak(Box::new(RunQueue::new(tasks.len())));
    let wakers: Vec<Waker> = (0..tasks.len())
        .map(|index| fifo_waker(Box::leak(Box::new(WakerSlot { queue, index }))))
        .collect();
    let mut left = tasks.len();
    while let Some(index) = queue.pop() {
        let task = tasks[index]
            .as_mut()
            .expect("finished tasks are never woken");
        if task
            .as_mut()
            .poll(&mut Context::from_waker(&wakers[index]))
            .is_ready()
        {
            tasks[index] = None;
            left -= 1;
        }
    }
    assert_eq!(left, 0, "the run queue emptied while tasks were waiting");
}

/// A lock that never waits and excludes nobody: the executor's share of
/// each critical section. Only for single-thread runs.
#[derive(Default)]
pub struct Noop(UnsafeCell<u64>);

// SAFETY: the no-op lock is only used by the single-thread scenarios, where
// no two threads ever touch the value; `Sync` is needed only to satisfy
// `BenchLock`'s bound.
unsafe impl Sync for Noop {}

/// The guard of [`Noop`].
pub struct NoopGuard<'a>(&'a Noop);

impl Deref for NoopGuard<'_> {
    type Target = u64;
    fn deref(&self) -> &u64 {
        // SAFETY: single-thread use only (see `Noop`), and no `&mut` into
        // the value outlives a `deref_mut` call of one guard at a time.
        unsafe { &*self.0.0.get() }
    }
}

impl DerefMut for NoopGuard<'_> {
    fn deref_mut(&mut self) -> &mut u64 {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.0.0.get() }
    }
}

impl BenchLock for Noop {
    type Guard<'a> = NoopGuard<'a>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        core::future::ready(NoopGuard(self))
    }
}

/// Report name of the no-op lock.
pub const NOOP: &str = "noop";
/// Report name of [`ListenerFloor`] with `Event::listen`.
pub const FLOOR_BOXED: &str = "floor-listen";
/// Report name of [`ListenerFloor`] with `listener!`.
pub const FLOOR_STACK: &str = "floor-stack";

/// Calls `visitor` for the floors of the single-thread scenario: the no-op
/// lock and the two smallest locks on `event-listener`.
pub fn each_floor(visitor: &mut impl Visit) {
    visitor.visit(NOOP, Noop::default);
    visitor.visit(FLOOR_BOXED, ListenerFloor::<false>::default);
    visitor.visit(FLOOR_STACK, ListenerFloor::<true>::default);
}

// ---------------------------------------------------------------------------
// Counting runs

/// What the counting runs count, summed over all threads.
#[derive(Default)]
pub struct Stats {
    /// Completed acquisitions (one per critical section).
    pub acquisitions: AtomicU64,
    /// Acquisitions that returned `Pending` at least once.
    pub waited: AtomicU64,
    /// Polls of lock futures.
    pub polls: AtomicU64,
    /// Calls to `wake`/`wake_by_ref` on the wakers given to lock futures.
    pub wakes: AtomicU64,
    /// Polls after a wake-up that returned `Pending` again: the wake-up
    /// found the lock taken (or was spurious).
    pub futile_wakes: AtomicU64,
    /// Allocations made while polling lock futures or releasing guards.
    pub allocations: AtomicU64,
    /// Those of them with the layout of an `event_listener::EventListener`.
    pub listener_allocations: AtomicU64,
    /// Acquisitions that allocated two or more listeners.
    pub repeat_listeners: AtomicU64,
    /// Listener allocations of acquisitions that never returned `Pending`
    /// (a listener made, then discarded because the lock was free after all).
    pub unused_listeners: AtomicU64,
}

/// The counters of the current run.
pub static STATS: Stats = Stats {
    acquisitions: AtomicU64::new(0),
    waited: AtomicU64::new(0),
    polls: AtomicU64::new(0),
    wakes: AtomicU64::new(0),
    futile_wakes: AtomicU64::new(0),
    allocations: AtomicU64::new(0),
    listener_allocations: AtomicU64::new(0),
    repeat_listeners: AtomicU64::new(0),
    unused_listeners: AtomicU64::new(0),
};

/// A snapshot of [`STATS`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    pub acquisitions: u64,
    pub waited: u64,
    pub polls: u64,
    pub wakes: u64,
    pub futile_wakes: u64,
    pub allocations: u64,
    pub listener_allocations: u64,
    pub repeat_listeners: u64,
    pub unused_listeners: u64,
}

impl Snapshot {
    /// The counters of several runs added up.
    pub fn sum(runs: &[Self]) -> Self {
        runs.iter().fold(Self::default(), |a, b| Self {
            acquisitions: a.acquisitions + b.acquisitions,
            waited: a.waited + b.waited,
            polls: a.polls + b.polls,
            wakes: a.wakes + b.wakes,
            futile_wakes: a.futile_wakes + b.futile_wakes,
            allocations: a.allocations + b.allocations,
            listener_allocations: a.listener_allocations + b.listener_allocations,
            repeat_listeners: a.repeat_listeners + b.repeat_listeners,
            unused_listeners: a.unused_listeners + b.unused_listeners,
        })
    }
}

impl Stats {
    /// Sets every counter to 0.
    pub fn reset(&self) {
        for counter in self.counters() {
            counter.store(0, Relaxed);
        }
    }

    fn counters(&self) -> [&AtomicU64; 9] {
        [
            &self.acquisitions,
            &self.waited,
            &self.polls,
            &self.wakes,
            &self.futile_wakes,
            &self.allocations,
            &self.listener_allocations,
            &self.repeat_listeners,
            &self.unused_listeners,
        ]
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let [a, w, p, k, f, l, la, r, u] = self.counters().map(|c| c.load(Relaxed));
        Snapshot {
            acquisitions: a,
            waited: w,
            polls: p,
            wakes: k,
            futile_wakes: f,
            allocations: l,
            listener_allocations: la,
            repeat_listeners: r,
            unused_listeners: u,
        }
    }
}

std::thread_local! {
    /// Set while this thread polls a lock future or releases a guard.
    static IN_LOCK: Cell<bool> = const { Cell::new(false) };
    /// Allocations of this thread while `IN_LOCK` was set.
    static LOCK_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Those of them with the listener's layout.
    static LOCK_LISTENERS: Cell<u64> = const { Cell::new(0) };
    /// Set while [`calibrate_listener`] records the listener's layout.
    static RECORD: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Size and alignment of the allocation behind an `EventListener`, found
/// by [`calibrate_listener`]; 0 until then.
static LISTENER_SIZE: AtomicUsize = AtomicUsize::new(0);
static LISTENER_ALIGN: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting what lock futures allocate: allocations
/// made while a thread polls a [`Counted`] lock future or releases a guard
/// through [`count_release`], and among them those of an `EventListener`'s
/// layout. The counting binary installs it as its global allocator.
pub struct CountingAllocator;

fn note_allocation(layout: Layout) {
    // `try_with`: the thread may be tearing down its locals.
    let _ = RECORDING.try_with(|recording| {
        if recording.get() {
            RECORD.set(Some((layout.size(), layout.align())));
        }
    });
    let _ = IN_LOCK.try_with(|in_lock| {
        if in_lock.get() {
            LOCK_ALLOCATIONS.set(LOCK_ALLOCATIONS.get() + 1);
            if layout.size() == LISTENER_SIZE.load(Relaxed)
                && layout.align() == LISTENER_ALIGN.load(Relaxed)
            {
                LOCK_LISTENERS.set(LOCK_LISTENERS.get() + 1);
            }
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; counting touches only thread-local
// `Cell`s that never allocate (const-initialised, no destructor) and atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(layout);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Finds the layout of the allocation `Event::listen` makes (the boxed
/// listener that turnlock and async-lock allocate per wait), so that the
/// counting allocator can tell listener allocations from others.
///
/// # Panics
///
/// If `listen` does not make exactly one allocation (the global allocator
/// must be [`CountingAllocator`]).
pub fn calibrate_listener() {
    let event = Event::new();
    // The first use allocates the event's shared state; not a listener.
    event.notify(0);
    RECORDING.set(true);
    LOCK_ALLOCATIONS.set(0);
    IN_LOCK.set(true);
    let listener = event.listen();
    IN_LOCK.set(false);
    RECORDING.set(false);
    assert_eq!(
        LOCK_ALLOCATIONS.get(),
        1,
        "Event::listen makes one allocation (is CountingAllocator installed?)"
    );
    let (size, align) = RECORD.get().expect("recorded the listener's layout");
    LISTENER_SIZE.store(size, Relaxed);
    LISTENER_ALIGN.store(align, Relaxed);
    let _ = listener.discard();
}

/// Runs `f` with this thread's allocations counted as the lock's; returns
/// `f`'s result and the (allocations, listener allocations) it made.
fn in_lock<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (allocations, listeners) = (LOCK_ALLOCATIONS.get(), LOCK_LISTENERS.get());
    IN_LOCK.set(true);
    let out = f();
    IN_LOCK.set(false);
    (
        out,
        LOCK_ALLOCATIONS.get() - allocations,
        LOCK_LISTENERS.get() - listeners,
    )
}

/// Releases `guard`, counting what the release allocates.
pub fn count_release<G>(guard: G) {
    let ((), allocations, listeners) = in_lock(|| drop(guard));
    STATS.allocations.fetch_add(allocations, Relaxed);
    STATS.listener_allocations.fetch_add(listeners, Relaxed);
}

/// The waker a [`Counted`] future gives the lock future: counts wake-ups
/// and passes them on to the task's waker.
struct Tracker {
    task: Waker,
    woken: AtomicBool,
}

impl Wake for Tracker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        STATS.wakes.fetch_add(1, Relaxed);
        self.woken.store(true, Relaxed);
        self.task.wake_by_ref();
    }
}

/// A lock future under observation: counts its polls, the wake-ups of the
/// waker it is given, futile wake-ups, and what it allocates.
pub struct Counted<F> {
    inner: Pin<Box<F>>,
    tracker: Option<(Arc<Tracker>, Waker)>,
    waited: bool,
    listeners: u64,
}

impl<F: Future> Counted<F> {
    /// Observes `future`.
    pub fn new(future: F) -> Self {
        Self {
            inner: Box::pin(future),
            tracker: None,
            waited: false,
            listeners: 0,
        }
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        STATS.polls.fetch_add(1, Relaxed);
        let fresh = match &this.tracker {
            Some((tracker, _)) => !tracker.task.will_wake(cx.waker()),
            None => true,
        };
        if fresh {
            let tracker = Arc::new(Tracker {
                task: cx.waker().clone(),
                woken: AtomicBool::new(false),
            });
            let waker = Waker::from(tracker.clone());
            this.tracker = Some((tracker, waker));
        }
        let (tracker, waker) = this.tracker.as_ref().expect("set above");
        let woken = tracker.woken.swap(false, Relaxed);
        let inner = this.inner.as_mut();
        let (poll, allocations, listeners) =
            in_lock(|| inner.poll(&mut Context::from_waker(waker)));
        STATS.allocations.fetch_add(allocations, Relaxed);
        STATS.listener_allocations.fetch_add(listeners, Relaxed);
        this.listeners += listeners;
        match poll {
            Poll::Pending => {
                if woken {
                    STATS.futile_wakes.fetch_add(1, Relaxed);
                }
                this.waited = true;
            }
            Poll::Ready(_) => {
                STATS.acquisitions.fetch_add(1, Relaxed);
                if this.waited {
                    STATS.waited.fetch_add(1, Relaxed);
                } else {
                    STATS.unused_listeners.fetch_add(this.listeners, Relaxed);
                }
                if this.listeners >= 2 {
                    STATS.repeat_listeners.fetch_add(1, Relaxed);
                }
            }
        }
        poll
    }
}

/// One scenario on the 2-thread executor.
#[derive(Clone, Copy, Debug)]
pub struct Threaded {
    /// Name in tables.
    pub name: &'static str,
    pub tasks: u64,
    /// Critical sections per task.
    pub per_task: u64,
    /// Hold the lock across one `yield_now().await`.
    pub hold: bool,
}

/// Threads of the threaded scenarios.
pub const THREADS: usize = 2;

/// Runs `futures` on `threads` threads, each with a smol `LocalExecutor`:
/// future `i` runs on thread `i % threads` (tasks never migrate, so two
/// tasks on different threads really run at the same time), woken from
/// either thread. All threads start together, after every task is spawned.
pub fn run_threads<F>(threads: usize, futures: impl IntoIterator<Item = F>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut shares: Vec<Vec<F>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, future) in futures.into_iter().enumerate() {
        shares[i % threads].push(future);
    }
    let start = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let start = start.clone();
            std::thread::spawn(move || {
                let local = smol::LocalExecutor::new();
                let tasks: Vec<_> = share.into_iter().map(|f| local.spawn(f)).collect();
                start.wait();
                futures_lite::future::block_on(local.run(async {
                    for task in tasks {
                        task.await;
                    }
                }));
            })
        })
        .collect();
    for handle in handles {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The 2-thread scenarios: 2 and 64 tasks, short sections and sections
/// held across an `.await`.
pub const THREADED: [Threaded; 4] = [
    Threaded {
        name: "short, 2 tasks",
        tasks: 2,
        per_task: 200_000,
        hold: false,
    },
    Threaded {
        name: "short, 64 tasks",
        tasks: 64,
        per_task: 5_000,
        hold: false,
    },
    Threaded {
        name: "held, 2 tasks",
        tasks: 2,
        per_task: 100_000,
        hold: true,
    },
    Threaded {
        name: "held, 64 tasks",
        tasks: 64,
        per_task: 2_000,
        hold: true,
    },
];

impl Threaded {
    /// Critical sections of one run.
    pub fn sections(&self) -> u64 {
        self.tasks * self.per_task
    }

    /// Runs the scenario once on [`run_threads`] with counting, and
    /// returns the counts.
    pub fn run<L: BenchLock>(&self, lock: &Arc<L>) -> Snapshot {
        let before = *super::poll_once(lock.acquire());
        STATS.reset();
        let (per_task, hold) = (self.per_task, self.hold);
        run_threads(
            THREADS,
            (0..self.tasks).map(|_| {
                let lock = lock.clone();
                async move { worker::<L, true>(&*lock, per_task, hold).await }
            }),
        );
        let snapshot = STATS.snapshot();
        let after = *super::poll_once(lock.acquire());
        assert_eq!(after - before, self.sections(), "lost an update");
        assert_eq!(snapshot.acquisitions, self.sections());
        snapshot
    }
}
