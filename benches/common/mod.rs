//! Helpers shared by the benchmark binaries: the list of locks under test,
//! a multi-threaded smol executor, a single-poll driver and the quick mode.

#![allow(dead_code, reason = "each bench binary uses a different subset")]

pub mod floor;
pub mod rw;
pub mod scenario;

use core::future::Future;
use core::ops::DerefMut;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;

use criterion::Criterion;

/// Set to anything but `0` or empty for short runs (all scenarios in a few
/// minutes, noisier figures).
pub const QUICK_VAR: &str = "TURNLOCK_BENCH_QUICK";

/// `true` when [`QUICK_VAR`] asks for the quick mode.
pub fn quick() -> bool {
    std::env::var_os(QUICK_VAR).is_some_and(|value| !value.is_empty() && value != "0")
}

/// The criterion configuration of every bench binary: the defaults, or
/// short warm-up and measurement times in quick mode.
pub fn criterion() -> Criterion {
    let config = Criterion::default();
    if quick() {
        config
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1000))
            .sample_size(10)
    } else {
        config
    }
}

/// Polls `future` once with a no-op waker and returns its output.
///
/// Every implementation of the uncontended scenario is driven this way, so
/// the figures contain the lock and nothing of an executor.
///
/// # Panics
///
/// If the future is not ready at its first poll.
#[inline(always)]
pub fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("expected the future to be ready at once"),
    }
}

/// An async mutex around a `u64`, as every implementation under test offers it.
pub trait BenchLock: Send + Sync + 'static {
    /// The guard of one acquisition.
    type Guard<'a>: DerefMut<Target = u64> + Send
    where
        Self: 'a;

    /// Acquires the lock.
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send;
}

impl BenchLock for turnlock::Lock<u64> {
    type Guard<'a> = turnlock::Guard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

impl BenchLock for async_lock::Mutex<u64> {
    type Guard<'a> = async_lock::MutexGuard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

impl BenchLock for tokio::sync::Mutex<u64> {
    type Guard<'a> = tokio::sync::MutexGuard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

impl BenchLock for futures_intrusive::sync::Mutex<u64> {
    type Guard<'a> = futures_intrusive::sync::MutexGuard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

impl BenchLock for maitake_sync::Mutex<u64> {
    type Guard<'a> = maitake_sync::MutexGuard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

impl BenchLock for futures::lock::Mutex<u64> {
    type Guard<'a> = futures::lock::MutexGuard<'a, u64>;

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock()
    }
}

/// Something to do with each implementation, see [`each_lock`].
pub trait Visit {
    /// Called once per implementation with its report name and constructor.
    fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L);
}

/// Report names of turnlock's two policies; the chart tells them from peers
/// by the `turnlock` prefix.
pub const TURNLOCK_NEW: &str = "turnlock-new";
/// See [`TURNLOCK_NEW`].
pub const TURNLOCK_FIFO: &str = "turnlock-fifo";

/// Calls `visitor` for turnlock (both policies) and every peer, always in
/// the same order.
pub fn each_lock(visitor: &mut impl Visit) {
    visitor.visit(TURNLOCK_NEW, || turnlock::Lock::new(0));
    visitor.visit(TURNLOCK_FIFO, || turnlock::Lock::new_fifo(0));
    visitor.visit("async-lock", || async_lock::Mutex::new(0));
    visitor.visit("tokio", || tokio::sync::Mutex::new(0));
    // `true`: the fair variant, which serves waiters in order.
    visitor.visit("futures-intrusive", || {
        futures_intrusive::sync::Mutex::new(0, true)
    });
    visitor.visit("maitake-sync", || maitake_sync::Mutex::new(0));
    visitor.visit("futures-lock", || futures::lock::Mutex::new(0));
}

/// A smol executor driven by a fixed number of worker threads.
///
/// The thread that spawns and waits for the tasks only sleeps, so `threads`
/// is the number of threads that run tasks.
pub struct Pool {
    executor: Arc<smol::Executor<'static>>,
    stop: Option<smol::channel::Sender<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` worker threads.
    pub fn new(threads: usize) -> Self {
        let executor = Arc::new(smol::Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let workers = (0..threads)
            .map(|_| {
                let executor = executor.clone();
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    // Ends when the sender is dropped.
                    let _ = smol::block_on(executor.run(stopped.recv()));
                })
            })
            .collect();
        Self {
            executor,
            stop: Some(stop),
            workers,
        }
    }

    /// Spawns every future on the workers and waits until all are done.
    pub fn run_all<F>(&self, futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let tasks: Vec<_> = futures
            .into_iter()
            .map(|future| self.executor.spawn(future))
            .collect();
        smol::block_on(async {
            let mut outputs = Vec::with_capacity(tasks.len());
            for task in tasks {
                outputs.push(task.await);
            }
            outputs
        })
    }

    /// Runs `tasks` tasks for `window`: each, given its own clone of
    /// `state`, waits until all have started, then runs `section(state,
    /// task)` over and over until the window closes (a section gives the
    /// state back, so that no section pays for a clone). Returns each
    /// task's count of sections, in task order.
    pub fn count_sections<T, S, F>(
        &self,
        tasks: usize,
        window: Duration,
        state: T,
        section: S,
    ) -> Vec<u64>
    where
        T: Clone + Send + 'static,
        S: Fn(T, usize) -> F + Clone + Send + 'static,
        F: Future<Output = T> + Send,
    {
        let start = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let timer = {
            let (start, stop) = (start.clone(), stop.clone());
            std::thread::spawn(move || {
                // Let every task reach the start line first.
                std::thread::sleep(Duration::from_millis(20));
                start.store(true, Relaxed);
                std::thread::sleep(window);
                stop.store(true, Relaxed);
            })
        };
        let counts = self.run_all((0..tasks).map(|task| {
            let (mut state, section) = (state.clone(), section.clone());
            let (start, stop) = (start.clone(), stop.clone());
            async move {
                while !start.load(Relaxed) {
                    futures_lite::future::yield_now().await;
                }
                let mut count = 0_u64;
                while !stop.load(Relaxed) {
                    state = section(state, task).await;
                    count += 1;
                }
                count
            }
        }));
        timer.join().expect("timer thread panicked");
        counts
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.stop.take());
        for worker in self.workers.drain(..) {
            worker.join().expect("executor thread panicked");
        }
    }
}

/// Where criterion writes its reports; other results are saved beside them.
///
/// The same search as criterion's: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `criterion/` in the target directory
/// that holds this executable (`<target>/release/deps/<bench>`).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// A small deterministic pseudo-random sequence (xorshift64*), so every
/// implementation sees the same keys.
pub struct Keys(u64);

impl Keys {
    /// A sequence for one task; `seed` may be anything, 0 included.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next key below `bound`.
    #[inline]
    pub fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % bound
    }
}
