//! A global allocator that counts the allocations of each thread, for the
//! tests that prove a path allocates nothing. A test binary installs it with
//!
//! ```ignore
//! #[path = "common/counting.rs"]
//! mod counting;
//! #[global_allocator]
//! static ALLOCATOR: counting::Counting = counting::Counting;
//! ```
//!
//! Counting per thread keeps the test harness and tests running in parallel
//! out of each other's figures.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::alloc::System;

/// The system allocator, counting the allocations of each thread.
pub struct Counting;

std::thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread.
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the thread may be tearing down its locals.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

fn count_bytes(allocated: usize, freed: usize) {
    let change = allocated as i64 - freed as i64;
    let _ = NET_BYTES.try_with(|bytes| bytes.set(bytes.get() + change));
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; counting touches only a thread-local
// `Cell` that never allocates (const-initialised, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        count_bytes(layout.size(), 0);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        count_bytes(layout.size(), 0);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        count_bytes(new_size, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_bytes(0, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The number of allocations this thread makes while running `f`.
pub fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// The allocations of `rounds` runs of `round` (20 under Miri, else
/// 10 000), after ten runs to warm up (free lists, pooled nodes), which must
/// allocate: otherwise the counter counts nothing. With `rounds`.
#[allow(dead_code, reason = "only some test binaries check a steady state")]
pub fn steady_state_allocations(mut round: impl FnMut()) -> (u64, u64) {
    let warm_up = allocations_during(|| {
        for _ in 0..10 {
            round();
        }
    });
    assert!(warm_up > 0, "the counter counts nothing");
    let rounds = if cfg!(miri) { 20 } else { 10_000 };
    let steady = allocations_during(|| {
        for _ in 0..rounds {
            round();
        }
    });
    (steady, rounds)
}

/// The bytes this thread allocated and did not free while running `f`
/// (negative if it freed more than it allocated), with `f`'s result.
///
/// Exact for single-threaded code: memory freed by another thread is not
/// seen.
#[allow(dead_code, reason = "only some test binaries measure bytes")]
pub fn net_bytes_during<R>(f: impl FnOnce() -> R) -> (i64, R) {
    let before = NET_BYTES.with(Cell::get);
    let out = f();
    (NET_BYTES.with(Cell::get) - before, out)
}

/// Polls `future` once with a no-op waker; an uncontended lock is ready then.
pub fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an uncontended lock is ready at the first poll"),
    }
}
