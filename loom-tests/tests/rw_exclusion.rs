//! Reader-writer exclusion: readers together, a writer alone, under both
//! policies, with async and blocking acquirers on one lock.
//!
//! Mutations these models catch (`LOOM_MAX_PREEMPTIONS=2`):
//! * a writer admitted beside readers (`Kind::Write` blind to the reader
//!   count) -> `rw_exclusion_*` (loom: concurrent read and write of the
//!   value) and `rw_readers_leave_together_*` (the state word's check);
//! * a grant to the front waiter with no wake-up -> all four (deadlock).
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::RwLock;
use turnlock_loom_tests::poll_once;

/// A writer (async) and a reader (blocking) on two threads while the main
/// thread, which joined first as a reader, reads twice.
///
/// The value lives in loom's tracked cell: a read beside a write is a loom
/// failure, whatever the counter says; readers beside readers are fine.
/// Catches: a reader admitted while the writer holds the lock or was just
/// granted it at the front (e.g. `admits` that forgets `W` or `P`), a
/// writer admitted beside readers (a grant that ignores the reader count),
/// a grant to the front that two releasing readers both make (without `H`
/// in the grant's compare-and-swap), a lost wake-up (loom deadlock), and
/// missing acquire/release ordering between a writer and the readers
/// (loom reports unordered accesses to the cell).
fn writer_among_readers(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let first = lock.try_read_owned().expect("a new lock is free");
    let writer = {
        let lock = lock.clone();
        thread::spawn(move || {
            let mut guard = block_on(lock.write());
            *guard += 1;
        })
    };
    let reader = {
        let lock = lock.clone();
        thread::spawn(move || {
            let guard = lock.read_blocking();
            assert!(*guard <= 1);
        })
    };
    assert_eq!(*first, 0);
    drop(first);
    let again = block_on(lock.read());
    assert!(*again <= 1);
    drop(again);
    writer.join().unwrap();
    reader.join().unwrap();

    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert_eq!(*lock.try_read().expect("the lock is free"), 1);
}

/// Runs `model` with at most two preemptions, whatever
/// `LOOM_MAX_PREEMPTIONS` says (three take minutes here).
fn check_bounded(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(model);
}

/// [`writer_among_readers`] under `new`.
#[test]
fn rw_exclusion_new() {
    check_bounded(|| writer_among_readers(RwLock::new(0)));
}

/// [`writer_among_readers`] under `new_fifo`.
#[test]
fn rw_exclusion_fifo() {
    check_bounded(|| writer_among_readers(RwLock::new_fifo(0)));
}

/// Two writers wait, one at the front and one in the line, while readers
/// hold the lock; the readers leave on two threads at once.
///
/// Whichever reader leaves last grants the front writer, exactly once; the
/// front writer's release sends the turn to the second, which then writes.
/// Catches: two releasing readers both granting the front (two writers, a
/// loom failure), a grant made while a reader still holds the lock, a
/// release of the first writer that never sends the turn down the line
/// (loom deadlock), and a turn sent while the front is busy that lets the
/// second writer in beside the first.
fn readers_leave_together(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let a = lock.try_read_owned().expect("a new lock is free");
    let b = lock.try_read_owned().expect("readers share");
    let mut front = lock.write_owned();
    assert!(poll_once(&mut front).is_pending());
    let mut queued = lock.write_owned();
    assert!(poll_once(&mut queued).is_pending());
    let leaver = thread::spawn(move || drop(a));
    let second = thread::spawn(move || {
        let mut guard = block_on(queued);
        *guard += 1;
    });
    drop(b);
    {
        let mut guard = block_on(front);
        *guard += 1;
    }
    leaver.join().unwrap();
    second.join().unwrap();

    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert_eq!(*lock.try_read().expect("the lock is free"), 2);
}

/// [`readers_leave_together`] under `new`.
#[test]
fn rw_readers_leave_together_new() {
    check_bounded(|| readers_leave_together(RwLock::new(0)));
}

/// [`readers_leave_together`] under `new_fifo`.
#[test]
fn rw_readers_leave_together_fifo() {
    check_bounded(|| readers_leave_together(RwLock::new_fifo(0)));
}
