//! Helpers for the reader-writer tests.

use turnlock::RwLock;

use super::{Probe, assert_pending, ready};

/// A policy's name and constructor.
pub type Policy<T> = (&'static str, fn(T) -> RwLock<T>);

/// Both policies of `RwLock`, by name.
pub fn policies<T>() -> [Policy<T>; 2] {
    [("new", RwLock::new), ("new_fifo", RwLock::new_fifo)]
}

/// Checks that `lock` is free and still works: not held, two readers share
/// it, a writer queued behind them is served when they leave, and readers
/// queued behind the writer are served together when it leaves. A leaked
/// access, waiter count, turn or slot fails or hangs here (run it under a
/// watchdog).
pub fn assert_rw_healthy<T>(lock: &RwLock<T>) {
    assert!(!lock.is_locked(), "the lock is still held");
    let a = lock.try_read().expect("a free lock can be read");
    let b = lock.try_read().expect("readers share");
    let probe = Probe::new();
    let mut writer = lock.write();
    assert_pending(probe.poll(&mut writer));
    let mut reader = lock.read();
    assert_pending(probe.poll(&mut reader));
    drop((a, b));
    let written = ready(probe.poll(&mut writer));
    assert_pending(probe.poll(&mut reader));
    drop(written);
    let read = ready(probe.poll(&mut reader));
    assert!(lock.try_write().is_none());
    drop(read);
    drop((writer, reader));
    assert!(!lock.is_locked(), "the lock is held after the last guard");
    assert!(lock.try_write().is_some(), "the lock is not free");
}
