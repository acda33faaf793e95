//! Mutual exclusion per key and independence across keys, under stress:
//! tasks on a two-thread executor and plain threads, every way of locking.

#![cfg(feature = "keyed")]

mod common;

use std::sync::Arc;
use std::thread;

use common::storm::keyed::KeyedSubject;
use common::storm::{Cancel, Deadline, Mix, Storm, Style, Way};
use common::{join_all, scaled, with_executor, with_watchdog};
use futures_lite::future::yield_now;
use turnlock::KeyedLocks;

/// Tasks: `lock`, `lock_until` a deadline that never comes, `with_lock`
/// and a polite `try_lock` loop, one section in two held across an
/// `.await`; threads: `lock_blocking`. Every operation is one section.
const MIX: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::No),
        Way(Style::Until(Deadline::Never), Cancel::No),
        Way(Style::WithLock, Cancel::No),
        Way(Style::Try, Cancel::No),
    ],
    threads: &[Style::Blocking],
    yields: 0..2,
    thread_yield_one_in: 8,
    panic_one_in: 0,
    retry: true,
};

/// Each of `keys` keys protects a checked value outside the map; at the
/// end the map is empty and every key still works.
fn stress(name: &'static str, locks: KeyedLocks<u32>, keys: u32) {
    Storm::new(name)
        .tasks(scaled(16), scaled(2_000))
        .threads(2, scaled(4_000))
        .run(move |storm| {
            let expected = (storm.tasks * storm.task_ops + storm.threads * storm.thread_ops) as u64;
            let report = storm.rage(KeyedSubject::new(locks, keys), &MIX);
            assert_eq!(report.sections, expected);
        });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn few_hot_keys_new() {
    stress("few_hot_keys_new", KeyedLocks::new(), 3);
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn few_hot_keys_fifo() {
    stress("few_hot_keys_fifo", KeyedLocks::new_fifo(), 3);
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn many_cold_keys_new() {
    stress("many_cold_keys_new", KeyedLocks::new(), 500);
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn many_cold_keys_fifo() {
    stress("many_cold_keys_fifo", KeyedLocks::new_fifo(), 500);
}

/// A key held for the whole test does not slow down any other key: tasks
/// and threads hammering other keys all finish while it is held.
#[test]
fn a_held_key_blocks_no_other_key() {
    with_watchdog(60, || {
        let locks = Arc::new(KeyedLocks::new());
        let held = locks.try_lock_owned(0).expect("free");
        let iters = scaled(2_000);
        with_executor(2, |executor| {
            let locks = locks.clone();
            async move {
                let tasks: Vec<_> = (1..=8)
                    .map(|key| {
                        let locks = locks.clone();
                        executor.spawn(async move {
                            for _ in 0..iters {
                                let _guard = locks.lock(key).await;
                                yield_now().await;
                            }
                        })
                    })
                    .collect();
                let threads: Vec<_> = (9..=10)
                    .map(|key| {
                        let locks = locks.clone();
                        thread::spawn(move || {
                            for _ in 0..iters {
                                drop(locks.lock_blocking(key));
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
                join_all(threads);
            }
        });
        assert!(locks.is_locked(&0));
        assert_eq!(locks.len(), 1);
        drop(held);
        assert!(locks.is_empty());
    });
}
