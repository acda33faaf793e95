//! Steady-state locking of keys allocates nothing: freed nodes are pooled
//! and the tables keep their capacity. Counted by a global allocator that
//! counts the allocations of the thread that asks.

#![cfg(feature = "keyed")]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::alloc::System;

use turnlock::KeyedLocks;

/// Counts allocations per thread, so other test threads do not interfere.
struct Counting;

std::thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the slot may be gone while the thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to `System` unchanged; counting touches only a
// const-initialised thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Polls a future that must complete at once, with a no-op waker.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an uncontended lock must not wait"),
    }
}

const KEYS: [u64; 4] = [1, 2, 3, 1_000_003];

/// One round: every way of locking, a few keys held at once.
fn round(locks: &KeyedLocks<u64>) {
    for key in KEYS {
        drop(now(locks.lock(key)));
    }
    let held: [_; 4] = KEYS.map(|key| locks.try_lock(key).expect("free"));
    drop(held);
    for key in KEYS {
        drop(locks.lock_blocking(key));
    }
    for key in KEYS {
        drop(now(locks.lock_until(key, core::future::pending::<()>())).expect("free"));
    }
    now(locks.with_lock(KEYS[0], async || ()));
    let a = now(locks.lock(KEYS[0]));
    assert!(locks.try_lock(KEYS[0]).is_none());
    drop(a);
}

#[test]
fn steady_state_locking_allocates_nothing() {
    for locks in [KeyedLocks::new(), KeyedLocks::new_fifo()] {
        let warm_up = allocations(|| {
            for _ in 0..10 {
                round(&locks);
            }
        });
        assert!(warm_up > 0, "the counter counts nothing");
        let rounds = if cfg!(miri) { 20 } else { 10_000 };
        let steady = allocations(|| {
            for _ in 0..rounds {
                round(&locks);
            }
        });
        assert_eq!(
            steady, 0,
            "{steady} allocations in {rounds} rounds of steady-state locking"
        );
        assert!(locks.is_empty());
    }
}

#[test]
fn steady_state_block_on_allocates_nothing() {
    let locks = KeyedLocks::new();
    let run = || {
        futures_lite::future::block_on(async {
            for key in KEYS {
                drop(locks.lock(key).await);
            }
        })
    };
    for _ in 0..10 {
        run();
    }
    let steady = allocations(|| {
        for _ in 0..1_000 {
            run();
        }
    });
    assert_eq!(steady, 0);
}
