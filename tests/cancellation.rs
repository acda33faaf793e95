//! Dropping a lock future at any point loses no wake-up and leaks no lock,
//! also when it had already been woken or handed the lock.

mod common;

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::Poll;
use std::sync::Arc;

use common::storm::lock::LockSubject;
use common::storm::{Cancel, Deadline, Mix, Storm, Style, Way};
use common::{
    Checked, Probe, Rng, assert_healthy, assert_pending, poll_noop, poll_pinned_noop, ready,
    scaled, with_watchdog,
};
use turnlock::Lock;

fn both_policies<T>(value: impl Fn() -> T) -> [(&'static str, Lock<T>); 2] {
    [
        ("new", Lock::new(value())),
        ("fifo", Lock::new_fifo(value())),
    ]
}

/// Every acquisition (`lock`, `lock_owned`, `lock_until` a deadline that
/// never comes) with its section is raced against a few yields, so lock
/// futures are dropped while idle, while waiting, after being woken, after
/// being handed the lock and inside the section; some are polled by hand
/// once and dropped. Plain threads keep the lock busy.
const STORM: Mix = Mix {
    tasks: &[
        Way(Style::Await, Cancel::PollOnce),
        Way(Style::Await, Cancel::Race),
        Way(Style::Await, Cancel::RaceYieldsFirst),
        Way(Style::Owned, Cancel::Race),
        Way(Style::Owned, Cancel::RaceYieldsFirst),
        Way(Style::Until(Deadline::Never), Cancel::Race),
        Way(Style::Until(Deadline::Never), Cancel::RaceYieldsFirst),
    ],
    threads: &[Style::Blocking],
    yields: 0..3,
    thread_yield_one_in: 0,
    panic_one_in: 0,
    retry: false,
};

/// Afterwards the lock is free and every acquisition that completed was
/// counted exactly once, also those whose section was cancelled half-way
/// (the settling of the storm checks both, and that the lock still works).
fn storm(name: &'static str, lock: Lock<Checked>) {
    Storm::new(name)
        .tasks(scaled(32), scaled(1_000))
        .threads(2, scaled(2_000))
        .run(move |storm| {
            let report = storm.rage(LockSubject::new(lock), &STORM);
            assert!(report.cancelled > 0, "no cancellation happened: {report:?}");
        });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn storm_new() {
    storm("cancellation_storm_new", Lock::new(Checked::new()));
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn storm_fifo() {
    storm("cancellation_storm_fifo", Lock::new_fifo(Checked::new()));
}

/// The same storm on one thread with futures polled by hand in a random
/// order and dropped at random points: small enough for Miri.
#[test]
fn storm_by_hand() {
    with_watchdog(60, || {
        for (policy, lock) in both_policies(Checked::new) {
            let mut rng = Rng::new(42);
            let mut futures: Vec<Option<turnlock::futures::LockFuture<'_, Checked>>> =
                (0..8).map(|_| None).collect();
            let mut guards = Vec::new();
            let mut acquired = 0;
            for _ in 0..scaled(20_000) {
                let i = rng.below(futures.len() as u64) as usize;
                match rng.below(10) {
                    // Start a new acquisition (dropping the old one, if any).
                    0..=2 => futures[i] = Some(lock.lock()),
                    // Poll one.
                    3..=6 => {
                        if let Some(future) = futures[i].as_mut() {
                            if let Poll::Ready(mut guard) = poll_noop(future) {
                                futures[i] = None;
                                guard.enter();
                                guards.push(guard);
                                acquired += 1;
                            }
                        }
                    }
                    // Cancel one.
                    7 => futures[i] = None,
                    // Release.
                    _ => {
                        if let Some(mut guard) = guards.pop() {
                            guard.leave();
                        }
                    }
                }
                assert!(guards.len() <= 1, "{policy}: two guards at once");
            }
            for mut guard in guards.drain(..) {
                guard.leave();
            }
            // Wake every remaining waiter once more, then drop them all.
            for slot in futures.iter_mut() {
                if let Some(future) = slot.as_mut() {
                    if let Poll::Ready(mut guard) = poll_noop(future) {
                        guard.enter();
                        guard.leave();
                        acquired += 1;
                    }
                }
                *slot = None;
            }
            assert!(!lock.is_locked(), "{policy}: leaked");
            assert_eq!(lock.try_lock().unwrap().count(), acquired, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
fn fifo_hand_off_to_a_waiter_cancelled_before_it_runs() {
    let lock = Lock::new_fifo(());
    let holder = lock.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = lock.lock();
    let mut b = lock.lock();
    assert_pending(pa.poll(&mut a));
    assert_pending(pb.poll(&mut b));

    drop(holder);
    assert!(pa.wakes() > 0, "the lock was handed to A");
    assert_eq!(pb.wakes(), 0, "B is not next");
    assert!(lock.try_lock().is_none(), "A owns the lock now");

    // A gives up without ever seeing the lock: it must pass it to B.
    drop(a);
    assert!(pb.wakes() > 0, "A's drop did not wake B");
    assert!(lock.is_locked(), "the lock must go to B, not become free");
    assert!(lock.try_lock().is_none());
    let guard = ready(pb.poll(&mut b));
    drop(guard);
    drop(b);
    assert_healthy(&lock);
}

#[test]
fn fifo_hand_off_to_the_only_waiter_cancelled_before_it_runs() {
    let lock = Lock::new_fifo(());
    let holder = lock.try_lock().unwrap();
    let mut a = lock.lock();
    assert_pending(poll_noop(&mut a));
    drop(holder);
    assert!(lock.is_locked(), "handed to A");
    drop(a);
    assert!(
        !lock.is_locked(),
        "A's drop must free the lock it was handed"
    );
    assert_healthy(&lock);
}

#[test]
fn every_future_type_passes_on_a_lock_it_was_handed() {
    let lock = Arc::new(Lock::new_fifo(()));
    type Case = fn(&Arc<Lock<()>>) -> Pin<Box<dyn Future<Output = ()> + '_>>;
    let cases: [(&str, Case); 4] = [
        ("lock", |lock| {
            Box::pin(async move { drop(lock.lock().await) })
        }),
        ("lock_owned", |lock| {
            Box::pin(async move { drop(lock.lock_owned().await) })
        }),
        ("lock_until", |lock| {
            Box::pin(async move {
                drop(lock.lock_until(core::future::pending::<()>()).await);
            })
        }),
        ("with_lock", |lock| Box::pin(lock.with_lock(async |()| ()))),
    ];
    for (name, make) in cases {
        let holder = lock.try_lock().unwrap();
        let mut cancelled = make(&lock);
        let probe = Probe::new();
        let mut next = lock.lock();
        assert_pending(poll_pinned_noop(cancelled.as_mut()));
        assert_pending(probe.poll(&mut next));
        drop(holder);
        drop(cancelled);
        assert!(probe.wakes() > 0, "{name}: the next waiter was not woken");
        drop(ready(probe.poll(&mut next)));
        drop(next);
        assert_healthy(&lock);
    }
}

#[test]
fn new_hand_off_to_a_queued_waiter_cancelled_before_it_runs() {
    // Under `new` a waiter is queued (and then handed the lock) once it has
    // lost a race. Make A lose one, then hand it the lock and drop it.
    let lock = Lock::new(());
    let holder = lock.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = lock.lock();
    assert_pending(pa.poll(&mut a));
    drop(holder);
    assert!(pa.wakes() > 0, "the release woke A");
    // A newcomer barges in before A runs: A loses its race and queues.
    let barger = lock
        .try_lock()
        .expect("`new` lets a newcomer take a free lock");
    assert_pending(pa.poll(&mut a));
    let mut b = lock.lock();
    assert_pending(pb.poll(&mut b));

    // The release hands the lock to A (queued), which gives up.
    drop(barger);
    assert!(lock.try_lock().is_none(), "A was handed the lock");
    drop(a);
    // B is woken and gets it.
    assert!(pb.wakes() > 0, "A's drop did not pass the lock on");
    drop(ready(pb.poll(&mut b)));
    drop(b);
    assert_healthy(&lock);
}

#[test]
fn new_woken_waiter_dropped_before_it_runs_passes_the_wake_up_on() {
    let lock = Lock::new(());
    let holder = lock.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = lock.lock();
    let mut b = lock.lock();
    assert_pending(pa.poll(&mut a));
    assert_pending(pb.poll(&mut b));

    drop(holder);
    assert!(!lock.is_locked(), "`new` frees the lock on release");
    // One wake-up for one free lock: A got it.
    assert_eq!((pa.wakes(), pb.wakes()), (1, 0));
    drop(a);
    assert!(
        pb.wakes() > 0,
        "A's wake-up died with it: B sleeps on a free lock"
    );
    drop(ready(pb.poll(&mut b)));
    drop(b);
    assert_healthy(&lock);
}

#[test]
fn new_woken_waiter_dropped_while_the_lock_is_retaken() {
    // A is woken, the lock is taken again before A runs, and A is dropped:
    // the next release must still wake B.
    let lock = Lock::new(());
    let holder = lock.try_lock().unwrap();
    let (pa, pb) = (Probe::new(), Probe::new());
    let mut a = lock.lock();
    let mut b = lock.lock();
    assert_pending(pa.poll(&mut a));
    assert_pending(pb.poll(&mut b));
    drop(holder);
    let barger = lock.try_lock().unwrap();
    drop(a);
    assert_pending(pb.poll(&mut b));
    drop(barger);
    assert!(pb.wakes() > 0, "the release after A's drop did not wake B");
    drop(ready(pb.poll(&mut b)));
    drop(b);
    assert_healthy(&lock);
}

#[test]
fn with_lock_dropped_inside_its_body_releases() {
    for (policy, lock) in both_policies(|| 0) {
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        {
            let mut body = pin!(lock.with_lock(async |value| {
                *value += 1;
                entered_tx.send(()).unwrap();
                core::future::pending::<()>().await;
            }));
            assert_pending(poll_pinned_noop(body.as_mut()));
            entered_rx.try_recv().expect("the body runs");
            assert!(lock.is_locked(), "{policy}: held inside the body");
        }
        assert!(
            !lock.is_locked(),
            "{policy}: dropping with_lock must release"
        );
        assert_eq!(*lock.try_lock().unwrap(), 1);
        assert_healthy(&lock);
    }
}

#[test]
fn cancelled_waiters_do_not_block_later_ones() {
    // Many waiters join and give up while the lock is held; the survivors
    // are all served afterwards, and nothing is left behind.
    for (policy, lock) in both_policies(|| 0) {
        let holder = lock.try_lock().unwrap();
        let mut futures: Vec<_> = (0..40).map(|_| Some(lock.lock())).collect();
        for future in futures.iter_mut() {
            assert_pending(poll_noop(future.as_mut().unwrap()));
        }
        for (i, future) in futures.iter_mut().enumerate() {
            if i % 3 != 0 {
                *future = None;
            }
        }
        drop(holder);
        let mut served = 0;
        for _ in 0..futures.len() {
            for slot in futures.iter_mut() {
                if let Some(future) = slot {
                    if let Poll::Ready(mut guard) = poll_noop(future) {
                        *guard += 1;
                        served += 1;
                        *slot = None;
                    }
                }
            }
        }
        assert_eq!(served, 14, "{policy}: every survivor is served");
        assert_eq!(*lock.try_lock().unwrap(), 14);
        assert_healthy(&lock);
    }
}
