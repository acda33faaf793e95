//! Reader-writer locks: turnlock's `RwLock` (both policies) against
//! async-lock's and tokio's `RwLock`, in the same run.
//!
//! * Criterion, `rw_read_mostly`: 32 tasks on a 2-thread smol executor, 200
//!   sections each, one in ten a write; `held` holds the lock across one
//!   `yield_now().await`, `short` only reads or increments the value. After
//!   the timings, the binary prints each peer's median time over
//!   turnlock's (above 1.0: turnlock is faster).
//! * Fairness (printed, not timed by criterion): 16 tasks on 2 threads, 4
//!   writers and 12 readers, take the lock over and over for a fixed time
//!   while holding it across a yield; max/min acquisitions per task, among
//!   the readers and among the writers, and the acquisitions of each kind
//!   (medians of three windows: the figures carry scheduling noise on a
//!   busy machine).
//! * Counting mode, for callgrind (`tools/counted.py --rw`): with
//!   `TURNLOCK_BENCH_RW=<scenario>:<name>:<n>` the binary runs one
//!   implementation and exits. `read` and `write`: `n` uncontended read +
//!   drop (write + drop), each future polled once with a no-op waker.
//!   `mix`: 1 000 tasks on the minimal FIFO executor of
//!   `common::scenario`, `n` read-mostly sections each, held across a
//!   yield.

mod common;

use core::hint::black_box;
use core::time::Duration;
use std::sync::Arc;

use common::rw::{BenchRwLock, VisitRw, each_rwlock, read_mostly};
use common::{Pool, scenario};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// The variable of the counting mode.
const VAR: &str = "TURNLOCK_BENCH_RW";
/// Tasks and sections per task of the timed read-mostly scenario.
const TASKS: usize = 32;
const SECTIONS: u64 = 200;
const THREADS: usize = 2;

/// One uncontended read + drop.
#[inline]
fn read_round<L: BenchRwLock>(lock: &L) {
    let guard = common::poll_once(black_box(lock).read());
    black_box(&*guard);
    drop(guard);
}

/// One uncontended write + drop.
#[inline]
fn write_round<L: BenchRwLock>(lock: &L) {
    let guard = common::poll_once(black_box(lock).write());
    black_box(&*guard);
    drop(guard);
}

/// Runs one counting scenario; `false` if there is no implementation
/// called `name`.
fn count(scenario_name: &str, name: &str, n: u64) -> bool {
    struct Count<'a> {
        scenario: &'a str,
        name: &'a str,
        n: u64,
        found: bool,
    }

    impl VisitRw for Count<'_> {
        fn visit<L: BenchRwLock>(&mut self, name: &'static str, make: fn() -> L) {
            if name != self.name {
                return;
            }
            let lock = make();
            match self.scenario {
                "read" => (0..self.n).for_each(|_| read_round(&lock)),
                "write" => (0..self.n).for_each(|_| write_round(&lock)),
                "mix" => {
                    let n = self.n;
                    let lock = &lock;
                    scenario::run_fifo(
                        (0..scenario::TASKS_1000).map(|task| read_mostly(lock, task, n, true)),
                    );
                }
                other => panic!("unknown scenario {other:?}: read, write or mix"),
            }
            self.found = true;
        }
    }

    let mut visitor = Count {
        scenario: scenario_name,
        name,
        n,
        found: false,
    };
    each_rwlock(&mut visitor, true);
    visitor.found
}

/// The timed read-mostly scenario, one implementation.
fn read_mostly_run<L: BenchRwLock>(pool: &Pool, lock: &Arc<L>, hold: bool) {
    pool.run_all((0..TASKS).map(|task| {
        let lock = lock.clone();
        async move { read_mostly(&*lock, task, SECTIONS, hold).await }
    }));
}

fn timed(c: &mut Criterion) {
    struct Bench<'a, 'b> {
        group: &'a mut BenchmarkGroup<'b, WallTime>,
        pool: &'a Pool,
        hold: bool,
        variant: &'static str,
    }

    impl VisitRw for Bench<'_, '_> {
        fn visit<L: BenchRwLock>(&mut self, name: &'static str, make: fn() -> L) {
            let lock = Arc::new(make());
            let (pool, hold) = (self.pool, self.hold);
            self.group
                .bench_function(format!("{}/{name}", self.variant), |b| {
                    b.iter(|| read_mostly_run(pool, &lock, hold));
                });
        }
    }

    let pool = Pool::new(THREADS);
    let mut group = c.benchmark_group("rw_read_mostly");
    group.sample_size(if common::quick() { 10 } else { 30 });
    for (variant, hold) in [("held", true), ("short", false)] {
        let mut bench = Bench {
            group: &mut group,
            pool: &pool,
            hold,
            variant,
        };
        each_rwlock(&mut bench, false);
    }
    group.finish();
}

/// Prints each peer's median time over turnlock's, from criterion's
/// estimates of this run.
fn ratios() {
    let home = common::criterion_home().join("rw_read_mostly");
    let median = |variant: &str, name: &str| -> Option<f64> {
        // Criterion keeps `group/variant/name` in `group/variant_name`.
        let path = home
            .join(format!("{variant}_{name}"))
            .join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let at = text.find("\"median\"")?;
        let rest = &text[at..];
        let start = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        let end = rest[start..].find([',', '}'])?;
        rest[start..start + end].trim().parse().ok()
    };
    println!(
        "\nread-mostly, {TASKS} tasks on {THREADS} threads, 1 write in 10: peer's median time / turnlock's"
    );
    for variant in ["held", "short"] {
        for ours in ["turnlock-new", "turnlock-fifo"] {
            let Some(own) = median(variant, ours) else {
                continue;
            };
            let cells: Vec<String> = ["async-lock", "tokio"]
                .iter()
                .filter_map(|peer| Some(format!("{peer} {:.2}x", median(variant, peer)? / own)))
                .collect();
            println!("{variant:<6} {ours:<14} {}", cells.join(", "));
        }
    }
}

/// Tasks of the fairness run, and how many of them write.
const FAIR_TASKS: usize = 16;
const WRITERS: usize = 4;
/// Each fairness figure is the median of this many windows.
const WINDOWS: usize = 3;

/// One fairness window: `FAIR_TASKS` tasks take the lock over and over for
/// `window`, holding it across a yield; returns each task's count
/// (writers first).
fn fairness_window<L: BenchRwLock>(pool: &Pool, lock: &Arc<L>, window: Duration) -> Vec<u64> {
    pool.count_sections(FAIR_TASKS, window, lock.clone(), |lock, task| async move {
        if task < WRITERS {
            let mut guard = lock.write().await;
            *guard += 1;
            futures_lite::future::yield_now().await;
            drop(guard);
        } else {
            let guard = lock.read().await;
            black_box(*guard);
            futures_lite::future::yield_now().await;
            drop(guard);
        }
        lock
    })
}

/// max/min of `counts`, and their sum.
fn spread(counts: &[u64]) -> (f64, u64) {
    let max = *counts.iter().max().expect("tasks") as f64;
    let min = *counts.iter().min().expect("tasks") as f64;
    (max / min.max(1.0), counts.iter().sum())
}

/// The median of `values`.
fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// Fairness: max/min acquisitions per task among readers and among
/// writers, and the acquisitions of each kind (medians of `WINDOWS`).
fn fairness(window: Duration, filter: &str) {
    struct Measure<'a> {
        pool: &'a Pool,
        window: Duration,
        filter: &'a str,
    }

    impl VisitRw for Measure<'_> {
        fn visit<L: BenchRwLock>(&mut self, name: &'static str, make: fn() -> L) {
            if !format!("fairness/{name}").contains(self.filter) {
                return;
            }
            let lock = Arc::new(make());
            let (mut readers, mut reads, mut writers, mut writes) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..WINDOWS {
                let counts = fairness_window(self.pool, &lock, self.window);
                let (ratio, sum) = spread(&counts[..WRITERS]);
                writers.push(ratio);
                writes.push(sum);
                let (ratio, sum) = spread(&counts[WRITERS..]);
                readers.push(ratio);
                reads.push(sum);
            }
            println!(
                "{name:<14} readers {:>6.3} ({} reads)   writers {:>6.3} ({} writes)",
                median(readers),
                median(reads),
                median(writers),
                median(writes)
            );
        }
    }

    println!(
        "\nfairness: {FAIR_TASKS} tasks ({WRITERS} writers) on {THREADS} threads, held across a yield, \
         {} ms windows; max/min acquisitions per task and acquisitions per window, medians of {WINDOWS}",
        window.as_millis()
    );
    let pool = Pool::new(THREADS);
    each_rwlock(
        &mut Measure {
            pool: &pool,
            window,
            filter,
        },
        false,
    );
}

fn main() {
    if let Ok(spec) = std::env::var(VAR) {
        let mut parts = spec.splitn(3, ':');
        let (Some(scenario_name), Some(name), Some(n)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("{VAR}=<read|write|mix>:<name>:<n>");
        };
        let n = n.parse().expect("<n> is a number");
        assert!(
            count(scenario_name, name, n),
            "no implementation called {name:?}"
        );
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then a short smoke run of each part is enough.
    let benching = std::env::args().any(|arg| arg == "--bench");
    if !benching {
        let pool = Pool::new(THREADS);
        let lock = Arc::new(turnlock::RwLock::new(0));
        read_mostly_run(&pool, &lock, true);
        assert!(count("mix", "turnlock-new", 2));
        fairness(Duration::from_millis(10), "");
        return;
    }
    // A filter as criterion takes it (`cargo bench --bench rwlock --
    // fairness/turnlock-new`) also selects the fairness runs, named
    // `fairness/<implementation>`.
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default();
    let mut criterion = common::criterion().configure_from_args();
    timed(&mut criterion);
    criterion.final_summary();
    ratios();
    let window = if common::quick() {
        Duration::from_millis(200)
    } else {
        Duration::from_millis(500)
    };
    fairness(window, &filter);
}
