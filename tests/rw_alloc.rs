//! Uncontended reads and writes of an `RwLock` allocate nothing, and nor
//! does steady-state locking of keys of a `KeyedRwLocks` (freed nodes are
//! pooled). Counted by a global allocator that counts the allocations of
//! the thread that asks.

use turnlock::{KeyedRwLocks, RwLock, UpgradableReadGuard, WriteGuard};

#[path = "common/counting.rs"]
mod counting;
use counting::{allocations_during as allocations, now, steady_state_allocations};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[test]
fn uncontended_reads_and_writes_allocate_nothing() {
    for lock in [RwLock::new(0_u64), RwLock::new_fifo(0)] {
        let count = allocations(|| {
            for _ in 0..100 {
                drop(now(lock.read()));
                *now(lock.write()) += 1;
                drop(lock.try_read());
                drop(lock.try_write());
                drop((lock.read_blocking(), lock.read_blocking()));
                drop(lock.write_blocking());
                let upgradable = now(lock.upgradable_read());
                let reader = lock.try_read().unwrap();
                drop(reader);
                let writer = now(UpgradableReadGuard::upgrade(upgradable));
                drop(WriteGuard::downgrade(writer));
                drop(now(lock.read_until(core::future::pending::<()>())));
            }
        });
        assert_eq!(count, 0, "{count} allocations for uncontended acquisitions");
    }
}

const KEYS: [u64; 4] = [1, 2, 3, 1_000_003];

fn round(locks: &KeyedRwLocks<u64>) {
    for key in KEYS {
        drop(now(locks.read(key)));
        drop(now(locks.write(key)));
    }
    let held: [_; 4] = KEYS.map(|key| locks.try_read(key).expect("free"));
    let shared: [_; 4] = KEYS.map(|key| locks.try_read(key).expect("shared"));
    drop((held, shared));
    for key in KEYS {
        drop(locks.write_blocking(key));
        drop(now(locks.read_until(key, core::future::pending::<()>())).expect("free"));
    }
    now(locks.with_write(KEYS[0], async || ()));
}

#[test]
fn steady_state_keyed_locking_allocates_nothing() {
    for locks in [KeyedRwLocks::new(), KeyedRwLocks::new_fifo()] {
        let (steady, rounds) = steady_state_allocations(|| round(&locks));
        assert_eq!(steady, 0, "{steady} allocations in {rounds} rounds");
        assert!(locks.is_empty());
    }
}
