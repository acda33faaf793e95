//! The slot of a `new` lock: a waiter that lost a race waits there for the
//! next release, with its waker kept in the lock instead of a second
//! listener (see "The slot" in `src/raw.rs`).

mod common;

#[path = "common/counting.rs"]
#[allow(dead_code, reason = "this file counts allocations only")]
mod counting;

use common::{Probe, assert_healthy, assert_pending, ready};
use core::future::Future as _;
use counting::allocations_during;
use turnlock::Lock;
use turnlock::futures::LockFuture;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Makes `waiter` (already polled once, so a hint waiter) lose a race: the
/// release wakes it, a newcomer takes the lock first, and `waiter`'s next
/// poll finds it taken. Returns the newcomer's guard.
fn lose_a_race<'a>(
    lock: &'a Lock<Vec<&'static str>>,
    holder: turnlock::Guard<'a, Vec<&'static str>>,
    waiter: &mut LockFuture<'a, Vec<&'static str>>,
    task: &Probe,
) -> turnlock::Guard<'a, Vec<&'static str>> {
    drop(holder);
    let newcomer = lock.try_lock().expect("`new` lets a running task barge");
    assert_pending(task.poll(waiter));
    newcomer
}

/// The regression test of the second listener: a waiter of a `new` lock
/// that lost a race used to allocate a listener for the hand-off queue on
/// top of its first one. Now it waits in the slot, and its whole wait
/// allocates one listener.
#[test]
fn a_waiter_that_lost_a_race_allocates_one_listener() {
    let lock = Lock::new(Vec::new());
    let task = Probe::new();
    // The first round also allocates what the lock keeps (event-listener's
    // lazily allocated list); count the second.
    for round in 0..2 {
        let allocations = allocations_during(|| {
            let holder = lock.try_lock().unwrap();
            let mut waiter = lock.lock();
            assert_pending(task.poll(&mut waiter));
            let newcomer = lose_a_race(&lock, holder, &mut waiter, &task);
            drop(newcomer); // hands the lock to the slot
            drop(ready(task.poll(&mut waiter)));
        });
        if round == 1 {
            assert_eq!(allocations, 1, "listeners allocated for one wait");
        }
    }
    assert_healthy(&lock);
}

/// The slot's waiter is older than every queued one: a release serves the
/// slot first, then the queue in order, and no newcomer gets in between.
#[test]
fn the_slot_is_served_before_the_queue_and_newcomers() {
    let lock = Lock::new(Vec::new());
    let task = Probe::new();
    let holder = lock.try_lock().unwrap();
    let (mut first, mut second) = (lock.lock(), lock.lock());
    assert_pending(task.poll(&mut first));
    assert_pending(task.poll(&mut second));
    // Two releases wake both hint waiters; a newcomer retakes the lock
    // each time, so both lose their race.
    drop(holder);
    drop(lock.try_lock().expect("free"));
    let holder = lock.try_lock().expect("free");
    assert_pending(task.poll(&mut first));
    assert_pending(task.poll(&mut second));
    assert!(format!("{first:?}").contains("Slot"), "{first:?}");
    assert!(format!("{second:?}").contains("Queued"), "{second:?}");

    drop(holder); // to the slot
    assert!(lock.try_lock().is_none(), "a newcomer overtook the slot");
    ready(task.poll(&mut first)).push("first");
    assert!(lock.try_lock().is_none(), "a newcomer overtook the queue");
    ready(task.poll(&mut second)).push("second");
    lock.try_lock().expect("free").push("newcomer");
    assert_eq!(*lock.try_lock().unwrap(), ["first", "second", "newcomer"]);
    drop((first, second));
    assert_healthy(&lock);
}

/// A waiter in the slot that is polled with another waker (its future moved
/// to another task) is woken through the new waker, not the old one.
#[test]
fn the_slot_wakes_the_latest_waker() {
    let lock = Lock::new(Vec::new());
    let (old, new) = (Probe::new(), Probe::new());
    let holder = lock.try_lock().unwrap();
    let mut waiter = lock.lock();
    assert_pending(old.poll(&mut waiter));
    let newcomer = lose_a_race(&lock, holder, &mut waiter, &old);
    assert_pending(new.poll(&mut waiter));
    let (old_wakes, new_wakes) = (old.wakes(), new.wakes());
    drop(newcomer);
    assert_eq!(old.wakes(), old_wakes, "the old waker was woken");
    assert_eq!(new.wakes(), new_wakes + 1, "the new waker was not woken");
    drop(ready(new.poll(&mut waiter)));
    drop(waiter);
    assert_healthy(&lock);
}

/// A waiter in the slot that is dropped, before or after the release hands
/// it the lock, leaves the lock to the next one: nothing stays held, the
/// slot is empty again.
#[test]
fn a_dropped_slot_waiter_leaves_nothing_behind() {
    for handed_first in [false, true] {
        let lock = Lock::new(Vec::new());
        let task = Probe::new();
        let holder = lock.try_lock().unwrap();
        let (mut waiter, mut next) = (lock.lock(), lock.lock());
        assert_pending(task.poll(&mut waiter));
        let newcomer = lose_a_race(&lock, holder, &mut waiter, &task);
        assert_pending(task.poll(&mut next));
        if handed_first {
            drop(newcomer);
            drop(waiter); // passes the lock on
        } else {
            drop(waiter);
            drop(newcomer);
        }
        ready(task.poll(&mut next)).push("next");
        drop(next);
        assert_healthy(&lock);
        // The slot is free for the next loser.
        let holder = lock.try_lock().unwrap();
        let mut waiter = lock.lock();
        assert_pending(task.poll(&mut waiter));
        let newcomer = lose_a_race(&lock, holder, &mut waiter, &task);
        assert!(format!("{waiter:?}").contains("Slot"), "{waiter:?}");
        drop(newcomer);
        drop(ready(task.poll(&mut waiter)));
    }
}

/// A waker whose `clone` panics while a waiter that lost a race moves into
/// the slot: the panic reaches the poller, the dropped future leaves the
/// lock as it found it (no spin, nothing held, the slot free).
#[test]
fn a_waker_that_panics_in_clone_leaves_the_slot_free() {
    use core::sync::atomic::Ordering::SeqCst;
    use core::task::Context;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    common::with_watchdog(30, || {
        let lock = Lock::new(Vec::<u8>::new());
        let waker = common::panicking_waker::waker();
        let mut cx = Context::from_waker(&waker);
        let holder = lock.try_lock().unwrap();
        let mut waiter = lock.lock();
        assert!(core::pin::Pin::new(&mut waiter).poll(&mut cx).is_pending());
        drop(holder);
        let newcomer = lock.try_lock().expect("free");
        common::panicking_waker::PANIC_ON_CLONE.store(true, SeqCst);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let _ = core::pin::Pin::new(&mut waiter).poll(&mut cx);
        }));
        common::panicking_waker::PANIC_ON_CLONE.store(false, SeqCst);
        assert!(result.is_err(), "the waker's panic reaches the poller");
        drop(waiter);
        drop(newcomer);
        assert_healthy(&lock);
    });
}
