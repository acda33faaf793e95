//! Scenario 1: uncontended lock + unlock on one thread, against the floor of
//! a bare compare-and-swap to take and a release store to give back, and the
//! floor of a lock that must see waiters when it releases (`floor-rmw`: a
//! compare-and-swap each way).
//!
//! Every lock future is polled once with a no-op waker (`common::poll_once`).
//!
//! With `TURNLOCK_BENCH_COUNT=<name>:<rounds>` set, the binary instead runs
//! `<rounds>` rounds of one implementation and exits, for instruction
//! counting under callgrind (`tools/callgrind_uncontended.py`).

mod common;

use core::hint::black_box;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use common::{BenchLock, Visit};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// The report name of the bare atomic floor.
const FLOOR: &str = "floor";
/// The report name of the floor with an atomic read-modify-write release.
const FLOOR_RMW: &str = "floor-rmw";

/// The least any lock can do: one compare-and-swap 0 -> 1 (Acquire) to take,
/// one store of 0 (Release) to give back.
#[inline]
fn floor_round(word: &AtomicUsize) {
    let word = black_box(word);
    if word.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
        panic!("the floor word is never contended");
    }
    black_box(word);
    word.store(0, Release);
}

/// The floor of a lock that can tell on release whether anybody waits: the
/// release is a compare-and-swap 1 -> 0 (Release) instead of a plain store.
/// On x86-64 a release store is an ordinary `mov`, while any read-modify-write
/// is a locked instruction, so this costs about two [`floor_round`]s.
#[inline]
fn floor_rmw_round(word: &AtomicUsize) {
    let word = black_box(word);
    if word.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
        panic!("the floor word is never contended");
    }
    black_box(word);
    if word.compare_exchange(1, 0, Release, Relaxed).is_err() {
        panic!("the floor word is never contended");
    }
}

/// One uncontended acquisition and release.
#[inline]
fn lock_round<L: BenchLock>(lock: &L) {
    let guard = common::poll_once(black_box(lock).acquire());
    black_box(&*guard);
    drop(guard);
}

fn uncontended(c: &mut Criterion) {
    struct Bench<'a, 'b>(&'a mut BenchmarkGroup<'b, WallTime>);

    impl Visit for Bench<'_, '_> {
        fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
            let lock = make();
            self.0
                .bench_function(name, |b| b.iter(|| lock_round(&lock)));
        }
    }

    let mut group = c.benchmark_group("uncontended");
    let word = AtomicUsize::new(0);
    group.bench_function(FLOOR, |b| b.iter(|| floor_round(&word)));
    group.bench_function(FLOOR_RMW, |b| b.iter(|| floor_rmw_round(&word)));
    common::each_lock(&mut Bench(&mut group));
    group.finish();
}

/// Runs `rounds` rounds of the implementation called `name`, for counting
/// instructions. Returns `false` if there is no such implementation.
fn count(name: &str, rounds: u64) -> bool {
    struct Count<'a> {
        name: &'a str,
        rounds: u64,
        found: bool,
    }

    impl Visit for Count<'_> {
        fn visit<L: BenchLock>(&mut self, name: &'static str, make: fn() -> L) {
            if name == self.name {
                let lock = make();
                for _ in 0..self.rounds {
                    lock_round(&lock);
                }
                self.found = true;
            }
        }
    }

    if name == FLOOR {
        let word = AtomicUsize::new(0);
        for _ in 0..rounds {
            floor_round(&word);
        }
        return true;
    }
    if name == FLOOR_RMW {
        let word = AtomicUsize::new(0);
        for _ in 0..rounds {
            floor_rmw_round(&word);
        }
        return true;
    }
    let mut visitor = Count {
        name,
        rounds,
        found: false,
    };
    common::each_lock(&mut visitor);
    visitor.found
}

fn main() {
    if let Ok(spec) = std::env::var("TURNLOCK_BENCH_COUNT") {
        let (name, rounds) = spec
            .split_once(':')
            .expect("TURNLOCK_BENCH_COUNT=<name>:<rounds>");
        let rounds = rounds.parse().expect("<rounds> is a number");
        assert!(count(name, rounds), "no implementation called {name:?}");
        return;
    }
    let mut criterion = common::criterion().configure_from_args();
    uncontended(&mut criterion);
    criterion.final_summary();
}
