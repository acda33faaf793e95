//! One task holding two pending lock futures of the same lock must not hang
//! (smol-rs/async-lock#91 is that bug in the closest peer): the task has one
//! waker, so a wake-up meant for one future is the only chance the other
//! gets to run.

mod common;

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::thread;

use common::{
    Checked, Probe, Section, assert_healthy, assert_pending, join, poll_noop, ready, scaled,
    with_executor, with_watchdog,
};
use futures_lite::future::{or, poll_once, race, yield_now, zip};
use turnlock::Lock;

fn both_policies<T>(value: impl Fn() -> T) -> [(&'static str, Lock<T>); 2] {
    [
        ("new", Lock::new(value())),
        ("fifo", Lock::new_fifo(value())),
    ]
}

/// Locks, works across an `.await`, unlocks, `n` times.
async fn lock_and_work(lock: &Lock<Checked>, n: usize) {
    for _ in 0..n {
        let section = Section::enter(lock.lock().await);
        yield_now().await;
        drop(section);
    }
}

#[test]
fn zip_of_two_routines_in_one_task() {
    with_watchdog(30, || {
        for (policy, lock) in both_policies(Checked::new) {
            let n = scaled(2_000);
            futures_lite::future::block_on(zip(lock_and_work(&lock, n), lock_and_work(&lock, n)));
            assert_eq!(lock.try_lock().unwrap().count(), 2 * n as u64, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
fn join_of_three_routines_in_one_task() {
    with_watchdog(30, || {
        for (policy, lock) in both_policies(Checked::new) {
            let n = scaled(1_000);
            futures::executor::block_on(async {
                futures::join!(
                    lock_and_work(&lock, n),
                    lock_and_work(&lock, n),
                    lock_and_work(&lock, n)
                )
            });
            assert_eq!(lock.try_lock().unwrap().count(), 3 * n as u64, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn zipped_routines_among_other_tasks_and_threads() {
    // Several tasks that each zip two routines, other single tasks, and a
    // blocking thread, all on one lock.
    fn run(lock: Arc<Lock<Checked>>) {
        let n = scaled(300);
        with_executor(2, |executor| {
            let lock = lock.clone();
            async move {
                let mut handles = Vec::new();
                for i in 0..16 {
                    let lock = lock.clone();
                    handles.push(executor.spawn(async move {
                        if i % 2 == 0 {
                            zip(lock_and_work(&lock, n), lock_and_work(&lock, n)).await;
                        } else {
                            lock_and_work(&lock, 2 * n).await;
                        }
                    }));
                }
                let thread = {
                    let lock = lock.clone();
                    thread::spawn(move || {
                        for _ in 0..n {
                            drop(Section::enter(lock.lock_blocking()));
                        }
                    })
                };
                for handle in handles {
                    handle.await;
                }
                join(thread);
            }
        });
        assert_eq!(lock.try_lock().unwrap().count(), (16 * 2 * n + n) as u64);
        assert_healthy(&lock);
    }
    with_watchdog(60, || {
        run(Arc::new(Lock::new(Checked::new())));
        run(Arc::new(Lock::new_fifo(Checked::new())));
    });
}

/// Policy `new`: f1 and f2 wait in one task; the release wakes the task
/// (through f1, the older waiter), but only f2 is polled afterwards. f1 is
/// only a hint waiter (it never lost a race), so the lock is free for
/// anyone and f2 takes it.
#[test]
fn new_only_the_second_future_is_awaited_after_the_release() {
    let lock = Lock::new(());
    let holder = lock.try_lock().unwrap();
    let task = Probe::new();
    let mut f1 = lock.lock();
    let mut f2 = lock.lock();
    assert_pending(task.poll(&mut f1));
    assert_pending(task.poll(&mut f2));
    drop(holder);
    assert!(task.wakes() > 0, "the release woke the task");
    let guard = ready(task.poll(&mut f2));
    // f1 is dropped while f2 holds: nothing changes for the holder.
    drop(f1);
    assert!(lock.is_locked());
    drop(guard);
    drop(f2);
    assert_healthy(&lock);
}

/// The same with real threads: the task awaits only f2, the holder is a
/// thread that releases when told.
#[test]
fn new_only_the_second_future_is_awaited_with_a_holder_thread() {
    with_watchdog(30, || {
        let lock = Arc::new(Lock::new(0));
        for _ in 0..scaled(200) {
            let (held_tx, held_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let holder = {
                let lock = lock.clone();
                thread::spawn(move || {
                    let guard = lock.lock_blocking();
                    held_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    drop(guard);
                })
            };
            held_rx.recv().unwrap();
            futures_lite::future::block_on(async {
                let mut f1 = lock.lock();
                let mut f2 = lock.lock();
                assert!(poll_once(&mut f1).await.is_none());
                assert!(poll_once(&mut f2).await.is_none());
                release_tx.send(()).unwrap();
                *f2.await += 1;
                drop(f1);
            });
            join(holder);
        }
        assert_eq!(*lock.try_lock().unwrap(), scaled(200));
        assert_healthy(&lock);
    });
}

/// Brings `lock` (policy `new`) to the state of the storm-found hang: f1
/// and f2 wait in one task, the release wakes f1, a running newcomer takes
/// the lock first, f1 loses that race and joins the hand-off queue, and the
/// newcomer's release hands the lock to f1. Returns the two futures.
fn new_lost_race_then_handed_to_f1<'a>(
    lock: &'a Lock<()>,
    task: &Probe,
) -> (
    turnlock::futures::LockFuture<'a, ()>,
    turnlock::futures::LockFuture<'a, ()>,
) {
    let holder = lock.try_lock().unwrap();
    let (mut f1, mut f2) = (lock.lock(), lock.lock());
    assert_pending(task.poll(&mut f1));
    assert_pending(task.poll(&mut f2));
    drop(holder); // wakes f1
    let newcomer = lock.try_lock().expect("`new` lets a running task barge");
    assert_pending(task.poll(&mut f1)); // lost the race: queued
    let wakes = task.wakes();
    drop(newcomer); // hands the lock to f1
    assert!(task.wakes() > wakes, "the hand-off wakes f1's task");
    assert!(lock.is_locked(), "f1 holds the lock without having seen it");
    (f1, f2)
}

/// The rule, policy `new`: a future that lost a race and was then set
/// aside is handed the lock; polling it or dropping it lets the task go on.
#[test]
fn new_set_aside_future_handed_the_lock_is_served_when_polled_or_dropped() {
    let lock = Lock::new(());
    let task = Probe::new();

    let (mut f1, mut f2) = new_lost_race_then_handed_to_f1(&lock, &task);
    let guard = ready(task.poll(&mut f1));
    assert_pending(task.poll(&mut f2));
    drop(guard);
    drop(ready(task.poll(&mut f2)));
    drop((f1, f2));
    assert_healthy(&lock);

    let (f1, mut f2) = new_lost_race_then_handed_to_f1(&lock, &task);
    let wakes = task.wakes();
    drop(f1); // passes the lock on, to f2
    assert!(
        task.wakes() > wakes,
        "passing the lock to f2 wakes its task"
    );
    drop(ready(task.poll(&mut f2)));
    drop(f2);
    assert_healthy(&lock);
}

/// A task that polls the other future first and the recipient second in
/// the same round (`or`, `select!`, `join!`) is not a task that waits for
/// itself: no panic, and the recipient completes.
#[test]
fn set_aside_check_allows_polling_the_recipient_after_its_sibling() {
    with_watchdog(30, || {
        let lock = Lock::new(());
        let task = Probe::new();
        let (mut f1, mut f2) = new_lost_race_then_handed_to_f1(&lock, &task);
        // One round of the task polls f2, then f1, with the task's waker.
        let wakes = task.wakes();
        let guard = ready(task.poll(&mut or(&mut f2, &mut f1)));
        assert!(task.wakes() > wakes, "f2 asked for one more round");
        drop(guard);
        drop(ready(task.poll(&mut f2)));
        drop((f1, f2));
        assert_healthy(&lock);
    });
}

/// The storm-found hang (issue: a `new` lock stuck on an unpolled future):
/// a task keeps a lock future that lost a race, sets it aside and awaits
/// another future of the same lock. The set-aside future is handed the lock
/// and never polled, so the task waits for itself. The rule allows no
/// protocol to avoid that and keep the starvation bound, but debug builds
/// name the problem with a panic instead of hanging.
#[test]
#[cfg(debug_assertions)]
fn new_lost_race_future_set_aside_is_named_instead_of_hanging() {
    let message = with_watchdog(30, || {
        let lock = Lock::new(());
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            futures_lite::future::block_on(async {
                let holder = lock.try_lock().unwrap();
                let (mut f1, mut f2) = (lock.lock(), lock.lock());
                assert!(poll_once(&mut f1).await.is_none());
                assert!(poll_once(&mut f2).await.is_none());
                drop(holder); // wakes f1
                let newcomer = lock.try_lock().unwrap(); // a running task barges
                assert!(poll_once(&mut f1).await.is_none()); // f1 lost: queued
                drop(newcomer); // hands the lock to f1
                drop(f2.await); // f1 is set aside
            })
        }))
        .expect_err("awaiting f2 while f1 holds the lock must not succeed")
    });
    let message = message
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| message.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("set aside"), "{message}");
}

/// The same check under `new_fifo`, where every waiter is handed the lock.
#[test]
#[cfg(debug_assertions)]
fn fifo_set_aside_future_is_named_instead_of_hanging() {
    with_watchdog(30, || {
        let lock = Lock::new_fifo(());
        let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            futures_lite::future::block_on(async {
                let holder = lock.try_lock().unwrap();
                let (mut f1, f2) = (lock.lock(), lock.lock());
                assert!(poll_once(&mut f1).await.is_none());
                drop(holder); // hands the lock to f1
                drop(f2.await); // f1 is set aside
            })
        }));
        assert!(result.is_err(), "awaiting f2 while f1 holds the lock");
        assert_healthy(&lock);
    });
}

/// Policy `new_fifo`: the release *hands* the lock to f1, the older waiter,
/// so a task that now awaits only f2 while keeping f1 alive waits for
/// itself: that is a deadlock of the caller's making, like locking twice,
/// and is not tested for progress. Dropping f1 passes the lock to f2.
#[test]
fn fifo_dropping_the_first_future_lets_the_second_proceed() {
    let lock = Lock::new_fifo(());
    let holder = lock.try_lock().unwrap();
    let task = Probe::new();
    let mut f1 = lock.lock();
    let mut f2 = lock.lock();
    assert_pending(task.poll(&mut f1));
    assert_pending(task.poll(&mut f2));
    drop(holder);
    // f1 owns the lock now; f2 must wait for it.
    assert_pending(task.poll(&mut f2));
    let wakes = task.wakes();
    drop(f1);
    assert!(
        task.wakes() > wakes,
        "passing the lock to f2 wakes the task"
    );
    drop(ready(task.poll(&mut f2)));
    drop(f2);
    assert_healthy(&lock);
}

#[test]
fn or_of_two_lock_futures_by_hand() {
    for (policy, lock) in both_policies(|| ()) {
        // The loser is dropped before the winner's guard.
        let holder = lock.try_lock().unwrap();
        let mut both = Box::pin(or(lock.lock(), lock.lock()));
        assert_pending(Probe::new().poll_pinned(both.as_mut()));
        drop(holder);
        let guard = ready(Probe::new().poll_pinned(both.as_mut()));
        assert!(lock.is_locked(), "{policy}");
        drop(both);
        drop(guard);
        assert_healthy(&lock);

        // The winner's guard is dropped while the loser still waits inside
        // the finished `or`: the lock may go to the loser, whose drop passes
        // it on.
        let holder = lock.try_lock().unwrap();
        let mut both = Box::pin(or(lock.lock(), lock.lock()));
        assert_pending(Probe::new().poll_pinned(both.as_mut()));
        drop(holder);
        let guard = ready(Probe::new().poll_pinned(both.as_mut()));
        drop(guard);
        drop(both);
        assert_healthy(&lock);
    }
}

#[test]
fn select_then_await_the_loser() {
    // `futures::future::select` hands back the losing future still pending;
    // after the winner's guard is gone, the loser must still be served.
    with_watchdog(30, || {
        for (policy, lock) in both_policies(|| 0) {
            let holder = lock.try_lock().unwrap();
            let mut select = futures::future::select(lock.lock(), lock.lock());
            assert_pending(poll_noop(&mut select));
            drop(holder);
            let (mut winner, loser) = match ready(poll_noop(&mut select)) {
                futures::future::Either::Left(pair) => pair,
                futures::future::Either::Right(pair) => pair,
            };
            *winner += 1;
            drop(winner);
            let mut second = futures_lite::future::block_on(loser);
            *second += 1;
            drop(second);
            assert_eq!(*lock.try_lock().unwrap(), 2, "{policy}");
            assert_healthy(&lock);
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "thread-heavy stress")]
fn races_of_two_lock_futures_under_contention() {
    fn run(lock: Arc<Lock<Checked>>) {
        let n = scaled(500);
        let acquired = Arc::new(AtomicU64::new(0));
        with_executor(2, |executor| {
            let (lock, acquired) = (lock.clone(), acquired.clone());
            async move {
                let handles: Vec<_> = (0..16)
                    .map(|i| {
                        let (lock, acquired) = (lock.clone(), acquired.clone());
                        executor.spawn(async move {
                            for _ in 0..n {
                                let guard = if i % 2 == 0 {
                                    or(lock.lock(), lock.lock()).await
                                } else {
                                    race(lock.lock(), lock.lock()).await
                                };
                                let section = Section::enter(guard);
                                acquired.fetch_add(1, Relaxed);
                                yield_now().await;
                                drop(section);
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await;
                }
            }
        });
        assert_eq!(lock.try_lock().unwrap().count(), acquired.load(Relaxed));
        assert_eq!(acquired.load(Relaxed), 16 * n as u64);
        assert_healthy(&lock);
    }
    with_watchdog(60, || {
        run(Arc::new(Lock::new(Checked::new())));
        run(Arc::new(Lock::new_fifo(Checked::new())));
    });
}
