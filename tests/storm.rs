//! Storms: seeded, bounded, model-based stress of `Lock`, `KeyedLocks`,
//! `RwLock` and `KeyedRwLocks` (each in both policies), on the storm harness
//! (`tests/common/storm/`, whose docs list the environment variables that
//! replay a seed or resize a storm).
//!
//! Async tasks on a multi-threaded executor and plain blocking threads use
//! one lock (or one map) at the same time, in every acquisition style:
//! `lock`, `lock_owned`, `try_lock`, `try_lock_owned`, `lock_until` with a
//! deadline future, `lock_timeout`, `lock_blocking`, `lock_blocking_timeout`,
//! `with_lock`, and `lock_many` for keys; for the reader-writer locks, reads
//! and writes in each of them, and upgradable reads that are upgraded (by
//! waiting, at once, with a deadline, by blocking) or downgraded. Lock
//! futures are cancelled at
//! random points, among them the instant they are woken (a wrapper that,
//! once woken, drops the lock future instead of polling it), raced against
//! one another and against other futures. Holders panic on purpose, and
//! keyed storms use keys whose `Drop`, `Hash` or `Eq` panic on purpose.
//!
//! The model: every successful acquisition is counted, and the critical
//! section updates a plain, non-atomic counter (inside the lock's value, or
//! in a cell per key) that also notices two holders at once; under Miri and
//! ThreadSanitizer two holders are a data race as well. At the end the
//! counters equal the model's, the lock is free (`try_lock` succeeds,
//! `is_locked()` is false) and a keyed map is empty (`len() == 0`).

mod common;

use common::Checked;
use common::storm::keyed::{Key, KeyedSubject};
use common::storm::keyed_rw::KeyedRwSubject;
use common::storm::lock::LockSubject;
use common::storm::rwlock::RwLockSubject;
use common::storm::{Cancel, Deadline, Mix, Report, Storm, Style, Way};
use turnlock::{KeyedLocks, KeyedRwLocks, Lock, RwLock};

/// `lock_timeout`'s timer never fires in time under Miri.
const TIMEOUT: Way = if cfg!(miri) {
    Way(Style::Await, Cancel::No)
} else {
    Way(Style::Timeout, Cancel::No)
};

const LOCK: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::No),
        Way(Style::Owned, Cancel::No),
        Way(Style::Try, Cancel::No),
        Way(Style::TryOwned, Cancel::No),
        Way(Style::Until(Deadline::AfterPolls(4)), Cancel::No),
        TIMEOUT,
        Way(Style::WithLock, Cancel::No),
        Way(Style::Await, Cancel::OnWake),
        Way(Style::Owned, Cancel::OnWake),
        // Raced against a few yields: dropped at a random point.
        Way(Style::Await, Cancel::Race),
        // Two lock futures of one lock in one task, both polled.
        Way(Style::Await, Cancel::Two),
        // A deadline that lands at a random point of a cancellable wait.
        Way(Style::Until(Deadline::AfterPolls(6)), Cancel::OnWake),
    ],
    threads: &[
        Style::Blocking,
        Style::BlockingTimeout,
        Style::Try,
        Style::Await,
        Style::Owned,
        Style::WithLock,
    ],
    yields: 0..3,
    thread_yield_one_in: 2,
    panic_one_in: 40,
    retry: false,
};

/// Every kind of planned trouble happened in a storm that was long enough.
fn assert_trouble(storm: &Storm, report: &Report, keyed: bool) {
    if storm.task_ops < 100 {
        return;
    }
    let mut trouble = vec![
        ("cancellation", report.cancelled),
        ("planned panic while holding", report.panics_holding),
    ];
    if keyed {
        trouble.extend([
            ("key drop panic", report.panics_drop),
            ("key hash panic", report.panics_hash),
            ("key eq panic", report.panics_eq),
        ]);
    }
    for (what, count) in trouble {
        assert!(count > 0, "no {what} happened: {report:?}");
    }
}

#[test]
fn storm_lock_new() {
    Storm::new("storm_lock_new").run(|storm| {
        let report = storm.rage(LockSubject::new(Lock::new(Checked::new())), &LOCK);
        assert_trouble(&storm, &report, false);
    });
}

#[test]
fn storm_lock_fifo() {
    Storm::new("storm_lock_fifo").run(|storm| {
        let report = storm.rage(LockSubject::new(Lock::new_fifo(Checked::new())), &LOCK);
        assert_trouble(&storm, &report, false);
    });
}

/// Keys that many actors contend for; each has a checked value.
const HOT_KEYS: u32 = 5;

const KEYED: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::No),
        Way(Style::Owned, Cancel::No),
        Way(Style::Try, Cancel::No),
        Way(Style::TryOwned, Cancel::No),
        Way(Style::Until(Deadline::AfterPolls(4)), Cancel::No),
        TIMEOUT,
        Way(Style::WithLock, Cancel::No),
        // Up to three keys at once, in any order, maybe repeated.
        Way(Style::Many, Cancel::No),
        Way(Style::Many, Cancel::OnWake),
        Way(Style::Await, Cancel::OnWake),
        // Two lock futures in one task, both polled: of one key, or of
        // two keys; whichever wins is held, the other is dropped.
        Way(Style::Await, Cancel::Two),
        Way(Style::Owned, Cancel::Race),
    ],
    threads: &[
        Style::Blocking,
        Style::BlockingTimeout,
        Style::Try,
        Style::Many,
        Style::Await,
    ],
    yields: 0..3,
    thread_yield_one_in: 2,
    panic_one_in: 40,
    retry: false,
};

/// A keyed storm over [`HOT_KEYS`] hot keys and, one key in six, cold keys
/// (new entries, pool churn, tables that grow and shrink), with keys that
/// panic on purpose.
fn keyed(locks: KeyedLocks<Key>) -> KeyedSubject<Key> {
    KeyedSubject::new(locks, HOT_KEYS).cold_keys(6)
}

#[test]
fn storm_keyed_new() {
    Storm::new("storm_keyed_new").run(|storm| {
        let report = storm.rage(keyed(KeyedLocks::new()), &KEYED);
        assert_trouble(&storm, &report, true);
    });
}

#[test]
fn storm_keyed_fifo() {
    Storm::new("storm_keyed_fifo").run(|storm| {
        let report = storm.rage(keyed(KeyedLocks::new_fifo()), &KEYED);
        assert_trouble(&storm, &report, true);
    });
}

const RWLOCK: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::No),
        Way(Style::Owned, Cancel::No),
        Way(Style::Try, Cancel::No),
        Way(Style::TryOwned, Cancel::No),
        Way(Style::Until(Deadline::AfterPolls(4)), Cancel::No),
        TIMEOUT,
        Way(Style::WithLock, Cancel::No),
        Way(Style::Upgradable, Cancel::No),
        // An upgrade (or the upgradable read before it) dropped at any
        // point, the instant of its hand-over included.
        Way(Style::Upgradable, Cancel::Race),
        Way(Style::Upgradable, Cancel::OnWake),
        Way(Style::Await, Cancel::OnWake),
        Way(Style::Owned, Cancel::OnWake),
        Way(Style::Await, Cancel::Race),
        Way(Style::Await, Cancel::PollOnce),
        // Two futures of one lock in one task (reads, writes, upgradable
        // reads), both polled; whichever wins is held, the other dropped.
        Way(Style::Await, Cancel::Two),
        Way(Style::Upgradable, Cancel::Two),
        Way(Style::Until(Deadline::AfterPolls(6)), Cancel::OnWake),
    ],
    threads: &[
        Style::Blocking,
        Style::BlockingTimeout,
        Style::Try,
        Style::Await,
        Style::Owned,
        Style::WithLock,
        Style::Upgradable,
    ],
    yields: 0..3,
    thread_yield_one_in: 2,
    panic_one_in: 40,
    retry: false,
};

#[test]
fn storm_rwlock_new() {
    Storm::new("storm_rwlock_new").run(|storm| {
        let report = storm.rage(RwLockSubject::new(RwLock::new(Checked::new())), &RWLOCK);
        assert_trouble(&storm, &report, false);
        assert_shared(&storm, &report);
    });
}

#[test]
fn storm_rwlock_fifo() {
    Storm::new("storm_rwlock_fifo").run(|storm| {
        let report = storm.rage(
            RwLockSubject::new(RwLock::new_fifo(Checked::new())),
            &RWLOCK,
        );
        assert_trouble(&storm, &report, false);
        assert_shared(&storm, &report);
    });
}

/// A keyed reader-writer storm, as [`keyed`]'s, with [`KEYED`]'s mix (each
/// acquisition a read or a write, `Many` some of each).
fn keyed_rw(locks: KeyedRwLocks<Key>) -> KeyedRwSubject<Key> {
    KeyedRwSubject::new(locks, HOT_KEYS).cold_keys(6)
}

#[test]
fn storm_keyed_rw_new() {
    Storm::new("storm_keyed_rw_new").run(|storm| {
        let report = storm.rage(keyed_rw(KeyedRwLocks::new()), &KEYED);
        assert_trouble(&storm, &report, true);
        assert_shared(&storm, &report);
    });
}

#[test]
fn storm_keyed_rw_fifo() {
    Storm::new("storm_keyed_rw_fifo").run(|storm| {
        let report = storm.rage(keyed_rw(KeyedRwLocks::new_fifo()), &KEYED);
        assert_trouble(&storm, &report, true);
        assert_shared(&storm, &report);
    });
}

/// A reader-writer storm that was long enough both read and wrote.
fn assert_shared(storm: &Storm, report: &Report) {
    if storm.task_ops < 100 {
        return;
    }
    assert!(report.shared_sections > 0, "nobody read: {report:?}");
    assert!(report.sections > 0, "nobody wrote: {report:?}");
}

// The checked value is the storms' eye: it must see every kind of overlap.

#[test]
#[should_panic(expected = "two holders inside the critical section")]
fn the_checked_value_sees_two_writers() {
    let mut value = Checked::new();
    value.enter();
    value.enter();
}

#[test]
#[should_panic(expected = "a writer inside beside readers")]
fn the_checked_value_sees_a_writer_beside_a_reader() {
    let mut value = Checked::new();
    value.enter_shared();
    value.enter();
}

#[test]
#[should_panic(expected = "a reader inside beside a writer")]
fn the_checked_value_sees_a_reader_beside_a_writer() {
    let mut value = Checked::new();
    value.enter();
    value.enter_shared();
}

#[test]
fn the_checked_value_lets_readers_overlap_and_counts_every_section() {
    let mut value = Checked::new();
    value.enter_shared();
    value.enter_shared();
    value.leave_shared();
    value.leave_shared();
    value.enter();
    value.leave();
    assert_eq!((value.count(), value.reads()), (1, 2));
}
