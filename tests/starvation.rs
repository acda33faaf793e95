//! No waiter starves, under either policy: a thread that re-locks in a
//! tight loop (the hog) cannot keep a waiter out.
//!
//! Under `Lock::new` the hog may barge past a woken waiter, but a waiter
//! that has lost a race joins a queue that the hog cannot pass, so it gets
//! the lock within a bounded number of hand-offs; that bound reads no clock.
//! The hog gives up after `HOG_LIMIT` acquisitions, so a starving lock makes
//! the waiter get in only when the hog stops: that fails the test instead of
//! hanging it.

mod common;

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;

use common::{join, with_watchdog};
use turnlock::Lock;

/// The hog stops after this many acquisitions (only reached when the
/// waiter starves).
///
/// How many times the hog gets in before a waiter does depends on how long
/// the waiter's thread takes to wake up and run, which is scheduling, not
/// the lock: tens of thousands of acquisitions in a debug build on a busy
/// machine. The bound asserted in lost races, `MAX_WAITER_POLLS`, is the
/// one that reads no clock.
const HOG_LIMIT: u64 = 2_000_000;

/// A waiter of a `new` lock is polled when it registers, when it is woken
/// and loses (then it queues) and when it is handed the lock: three polls,
/// two more for slack. A lock that lets the waiter lose race after race
/// wakes and polls it far more often.
const MAX_WAITER_POLLS: usize = 5;

#[derive(Clone, Copy, Debug)]
enum Hog {
    /// `lock_blocking` in a loop.
    Blocking,
    /// `try_lock` in a spinning loop.
    TryLock,
}

struct Race {
    /// The hog's acquisitions since it started looping.
    lock: Lock<u64>,
    /// Set by the waiter(s) once served; the hog then stops.
    stop: AtomicBool,
    /// Waiters still waiting.
    waiting: AtomicU64,
}

impl Race {
    fn new(fifo: bool, waiters: u64) -> Arc<Self> {
        Arc::new(Self {
            lock: if fifo {
                Lock::new_fifo(0)
            } else {
                Lock::new(0)
            },
            stop: AtomicBool::new(false),
            waiting: AtomicU64::new(waiters),
        })
    }

    /// A waiter was served; the last one stops the hog.
    fn served(&self) {
        if self.waiting.fetch_sub(1, SeqCst) == 1 {
            self.stop.store(true, SeqCst);
        }
    }
}

/// Starts the hog holding the lock; it starts looping once `go` fires.
/// Returns its total acquisitions when it stops.
fn spawn_hog(race: Arc<Race>, style: Hog, go: mpsc::Receiver<()>) -> thread::JoinHandle<u64> {
    let (holding_tx, holding_rx) = mpsc::channel();
    let hog = thread::spawn(move || {
        let mut guard = race.lock.lock_blocking();
        holding_tx.send(()).unwrap();
        go.recv().unwrap();
        loop {
            drop(guard);
            guard = match style {
                Hog::Blocking => race.lock.lock_blocking(),
                Hog::TryLock => loop {
                    if let Some(guard) = race.lock.try_lock() {
                        break guard;
                    }
                    core::hint::spin_loop();
                },
            };
            *guard += 1;
            if *guard >= HOG_LIMIT || race.stop.load(SeqCst) {
                return *guard;
            }
        }
    });
    holding_rx.recv().unwrap();
    hog
}

/// An async waiter on its own thread. Returns the hog's count when the
/// waiter got the lock and how often its lock future was polled.
fn spawn_async_waiter(
    race: Arc<Race>,
    registered: mpsc::Sender<()>,
) -> thread::JoinHandle<(u64, usize)> {
    thread::spawn(move || {
        futures_lite::future::block_on(async {
            let mut future = race.lock.lock();
            let mut polls = 0;
            let guard = core::future::poll_fn(|cx| {
                polls += 1;
                let poll = Pin::new(&mut future).poll(cx);
                if polls == 1 {
                    assert!(poll.is_pending(), "the hog holds the lock");
                    // Now queued: let the hog loose.
                    registered.send(()).unwrap();
                }
                poll
            })
            .await;
            let seen = *guard;
            race.served();
            drop(guard);
            (seen, polls)
        })
    })
}

/// A blocking waiter on its own thread. Returns the hog's count when it got
/// the lock.
fn spawn_blocking_waiter(
    race: Arc<Race>,
    about_to_wait: mpsc::Sender<()>,
) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        about_to_wait.send(()).unwrap();
        let guard = race.lock.lock_blocking();
        let seen = *guard;
        race.served();
        drop(guard);
        seen
    })
}

fn hog_vs_async_waiter(fifo: bool, style: Hog) {
    let race = Race::new(fifo, 1);
    let (go_tx, go_rx) = mpsc::channel();
    let hog = spawn_hog(race.clone(), style, go_rx);
    let waiter = spawn_async_waiter(race.clone(), go_tx);
    let (seen, polls) = join(waiter);
    let total = join(hog);
    assert!(
        seen < HOG_LIMIT,
        "{style:?} hog (fifo: {fifo}) starved the async waiter: it got in only when the hog gave up"
    );
    assert!(
        polls <= MAX_WAITER_POLLS,
        "{style:?} hog (fifo: {fifo}): the waiter lost {polls} races before getting in"
    );
    assert!(total >= seen);
    assert!(!race.lock.is_locked());
}

fn hog_vs_blocking_waiter(fifo: bool, style: Hog) {
    let race = Race::new(fifo, 1);
    let (go_tx, go_rx) = mpsc::channel();
    let hog = spawn_hog(race.clone(), style, go_rx);
    let waiter = spawn_blocking_waiter(race.clone(), go_tx);
    let seen = join(waiter);
    join(hog);
    assert!(
        seen < HOG_LIMIT,
        "{style:?} hog (fifo: {fifo}) starved the blocking waiter: it got in only when the hog gave up"
    );
    assert!(!race.lock.is_locked());
}

#[test]
#[cfg_attr(miri, ignore = "a tight loop of up to 2 000 000 acquisitions")]
fn blocking_hog_vs_async_waiter() {
    with_watchdog(60, || {
        hog_vs_async_waiter(false, Hog::Blocking);
        hog_vs_async_waiter(true, Hog::Blocking);
    });
}

#[test]
#[cfg_attr(miri, ignore = "a tight loop of up to 2 000 000 acquisitions")]
fn try_lock_hog_vs_async_waiter() {
    with_watchdog(60, || {
        hog_vs_async_waiter(false, Hog::TryLock);
        hog_vs_async_waiter(true, Hog::TryLock);
    });
}

#[test]
#[cfg_attr(miri, ignore = "a tight loop of up to 2 000 000 acquisitions")]
fn blocking_hog_vs_blocking_waiter() {
    with_watchdog(60, || {
        hog_vs_blocking_waiter(false, Hog::Blocking);
        hog_vs_blocking_waiter(true, Hog::Blocking);
    });
}

#[test]
#[cfg_attr(miri, ignore = "a tight loop of up to 2 000 000 acquisitions")]
fn try_lock_hog_vs_blocking_waiter() {
    with_watchdog(60, || {
        hog_vs_blocking_waiter(false, Hog::TryLock);
        hog_vs_blocking_waiter(true, Hog::TryLock);
    });
}

#[test]
#[cfg_attr(miri, ignore = "a tight loop of up to 2 000 000 acquisitions")]
fn several_waiters_all_get_in() {
    with_watchdog(60, || {
        for fifo in [false, true] {
            let race = Race::new(fifo, 3);
            let (go_tx, go_rx) = mpsc::channel();
            let hog = spawn_hog(race.clone(), Hog::Blocking, go_rx);
            let (ready_tx, ready_rx) = mpsc::channel();
            let async_waiters: Vec<_> = (0..2)
                .map(|_| spawn_async_waiter(race.clone(), ready_tx.clone()))
                .collect();
            let blocking_waiter = spawn_blocking_waiter(race.clone(), ready_tx);
            for _ in 0..3 {
                ready_rx.recv().unwrap();
            }
            go_tx.send(()).unwrap();
            for waiter in async_waiters {
                let (seen, _polls) = join(waiter);
                assert!(seen < HOG_LIMIT, "an async waiter starved (fifo: {fifo})");
            }
            let seen = join(blocking_waiter);
            assert!(
                seen < HOG_LIMIT,
                "the blocking waiter starved (fifo: {fifo})"
            );
            join(hog);
            assert!(!race.lock.is_locked());
        }
    });
}
