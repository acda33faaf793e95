//! `lock_many`: transfers between accounts from many tasks never deadlock
//! and never lose money, whatever order the keys are named in, including a
//! key named twice.

#![cfg(feature = "keyed")]

mod common;

use core::sync::atomic::AtomicI64;
use core::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;

use common::{Rng, join_all, scaled, with_executor, with_watchdog};
use futures_lite::future::yield_now;
use turnlock::{KeyedLocks, ManyGuard};

const ACCOUNTS: usize = 6;
const START: i64 = 1_000;

/// Balances that are read and written separately, with awaits in between,
/// like rows of a database: only the keyed locks keep transfers whole.
struct Bank {
    locks: KeyedLocks<usize>,
    balances: Vec<AtomicI64>,
}

impl Bank {
    fn new(locks: KeyedLocks<usize>) -> Self {
        Self {
            locks,
            balances: (0..ACCOUNTS).map(|_| AtomicI64::new(START)).collect(),
        }
    }

    async fn transfer(&self, from: usize, to: usize, amount: i64) {
        let guard = self.locks.lock_many([to, from]).await;
        let expected = if from == to { 1 } else { 2 };
        assert_eq!(ManyGuard::len(&guard), expected);
        let balance = self.balances[from].load(Relaxed);
        yield_now().await;
        if balance >= amount {
            self.balances[from].store(balance - amount, Relaxed);
            yield_now().await;
            let other = self.balances[to].load(Relaxed);
            self.balances[to].store(other + amount, Relaxed);
        }
    }

    /// Audits all accounts at once, holding every key.
    async fn total(&self) -> i64 {
        let _all = self.locks.lock_many((0..ACCOUNTS).rev()).await;
        self.balances.iter().map(|b| b.load(Relaxed)).sum()
    }
}

fn transfers(bank: Arc<Bank>) {
    let tasks = scaled(32);
    let iters = scaled(500);
    let threads = 2;
    with_executor(2, |executor| {
        let bank = bank.clone();
        async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let bank = bank.clone();
                    executor.spawn(async move {
                        let mut rng = Rng::new(t as u64);
                        for i in 0..iters {
                            let from = rng.below(ACCOUNTS as u64) as usize;
                            // One transfer in eight names the same account twice.
                            let to = if rng.one_in(8) {
                                from
                            } else {
                                rng.below(ACCOUNTS as u64) as usize
                            };
                            bank.transfer(from, to, rng.below(300) as i64).await;
                            if i % 64 == 0 {
                                assert_eq!(bank.total().await, START * ACCOUNTS as i64);
                            }
                        }
                    })
                })
                .collect();
            // Threads drive `lock_many` with a blocking executor of their own,
            // naming pairs in the opposite order.
            let blocking: Vec<_> = (0..threads)
                .map(|t| {
                    let bank = bank.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(500 + t);
                        for _ in 0..iters {
                            let a = rng.below(ACCOUNTS as u64) as usize;
                            let b = (a + 1) % ACCOUNTS;
                            futures_lite::future::block_on(bank.transfer(b, a, 10));
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await;
            }
            join_all(blocking);
        }
    });
    let total: i64 = bank.balances.iter().map(|b| b.load(Relaxed)).sum();
    assert_eq!(total, START * ACCOUNTS as i64, "money was created or lost");
    assert!(bank.balances.iter().all(|b| b.load(Relaxed) >= 0));
    assert!(bank.locks.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn transfers_never_deadlock_or_lose_money_new() {
    with_watchdog(60, || transfers(Arc::new(Bank::new(KeyedLocks::new()))));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn transfers_never_deadlock_or_lose_money_fifo() {
    with_watchdog(60, || {
        transfers(Arc::new(Bank::new(KeyedLocks::new_fifo())))
    });
}

#[test]
fn keys_are_sorted_and_deduplicated() {
    futures_lite::future::block_on(async {
        let locks = KeyedLocks::new();
        let guard = locks.lock_many([5, 1, 5, 3, 1]).await;
        assert!(ManyGuard::keys(&guard).eq(&[1, 3, 5]));
        assert_eq!(locks.len(), 3);
        assert_eq!(format!("{guard:?}"), "ManyGuard { keys: [1, 3, 5] }");
        drop(guard);
        assert!(locks.is_empty());

        let nothing = locks.lock_many(Vec::new()).await;
        assert_eq!(ManyGuard::len(&nothing), 0);
        assert!(locks.is_empty());
    });
}

/// Two callers naming the same keys in opposite orders, stepping in
/// lock-step, would deadlock if the keys were taken in the given order.
#[test]
fn opposite_orders_do_not_deadlock() {
    with_watchdog(30, || {
        let locks = KeyedLocks::new_fifo();
        futures_lite::future::block_on(async {
            for _ in 0..scaled(200) {
                let forward = async {
                    let _g = locks.lock_many(["a", "b", "c"]).await;
                    yield_now().await;
                };
                let backward = async {
                    let _g = locks.lock_many(["c", "b", "a"]).await;
                    yield_now().await;
                };
                futures_lite::future::zip(forward, backward).await;
            }
        });
        assert!(locks.is_empty());
    });
}
