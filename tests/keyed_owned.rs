//! Owned guards and futures: `'static`, they move across threads and tasks.

#![cfg(feature = "keyed")]

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use common::{Probe, assert_pending, join_all, ready, scaled, with_watchdog};
use turnlock::{KeyedLocks, OwnedKeyGuard};

#[test]
fn an_owned_guard_is_released_on_another_thread() {
    with_watchdog(30, || {
        let locks = Arc::new(KeyedLocks::new());
        let guard = locks.try_lock_owned("job").unwrap();
        assert!(Arc::ptr_eq(OwnedKeyGuard::source(&guard), &locks));
        assert_eq!(format!("{guard:?}"), r#"OwnedKeyGuard { key: "job" }"#);
        let probe = Probe::new();
        let mut waiter = locks.lock("job");
        assert_pending(probe.poll(&mut waiter));
        thread::spawn(move || {
            assert_eq!(*OwnedKeyGuard::key(&guard), "job");
            drop(guard);
        })
        .join()
        .unwrap();
        drop(ready(probe.poll(&mut waiter)));
        drop(waiter);
        assert!(locks.is_empty());
    });
}

/// Guards taken on one thread are handed to another, which holds them
/// while the first queues behind it: the pass-the-baton pattern.
#[test]
fn guards_handed_between_threads() {
    with_watchdog(60, || {
        let locks = Arc::new(KeyedLocks::new_fifo());
        let rounds = scaled(500);
        let (tx, rx) = mpsc::channel::<OwnedKeyGuard<u32>>();
        let receiver = {
            let locks = locks.clone();
            thread::spawn(move || {
                for guard in rx {
                    let key = *OwnedKeyGuard::key(&guard);
                    assert!(locks.is_locked(&key));
                    drop(guard);
                }
            })
        };
        let senders: Vec<_> = (0..2)
            .map(|t| {
                let locks = locks.clone();
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..rounds {
                        let key = (i % 4) as u32 + t * 10;
                        let guard = futures_lite::future::block_on(locks.lock_owned(key));
                        tx.send(guard).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        join_all(senders);
        receiver.join().unwrap();
        assert!(locks.is_empty());
    });
}

#[test]
fn an_owned_future_dropped_on_another_thread() {
    let locks = Arc::new(KeyedLocks::new());
    let holder = locks.try_lock_owned(1).unwrap();
    let probe = Probe::new();
    let mut future = locks.lock_owned(1);
    assert_pending(probe.poll(&mut future));
    thread::spawn(move || drop(future)).join().unwrap();
    assert_eq!(locks.len(), 1);
    drop(holder);
    assert!(locks.is_empty());
}
