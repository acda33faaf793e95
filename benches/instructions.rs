//! The single-thread contended scenario, one implementation per process,
//! for instruction counting under callgrind: 1 000 tasks, each holding the
//! lock across one `yield_now().await`, on the minimal FIFO executor of
//! `common::scenario` or on smol's `LocalExecutor`.
//!
//! `TURNLOCK_BENCH_INSTR=<executor>:<name>:<sections per task>` selects the
//! run (`executor`: `fifo` or `smol-local`). `tools/counted.py` runs it twice
//! with different section counts under `valgrind --tool=callgrind` and
//! divides the difference of the totals by the difference of the sections,
//! so that start-up (spawning, the first waiters queueing) cancels out.
//! Without the variable (as under `cargo bench`) it only says so.

mod common;

use common::scenario::{self, Executor};
use common::{BenchLock, Visit};

/// The variable that selects a run.
const VAR: &str = "TURNLOCK_BENCH_INSTR";

struct Run {
    executor: Executor,
    name: String,
    per_task: u64,
    found: bool,
}

impl Visit for Run {
    fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
        if name == self.name {
            let lock = make();
            let check = name != scenario::NOOP;
            scenario::run_single::<L, false>(
                self.executor,
                &lock,
                scenario::TASKS_1000,
                self.per_task,
                check,
            );
            self.found = true;
        }
    }
}

fn main() {
    let Ok(spec) = std::env::var(VAR) else {
        eprintln!(
            "instructions: set {VAR}=<executor>:<name>:<sections per task>, or run tools/counted.py"
        );
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (Some(executor), Some(name), Some(per_task)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("{VAR}=<executor>:<name>:<sections per task>");
    };
    let mut run = Run {
        executor: Executor::from_name(executor).expect("executor: fifo or smol-local"),
        name: name.to_owned(),
        per_task: per_task.parse().expect("<sections per task> is a number"),
        found: false,
    };
    common::each_lock(&mut run);
    scenario::each_floor(&mut run);
    assert!(run.found, "no implementation called {name:?}");
}
