//! The life of a keyed entry: a release, a cancelled waiter, a timed-out
//! waiter and a new `lock` of the same key, racing.
//!
//! In every interleaving, the entry must exist while anyone holds or waits
//! for the key, and be gone (`len() == 0`) once nobody does. A node freed
//! too early shows up as a second holder (loom's cell fails), a lost
//! wake-up (loom deadlock) or a busy node in the pool (a debug assertion);
//! a node freed too late shows up in `len()`.
#![cfg(loom)]

use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::thread;
use turnlock::KeyedLocks;
use turnlock_loom_tests::{Trigger, poll_once};

const KEY: u32 = 7;

/// What the key protects: loom reports two holders at once.
struct Protected(UnsafeCell<usize>);

// SAFETY: the cell is only touched while `KEY` is held; loom checks that.
unsafe impl Sync for Protected {}

impl Protected {
    fn new() -> Arc<Self> {
        Arc::new(Self(UnsafeCell::new(0)))
    }

    /// Called with `KEY` held.
    fn touch(&self, locks: &KeyedLocks<u32>) {
        assert!(locks.is_locked(&KEY), "a holder without an entry");
        // SAFETY: the caller holds `KEY`.
        self.0.with_mut(|value| unsafe { *value += 1 });
    }
}

/// A holder releases on one thread while, on another, a waiter that joined
/// the line before is dropped, and the main thread locks the key anew.
fn release_cancel_relock(locks: KeyedLocks<u32>) {
    let locks = Arc::new(locks);
    let data = Protected::new();
    let held = locks.try_lock_owned(KEY).expect("free");
    let mut waiter = locks.lock_owned(KEY);
    assert!(poll_once(&mut waiter).is_pending());
    assert_eq!(locks.len(), 1);

    let releaser = {
        let (locks, data) = (locks.clone(), data.clone());
        thread::spawn(move || {
            data.touch(&locks);
            drop(held);
        })
    };
    let canceller = thread::spawn(move || drop(waiter));

    let guard = block_on(locks.lock(KEY));
    data.touch(&locks);
    assert_eq!(locks.len(), 1, "the key is held");
    drop(guard);

    releaser.join().unwrap();
    canceller.join().unwrap();
    assert_eq!(locks.len(), 0, "an entry outlived its users");
    assert!(!locks.is_locked(&KEY));
}

#[test]
fn release_cancel_relock_new() {
    loom::model(|| release_cancel_relock(KeyedLocks::new()));
}

#[test]
fn release_cancel_relock_fifo() {
    loom::model(|| release_cancel_relock(KeyedLocks::new_fifo()));
}

/// The last holder releases while another thread locks the key anew: the
/// new `lock` either finds the live node or makes (or reuses) a fresh one
/// after the old one went back to the pool, never a node on its way out.
/// Then a second round on the recycled node.
fn release_vs_relock(locks: KeyedLocks<u32>) {
    let locks = Arc::new(locks);
    let data = Protected::new();
    for _ in 0..2 {
        let held = locks.try_lock_owned(KEY).expect("free");
        let releaser = {
            let (locks, data) = (locks.clone(), data.clone());
            thread::spawn(move || {
                data.touch(&locks);
                drop(held);
            })
        };
        let guard = block_on(locks.lock(KEY));
        data.touch(&locks);
        drop(guard);
        releaser.join().unwrap();
        assert_eq!(locks.len(), 0);
    }
}

#[test]
fn release_vs_relock_new() {
    loom::model(|| release_vs_relock(KeyedLocks::new()));
}

#[test]
fn release_vs_relock_fifo() {
    loom::model(|| release_vs_relock(KeyedLocks::new_fifo()));
}

/// A waiter times out while the holder releases and a `try_lock` comes in:
/// the waiter either gets the key or leaves, and the entry goes with the
/// last of them.
fn timeout_vs_release(locks: KeyedLocks<u32>) {
    let locks = Arc::new(locks);
    let data = Protected::new();
    let held = locks.try_lock_owned(KEY).expect("free");
    let trigger = Trigger::new();
    let releaser = {
        let (locks, data) = (locks.clone(), data.clone());
        thread::spawn(move || {
            data.touch(&locks);
            drop(held);
        })
    };
    let timer = {
        let trigger = trigger.clone();
        thread::spawn(move || trigger.fire())
    };
    match block_on(locks.lock_until(KEY, Trigger::deadline(&trigger))) {
        Ok(guard) => {
            data.touch(&locks);
            assert!(locks.try_lock(KEY).is_none());
            drop(guard);
        }
        Err(_) => {
            if let Some(guard) = locks.try_lock(KEY) {
                data.touch(&locks);
                drop(guard);
            }
        }
    }
    releaser.join().unwrap();
    timer.join().unwrap();
    assert_eq!(locks.len(), 0, "a timed-out waiter left its entry");
}

#[test]
fn timeout_vs_release_new() {
    loom::model(|| timeout_vs_release(KeyedLocks::new()));
}

#[test]
fn timeout_vs_release_fifo() {
    loom::model(|| timeout_vs_release(KeyedLocks::new_fifo()));
}

/// Two keys locked together by `lock_many` while a holder of one of them
/// releases and the future is dropped half-way on another thread.
#[test]
fn lock_many_cancelled_during_release() {
    loom::model(|| {
        let locks = Arc::new(KeyedLocks::new_fifo());
        let held = locks.try_lock_owned(2).expect("free");
        let mut many = Box::pin(locks.lock_many([1, 2]));
        assert!(poll_once(&mut many).is_pending());
        let releaser = thread::spawn(move || drop(held));
        drop(many);
        releaser.join().unwrap();
        assert_eq!(locks.len(), 0);
        assert!(locks.try_lock(1).is_some() && locks.try_lock(2).is_some());
    });
}
