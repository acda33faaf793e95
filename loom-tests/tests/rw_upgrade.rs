//! Upgrades: the upgradable reader becomes the writer with no other writer
//! in between, and an upgrade dropped at any point gives everything back.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::{RwLock, UpgradableReadGuard};
use turnlock_loom_tests::poll_once;

/// A reader and the upgradable reader hold the lock and a writer waits at
/// the front. The upgradable reader upgrades on the main thread while the
/// reader leaves on another and a third thread drives the writer.
///
/// The upgrade must write before the waiting writer (it holds the
/// upgradable read, which keeps writers out, and the last reader hands it
/// the write directly). Catches: a hand-over from the last reader that
/// clears the upgrade without setting `W` (the front writer is granted
/// beside the upgrade: loom's cell fails, or the order is wrong), a grant
/// to the front writer while the upgradable read is held, and a lost
/// wake-up of the upgrader (loom deadlock).
fn upgrade_before_waiting_writer(lock: RwLock<Vec<&'static str>>) {
    let lock = Arc::new(lock);
    let reader = lock.try_read_owned().expect("a new lock is free");
    let upgradable = lock.try_upgradable_read().expect("beside readers");
    let mut writer = lock.write_owned();
    assert!(poll_once(&mut writer).is_pending());
    let leaver = thread::spawn(move || drop(reader));
    let driver = thread::spawn(move || block_on(writer).push("writer"));
    UpgradableReadGuard::upgrade_blocking(upgradable).push("upgrade");
    leaver.join().unwrap();
    driver.join().unwrap();
    assert_eq!(
        *lock.try_read().expect("the lock is free"),
        ["upgrade", "writer"]
    );
}

/// [`upgrade_before_waiting_writer`] under `new`.
#[test]
fn rw_upgrade_before_writer_new() {
    loom::model(|| upgrade_before_waiting_writer(RwLock::new(Vec::new())));
}

/// [`upgrade_before_waiting_writer`] under `new_fifo`.
#[test]
fn rw_upgrade_before_writer_fifo() {
    loom::model(|| upgrade_before_waiting_writer(RwLock::new_fifo(Vec::new())));
}

/// A reader holds the lock while the upgradable reader starts an upgrade
/// (polled once: it waits for the reader); then the reader leaves on one
/// thread while the main thread drops the upgrade future, and a third
/// thread drives a writer that waits at the front.
///
/// The reader's release may hand the write to the upgrade before or after
/// the drop; either way the dropped upgrade gives back what it holds (the
/// write, or the upgradable read) and the writer writes. Catches: a
/// dropped upgrade that keeps the upgradable read or a handed write (loom
/// deadlock: the writer never gets in), and an upgrade flag left set (new
/// readers stay out: the final `try_read` fails).
fn upgrade_dropped_during_handover(lock: RwLock<usize>) {
    let lock = Arc::new(lock);
    let reader = lock.try_read_owned().expect("a new lock is free");
    let upgradable = lock.try_upgradable_read().expect("beside readers");
    let mut upgrade = UpgradableReadGuard::upgrade(upgradable);
    assert!(poll_once(&mut upgrade).is_pending());
    let mut writer = lock.write_owned();
    assert!(poll_once(&mut writer).is_pending());
    let leaver = thread::spawn(move || drop(reader));
    let driver = thread::spawn(move || *block_on(writer) += 1);
    drop(upgrade);
    leaver.join().unwrap();
    driver.join().unwrap();
    assert!(!lock.is_locked(), "the lock is held after every guard");
    assert_eq!(*lock.try_read().expect("the lock is free"), 1);
}

/// [`upgrade_dropped_during_handover`] under `new`.
#[test]
fn rw_upgrade_dropped_new() {
    loom::model(|| upgrade_dropped_during_handover(RwLock::new(0)));
}

/// [`upgrade_dropped_during_handover`] under `new_fifo`.
#[test]
fn rw_upgrade_dropped_fifo() {
    loom::model(|| upgrade_dropped_during_handover(RwLock::new_fifo(0)));
}
