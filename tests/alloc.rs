//! Uncontended acquisition allocates nothing: a counting global allocator
//! sees no allocation over many rounds of every acquisition style, once the
//! first round has warmed up whatever the test itself needs.
//!
//! Allocations are counted per thread, so the test harness and tests running
//! in parallel do not disturb each other.

use std::sync::Arc;

use turnlock::Lock;

#[path = "common/counting.rs"]
mod counting;
use counting::{allocations_during, now as poll_once};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const ROUNDS: usize = if cfg!(miri) { 10 } else { 10_000 };

/// Runs `round` once to warm up, then `ROUNDS` times, and returns the number
/// of allocations this thread made during those rounds.
fn allocations(mut round: impl FnMut()) -> u64 {
    round();
    allocations_during(|| {
        for _ in 0..ROUNDS {
            round();
        }
    })
}

/// Both policies, each test runs against each.
fn locks() -> [Lock<u64>; 2] {
    [Lock::new(0), Lock::new_fifo(0)]
}

#[test]
fn lock_polled_once_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| *poll_once(lock.lock()) += 1);
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
        assert!(!lock.is_locked());
    }
}

#[test]
fn lock_under_block_on_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| futures_lite::future::block_on(async { *lock.lock().await += 1 }));
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
    }
}

#[test]
fn try_lock_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| *lock.try_lock().expect("free") += 1);
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
    }
}

#[test]
fn lock_blocking_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| *lock.lock_blocking() += 1);
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
    }
}

#[test]
fn lock_owned_on_an_existing_arc_allocates_nothing() {
    for lock in locks() {
        let lock = Arc::new(lock);
        let n = allocations(|| *poll_once(lock.lock_owned()) += 1);
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
        let n = allocations(|| *lock.try_lock_owned().expect("free") += 1);
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
        assert_eq!(Arc::strong_count(&lock), 1);
    }
}

#[test]
fn lock_until_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| {
            *poll_once(lock.lock_until(core::future::pending::<()>())).expect("free") += 1;
        });
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
    }
}

#[test]
fn with_lock_allocates_nothing() {
    for lock in locks() {
        let n = allocations(|| poll_once(lock.with_lock(async |value| *value += 1)));
        assert_eq!(n, 0, "fifo: {}", lock.is_fifo());
    }
}

#[test]
fn counting_allocator_counts() {
    let n = allocations(|| drop(core::hint::black_box(Box::new(1_u64))));
    assert_eq!(n, ROUNDS as u64);
}
