//! Counts per critical section, not times: polls of lock futures, wake-ups
//! of their wakers, wake-ups that found the lock taken, allocations made by
//! lock futures and releases, and `event-listener` listener allocations.
//!
//! * 1 000 tasks on one thread, each holding the lock across one
//!   `yield_now().await`, on the minimal FIFO executor: deterministic, so
//!   one run of `P` and one of `2P` sections per task, differenced, as for
//!   the instruction counts;
//! * 2 and 64 tasks on 2 threads (a smol `LocalExecutor` on each thread,
//!   task `i` on thread `i % 2`), short sections and sections
//!   held across an `.await`: the counts vary from run to run, so each
//!   figure per section is the median over `TURNLOCK_BENCH_RUNS` runs
//!   (default 7); the figures per waiting acquisition are pooled over the
//!   runs (their sums divided by the number of acquisitions that waited).
//!
//! `cargo bench --bench counts` prints Markdown tables; with `--json` it
//! prints one JSON object per line instead (read by `tools/counted.py`).
//!
//! How a listener allocation is recognised: at start-up one `Event::listen`
//! is made with the counting allocator recording, which gives the layout of
//! the boxed listener; afterwards, allocations of exactly that layout made
//! while a lock future is polled (or a guard released) are counted as
//! listener allocations. Only allocations inside lock polls and releases
//! count, so the executor's own allocations are left out.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::scenario::{self, CountingAllocator, Executor, STATS, Snapshot, THREADED, Threaded};
use common::{BenchLock, Visit};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Sections per task of the shorter single-thread run; the longer has twice.
const SINGLE_PER_TASK: u64 = 8;
/// The whole run is aborted after this long: a hang must not stall CI.
const WATCHDOG: Duration = Duration::from_secs(600);

/// Figures per critical section, and per acquisition that waited.
#[derive(Clone, Copy, Debug, Default)]
struct PerSection {
    /// Share of acquisitions that waited (returned `Pending` at least once).
    waited: f64,
    polls: f64,
    wakes: f64,
    futile_wakes: f64,
    listener_allocations: f64,
    /// Acquisitions that allocated two or more listeners, per section.
    repeat_listeners: f64,
    /// Listener allocations of acquisitions that did not wait, per section.
    unused_listeners: f64,
    /// All allocations of lock polls and releases.
    allocations: f64,
    /// Polls beyond the first, per acquisition that waited (1 at best).
    extra_polls_per_wait: f64,
    /// Wake-ups per acquisition that waited (1 at best).
    wakes_per_wait: f64,
    /// Listener allocations of waiting acquisitions per acquisition that
    /// waited (1 at best).
    listeners_per_wait: f64,
}

/// Reads one figure.
type Figure = fn(&PerSection) -> f64;

/// The figures in table and JSON order, with their JSON names.
const FIGURES: [(&str, Figure); 11] = [
    ("waited", |s| s.waited),
    ("polls", |s| s.polls),
    ("wakes", |s| s.wakes),
    ("futile_wakes", |s| s.futile_wakes),
    ("listener_allocations", |s| s.listener_allocations),
    ("repeat_listeners", |s| s.repeat_listeners),
    ("unused_listeners", |s| s.unused_listeners),
    ("allocations", |s| s.allocations),
    ("extra_polls_per_wait", |s| s.extra_polls_per_wait),
    ("wakes_per_wait", |s| s.wakes_per_wait),
    ("listeners_per_wait", |s| s.listeners_per_wait),
];

/// The Markdown header of [`FIGURES`].
const HEADER: &str = "| waited | polls | wake-ups | wake-ups that find the lock taken | listener allocations | acquisitions with 2+ listeners | listeners of acquisitions that did not wait | allocations | per waiting acquisition: extra polls | wake-ups | listener allocations |";

impl PerSection {
    /// The figures of `high` minus `low`.
    fn between(low: Snapshot, high: Snapshot) -> Self {
        let d = |f: fn(&Snapshot) -> u64| (f(&high) - f(&low)) as f64;
        let sections = d(|s| s.acquisitions);
        let waited = d(|s| s.waited);
        let per_wait = |x: f64| if waited > 0.0 { x / waited } else { 0.0 };
        Self {
            waited: waited / sections,
            polls: d(|s| s.polls) / sections,
            wakes: d(|s| s.wakes) / sections,
            futile_wakes: d(|s| s.futile_wakes) / sections,
            listener_allocations: d(|s| s.listener_allocations) / sections,
            repeat_listeners: d(|s| s.repeat_listeners) / sections,
            unused_listeners: d(|s| s.unused_listeners) / sections,
            allocations: d(|s| s.allocations) / sections,
            extra_polls_per_wait: per_wait(d(|s| s.polls) - sections),
            wakes_per_wait: per_wait(d(|s| s.wakes)),
            listeners_per_wait: per_wait(d(|s| s.listener_allocations) - d(|s| s.unused_listeners)),
        }
    }

    /// The median of each figure over `runs`, figure by figure.
    fn median(runs: &[Self]) -> [f64; FIGURES.len()] {
        FIGURES.map(|(_, f)| {
            let mut values: Vec<f64> = runs.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            let n = values.len();
            if n % 2 == 1 {
                values[n / 2]
            } else {
                (values[n / 2 - 1] + values[n / 2]) / 2.0
            }
        })
    }

    fn all(&self) -> [f64; FIGURES.len()] {
        FIGURES.map(|(_, f)| f(self))
    }
}

fn json(figures: &[f64; FIGURES.len()]) -> String {
    FIGURES
        .iter()
        .zip(figures)
        .map(|((name, _), value)| format!("\"{name}\":{value:.4}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A table row; the per-section figures (all but the last three) times
/// `scale`.
fn row(label: &str, figures: &[f64; FIGURES.len()], scale: f64) -> String {
    let per_section = FIGURES.len() - 3;
    let cells: Vec<String> = figures
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i < per_section {
                format!("{:.2}", v * scale)
            } else {
                format!("{v:.2}")
            }
        })
        .collect();
    format!("| {label} | {} |", cells.join(" | "))
}

fn rule(columns: usize) -> String {
    format!("|{}", "---|".repeat(columns))
}

/// The single-thread scenario with counting, differenced over two sizes.
struct Single(Vec<(&'static str, [f64; FIGURES.len()])>);

impl Visit for Single {
    fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
        let run = |per_task| {
            let lock = make();
            STATS.reset();
            scenario::run_single::<L, true>(
                Executor::Fifo,
                &lock,
                scenario::TASKS_1000,
                per_task,
                name != scenario::NOOP,
            );
            STATS.snapshot()
        };
        let low = run(SINGLE_PER_TASK);
        let high = run(2 * SINGLE_PER_TASK);
        self.0.push((name, PerSection::between(low, high).all()));
    }
}

/// The 2-thread scenarios of one lock.
struct Threads {
    runs: usize,
    scenario: Threaded,
    out: Vec<(&'static str, [f64; FIGURES.len()])>,
}

impl Visit for Threads {
    fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
        if !matches!(
            name,
            common::TURNLOCK_NEW | common::TURNLOCK_FIFO | "async-lock"
        ) {
            return;
        }
        let lock = Arc::new(make());
        let snapshots: Vec<Snapshot> = (0..self.runs).map(|_| self.scenario.run(&lock)).collect();
        let runs: Vec<PerSection> = snapshots
            .iter()
            .map(|&s| PerSection::between(Snapshot::default(), s))
            .collect();
        let mut figures = PerSection::median(&runs);
        // Per waiting acquisition: pooled over all runs, so that runs with
        // few waits weigh little.
        let pooled = PerSection::between(Snapshot::default(), Snapshot::sum(&snapshots));
        let per_wait = FIGURES.len() - 3..FIGURES.len();
        figures[per_wait.clone()].copy_from_slice(&pooled.all()[per_wait]);
        self.out.push((name, figures));
    }
}

fn main() {
    let as_json = std::env::args().any(|arg| arg == "--json");
    let runs: usize = std::env::var("TURNLOCK_BENCH_RUNS")
        .ok()
        .map(|v| v.parse().expect("TURNLOCK_BENCH_RUNS is a number"))
        .unwrap_or(7);
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("counts: not finished after {WATCHDOG:?} (a hang or a lost wake-up)");
        std::process::exit(2);
    });
    scenario::calibrate_listener();

    let mut single = Single(Vec::new());
    common::each_lock(&mut single);
    scenario::each_floor(&mut single);
    if as_json {
        for (name, figures) in &single.0 {
            println!(
                "{{\"kind\":\"single\",\"lock\":\"{name}\",\"tasks\":{},{}}}",
                scenario::TASKS_1000,
                json(figures)
            );
        }
    } else {
        println!(
            "1 000 tasks on one thread (minimal FIFO executor), lock held across one `yield_now().await`; per critical section, and per acquisition that waited:\n"
        );
        println!("| lock {HEADER}");
        println!("{}", rule(FIGURES.len() + 1));
        for (name, figures) in &single.0 {
            println!("{}", row(name, figures, 1.0));
        }
    }

    if !as_json {
        println!(
            "\n2 threads (a smol `LocalExecutor` on each, tasks spread evenly), median of {runs} runs; per 1 000 critical sections, and per acquisition that waited (pooled over the runs):\n"
        );
        println!("| scenario | lock {HEADER}");
        println!("{}", rule(FIGURES.len() + 2));
    }
    for scenario in THREADED {
        let mut threads = Threads {
            runs,
            scenario,
            out: Vec::new(),
        };
        common::each_lock(&mut threads);
        for (name, figures) in &threads.out {
            if as_json {
                println!(
                    "{{\"kind\":\"threaded\",\"scenario\":\"{}\",\"lock\":\"{name}\",\"runs\":{runs},{}}}",
                    scenario.name,
                    json(figures)
                );
            } else {
                println!(
                    "{}",
                    row(&format!("{} | {name}", scenario.name), figures, 1000.0)
                );
            }
        }
    }
}
