//! Cancelled waiters leave no entry: dropped before, while and after being
//! woken or handed the key, one at a time and in a storm across hot keys.

#![cfg(feature = "keyed")]

mod common;

use common::storm::keyed::KeyedSubject;
use common::storm::{Cancel, Deadline, Mix, Storm, Style, Way};
use common::{Probe, assert_pending, ready, scaled};
use turnlock::KeyedLocks;

fn both_policies() -> [(&'static str, KeyedLocks<u32>); 2] {
    [("new", KeyedLocks::new()), ("fifo", KeyedLocks::new_fifo())]
}

/// Checks that `key` is free and fully working again, and that the map has
/// no entries.
fn assert_reclaimed(policy: &str, locks: &KeyedLocks<u32>, key: u32) {
    assert_eq!(locks.len(), 0, "{policy}: an entry was left behind");
    assert!(!locks.is_locked(&key), "{policy}");
    let holder = locks.try_lock(key).expect("free");
    let probe = Probe::new();
    let mut waiter = locks.lock(key);
    assert_pending(probe.poll(&mut waiter));
    drop(holder);
    drop(ready(probe.poll(&mut waiter)));
    drop(waiter);
    assert!(locks.is_empty(), "{policy}");
}

#[test]
fn a_waiter_dropped_while_waiting() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock(1).unwrap();
        let mut waiter = locks.lock(1);
        assert_pending(probe.poll(&mut waiter));
        drop(waiter);
        assert_eq!(locks.len(), 1, "{policy}: the holder's entry");
        drop(holder);
        assert_reclaimed(policy, &locks, 1);
    }
}

/// The waiter is woken (or, under FIFO, handed the key) by the release and
/// dropped before it sees it: the key passes on and the entry goes.
#[test]
fn a_waiter_dropped_after_being_handed_the_key() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock(1).unwrap();
        let mut waiter = locks.lock(1);
        assert_pending(probe.poll(&mut waiter));
        drop(holder);
        assert!(probe.wakes() > 0, "{policy}");
        assert_eq!(locks.len(), 1, "{policy}: the waiter's entry");
        drop(waiter);
        assert_reclaimed(policy, &locks, 1);
    }
}

/// The handed-over key goes on to the next waiter, not into the void.
#[test]
fn a_handed_key_passes_to_the_next_waiter() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock(1).unwrap();
        let mut first = locks.lock(1);
        let mut second = locks.lock(1);
        assert_pending(probe.poll(&mut first));
        assert_pending(probe.poll(&mut second));
        drop(holder);
        drop(first);
        let guard = ready(probe.poll(&mut second));
        assert_eq!(locks.len(), 1, "{policy}");
        drop(guard);
        drop(second);
        assert_reclaimed(policy, &locks, 1);
    }
}

#[test]
fn the_last_of_many_cancelled_waiters_removes_the_entry() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock(1).unwrap();
        let mut waiters: Vec<_> = (0..5).map(|_| locks.lock(1)).collect();
        for waiter in &mut waiters {
            assert_pending(probe.poll(waiter));
        }
        drop(holder);
        while let Some(waiter) = waiters.pop() {
            assert_eq!(locks.len(), 1, "{policy}");
            drop(waiter);
        }
        assert_reclaimed(policy, &locks, 1);
    }
}

#[test]
fn a_cancelled_lock_many_releases_what_it_holds() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let holder = locks.try_lock(3).unwrap();
        let mut many = locks.lock_many([1, 2, 3, 4]);
        assert_pending(probe.poll(&mut many));
        assert!(locks.is_locked(&1) && locks.is_locked(&2), "{policy}");
        assert!(!locks.is_locked(&4), "{policy}: keys are taken in order");
        assert_eq!(locks.len(), 3, "{policy}");
        drop(many);
        assert_eq!(locks.len(), 1, "{policy}: only the holder's entry");
        assert!(!locks.is_locked(&1) && !locks.is_locked(&2), "{policy}");
        drop(holder);
        assert_reclaimed(policy, &locks, 3);

        // Cancelled after the key it waited for was handed to it.
        let holder = locks.try_lock(2).unwrap();
        let mut many = locks.lock_many([2, 1]);
        assert_pending(probe.poll(&mut many));
        drop(holder);
        drop(many);
        assert_reclaimed(policy, &locks, 2);
    }
}

/// Many tasks race acquisitions of three hot keys (one key or two at once)
/// and their sections against a few yields, or give them a deadline of a
/// few polls, so futures are dropped while idle, waiting, woken or handed
/// the key; some are polled once by hand and dropped; threads keep the
/// keys busy. Afterwards the map is empty and every key still works (the
/// settling of the storm checks that for each key, as `assert_reclaimed`
/// does).
const STORM: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::PollOnce),
        Way(Style::Await, Cancel::Race),
        Way(Style::Until(Deadline::AfterPolls(4)), Cancel::No),
        Way(Style::Many, Cancel::Race),
    ],
    threads: &[Style::Blocking],
    yields: 0..3,
    thread_yield_one_in: 4,
    panic_one_in: 0,
    retry: false,
};

fn storm(name: &'static str, locks: KeyedLocks<u32>) {
    Storm::new(name)
        .tasks(scaled(24), scaled(1_000))
        .threads(2, scaled(2_000))
        .run(move |storm| {
            let report = storm.rage(KeyedSubject::new(locks, 3), &STORM);
            assert!(report.cancelled > 0, "no cancellation happened: {report:?}");
        });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn storm_new() {
    storm("keyed_cancel_storm_new", KeyedLocks::new());
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn storm_fifo() {
    storm("keyed_cancel_storm_fifo", KeyedLocks::new_fifo());
}
