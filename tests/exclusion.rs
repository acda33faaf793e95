//! Mutual exclusion under stress, for both policies: async tasks on a
//! two-thread executor and plain threads hammer one lock through every way
//! of acquiring it, some holding it across an `.await`. The protected value
//! has a plain `inside` flag and a plain counter: two holders at once trip
//! the flag or lose an increment. Every operation ends in a section
//! (`try_lock` is retried politely), so the count is known in advance.

mod common;

use common::storm::lock::LockSubject;
use common::storm::{Cancel, Mix, Storm, Style, Way};
use common::{Checked, scaled};
use turnlock::Lock;

/// Tasks: `lock`, `with_lock`, `lock_owned` and a polite `try_lock` loop,
/// one section in two held across an `.await`; threads: `lock_blocking`.
const TASKS_AND_THREADS: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::No),
        Way(Style::WithLock, Cancel::No),
        Way(Style::Owned, Cancel::No),
        Way(Style::Try, Cancel::No),
    ],
    threads: &[Style::Blocking],
    yields: 0..2,
    thread_yield_one_in: 8,
    panic_one_in: 0,
    retry: true,
};

/// Tasks and threads on one lock; every operation is one section.
fn stress(name: &'static str, lock: Lock<Checked>) {
    Storm::new(name)
        .tasks(scaled(32), scaled(300))
        .threads(2, scaled(2_000))
        .run(move |storm| {
            let expected = (storm.tasks * storm.task_ops + storm.threads * storm.thread_ops) as u64;
            let report = storm.rage(LockSubject::new(lock), &TASKS_AND_THREADS);
            assert_eq!(report.sections, expected);
        });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn tasks_and_threads_new() {
    stress("tasks_and_threads_new", Lock::new(Checked::new()));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn tasks_and_threads_fifo() {
    stress("tasks_and_threads_fifo", Lock::new_fifo(Checked::new()));
}

/// Only plain threads, more of them than cores, with `lock_blocking` and a
/// `try_lock` loop.
const THREADS_ONLY: Mix = Mix {
    tasks: &[],
    threads: &[Style::Blocking, Style::Try],
    yields: 0..0,
    thread_yield_one_in: 0,
    panic_one_in: 0,
    retry: true,
};

fn threads_only(name: &'static str, lock: Lock<Checked>) {
    Storm::new(name)
        .tasks(0, 0)
        .threads(4, scaled(3_000))
        .run(move |storm| {
            let expected = (storm.threads * storm.thread_ops) as u64;
            let report = storm.rage(LockSubject::new(lock), &THREADS_ONLY);
            assert_eq!(report.sections, expected);
        });
}

#[test]
fn threads_only_new() {
    threads_only("threads_only_new", Lock::new(Checked::new()));
}

#[test]
fn threads_only_fifo() {
    threads_only("threads_only_fifo", Lock::new_fifo(Checked::new()));
}

/// Many tasks on a single-threaded executor, all holding across an
/// `.await`: every release finds waiters, so it is hand-offs all the way.
const SINGLE_THREAD: Mix = Mix {
    tasks: &[Way(Style::Await, Cancel::No)],
    threads: &[],
    yields: 1..2,
    thread_yield_one_in: 0,
    panic_one_in: 0,
    retry: false,
};

fn single_thread_tasks(name: &'static str, lock: Lock<Checked>) {
    Storm::new(name)
        .tasks(scaled(50), scaled(200))
        .threads(0, 0)
        .workers(0)
        .run(move |storm| {
            let expected = (storm.tasks * storm.task_ops) as u64;
            let report = storm.rage(LockSubject::new(lock), &SINGLE_THREAD);
            assert_eq!(report.sections, expected);
        });
}

#[test]
fn single_thread_tasks_new() {
    single_thread_tasks("single_thread_tasks_new", Lock::new(Checked::new()));
}

#[test]
fn single_thread_tasks_fifo() {
    single_thread_tasks("single_thread_tasks_fifo", Lock::new_fifo(Checked::new()));
}
