//! turnlock without any async code: plain threads with `lock_blocking`,
//! `lock_blocking_timeout` and `try_lock`, on a lock in a `static`.
//!
//! Run it with `cargo run --example threads`.

use std::thread;
use std::time::Duration;

use turnlock::Lock;

/// A lock in a `static`: `Lock::new_fifo` is a `const fn`.
static TOTALS: Lock<[u64; 4]> = Lock::new_fifo([0; 4]);

fn main() {
    let workers: Vec<_> = (0..4)
        .map(|id| {
            thread::spawn(move || {
                for _ in 0..10_000 {
                    TOTALS.lock_blocking()[id] += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    println!("threads: totals {:?}", *TOTALS.lock_blocking());

    // A holder on one thread, a waiter with a timeout on another.
    let held = TOTALS.lock_blocking();
    let waiter = thread::spawn(|| {
        TOTALS
            .lock_blocking_timeout(Duration::from_millis(20))
            .map(|_| ())
    });
    println!("threads: waiter while held -> {:?}", waiter.join().unwrap());
    println!(
        "threads: try_lock while held -> {:?}",
        TOTALS.try_lock().map(|_| ())
    );
    drop(held);
    println!(
        "threads: try_lock after release -> {:?}",
        TOTALS.try_lock().map(|_| ())
    );
}
