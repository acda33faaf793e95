//! The reader-writer starvation bounds: a stream of readers never starves
//! a writer, and a stream of writers never starves a reader, under both
//! policies (see "Starvation bounds" in `src/raw/rw.rs`).
#![cfg(loom)]

use std::sync::Arc;
use std::task::Poll;

use loom::sync::atomic::AtomicUsize;
use loom::sync::atomic::Ordering::SeqCst;
use loom::thread;
use turnlock::RwLock;
use turnlock_loom_tests::{block_on_counting, poll_once};

/// The order in which the lock was held, as each holder records it.
type Log = RwLock<Vec<&'static str>>;

/// A reader holds the lock when a writer arrives (the writer's first poll
/// runs before the reader's thread starts). On its thread the reader, still
/// holding its read, tries to read again (as a stream of readers would keep
/// doing), then releases and reads again with `read_blocking`, while the
/// main thread drives the writer.
///
/// The writer waits at the front, where no newcomer enters: the second read
/// fails, the writer writes before the re-read, and it is woken at most
/// once (the grant), under both policies. Catches: a newcomer reader
/// admitted while a writer is at the front (`admits` without `P`: the
/// readers could overlap forever and starve the writer), a writer that
/// waits in the line instead of the front with nobody to send it a turn
/// (loom deadlock), and a grant that the front writer misses (loom
/// deadlock).
fn writer_against_rereader(lock: Log) {
    let lock = Arc::new(lock);
    let held = lock.try_read_owned().expect("a new lock is free");
    let mut writer = lock.write();
    assert!(poll_once(&mut writer).is_pending());
    let rereader = {
        let lock = lock.clone();
        thread::spawn(move || {
            assert!(lock.try_read().is_none(), "a reader joined past the writer");
            drop(held);
            let guard = lock.read_blocking();
            assert_eq!(guard.first(), Some(&"writer"), "a reader passed the writer");
        })
    };
    let (mut guard, wakes) = block_on_counting(writer);
    guard.push("writer");
    drop(guard);
    rereader.join().unwrap();
    assert!(wakes <= 1, "the writer was woken {wakes} times");
    assert!(!lock.is_locked());
}

/// [`writer_against_rereader`] under `new`.
#[test]
fn rw_writer_not_starved_new() {
    loom::model(|| writer_against_rereader(RwLock::new(Vec::new())));
}

/// [`writer_against_rereader`] under `new_fifo`.
#[test]
fn rw_writer_not_starved_fifo() {
    loom::model(|| writer_against_rereader(RwLock::new_fifo(Vec::new())));
}

/// A writer holds the lock when two readers arrive, one at the front and
/// one in the line behind it; the writer's thread then releases and writes
/// twice more with `write_blocking`, while the main thread drives both
/// readers (holding the first read while it waits for the second).
///
/// The front reader is granted at the release, and its claim sends the
/// turn to the queued reader, which joins it: both read before either
/// re-write, under both policies, each woken once. Catches: a newcomer
/// writer admitted or queued ahead of waiting readers (a release that
/// frees the lock instead of granting the front, or a claim that keeps the
/// turn), a reader's turn that is not passed on (loom deadlock: the second
/// reader never runs), and a writer admitted beside the readers.
fn readers_against_rewriter(lock: Log) {
    let lock = Arc::new(lock);
    let held = lock.try_write_owned().expect("a new lock is free");
    let mut front = lock.read();
    assert!(poll_once(&mut front).is_pending());
    let mut queued = lock.read();
    assert!(poll_once(&mut queued).is_pending());
    let rewriter = {
        let lock = lock.clone();
        thread::spawn(move || {
            let mut held = held;
            held.push("writer");
            drop(held);
            for _ in 0..2 {
                lock.write_blocking().push("writer");
            }
        })
    };
    let (first, first_wakes) = block_on_counting(front);
    let (second, second_wakes) = block_on_counting(queued);
    assert_eq!(*first, ["writer"], "a writer passed the front reader");
    assert_eq!(*second, ["writer"], "a writer passed the queued reader");
    drop((first, second));
    rewriter.join().unwrap();
    assert!(
        first_wakes <= 1,
        "the front reader was woken {first_wakes} times"
    );
    assert!(
        second_wakes <= 1,
        "the queued reader was woken {second_wakes} times"
    );
    assert!(!lock.is_locked());
}

/// [`readers_against_rewriter`] under `new`.
#[test]
fn rw_readers_not_starved_new() {
    loom::model(|| readers_against_rewriter(RwLock::new(Vec::new())));
}

/// [`readers_against_rewriter`] under `new_fifo`.
#[test]
fn rw_readers_not_starved_fifo() {
    loom::model(|| readers_against_rewriter(RwLock::new_fifo(Vec::new())));
}

/// The turn's bound: a writer at the front and a reader in the line behind
/// it while a writer holds the lock; the holder's thread releases and
/// writes three times more (counting each write as it starts it), and the main
/// thread drives the front writer (which releases at once, sending the
/// reader the turn) and then polls the reader once, and again until it
/// reads.
///
/// Under `new_fifo` nobody passes the reader: that first poll reads, before
/// every re-write. Under `new` up to two re-writes (the barging limit,
/// which is two under loom) may take the lock while the turn is in flight
/// (a lost race), but once the reader has been polled with the turn it
/// waits at the front: no write that takes the lock after that
/// poll comes before it (the writes counted just after the poll, and at
/// most one holding the lock then that had not counted itself yet), and it
/// is woken once more, by its grant. Catches: a `new_fifo` newcomer that
/// ignores the turn or the line (`admits` without `T` or the queued
/// count), barging past the limit (three re-writes first), a waiter that
/// loses the race and is not protected afterwards (it rejoins the line and
/// can lose again), and a turn lost on the way (loom deadlock).
fn reader_behind_writer(lock: Log) -> Passes {
    let lock = Arc::new(lock);
    let started = Arc::new(AtomicUsize::new(0));
    let held = lock.try_write_owned().expect("a new lock is free");
    let mut front = lock.write();
    assert!(poll_once(&mut front).is_pending());
    let mut reader = lock.read();
    assert!(poll_once(&mut reader).is_pending());
    let rewriter = {
        let (lock, started) = (lock.clone(), started.clone());
        thread::spawn(move || {
            drop(held);
            for _ in 0..3 {
                let mut guard = lock.write_blocking();
                started.fetch_add(1, SeqCst);
                guard.push("rewrite");
            }
        })
    };
    let (mut guard, _) = block_on_counting(front);
    guard.push("front");
    drop(guard); // the turn goes to the reader
    let first = poll_once(&mut reader);
    let before = started.load(SeqCst);
    let (guard, first_poll, wakes) = match first {
        Poll::Ready(guard) => (guard, true, 0),
        Poll::Pending => {
            let (guard, wakes) = block_on_counting(reader);
            (guard, false, wakes)
        }
    };
    let rewrites = guard.iter().filter(|who| **who == "rewrite").count();
    drop(guard);
    rewriter.join().unwrap();
    assert!(!lock.is_locked());
    Passes {
        before,
        rewrites,
        first_poll,
        wakes,
    }
}

/// What [`reader_behind_writer`] saw.
struct Passes {
    /// Re-writes started just after the reader was polled with the turn.
    before: usize,
    /// Re-writes that came before the reader.
    rewrites: usize,
    /// The reader read at that poll.
    first_poll: bool,
    /// Wake-ups of the reader after that poll.
    wakes: usize,
}

/// [`reader_behind_writer`] under `new`: one lost race, then the front.
#[test]
fn rw_turn_bound_new() {
    loom::model(|| {
        let seen = reader_behind_writer(RwLock::new(Vec::new()));
        assert!(
            seen.rewrites <= 2,
            "{} writes passed the reader",
            seen.rewrites
        );
        assert!(
            seen.rewrites <= seen.before + 1,
            "{} writes passed the reader, {} of them started before it lost its race",
            seen.rewrites,
            seen.before
        );
        assert!(seen.wakes <= 1, "the reader was woken {} times", seen.wakes);
    });
}

/// [`reader_behind_writer`] under `new_fifo`: nobody passes.
#[test]
fn rw_turn_bound_fifo() {
    loom::model(|| {
        let seen = reader_behind_writer(RwLock::new_fifo(Vec::new()));
        assert!(seen.first_poll, "the reader waited with the turn");
        assert_eq!(
            seen.rewrites, 0,
            "{} writes passed the reader",
            seen.rewrites
        );
    });
}
