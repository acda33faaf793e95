//! Reader-writer waiters that are dropped at every step: in the line, with
//! the turn in hand, at the front, at the instant of a grant.
//!
//! Mutations these models catch (`LOOM_MAX_PREEMPTIONS=2`):
//! * a queued waiter that leaves with the turn and does not pass it on
//!   (`abandon_slow`) -> `rw_turn_to_dropped_waiter_*` (deadlock);
//! * a front waiter that leaves without sending the turn its departure
//!   takes (`abandon_slot` with no `hand_over`) ->
//!   `rw_front_writer_dropped_behind_reader_*` only (deadlock);
//! * a grant to the front waiter with no wake-up ->
//!   `rw_turn_to_dropped_waiter_*` (deadlock; the other models here drop
//!   their front waiter, which needs no wake-up).
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::RwLock;
use turnlock_loom_tests::poll_once;

/// A writer holds the lock; a writer waits at the front and a reader in
/// the line behind it. The holder releases on one thread while the main
/// thread drops the front writer's future; a third thread drives the
/// reader to its guard.
///
/// The release grants the front writer (or, if it left first, sends the
/// turn to the reader); a grant that reaches the dropped future must come
/// back as a release that sends the turn on. Catches: a front waiter that
/// leaves with a grant without releasing it (loom deadlock: the reader
/// never runs), a grant and a departing waiter both touching the slot's
/// cell (loom reports the concurrent access), and a slot left occupied
/// (the state word's debug assertions). Here the front waiter's departure
/// never frees the front (the holder's release grants it first): a waiter
/// that leaves the front without sending the turn is caught by
/// [`front_writer_dropped_behind_reader`].
fn front_dropped_during_release(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_write_owned().expect("a new lock is free");
    let mut front = lock.write_owned();
    assert!(poll_once(&mut front).is_pending());
    let mut reader = lock.read_owned();
    assert!(poll_once(&mut reader).is_pending());
    let releaser = thread::spawn(move || drop(held));
    let driver = thread::spawn(move || assert_eq!(*block_on(reader), 0));
    drop(front);
    releaser.join().unwrap();
    driver.join().unwrap();
    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert!(lock.try_write().is_some(), "the lock is not free");
}

/// [`front_dropped_during_release`] under `new`.
#[test]
fn rw_front_dropped_new() {
    loom::model(|| front_dropped_during_release(RwLock::new(0)));
}

/// [`front_dropped_during_release`] under `new_fifo`.
#[test]
fn rw_front_dropped_fifo() {
    loom::model(|| front_dropped_during_release(RwLock::new_fifo(0)));
}

/// A writer holds the lock; a reader waits at the front, and a reader and
/// a writer wait in the line behind it. The holder releases on one thread
/// (the grant to the front reader, whose claim sends the turn to the
/// queued reader), the main thread drops the queued reader's future, and a
/// third thread drives the front reader and then the queued writer.
///
/// The turn may reach the dropped reader before or after it leaves, or not
/// at all; whichever, the queued writer must write in the end. Catches: a
/// turn that dies with a dropped listener (loom deadlock: the writer
/// sleeps in the line with nobody to send it a turn), a departing waiter
/// that leaves the queued count behind (the releaser sends turns to
/// nobody; the state word's debug assertions), and a turn sent twice (two
/// waiters on their way to the front).
fn turn_to_dropped_waiter(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_write_owned().expect("a new lock is free");
    let mut front = lock.read_owned();
    assert!(poll_once(&mut front).is_pending());
    let mut dropped = lock.read_owned();
    assert!(poll_once(&mut dropped).is_pending());
    let mut writer = lock.write_owned();
    assert!(poll_once(&mut writer).is_pending());
    let releaser = thread::spawn(move || drop(held));
    let driver = thread::spawn(move || {
        drop(block_on(front));
        *block_on(writer) += 1;
    });
    drop(dropped);
    releaser.join().unwrap();
    driver.join().unwrap();
    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert_eq!(*lock.try_read().expect("the lock is free"), 1);
}

/// [`turn_to_dropped_waiter`] under `new`.
#[test]
fn rw_turn_to_dropped_waiter_new() {
    loom::model(|| turn_to_dropped_waiter(RwLock::new(0)));
}

/// [`turn_to_dropped_waiter`] under `new_fifo`.
#[test]
fn rw_turn_to_dropped_waiter_fifo() {
    loom::model(|| turn_to_dropped_waiter(RwLock::new_fifo(0)));
}

/// Two readers hold the lock and a writer waits at the front; the readers
/// leave on two threads at once while the main thread drops the writer.
///
/// Whichever reader leaves last may grant the writer; a grant that the
/// dropped writer receives is released, and the lock ends free. Catches:
/// a grant that outlives its dropped recipient (the lock stays written),
/// and a grant made by both readers.
fn writer_dropped_as_readers_leave(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let a = lock.try_read_owned().expect("a new lock is free");
    let b = lock.try_read_owned().expect("readers share");
    let mut writer = lock.write_owned();
    assert!(poll_once(&mut writer).is_pending());
    let leaver = thread::spawn(move || drop(a));
    let other = thread::spawn(move || drop(b));
    drop(writer);
    leaver.join().unwrap();
    other.join().unwrap();
    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert!(lock.try_write().is_some(), "the lock is not free");
}

/// [`writer_dropped_as_readers_leave`] under `new`.
#[test]
fn rw_writer_dropped_as_readers_leave_new() {
    loom::model(|| writer_dropped_as_readers_leave(RwLock::new(0)));
}

/// [`writer_dropped_as_readers_leave`] under `new_fifo`.
#[test]
fn rw_writer_dropped_as_readers_leave_fifo() {
    loom::model(|| writer_dropped_as_readers_leave(RwLock::new_fifo(0)));
}

/// A reader holds the lock; a writer waits at the front and a reader in
/// the line behind it. One thread drops the writer's future while another
/// drives the queued reader; the first reader keeps its read throughout.
///
/// The writer's departure frees the front with the holder still there, so
/// it must send the turn down the line itself: the queued reader then
/// joins the reader that holds the lock. Catches: a front waiter that
/// leaves without sending the turn it took (I1; loom deadlock: no release
/// is coming to send one).
fn front_writer_dropped_behind_reader(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let held = lock.try_read_owned().expect("a new lock is free");
    let mut writer = lock.write_owned();
    assert!(poll_once(&mut writer).is_pending());
    let mut reader = lock.read_owned();
    assert!(poll_once(&mut reader).is_pending());
    let leaver = thread::spawn(move || drop(writer));
    let driver = thread::spawn(move || *block_on(reader));
    leaver.join().unwrap();
    assert_eq!(driver.join().unwrap(), 0);
    assert_eq!(lock.state().readers, 1, "the first read ended early");
    drop(held);
    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert!(lock.try_write().is_some(), "the lock is not free");
}

/// [`front_writer_dropped_behind_reader`] under `new`.
#[test]
fn rw_front_writer_dropped_behind_reader_new() {
    loom::model(|| front_writer_dropped_behind_reader(RwLock::new(0)));
}

/// [`front_writer_dropped_behind_reader`] under `new_fifo`.
#[test]
fn rw_front_writer_dropped_behind_reader_fifo() {
    loom::model(|| front_writer_dropped_behind_reader(RwLock::new_fifo(0)));
}
