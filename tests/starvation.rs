//! No waiter starves, under either policy: a hog that re-locks in a tight
//! loop cannot keep a waiter out.
//!
//! Under `Lock::new` the hog may barge past a woken waiter, but a waiter
//! that has lost a race joins a queue that the hog cannot pass, so it gets
//! the lock within a bounded number of hand-offs; that bound reads no clock.
//!
//! * The by-hand tests drive the hog and the waiters on one thread so that
//!   the hog wins every race it can, and count the hog's acquisitions after
//!   a waiter joined: the bound itself, deterministic (and run under Miri).
//! * The thread tests pit a hog thread (`lock_blocking` or `try_lock` in a
//!   loop) against async and blocking waiters on other threads. There a
//!   woken waiter often wins on its own, since a release leaves the lock
//!   free while it wakes the waiter, so these check progress on real
//!   threads (and, for async waiters, the number of lost races). The hog
//!   gives up after `HOG_LIMIT` acquisitions: a starving waiter then gets in
//!   only when the hog stops, which fails the test instead of hanging it.

mod common;

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;

use common::{Probe, assert_healthy, assert_pending, join, with_watchdog};
use turnlock::Lock;

/// The hog thread stops after this many acquisitions (only reached when a
/// waiter starves).
///
/// How many times the hog thread gets in before a waiter does depends on how
/// long the waiter's thread takes to wake up and run, which is scheduling,
/// not the lock: up to hundreds of acquisitions on a busy machine. The
/// by-hand tests assert the bound in hand-offs.
const HOG_LIMIT: u64 = 100_000;

/// Busy-work iterations the hog does while holding the lock.
const HOLD_SPINS: u32 = 5_000;

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
            // A little work while holding: the lock is held nearly all the
            // time, so a woken waiter that merely tries again keeps losing.
            for _ in 0..HOLD_SPINS {
                core::hint::black_box(());
            }
        }
    });
    holding_rx.recv().unwrap();
    hog
}

/// Hog acquisitions after which the by-hand tests call it starvation.
const BY_HAND_LIMIT: usize = 10_000;

/// The clock-free bound of `new`: a waiter that lost one race
/// is queued, and the next release hands it the lock. Two hog acquisitions
/// after the waiter joined, a few more for slack.
const MAX_HOG_RUNS_BY_HAND: usize = 4;

/// The hog and the waiters driven by hand on one thread, so that the hog
/// wins every race it can: it releases and takes the lock again before any
/// waiter runs. Returns, per waiter, how many times the hog got in after the
/// waiter joined and before it was served.
fn hog_by_hand(lock: &Lock<u64>, waiters: usize) -> Vec<usize> {
    let mut hog = Some(lock.try_lock().expect("free at the start"));
    let probes: Vec<Probe> = (0..waiters).map(|_| Probe::new()).collect();
    let mut futures: Vec<_> = (0..waiters).map(|_| Some(lock.lock())).collect();
    for (future, probe) in futures.iter_mut().zip(&probes) {
        assert_pending(probe.poll(future.as_mut().unwrap()));
    }
    let mut hog_runs = 0;
    let mut served_after = vec![None; waiters];
    while served_after.iter().any(Option::is_none) {
        assert!(
            hog_runs < BY_HAND_LIMIT,
            "starved: {served_after:?} after {hog_runs} hog runs"
        );
        // The hog releases and barges straight back in, if it can.
        drop(hog.take());
        hog = lock.try_lock();
        if let Some(guard) = hog.as_mut() {
            **guard += 1;
            hog_runs += 1;
        }
        // Then every woken waiter runs; at most one can get the lock.
        for (i, (future, probe)) in futures.iter_mut().zip(&probes).enumerate() {
            if let Some(waiting) = future.as_mut() {
                if let core::task::Poll::Ready(guard) = probe.poll(waiting) {
                    assert!(hog.is_none(), "a waiter got the lock the hog holds");
                    served_after[i] = Some(hog_runs);
                    *future = None;
                    drop(guard);
                }
            }
        }
    }
    drop(hog);
    assert_healthy(lock);
    served_after.into_iter().map(Option::unwrap).collect()
}

#[test]
fn new_hog_by_hand_cannot_keep_one_waiter_out() {
    let lock = Lock::new(0);
    let served_after = hog_by_hand(&lock, 1);
    assert!(
        served_after[0] <= MAX_HOG_RUNS_BY_HAND,
        "the waiter got in only after {} hog acquisitions",
        served_after[0]
    );
}

#[test]
fn new_hog_by_hand_cannot_keep_several_waiters_out() {
    let lock = Lock::new(0);
    let waiters = 5;
    let served_after = hog_by_hand(&lock, waiters);
    for (i, &runs) in served_after.iter().enumerate() {
        // Each waiter queues after its first lost race; the queue is
        // served in order, one hand-off per hog release.
        assert!(
            runs <= MAX_HOG_RUNS_BY_HAND + i,
            "waiter {i} got in only after {runs} hog acquisitions: {served_after:?}"
        );
    }
}

#[test]
fn fifo_hog_by_hand_never_gets_in_ahead_of_a_waiter() {
    let lock = Lock::new_fifo(0);
    let served_after = hog_by_hand(&lock, 5);
    assert_eq!(served_after, [0; 5], "the hog barged past queued waiters");
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
