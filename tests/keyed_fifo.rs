//! `KeyedLocks::new_fifo`: each key's waiters are served in the order of
//! their first poll, with direct hand-off, independently of other keys.

#![cfg(feature = "keyed")]

mod common;

use std::sync::{Arc, Mutex};

use common::{Probe, assert_pending, ready, scaled, with_executor, with_watchdog};
use futures_lite::future::yield_now;
use turnlock::KeyedLocks;

/// Waiters of two keys, interleaved: each key serves its own waiters in
/// order, and neither a late `try_lock` nor the releasing holder cuts in.
#[test]
fn waiters_are_served_in_order_per_key() {
    let locks = KeyedLocks::new_fifo();
    let probe = Probe::new();
    let holders = [locks.try_lock("a").unwrap(), locks.try_lock("b").unwrap()];
    let mut waiters: Vec<_> = (0..10)
        .map(|i| (if i % 2 == 0 { "a" } else { "b" }, i))
        .map(|(key, i)| (key, i, locks.lock(key)))
        .collect();
    for (_, _, waiter) in &mut waiters {
        assert_pending(probe.poll(waiter));
    }
    drop(holders);
    assert!(locks.try_lock("a").is_none(), "a newcomer cut in");
    assert!(locks.try_lock("b").is_none(), "a newcomer cut in");

    let mut served = Vec::new();
    for key in ["a", "b"] {
        let mut line: Vec<_> = waiters.iter_mut().filter(|(k, _, _)| *k == key).collect();
        while !line.is_empty() {
            // Everyone behind the head stays pending.
            for (_, _, waiter) in line.iter_mut().skip(1) {
                assert_pending(probe.poll(waiter));
            }
            let (_, i, head) = line.remove(0);
            let guard = ready(probe.poll(head));
            served.push(*i);
            drop(guard);
        }
    }
    assert_eq!(served, [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    drop(waiters);
    assert!(locks.is_empty());
}

/// The releasing task cannot take its key back ahead of a queued waiter.
#[test]
fn the_releaser_does_not_cut_in() {
    let locks = KeyedLocks::new_fifo();
    let probe = Probe::new();
    let held = locks.try_lock(1).unwrap();
    let mut waiter = locks.lock(1);
    assert_pending(probe.poll(&mut waiter));
    drop(held);
    let mut again = locks.lock(1);
    assert_pending(probe.poll(&mut again));
    let guard = ready(probe.poll(&mut waiter));
    assert_pending(probe.poll(&mut again));
    drop(guard);
    drop(ready(probe.poll(&mut again)));
    assert!(locks.is_empty());
}

/// Tasks on two threads that each queue behind a key record the order in
/// which they got it; the order of first polls is the order of service.
#[test]
fn tasks_on_threads_keep_their_order() {
    with_watchdog(60, || {
        let locks = Arc::new(KeyedLocks::new_fifo());
        let rounds = scaled(50);
        for _ in 0..rounds {
            let order = Arc::new(Mutex::new(Vec::new()));
            let gate = locks.try_lock_owned(7).unwrap();
            let probe = Probe::new();
            // Queue the waiters in a known order by polling them once here,
            // then let the executor finish them.
            let mut futures: Vec<_> = (0..8).map(|_| locks.lock_owned(7)).collect();
            for future in &mut futures {
                assert_pending(probe.poll(future));
            }
            with_executor(2, |executor| {
                let order = order.clone();
                async move {
                    let tasks: Vec<_> = futures
                        .into_iter()
                        .enumerate()
                        .map(|(i, future)| {
                            let order = order.clone();
                            executor.spawn(async move {
                                let _guard = future.await;
                                order.lock().unwrap().push(i);
                                yield_now().await;
                            })
                        })
                        .collect();
                    drop(gate);
                    for task in tasks {
                        task.await;
                    }
                }
            });
            assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
            assert!(locks.is_empty());
        }
    });
}

/// `fifo()` on a map that has already been used: its pooled nodes have the
/// throughput policy, and none of them may serve a key afterwards.
#[test]
fn fifo_after_use_gives_every_key_the_fifo_policy() {
    let locks = KeyedLocks::new();
    // Fill the pools with nodes of the throughput policy.
    let keys = scaled(1_000);
    let warm: Vec<_> = (0..keys).map(|key| locks.try_lock(key).unwrap()).collect();
    drop(warm);
    let locks = locks.fifo();
    let probe = Probe::new();
    for key in 0..keys {
        let holder = locks.try_lock(key).unwrap();
        let mut waiter = locks.lock(key);
        assert_pending(probe.poll(&mut waiter));
        drop(holder);
        // FIFO: the lock was handed to the waiter; a newcomer cannot take it.
        assert!(
            locks.try_lock(key).is_none(),
            "key {key} kept the old policy"
        );
        drop(ready(probe.poll(&mut waiter)));
    }
    assert!(locks.is_empty());
}
