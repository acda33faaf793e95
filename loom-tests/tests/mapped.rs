//! Mapped guards under loom: a guard narrowed with `Guard::map` (and an owned
//! one with `OwnedGuard::map`, mapped again) keeps the lock and the tracked
//! access to the value until it is dropped.
#![cfg(loom)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;
use turnlock::{Guard, Lock, MappedGuard, OwnedGuard, OwnedMappedGuard};

/// Two threads update the two halves of a pair through mapped guards, while
/// the main thread holds a plain guard once.
///
/// The pair lives in loom's tracked cell and a mapped guard keeps the cell's
/// access alive (type-erased) until it releases the lock, so a mapped guard
/// that lets the lock go while it still reaches the value, or a release
/// without the right ordering, fails the model at the next holder's access
/// (checked: `Guard::map` releasing at once fails `mapped_guards_new`).
fn mapped_holders(lock: Lock<(usize, usize)>) {
    let lock = Arc::new(lock);
    let borrowed = {
        let lock = lock.clone();
        thread::spawn(move || {
            let guard = block_on(lock.lock());
            let mut first = Guard::map(guard, |(first, _)| first);
            *first += 1;
            let mut again = MappedGuard::map(first, |first| first);
            *again += 1;
        })
    };
    let owned = {
        let lock = lock.clone();
        thread::spawn(move || {
            let guard = OwnedGuard::map(block_on(lock.lock_owned()), |(_, second)| second);
            let mut second = OwnedMappedGuard::try_map(guard, |second| Some(second)).unwrap();
            *second += 1;
        })
    };
    {
        let mut guard = lock.lock_blocking();
        guard.0 += 10;
    }
    borrowed.join().unwrap();
    owned.join().unwrap();
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().expect("the lock is free"), (12, 1));
}

/// At most two preemptions, as the other mutual-exclusion models.
fn check_bounded(model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(model);
}

#[test]
fn mapped_guards_new() {
    check_bounded(|| mapped_holders(Lock::new((0, 0))));
}

#[test]
fn mapped_guards_fifo() {
    check_bounded(|| mapped_holders(Lock::new_fifo((0, 0))));
}
