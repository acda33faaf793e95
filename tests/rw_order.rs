//! `RwLock`'s two policies: the order in which waiters are served, readers
//! admitted together, `try_*` under `new_fifo`, and the starvation bounds
//! in both directions (the loom models in `loom-tests/` prove them over
//! every interleaving of small cases; these tests check larger ones).

mod common;

use std::sync::Arc;
use std::thread;

use common::rw::{assert_rw_healthy, policies};
use common::{Probe, assert_pending, ready, scaled, with_watchdog};
use futures::FutureExt;
use futures_lite::future::block_on;
use turnlock::RwLock;

#[test]
fn futures_are_served_in_the_order_they_are_first_polled() {
    // tokio's `write_order`: the future awaited first writes first.
    for (policy, new) in policies() {
        let lock = new(Vec::new());
        block_on(async {
            let second = lock.write().map(|mut guard| guard.push(2));
            let first = lock.write().map(|mut guard| guard.push(1));
            first.await;
            second.await;
        });
        assert_eq!(*lock.try_read().unwrap(), [1, 2], "{policy}");
    }
}

/// Queues `kinds` (`'r'` read, `'w'` write) behind a held write, releases
/// it, and returns the order in which the waiters hold the lock, with `|`
/// between batches that hold it together.
fn serve(lock: &RwLock<()>, kinds: &str) -> String {
    enum Waiter<'a> {
        Read(turnlock::futures::ReadFuture<'a, ()>),
        Write(turnlock::futures::WriteFuture<'a, ()>),
    }
    /// A guard, kept for its drop at the end of its batch.
    enum Held<'a> {
        Read(#[allow(dead_code, reason = "kept for its drop")] turnlock::ReadGuard<'a, ()>),
        Write(#[allow(dead_code, reason = "kept for its drop")] turnlock::WriteGuard<'a, ()>),
    }

    let probe = Probe::new();
    let holder = lock.try_write().expect("free");
    let mut waiters: Vec<(usize, Option<Waiter<'_>>)> = kinds
        .chars()
        .enumerate()
        .map(|(i, kind)| {
            let mut waiter = match kind {
                'r' => Waiter::Read(lock.read()),
                _ => Waiter::Write(lock.write()),
            };
            match &mut waiter {
                Waiter::Read(future) => assert_pending(probe.poll(future)),
                Waiter::Write(future) => assert_pending(probe.poll(future)),
            }
            (i, Some(waiter))
        })
        .collect();
    drop(holder);
    let mut order = String::new();
    while waiters.iter().any(|(_, waiter)| waiter.is_some()) {
        // Poll every waiter (in any order: reversed here) until a round
        // admits nobody more; the admitted ones form one batch.
        let mut batch: Vec<(usize, Held<'_>)> = Vec::new();
        loop {
            let before = batch.len();
            for (i, slot) in waiters.iter_mut().rev() {
                let done = match slot.as_mut() {
                    Some(Waiter::Read(future)) => probe.poll(future).map(Held::Read),
                    Some(Waiter::Write(future)) => probe.poll(future).map(Held::Write),
                    None => continue,
                };
                if let std::task::Poll::Ready(held) = done {
                    *slot = None;
                    batch.push((*i, held));
                }
            }
            if batch.len() == before {
                break;
            }
        }
        assert!(!batch.is_empty(), "nobody was served: {order}");
        batch.sort_by_key(|(i, _)| *i);
        if !order.is_empty() {
            order.push('|');
        }
        for (i, held) in &batch {
            order.push(match held {
                Held::Read(_) => 'r',
                Held::Write(_) => 'w',
            });
            order.push_str(&i.to_string());
        }
        drop(batch);
    }
    order
}

#[test]
fn fifo_serves_in_arrival_order_with_readers_together() {
    let lock = RwLock::new_fifo(());
    assert_eq!(serve(&lock, "rrwrrw"), "r0r1|w2|r3r4|w5");
    assert_eq!(serve(&lock, "wrrrw"), "w0|r1r2r3|w4");
    assert_eq!(serve(&lock, "rwr"), "r0|w1|r2");
    assert_rw_healthy(&lock);
}

#[test]
fn new_serves_the_same_order_when_nobody_barges() {
    let lock = RwLock::new(());
    assert_eq!(serve(&lock, "rrwrrw"), "r0r1|w2|r3r4|w5");
    assert_eq!(serve(&lock, "wrrrw"), "w0|r1r2r3|w4");
    assert_rw_healthy(&lock);
}

#[test]
fn fifo_try_never_overtakes_a_waiter() {
    let lock = RwLock::new_fifo(());
    let probe = Probe::new();
    // A reader waits behind a writer: `try_read` fails although only
    // readers could hold the lock next.
    let writer = lock.try_write().unwrap();
    let mut reader = lock.read();
    assert_pending(probe.poll(&mut reader));
    drop(writer);
    // The waiting reader was granted the lock but has not claimed it:
    assert!(lock.try_write().is_none());
    let read = ready(probe.poll(&mut reader));
    // Claimed; nobody waits now, so readers may join.
    assert!(lock.try_read().is_some());
    drop(read);

    // A writer waits behind readers: a newcomer reader does not pass it.
    let held = lock.try_read().unwrap();
    let mut writer = lock.write();
    assert_pending(probe.poll(&mut writer));
    assert!(lock.try_read().is_none());
    assert!(lock.try_upgradable_read().is_none());
    drop(held);
    drop(ready(probe.poll(&mut writer)));
    assert_rw_healthy(&lock);
}

/// How many newcomers `RwLock::new` lets pass a turn in flight (crate
/// docs, "Reader-writer locks").
const BARGE_LIMIT: usize = if cfg!(target_pointer_width = "64") {
    15
} else {
    2
};

#[test]
fn new_lets_a_few_newcomers_pass_a_turn_in_flight_only() {
    // A reader queued behind a writer at the front: the front's release
    // sends the reader the turn, and before the reader is polled,
    // `BARGE_LIMIT` newcomers (`new` only) may take the lock, and no more.
    fn turn_in_flight<'a>(
        lock: &'a RwLock<()>,
        probe: &Probe,
        reader_probe: &Probe,
    ) -> turnlock::futures::ReadFuture<'a, ()> {
        let holder = lock.try_write().unwrap();
        let mut front = lock.write();
        assert_pending(probe.poll(&mut front));
        let mut reader = lock.read();
        assert_pending(reader_probe.poll(&mut reader));
        drop(holder);
        drop(ready(probe.poll(&mut front))); // the turn goes to `reader`
        reader
    }
    let lock = RwLock::new(());
    let (probe, reader_probe) = (Probe::new(), Probe::new());
    let mut reader = turn_in_flight(&lock, &probe, &reader_probe);
    for newcomer in 0..BARGE_LIMIT {
        if newcomer % 2 == 0 {
            drop(lock.try_read().expect("a newcomer may pass the turn"));
        } else {
            drop(lock.try_write().expect("a newcomer may pass the turn"));
        }
    }
    assert!(
        lock.try_read().is_none(),
        "more than {BARGE_LIMIT} newcomers passed the turn"
    );
    assert!(
        lock.try_write().is_none(),
        "more than {BARGE_LIMIT} newcomers passed the turn"
    );
    drop(ready(reader_probe.poll(&mut reader)));
    assert_rw_healthy(&lock);

    // Once the reader has lost its race it waits at the front: nobody
    // passes it any more.
    let reader_probe = Probe::new();
    let mut reader = turn_in_flight(&lock, &probe, &reader_probe);
    assert_eq!(reader_probe.wakes(), 1, "the turn wakes the reader");
    let barged = lock.try_write().expect("a newcomer may pass the turn");
    assert_pending(reader_probe.poll(&mut reader)); // lost the race: at the front
    assert!(lock.try_write().is_none(), "a newcomer passed the front");
    assert!(lock.try_read().is_none(), "a newcomer passed the front");
    drop(barged);
    assert_eq!(reader_probe.wakes(), 2, "the release grants the front");
    drop(ready(reader_probe.poll(&mut reader)));
    assert_rw_healthy(&lock);

    // Under `new_fifo`, nobody passes.
    let lock = RwLock::new_fifo(());
    let holder = lock.try_write().unwrap();
    let mut front = lock.write();
    assert_pending(probe.poll(&mut front));
    let mut reader = lock.read();
    assert_pending(probe.poll(&mut reader));
    drop(holder);
    drop(ready(probe.poll(&mut front)));
    assert!(lock.try_write().is_none());
    drop(ready(probe.poll(&mut reader)));
    assert_rw_healthy(&lock);
}

/// Threads that read in a tight loop, overlapping each other so the lock
/// is never free, while one thread writes `writes` times. Returns how many
/// reads were made before the writer finished.
fn writer_among_streaming_readers(lock: Arc<RwLock<u64>>, writes: u64) -> u64 {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (lock, done, reads) = (lock.clone(), done.clone(), reads.clone());
            thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(lock.read_blocking());
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    for _ in 0..writes {
        *lock.write_blocking() += 1;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        reader.join().unwrap();
    }
    reads.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn a_stream_of_readers_never_starves_a_writer() {
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0));
            let writes = scaled(200) as u64;
            let _ = writer_among_streaming_readers(lock.clone(), writes);
            assert_eq!(*lock.try_read().unwrap(), writes, "{policy}");
            assert_rw_healthy(&lock);
        }
    });
}

#[test]
fn a_stream_of_writers_never_starves_a_reader() {
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0_u64));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let writers: Vec<_> = (0..2)
                .map(|_| {
                    let (lock, done) = (lock.clone(), done.clone());
                    thread::spawn(move || {
                        while !done.load(std::sync::atomic::Ordering::SeqCst) {
                            *lock.write_blocking() += 1;
                        }
                    })
                })
                .collect();
            for _ in 0..scaled(200) {
                drop(lock.read_blocking());
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            for writer in writers {
                writer.join().unwrap();
            }
            let _ = policy;
            assert_rw_healthy(&lock);
        }
    });
}
