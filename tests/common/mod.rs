//! Helpers shared by the integration tests: a watchdog, a small multi-thread
//! executor, wakers that count, a seeded random generator, a value that
//! notices holders that overlap, and the storm harness (`storm`).

#![allow(
    dead_code,
    reason = "every test file uses its own subset of the helpers"
)]

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::panic::resume_unwind;
use std::sync::{Arc, mpsc};
use std::task::Wake;
use std::thread;

use smol::Executor;

pub mod panicking_waker;
pub mod rw;
pub mod storm;

/// `n` in a normal run; a small fraction of it (at least 2) under Miri.
pub fn scaled(n: usize) -> usize {
    if cfg!(miri) { (n / 50).max(2) } else { n }
}

/// Runs `body` on a thread of its own and panics if it has not finished
/// after `secs` seconds, so that a hang fails the test instead of stalling
/// the run. A panic in `body` is passed on unchanged.
pub fn with_watchdog<R, F>(secs: u64, body: F) -> R
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watched = thread::Builder::new()
        .name("watched".into())
        .spawn(move || {
            let out = body();
            // The receiver may be gone if the watchdog already fired.
            let _ = done_tx.send(());
            out
        })
        .expect("spawn the watched thread");
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        // Finished, or panicked (the sender was dropped while unwinding).
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match watched.join() {
            Ok(out) => out,
            Err(panic) => resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: the test did not finish within {secs} s (a hang or a lost wake-up)")
        }
    }
}

/// Runs `main` to completion on the current thread while `threads` worker
/// threads run the tasks that `main` spawns on the executor it is given.
///
/// A panic in a spawned task reaches whoever awaits its `Task` handle.
pub fn with_executor<F, Fut>(threads: usize, main: F) -> Fut::Output
where
    F: FnOnce(Arc<Executor<'static>>) -> Fut,
    Fut: Future,
{
    let executor = Arc::new(Executor::new());
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let executor = executor.clone();
            let stop = stop_rx.clone();
            thread::Builder::new()
                .name(format!("executor-{i}"))
                .spawn(move || futures_lite::future::block_on(executor.run(stop.recv())))
                .expect("spawn an executor thread")
        })
        .collect();
    let out = futures_lite::future::block_on(main(executor));
    drop(stop_tx);
    for worker in workers {
        if let Err(panic) = worker.join() {
            resume_unwind(panic);
        }
    }
    out
}

/// Joins threads in order and returns their results; a panic in any of
/// them is passed on.
pub fn join_all<R>(handles: Vec<thread::JoinHandle<R>>) -> Vec<R> {
    handles.into_iter().map(join).collect()
}

/// Joins a thread, passing on its panic.
pub fn join<R>(handle: thread::JoinHandle<R>) -> R {
    handle.join().unwrap_or_else(|panic| resume_unwind(panic))
}

/// A waker that counts its wake-ups, for futures polled by hand.
#[derive(Clone)]
pub struct Probe {
    wakes: Arc<WakeCount>,
    waker: Waker,
}

struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

impl Probe {
    pub fn new() -> Self {
        let wakes = Arc::new(WakeCount(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        Self { wakes, waker }
    }

    /// How many times the waker was woken so far.
    pub fn wakes(&self) -> usize {
        self.wakes.0.load(SeqCst)
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Polls `future` once with this probe's waker.
    pub fn poll<F: Future + Unpin>(&self, future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(&self.waker))
    }

    /// Polls a pinned `future` once with this probe's waker.
    pub fn poll_pinned<F: Future + ?Sized>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(&self.waker))
    }
}

/// Polls `future` once with a waker that does nothing.
pub fn poll_noop<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls a pinned `future` once with a waker that does nothing.
pub fn poll_pinned_noop<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Unwraps a `Poll` that must be ready.
#[track_caller]
pub fn ready<T>(poll: Poll<T>) -> T {
    match poll {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("expected the future to be ready, it is pending"),
    }
}

/// Asserts that a `Poll` is pending (and drops a value if it is not).
#[track_caller]
pub fn assert_pending<T>(poll: Poll<T>) {
    assert!(
        poll.is_pending(),
        "expected the future to be pending, it is ready"
    );
}

/// A small seeded generator (xorshift64*): every run sees the same
/// "random" cancellation points and timeouts for a given seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` once in `n` times on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The protected value of the stress tests, checked by every section that
/// reaches it: a writer (exclusive access) never overlaps anyone; readers
/// (shared access) may overlap readers.
///
/// A plain (non-atomic) flag says a writer is inside and a plain counter
/// counts the writers' sections: two writers at once trip the flag or lose
/// an increment, and under Miri and ThreadSanitizer any reader or writer
/// beside a writer is a data race on them. Readers, which may be many, count
/// themselves in atomics, which a writer checks.
#[derive(Debug, Default)]
pub struct Checked {
    inside: bool,
    count: u64,
    readers: AtomicUsize,
    reads: AtomicU64,
}

impl Checked {
    pub const fn new() -> Self {
        Self {
            inside: false,
            count: 0,
            readers: AtomicUsize::new(0),
            reads: AtomicU64::new(0),
        }
    }

    /// Marks the start of an exclusive section.
    #[track_caller]
    pub fn enter(&mut self) {
        assert!(!self.inside, "two holders inside the critical section");
        assert_eq!(
            self.readers.load(SeqCst),
            0,
            "a writer inside beside readers"
        );
        self.inside = true;
        // Keep the store: a holder that overlaps us must be able to see it.
        core::hint::black_box(&mut self.inside);
    }

    /// Marks the end of an exclusive section and counts it.
    #[track_caller]
    pub fn leave(&mut self) {
        assert!(self.inside, "left a critical section nobody was in");
        assert_eq!(
            self.readers.load(SeqCst),
            0,
            "readers came in beside a writer"
        );
        let count = core::hint::black_box(self.count);
        self.inside = false;
        self.count = count + 1;
    }

    /// Marks the start of a shared section.
    #[track_caller]
    pub fn enter_shared(&self) {
        self.readers.fetch_add(1, SeqCst);
        assert!(
            !core::hint::black_box(self.inside),
            "a reader inside beside a writer"
        );
    }

    /// Marks the end of a shared section and counts it.
    #[track_caller]
    pub fn leave_shared(&self) {
        assert!(
            !core::hint::black_box(self.inside),
            "a writer came in beside a reader"
        );
        self.reads.fetch_add(1, SeqCst);
        self.readers.fetch_sub(1, SeqCst);
    }

    /// Completed exclusive sections.
    pub fn count(&self) -> u64 {
        assert!(
            !self.inside,
            "read the count from inside a critical section"
        );
        self.count
    }

    /// Completed shared sections.
    pub fn reads(&self) -> u64 {
        self.reads.load(SeqCst)
    }
}

/// A critical section that ends when it is dropped, also when the future
/// holding it is cancelled half-way: wraps a guard of a [`Checked`].
pub struct Section<G: core::ops::DerefMut<Target = Checked>>(G);

impl<G: core::ops::DerefMut<Target = Checked>> Section<G> {
    #[track_caller]
    pub fn enter(mut guard: G) -> Self {
        guard.enter();
        Self(guard)
    }
}

impl<G: core::ops::DerefMut<Target = Checked>> Drop for Section<G> {
    fn drop(&mut self) {
        // The guard (a field) is released after this, with the section left.
        self.0.leave();
    }
}

/// Checks that `lock` is free and still works: not locked, a waiter queued
/// behind a holder is served on release, and the lock is free again after.
/// A leaked lock, a leaked waiter count or a lost hand-off fails or hangs
/// here (run it under a watchdog).
pub fn assert_healthy<T>(lock: &turnlock::Lock<T>) {
    assert!(!lock.is_locked(), "the lock is still held");
    let holder = lock.try_lock().expect("a free lock can be taken");
    let probe = Probe::new();
    let mut waiter = lock.lock();
    assert_pending(probe.poll(&mut waiter));
    drop(holder);
    assert!(probe.wakes() > 0, "the release woke nobody");
    let guard = ready(probe.poll(&mut waiter));
    assert!(lock.try_lock().is_none());
    drop(guard);
    drop(waiter);
    assert!(!lock.is_locked(), "the lock is held after the last guard");
}

/// Sleeps the current thread; only to let *time* pass in timeout tests.
pub fn sleep_ms(ms: u64) {
    thread::sleep(Duration::from_millis(ms));
}
