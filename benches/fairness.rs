//! Scenario 4: fairness. 16 tasks on the 2-thread executor take the lock
//! over and over for a fixed time (500 ms), each counting its acquisitions; the
//! figure is max/min of those counts (1.0 is perfectly even).
//!
//! Two variants: `held` holds the lock across one `yield_now().await` (all
//! tasks queue on the lock, so its policy alone decides who goes next);
//! `short` increments a counter under the lock and yields after releasing
//! it (the lock is often free, so barging and wake-up order decide).
//!
//! On a busy machine the figures also carry scheduling noise: a task whose
//! thread is preempted between its release and its next `lock()` misses the
//! turns taken meanwhile, even under a strict FIFO lock. Longer windows
//! (500 ms, or 200 ms in quick mode) and the median of three windows damp it.
//!
//! Not a criterion timing: the binary prints a table and writes
//! `<criterion home>/turnlock-fairness.json` for `tools/bench_chart.py`.

mod common;

use core::fmt::Write as _;
use core::time::Duration;
use std::sync::Arc;

use common::{BenchLock, Pool, Visit};

const TASKS: usize = 16;
const THREADS: usize = 2;
/// Each figure is the median of this many windows.
const ROUNDS: usize = 3;

/// One implementation in one variant.
struct Outcome {
    variant: &'static str,
    name: &'static str,
    /// max/min of each round, sorted.
    ratios: Vec<f64>,
    /// The counts of the median round.
    counts: Vec<u64>,
}

impl Outcome {
    fn median(&self) -> f64 {
        self.ratios[self.ratios.len() / 2]
    }
}

/// Runs `TASKS` tasks on `pool` for `window` and returns each one's count.
fn round<L: BenchLock>(pool: &Pool, lock: &Arc<L>, hold: bool, window: Duration) -> Vec<u64> {
    pool.count_sections(TASKS, window, lock.clone(), move |lock, _| async move {
        let mut guard = lock.acquire().await;
        *guard += 1;
        if hold {
            futures_lite::future::yield_now().await;
            drop(guard);
        } else {
            drop(guard);
            futures_lite::future::yield_now().await;
        }
        lock
    })
}

fn fairness(window: Duration, rounds: usize) -> Vec<Outcome> {
    struct Measure<'a> {
        pool: &'a Pool,
        variant: &'static str,
        hold: bool,
        window: Duration,
        rounds: usize,
        outcomes: Vec<Outcome>,
    }

    impl Visit for Measure<'_> {
        fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
            let lock = Arc::new(make());
            let mut runs: Vec<(f64, Vec<u64>)> = (0..self.rounds)
                .map(|_| {
                    let counts = round(self.pool, &lock, self.hold, self.window);
                    let max = *counts.iter().max().expect("tasks") as f64;
                    let min = *counts.iter().min().expect("tasks") as f64;
                    (max / min.max(1.0), counts)
                })
                .collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let counts = runs[runs.len() / 2].1.clone();
            self.outcomes.push(Outcome {
                variant: self.variant,
                name,
                ratios: runs.into_iter().map(|(ratio, _)| ratio).collect(),
                counts,
            });
        }
    }

    let pool = Pool::new(THREADS);
    let mut outcomes = Vec::new();
    for (variant, hold) in [("held", true), ("short", false)] {
        let mut measure = Measure {
            pool: &pool,
            variant,
            hold,
            window,
            rounds,
            outcomes: Vec::new(),
        };
        common::each_lock(&mut measure);
        outcomes.append(&mut measure.outcomes);
    }
    outcomes
}

fn to_json(window: Duration, outcomes: &[Outcome]) -> String {
    let mut json = format!(
        "{{\"tasks\": {TASKS}, \"threads\": {THREADS}, \"window_ms\": {}, \"results\": [\n",
        window.as_millis()
    );
    for (i, outcome) in outcomes.iter().enumerate() {
        let ratios: Vec<String> = outcome.ratios.iter().map(|r| format!("{r:.4}")).collect();
        let counts: Vec<String> = outcome.counts.iter().map(u64::to_string).collect();
        let _ = writeln!(
            json,
            "  {{\"variant\": \"{}\", \"name\": \"{}\", \"max_over_min\": {:.4}, \
             \"rounds\": [{}], \"counts\": [{}]}}{}",
            outcome.variant,
            outcome.name,
            outcome.median(),
            ratios.join(", "),
            counts.join(", "),
            if i + 1 < outcomes.len() { "," } else { "" },
        );
    }
    json.push_str("]}\n");
    json
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then a short smoke run is enough.
    let benching = std::env::args().any(|arg| arg == "--bench");
    let window = if !benching {
        Duration::from_millis(10)
    } else if common::quick() {
        Duration::from_millis(200)
    } else {
        Duration::from_millis(500)
    };
    let rounds = if benching { ROUNDS } else { 1 };
    let outcomes = fairness(window, rounds);
    println!(
        "fairness: {TASKS} tasks on {THREADS} threads for {} ms, max/min acquisitions per task (median of {rounds})",
        window.as_millis()
    );
    for outcome in &outcomes {
        let (min, max) = (
            outcome.counts.iter().min().expect("tasks"),
            outcome.counts.iter().max().expect("tasks"),
        );
        println!(
            "{:<6} {:<18} {:>7.3}   (min {min}, max {max})",
            outcome.variant,
            outcome.name,
            outcome.median()
        );
    }
    if benching {
        let home = common::criterion_home();
        let path = home.join("turnlock-fairness.json");
        std::fs::create_dir_all(&home).expect("create the criterion directory");
        std::fs::write(&path, to_json(window, &outcomes)).expect("write the fairness results");
        println!("saved {}", path.display());
    }
}
