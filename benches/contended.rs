//! Scenarios 2 and 3: many tasks on a smol executor, one lock.
//!
//! * `short-*`: 2 and 64 tasks on 2 threads, a critical section that only
//!   increments the counter;
//! * `held-*`: 64 tasks on 2 threads and 1 000 tasks on 1 thread, each
//!   holding the lock across one `yield_now().await`.
//!
//! One iteration spawns the tasks and waits for them; the tasks share a fixed
//! number of critical sections, reported as the group's throughput, so the
//! median divided by that number is the time per critical section.

mod common;

use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use common::{BenchLock, Pool, Visit};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// One contended scenario.
#[derive(Clone, Copy)]
struct Scenario {
    /// The criterion group.
    group: &'static str,
    tasks: u64,
    threads: usize,
    /// Critical sections per task and iteration.
    per_task: u64,
    /// Hold the lock across a `yield_now().await`.
    hold_across_yield: bool,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        group: "short-2-tasks-2-threads",
        tasks: 2,
        threads: 2,
        per_task: 8192,
        hold_across_yield: false,
    },
    Scenario {
        group: "short-64-tasks-2-threads",
        tasks: 64,
        threads: 2,
        per_task: 256,
        hold_across_yield: false,
    },
    Scenario {
        group: "held-64-tasks-2-threads",
        tasks: 64,
        threads: 2,
        per_task: 64,
        hold_across_yield: true,
    },
    Scenario {
        group: "held-1000-tasks-1-thread",
        tasks: 1000,
        threads: 1,
        per_task: 16,
        hold_across_yield: true,
    },
];

impl Scenario {
    fn sections(&self) -> u64 {
        self.tasks * self.per_task
    }

    /// Runs one iteration on `pool` and returns its duration.
    fn run<L: BenchLock>(&self, pool: &Pool, lock: &Arc<L>) -> Duration {
        let before = *common::poll_once(lock.acquire());
        let per_task = self.per_task;
        let hold = self.hold_across_yield;
        let start = Instant::now();
        pool.run_all((0..self.tasks).map(|_| {
            let lock = lock.clone();
            async move {
                for _ in 0..per_task {
                    let mut guard = lock.acquire().await;
                    *guard += 1;
                    if hold {
                        futures_lite::future::yield_now().await;
                    }
                }
            }
        }));
        let elapsed = start.elapsed();
        let after = *common::poll_once(lock.acquire());
        assert_eq!(after - before, self.sections(), "lost an update");
        elapsed
    }
}

fn contended(c: &mut Criterion) {
    struct Bench<'a, 'b> {
        group: &'a mut BenchmarkGroup<'b, WallTime>,
        scenario: Scenario,
        pool: &'a Pool,
    }

    impl Visit for Bench<'_, '_> {
        fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
            let lock = Arc::new(make());
            let (scenario, pool) = (self.scenario, self.pool);
            self.group.bench_function(name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| scenario.run(pool, &lock)).sum());
            });
        }
    }

    for scenario in SCENARIOS {
        let pool = Pool::new(scenario.threads);
        let mut group = c.benchmark_group(scenario.group);
        group
            .throughput(Throughput::Elements(scenario.sections()))
            .sampling_mode(SamplingMode::Flat);
        if !common::quick() {
            group.sample_size(30);
        }
        common::each_lock(&mut Bench {
            group: &mut group,
            scenario,
            pool: &pool,
        });
        group.finish();
    }
}

fn main() {
    let mut criterion = common::criterion().configure_from_args();
    contended(&mut criterion);
    criterion.final_summary();
}
