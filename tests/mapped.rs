//! Mapped guards: `Guard::map`/`try_map`, `OwnedGuard::map`/`try_map` and
//! mapping again. The lock stays held until the mapped guard is dropped, a
//! panic inside the closure releases it, waiters are served after the
//! mapped guard goes, and mutual exclusion holds through mapped guards.

mod common;

use core::fmt::Debug;
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use common::{
    Checked, Probe, assert_healthy, assert_pending, join_all, ready, scaled, with_watchdog,
};
use turnlock::{Guard, Lock, MappedGuard, OwnedGuard, OwnedMappedGuard};

/// A policy's name and constructor.
type Policy<T> = (&'static str, fn(T) -> Lock<T>);

fn policies<T>() -> [Policy<T>; 2] {
    [("new", Lock::new), ("new_fifo", Lock::new_fifo)]
}

#[derive(Debug, Default, PartialEq)]
struct Account {
    owner: String,
    history: Vec<i64>,
    balance: i64,
}

fn account() -> Account {
    Account {
        owner: "ada".into(),
        history: vec![10],
        balance: 10,
    }
}

/// The text of a caught panic.
fn message(panic: Box<dyn core::any::Any + Send>) -> String {
    match panic.downcast::<&str>() {
        Ok(text) => (*text).to_owned(),
        Err(panic) => *panic.downcast::<String>().expect("a text panic"),
    }
}

#[test]
fn map_holds_the_lock_until_the_mapped_guard_drops() {
    for (policy, new) in policies() {
        let lock = new(account());
        let mut balance = Guard::map(lock.try_lock().unwrap(), |a| &mut a.balance);
        *balance += 5;
        assert!(lock.is_locked(), "{policy}: mapping released the lock");
        assert!(lock.try_lock().is_none(), "{policy}: a second holder");
        drop(balance);
        assert!(
            !lock.is_locked(),
            "{policy}: the mapped guard leaked the lock"
        );
        assert_eq!(lock.try_lock().unwrap().balance, 15);
        assert_healthy(&lock);
    }
}

#[test]
fn try_map_gives_the_guard_back_still_holding_the_lock() {
    for (policy, new) in policies() {
        let lock = new(account());
        let guard = lock.try_lock().unwrap();
        let mut guard = Guard::try_map(guard, |a| a.history.get_mut(5)).unwrap_err();
        assert!(
            lock.is_locked(),
            "{policy}: the failed map released the lock"
        );
        guard.balance = 1;
        let mut first = Guard::try_map(guard, |a| a.history.first_mut()).unwrap();
        *first = 11;
        assert!(lock.try_lock().is_none());
        drop(first);
        let value = lock.try_lock().unwrap();
        assert_eq!((value.balance, value.history[0]), (1, 11), "{policy}");
    }
}

#[test]
fn mapped_guards_map_again() {
    let lock = Lock::new(account());
    let history = Guard::map(lock.try_lock().unwrap(), |a| &mut a.history);
    let history = MappedGuard::try_map(history, |h| h.get_mut(1)).unwrap_err();
    let mut first = MappedGuard::map(history, |h| &mut h[0]);
    *first = -1;
    let first = MappedGuard::try_map(first, |v| Some(v)).unwrap();
    assert!(lock.is_locked());
    assert_eq!(*first, -1);
    drop(first);
    assert_eq!(lock.try_lock().unwrap().history, [-1]);
    assert_healthy(&lock);
}

#[test]
fn owned_map_and_map_again() {
    for (policy, new) in policies() {
        let lock = Arc::new(new(account()));
        let owner = OwnedGuard::map(lock.try_lock_owned().unwrap(), |a| &mut a.owner);
        let owner = OwnedMappedGuard::try_map(owner, |o| o.get_mut(10..)).unwrap_err();
        assert!(Arc::ptr_eq(OwnedMappedGuard::source(&owner), &lock));
        let mut first: OwnedMappedGuard<Account, str> =
            OwnedMappedGuard::try_map(owner, |o| o.get_mut(0..1)).unwrap();
        first.make_ascii_uppercase();
        let first = OwnedMappedGuard::map(first, |s| s);
        assert!(lock.is_locked(), "{policy}");
        assert!(lock.try_lock_owned().is_none(), "{policy}");
        drop(first);
        assert_eq!(lock.try_lock().unwrap().owner, "Ada", "{policy}");

        // The failed owned map gives the owned guard back.
        let guard = lock.try_lock_owned().unwrap();
        let guard = OwnedGuard::try_map(guard, |a| a.history.get_mut(3)).unwrap_err();
        assert!(lock.is_locked());
        drop(guard);
        assert_healthy(&lock);
    }
}

#[test]
fn unsized_parts() {
    let lock = Lock::new(vec![1_u8, 2, 3]);
    let mut slice: MappedGuard<'_, [u8]> =
        Guard::map(lock.try_lock().unwrap(), |v| v.as_mut_slice());
    slice[2] = 30;
    let object: MappedGuard<'_, dyn Debug> =
        MappedGuard::map(slice, |s| &mut s[2] as &mut dyn Debug);
    assert_eq!(format!("{object:?}"), "30");
    drop(object);
    assert_eq!(*lock.try_lock().unwrap(), [1, 2, 30]);
}

#[test]
fn debug_and_display_show_the_part() {
    let lock = Arc::new(Lock::new((String::from("text"), 7)));
    let text = Guard::map(lock.try_lock().unwrap(), |(text, _)| text);
    assert_eq!(format!("{text} {text:?}"), "text \"text\"");
    drop(text);
    let number = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, n)| n);
    assert_eq!(format!("{number} {number:?}"), "7 7");
}

#[test]
fn a_panic_in_the_map_closure_releases_the_lock() {
    for (policy, new) in policies() {
        let lock = Arc::new(new(account()));
        type Attempt<'a> = (&'static str, Box<dyn FnOnce() + 'a>);
        let attempts: Vec<Attempt<'_>> = vec![
            (
                "Guard::map",
                Box::new(|| {
                    let _ =
                        Guard::map(lock.try_lock().unwrap(), |_| -> &mut i64 { panic!("boom") });
                }),
            ),
            (
                "Guard::try_map",
                Box::new(|| {
                    let _ = Guard::try_map(lock.try_lock().unwrap(), |_| -> Option<&mut i64> {
                        panic!("boom")
                    });
                }),
            ),
            (
                "MappedGuard::map",
                Box::new(|| {
                    let history = Guard::map(lock.try_lock().unwrap(), |a| &mut a.history);
                    let _ = MappedGuard::map(history, |_| -> &mut i64 { panic!("boom") });
                }),
            ),
            (
                "MappedGuard::try_map",
                Box::new(|| {
                    let history = Guard::map(lock.try_lock().unwrap(), |a| &mut a.history);
                    let _ =
                        MappedGuard::try_map(history, |_| -> Option<&mut i64> { panic!("boom") });
                }),
            ),
            (
                "OwnedGuard::map",
                Box::new(|| {
                    let _ = OwnedGuard::map(lock.try_lock_owned().unwrap(), |_| -> &mut i64 {
                        panic!("boom")
                    });
                }),
            ),
            (
                "OwnedGuard::try_map",
                Box::new(|| {
                    let _ = OwnedGuard::try_map(
                        lock.try_lock_owned().unwrap(),
                        |_| -> Option<&mut i64> { panic!("boom") },
                    );
                }),
            ),
            (
                "OwnedMappedGuard::map",
                Box::new(|| {
                    let owned = lock.try_lock_owned().unwrap();
                    let history = OwnedGuard::map(owned, |a| &mut a.history);
                    let _ = OwnedMappedGuard::map(history, |_| -> &mut i64 { panic!("boom") });
                }),
            ),
            (
                "OwnedMappedGuard::try_map",
                Box::new(|| {
                    let owned = lock.try_lock_owned().unwrap();
                    let history = OwnedGuard::map(owned, |a| &mut a.history);
                    let _ = OwnedMappedGuard::try_map(history, |_| -> Option<&mut i64> {
                        panic!("boom")
                    });
                }),
            ),
        ];
        for (name, attempt) in attempts {
            let result = catch_unwind(AssertUnwindSafe(attempt));
            assert_eq!(message(result.unwrap_err()), "boom", "{policy} {name}");
            assert!(
                !lock.is_locked(),
                "{policy} {name}: the panic left the lock held"
            );
            assert_eq!(*lock.try_lock().unwrap(), account(), "{policy} {name}");
            assert_healthy(&lock);
        }
        assert_eq!(
            Arc::strong_count(&lock),
            1,
            "{policy}: an owned map leaked its Arc"
        );
    }
}

#[test]
fn a_panic_while_a_mapped_guard_is_held_releases_the_lock() {
    let lock = Lock::new_fifo(account());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut balance = Guard::map(lock.try_lock().unwrap(), |a| &mut a.balance);
        *balance = 0;
        panic!("boom while mapped");
    }));
    assert_eq!(message(result.unwrap_err()), "boom while mapped");
    assert!(!lock.is_locked());
    assert_eq!(lock.try_lock().unwrap().balance, 0, "no poisoning");
}

#[test]
fn dropping_a_mapped_guard_serves_the_next_waiter() {
    for (policy, new) in policies() {
        let lock = new(account());
        let balance = Guard::map(lock.try_lock().unwrap(), |a| &mut a.balance);
        let probe = Probe::new();
        let mut waiter = lock.lock();
        assert_pending(probe.poll(&mut waiter));
        drop(balance);
        assert!(probe.wakes() > 0, "{policy}: the release woke nobody");
        let guard = ready(probe.poll(&mut waiter));
        assert_eq!(guard.balance, 10);
        drop(guard);
        drop(waiter);
        assert_healthy(&lock);
    }
}

#[test]
fn an_owned_mapped_guard_keeps_the_lock_alive_and_releases_on_another_thread() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted(u32);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }

    let lock = Arc::new(Lock::new((Counted(1), 2_u32)));
    let weak = Arc::downgrade(&lock);
    let mut second = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, second)| second);
    let other = lock.clone();
    drop(lock);
    // The mapped guard (and `other`) keep the lock and its value alive.
    assert_eq!(DROPS.load(SeqCst), 0);
    thread::spawn(move || *second += 40).join().unwrap();
    let value = other.try_lock().expect("released on the other thread");
    assert_eq!((value.0.0, value.1), (1, 42));
    drop(value);
    drop(other);
    assert!(weak.upgrade().is_none());
    assert_eq!(DROPS.load(SeqCst), 1);

    // The last `Arc` may be the guard's: the value is dropped with it.
    let lock = Arc::new(Lock::new((Counted(3), 4_u32)));
    let fourth = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, n)| n);
    drop(lock);
    thread::spawn(move || assert_eq!(*fourth, 4))
        .join()
        .unwrap();
    assert_eq!(DROPS.load(SeqCst), 2);
}

#[test]
fn the_send_part_of_a_value_that_is_not_send_moves_to_another_thread() {
    // `Lock<(Rc<_>, u32)>` is not `Sync`, and its `Guard` is not `Send`, but
    // a guard mapped to the `u32` is: it never reaches the `Rc`.
    let lock = Lock::new((Rc::new("stays here"), 0_u32));
    let mut count = Guard::map(lock.try_lock().unwrap(), |(_, count)| count);
    thread::scope(|scope| {
        scope.spawn(move || *count += 1);
    });
    let value = lock.try_lock().unwrap();
    assert_eq!((*value.0, value.1), ("stays here", 1));
}

#[test]
fn mapped_guards_exclude_each_other_across_threads() {
    with_watchdog(60, || {
        let threads = 4;
        let rounds = scaled(2_000);
        let lock = Arc::new(Lock::new(("label", Checked::new())));
        let handles = (0..threads)
            .map(|i| {
                let lock = lock.clone();
                thread::spawn(move || {
                    for round in 0..rounds {
                        let mut part = if (i + round) % 2 == 0 {
                            let guard = lock.lock_blocking();
                            let part = Guard::map(guard, |(_, part)| part);
                            MappedGuard::map(part, |part| part)
                        } else {
                            let guard = futures_lite::future::block_on(lock.lock());
                            Guard::try_map(guard, |(_, part)| Some(part)).unwrap()
                        };
                        part.enter();
                        thread::yield_now();
                        part.leave();
                    }
                })
            })
            .collect();
        join_all(handles);
        let owned = OwnedGuard::map(lock.try_lock_owned().unwrap(), |(_, part)| part);
        assert_eq!(owned.count(), (threads * rounds) as u64);
    });
}
