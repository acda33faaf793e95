//! The life of a `KeyedRwLocks` entry: readers release, a writer waits, and
//! a queued reader is cancelled, racing.
//!
//! In every interleaving the writer must never overlap a reader (loom's
//! cell reports a write beside a read), the entry must exist while anyone
//! holds or waits for the key, and be gone once nobody does. A node freed
//! too early shows up as a second holder or a busy node in the pool (a
//! debug assertion), a lost grant as a loom deadlock, and a node freed too
//! late in `len()`.
//!
//! Mutations this model catches (`LOOM_MAX_PREEMPTIONS=2`): a writer
//! admitted beside readers (the state word's check); a cancelled queued
//! reader that keeps the turn (the node goes back busy: "last user left
//! the lock busy"); a grant to the front waiter with no wake-up (deadlock).
#![cfg(loom)]

use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::thread;
use turnlock::KeyedRwLocks;
use turnlock_loom_tests::poll_once;

const KEY: u32 = 3;

/// What the key protects: loom reports a write beside a read.
struct Protected(UnsafeCell<usize>);

// SAFETY: the cell is read only under a read of `KEY` and written only
// under its write; loom checks that.
unsafe impl Sync for Protected {}

/// Two readers hold the key; a writer waits at the front and a reader in
/// the line behind it. One thread reads the value and releases the first
/// reader, another cancels the queued reader, and the main thread releases
/// the second reader and drives the writer.
///
/// Catches: a grant to the writer while a reader still holds the key (the
/// cell), a grant lost between the two releases (loom deadlock), a
/// cancelled waiter that leaves its count or the turn behind (`len()`, or a
/// deadlock), and an entry removed while the writer still waits.
fn readers_writer_cancelled_reader(locks: KeyedRwLocks<u32>) {
    let locks = Arc::new(locks);
    let data = Arc::new(Protected(UnsafeCell::new(0)));
    let first = locks.try_read_owned(KEY).expect("free");
    let second = locks.try_read_owned(KEY).expect("readers share");
    let mut writer = locks.write_owned(KEY);
    assert!(poll_once(&mut writer).is_pending());
    let mut queued = locks.read_owned(KEY);
    assert!(poll_once(&mut queued).is_pending());

    let reader = {
        let (locks, data) = (locks.clone(), data.clone());
        thread::spawn(move || {
            assert!(locks.is_locked(&KEY), "a reader without an entry");
            // SAFETY: `first` holds a read of `KEY`.
            data.0.with(|value| assert_eq!(unsafe { *value }, 0));
            drop(first);
        })
    };
    let canceller = thread::spawn(move || drop(queued));

    drop(second);
    let guard = block_on(writer);
    // SAFETY: `guard` holds the write of `KEY`.
    data.0.with_mut(|value| unsafe { *value += 1 });
    assert_eq!(locks.len(), 1, "the key is written");
    drop(guard);

    reader.join().unwrap();
    canceller.join().unwrap();
    assert_eq!(locks.len(), 0, "an entry outlived its users");
    assert!(!locks.is_locked(&KEY));
}

#[test]
fn keyed_rw_readers_writer_cancelled_reader_new() {
    loom::model(|| readers_writer_cancelled_reader(KeyedRwLocks::new()));
}

#[test]
fn keyed_rw_readers_writer_cancelled_reader_fifo() {
    loom::model(|| readers_writer_cancelled_reader(KeyedRwLocks::new_fifo()));
}
