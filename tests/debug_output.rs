//! `{:?}` of a lock shows its whole state: every flag of the state word by
//! name and both waiter counts, so that a lock that hangs can be read off.

mod common;

use common::{Probe, assert_healthy, assert_pending, ready};
use turnlock::Lock;

/// The `{:?}` of a lock whose value is `value`, with the state word's
/// fields as given.
fn expected(value: &str, fifo: bool, flags: [bool; 5], queued: usize, hinted: usize) -> String {
    let [locked, slot, ready, handed, all_hinted] = flags;
    format!(
        "Lock {{ value: {value}, fifo: {fifo}, state: StateWord {{ locked: {locked}, \
         slot: {slot}, ready: {ready}, handed: {handed}, all_hinted: {all_hinted}, \
         queued: {queued}, hinted: {hinted} }} }}"
    )
}

const FREE: [bool; 5] = [false; 5];
const LOCKED: [bool; 5] = [true, false, false, false, false];

#[test]
fn a_free_and_a_held_lock() {
    let lock = Lock::new(3);
    assert_eq!(format!("{lock:?}"), expected("3", false, FREE, 0, 0));
    let guard = lock.try_lock().unwrap();
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", false, LOCKED, 0, 0)
    );
    drop(guard);
    // Printing takes and releases the lock only to read the value.
    assert_eq!(format!("{lock:?}"), expected("3", false, FREE, 0, 0));
    assert!(!lock.is_locked());
}

#[test]
fn fifo_queued_waiters_and_a_hand_off_not_yet_claimed() {
    let lock = Lock::new_fifo(());
    let holder = lock.try_lock().unwrap();
    let (a, b) = (Probe::new(), Probe::new());
    let (mut first, mut second) = (lock.lock(), lock.lock());
    assert_pending(a.poll(&mut first));
    assert_pending(b.poll(&mut second));
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", true, LOCKED, 2, 0)
    );
    // Handed to `first`, which has not looked yet: still locked and
    // counted in the queue until it claims.
    drop(holder);
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", true, LOCKED, 2, 0)
    );
    drop(ready(a.poll(&mut first)));
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", true, LOCKED, 1, 0)
    );
    drop(ready(b.poll(&mut second)));
    assert_eq!(format!("{lock:?}"), expected("()", true, FREE, 0, 0));
    drop((first, second));
    assert_healthy(&lock);
}

#[test]
fn new_hint_waiters_all_notified() {
    let lock = Lock::new(());
    let holder = lock.try_lock().unwrap();
    let (a, b) = (Probe::new(), Probe::new());
    let (mut first, mut second) = (lock.lock(), lock.lock());
    assert_pending(a.poll(&mut first));
    assert_pending(b.poll(&mut second));
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", false, LOCKED, 0, 2)
    );
    // Each release wakes one more; the third finds both awake already and
    // says so in `all_hinted`.
    drop(holder);
    drop(lock.try_lock().unwrap());
    assert_eq!((a.wakes(), b.wakes()), (1, 1));
    drop(lock.try_lock().unwrap());
    assert_eq!((a.wakes(), b.wakes()), (1, 1));
    let all_hinted = [false, false, false, false, true];
    assert_eq!(format!("{lock:?}"), expected("()", false, all_hinted, 0, 2));
    drop(ready(a.poll(&mut first)));
    drop(ready(b.poll(&mut second)));
    assert_eq!(format!("{lock:?}"), expected("()", false, FREE, 0, 0));
    drop((first, second));
    assert_healthy(&lock);
}

#[test]
fn new_slot_waiter_published_then_handed() {
    let lock = Lock::new(());
    let task = Probe::new();
    let holder = lock.try_lock().unwrap();
    let (mut first, mut second) = (lock.lock(), lock.lock());
    assert_pending(task.poll(&mut first));
    assert_pending(task.poll(&mut second));
    // Both woken, both overtaken by a newcomer: the first waits in the
    // slot with its waker published, the second in the queue.
    drop(holder);
    drop(lock.try_lock().expect("free"));
    let holder = lock.try_lock().expect("free");
    assert_pending(task.poll(&mut first));
    assert_pending(task.poll(&mut second));
    let published = [true, true, true, false, false];
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", false, published, 1, 0)
    );
    drop(holder);
    let handed = [true, true, false, true, false];
    assert_eq!(
        format!("{lock:?}"),
        expected("<locked>", false, handed, 1, 0)
    );
    drop(ready(task.poll(&mut first)));
    drop(ready(task.poll(&mut second)));
    drop((first, second));
    assert_healthy(&lock);
}
