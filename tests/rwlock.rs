//! `RwLock`: what async-lock's and tokio's reader-writer locks promise, in
//! turnlock's terms (their tests, rewritten), plus the conversions between
//! guards. Policies and order are in `rw_order.rs`; cancellation and
//! deadlines in `rw_cancel.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use common::rw::{assert_rw_healthy, policies};
use common::{Probe, assert_pending, join_all, ready, scaled, with_executor, with_watchdog};
use futures_lite::future::{self, block_on, poll_once};
use turnlock::{
    OwnedUpgradableReadGuard, OwnedWriteGuard, ReadGuard, RwLock, UpgradableReadGuard, WriteGuard,
};

#[test]
fn readers_share_writers_exclude() {
    for (policy, new) in policies() {
        let lock = new(100);
        let a = lock.try_read().unwrap();
        let b = block_on(lock.read());
        assert_eq!(*a + *b, 200, "{policy}");
        let probe = Probe::new();
        let mut writer = lock.write();
        assert_pending(probe.poll(&mut writer));
        assert!(lock.try_write().is_none(), "{policy}");
        drop(a);
        assert_eq!(probe.wakes(), 0, "{policy}: woken while a reader remains");
        drop(b);
        assert_eq!(probe.wakes(), 1, "{policy}: the last reader woke nobody");
        let mut written = ready(probe.poll(&mut writer));
        *written += 1;
        let mut reader = lock.read();
        assert_pending(probe.poll(&mut reader));
        assert!(lock.try_read().is_none(), "{policy}");
        drop(written);
        assert_eq!(*ready(probe.poll(&mut reader)), 101, "{policy}");
        assert_rw_healthy(&lock);
    }
}

#[test]
fn a_waiting_writer_keeps_new_readers_out() {
    // tokio's `write_read_shared_pending` and `write_read_shared_drop_pending`.
    for (policy, new) in policies() {
        let lock = new(());
        let held = lock.try_read().unwrap();
        let probe = Probe::new();
        let mut writer = lock.write();
        assert_pending(probe.poll(&mut writer));
        let mut reader = lock.read();
        assert_pending(probe.poll(&mut reader));
        assert!(
            lock.try_read().is_none(),
            "{policy}: a reader passed the writer"
        );
        // The writer gives up: the reader behind it goes in.
        drop(writer);
        assert!(probe.wakes() >= 1, "{policy}");
        let read = ready(probe.poll(&mut reader));
        drop((held, read));
        assert_rw_healthy(&lock);
    }
}

#[test]
fn smoke() {
    block_on(async {
        let lock = RwLock::new(());
        drop(lock.read().await);
        drop(lock.write().await);
        drop((lock.read().await, lock.read().await));
        drop(lock.write().await);
    });
    let lock = RwLock::new(());
    drop(lock.read_blocking());
    drop(lock.write_blocking());
    drop((lock.read_blocking(), lock.read_blocking()));
    let read = lock.read_blocking();
    let upgradable = lock.upgradable_read_blocking();
    drop(read);
    drop(UpgradableReadGuard::upgrade_blocking(upgradable));
    drop(lock.write_blocking());

    let lock = Arc::new(RwLock::new(()));
    drop(lock.read_owned_blocking());
    drop(lock.write_owned_blocking());
    drop((lock.read_owned_blocking(), lock.read_owned_blocking()));
    let read = lock.read_owned_blocking();
    let upgradable = lock.try_upgradable_read_owned().unwrap();
    drop(read);
    drop(OwnedUpgradableReadGuard::upgrade_blocking(upgradable));
    drop(lock.write_owned_blocking());
    assert_rw_healthy(&lock);
}

#[test]
fn upgradable_read_owned_blocking_waits_for_the_writer() {
    for (policy, new) in policies() {
        let lock = Arc::new(new(0));
        let upgradable = lock.upgradable_read_owned_blocking();
        assert!(lock.state().upgradable, "{policy}");
        let reader = lock.read_owned_blocking();
        drop((upgradable, reader));
        let writer = lock.try_write_owned().unwrap();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let guard = lock.upgradable_read_owned_blocking();
                // The guard is `'static`: it may move to another thread.
                thread::spawn(move || *OwnedUpgradableReadGuard::upgrade_blocking(guard) += 1)
                    .join()
                    .unwrap();
            })
        };
        with_watchdog(10, {
            let lock = lock.clone();
            move || {
                while lock.state().waiters == 0 {
                    thread::yield_now();
                }
            }
        });
        assert!(!waiter.is_finished(), "{policy}: served beside the writer");
        drop(writer);
        waiter.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1, "{policy}");
        assert_rw_healthy(&lock);
    }
}

#[test]
fn try_read_and_try_write() {
    let lock = RwLock::new(15);
    {
        let a = lock.try_read().unwrap();
        assert!(lock.try_write().is_none());
        let b = lock.try_read().unwrap();
        assert_eq!(*a + *b, 30);
    }
    {
        let mut writer = lock.try_write().unwrap();
        *writer = 1515;
        assert!(lock.try_read().is_none());
        assert!(lock.try_upgradable_read().is_none());
    }
    assert_eq!(*lock.try_read().unwrap(), 1515);
}

#[test]
fn into_inner_drops_the_value_once() {
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    let drops = Arc::new(AtomicUsize::new(0));
    let lock = RwLock::new(Counted(drops.clone()));
    let inner = lock.into_inner();
    assert_eq!(drops.load(SeqCst), 0);
    drop(inner);
    assert_eq!(drops.load(SeqCst), 1);
    let mut lock = RwLock::new(10);
    *lock.get_mut() = 20;
    assert_eq!(lock.into_inner(), 20);
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn writers_exclude_each_other_across_threads() {
    // tokio's `multithreaded`: four tasks add to one counter.
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0_u64));
            let per_task = scaled(1_000) as u64;
            with_executor(2, |executor| {
                let tasks: Vec<_> = [2_u64, 3, 5, 7]
                    .into_iter()
                    .map(|step| {
                        let lock = lock.clone();
                        executor.spawn(async move {
                            for _ in 0..per_task {
                                *lock.write().await += step;
                            }
                        })
                    })
                    .collect();
                async move {
                    for task in tasks {
                        task.await;
                    }
                }
            });
            assert_eq!(*lock.try_read().unwrap(), 17 * per_task, "{policy}");
            assert_rw_healthy(&lock);
        }
    });
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn readers_never_see_a_write_half_done() {
    // async-lock's `writer_and_readers`: a writer holds the lock across
    // awaits with the value briefly negative; readers must never see it so.
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0_i32));
            let rounds = scaled(1_000) as i32;
            with_executor(2, |executor| {
                let writer = {
                    let lock = lock.clone();
                    executor.spawn(async move {
                        let mut guard = lock.write().await;
                        for _ in 0..rounds {
                            let value = *guard;
                            *guard = -1;
                            future::yield_now().await;
                            *guard = value + 1;
                        }
                    })
                };
                let readers: Vec<_> = (0..5)
                    .map(|_| {
                        let lock = lock.clone();
                        executor.spawn(async move {
                            for _ in 0..rounds {
                                assert!(*lock.read().await >= 0);
                            }
                        })
                    })
                    .collect();
                async move {
                    for reader in readers {
                        reader.await;
                    }
                    writer.await;
                }
            });
            assert_eq!(*lock.try_read().unwrap(), rounds, "{policy}");
        }
    });
}

#[test]
fn contention_from_threads_and_tasks() {
    // async-lock's `contention`: threads and tasks, readers and writers.
    with_watchdog(60, || {
        for (policy, new) in policies() {
            let lock = Arc::new(new(0_usize));
            let iters = scaled(1_000);
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let lock = lock.clone();
                    thread::spawn(move || {
                        for i in 0..iters {
                            if (t + i) % 5 == 0 {
                                *lock.write_blocking() += 1;
                            } else if i % 2 == 0 {
                                drop(lock.read_blocking());
                            } else {
                                drop(block_on(lock.read()));
                            }
                        }
                    })
                })
                .collect();
            join_all(handles);
            let writes = (0..4)
                .flat_map(|t| (0..iters).filter(move |i| (t + i) % 5 == 0))
                .count();
            assert_eq!(*lock.try_read().unwrap(), writes, "{policy}");
            assert_rw_healthy(&lock);
        }
    });
}

#[test]
fn upgradable_read_beside_readers() {
    // async-lock's `upgrade` and `not_upgrade`.
    for (policy, new) in policies() {
        let lock = new(0);
        block_on(async {
            let a = lock.read().await;
            let b = lock.read().await;
            let upgradable = lock.upgradable_read().await;
            let c = lock.read().await;
            assert_eq!(*c, 0);
            assert!(lock.try_upgradable_read().is_none(), "{policy}");
            drop((a, b, c));
            // Writers do not pass the upgradable read.
            assert!(lock.try_write().is_none(), "{policy}");
            let mut writer = UpgradableReadGuard::try_upgrade(upgradable).expect("no readers");
            *writer += 1;
            drop(writer);
            assert_eq!(*lock.read().await, 1);

            // An upgradable read that is dropped lets a writer in.
            let upgradable = lock.upgradable_read().await;
            drop(upgradable);
            *lock.write().await += 1;
            assert_eq!(*lock.read().await, 2);
        });
        assert_rw_healthy(&lock);
    }
}

#[test]
fn upgrade_goes_before_a_concurrent_writer() {
    // async-lock's `upgradable_with_concurrent_writer`.
    for (policy, new) in policies() {
        let lock = Arc::new(new(0));
        block_on(async {
            let upgradable = lock.upgradable_read().await;
            let other = lock.clone();
            future::or(
                async move {
                    *other.write().await = 1;
                },
                async move {
                    let mut writer = UpgradableReadGuard::upgrade(upgradable).await;
                    assert_eq!(*writer, 0);
                    *writer = 2;
                },
            )
            .await;
            assert_eq!(*lock.write().await, 2, "{policy}");
        });
        assert_rw_healthy(&lock);
    }
}

#[test]
fn an_upgrade_waits_for_readers_and_keeps_new_ones_out() {
    for (policy, new) in policies() {
        let lock = new(0);
        let reader = lock.try_read().unwrap();
        let upgradable = lock.try_upgradable_read().unwrap();
        let probe = Probe::new();
        let mut upgrade = UpgradableReadGuard::upgrade(upgradable);
        assert_pending(probe.poll(&mut upgrade));
        assert!(
            lock.try_read().is_none(),
            "{policy}: a reader passed the upgrade"
        );
        let mut late = lock.read();
        assert_pending(probe.poll(&mut late));
        drop(reader);
        let mut writer = ready(probe.poll(&mut upgrade));
        *writer += 1;
        assert_pending(probe.poll(&mut late));
        drop(writer);
        assert_eq!(*ready(probe.poll(&mut late)), 1, "{policy}");
        drop(late);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn futures_yield_when_contended_and_wake_when_released() {
    // async-lock's `yields_when_contended`, owned and borrowed.
    fn check<G, F: core::future::Future + Unpin>(contending: G, mut acquire: F) {
        let probe = Probe::new();
        assert_pending(probe.poll(&mut acquire));
        drop(contending);
        assert!(probe.wakes() > 0, "the release woke nobody");
        let _ = ready(probe.poll(&mut acquire));
    }

    for (_, new) in policies() {
        let lock = Arc::new(new(()));
        check(lock.try_write().unwrap(), lock.read());
        check(lock.try_write().unwrap(), lock.upgradable_read());
        check(lock.try_write().unwrap(), lock.write());
        check(lock.try_read().unwrap(), lock.write());
        check(lock.try_upgradable_read().unwrap(), lock.write());
        check(lock.try_upgradable_read().unwrap(), lock.upgradable_read());
        let upgradable = lock.try_upgradable_read().unwrap();
        check(
            lock.try_read().unwrap(),
            UpgradableReadGuard::upgrade(upgradable),
        );

        check(lock.try_write_owned().unwrap(), lock.read_owned());
        check(
            lock.try_write_owned().unwrap(),
            lock.upgradable_read_owned(),
        );
        check(lock.try_read_owned().unwrap(), lock.write_owned());
        let upgradable = lock.try_upgradable_read_owned().unwrap();
        check(
            lock.try_read_owned().unwrap(),
            OwnedUpgradableReadGuard::upgrade(upgradable),
        );
        assert_rw_healthy(&lock);
    }
}

#[test]
fn dropped_futures_and_guards_leave_nothing_behind() {
    // async-lock's `cancellation` and `arc_rwlock_refcounts`.
    let lock = Arc::new(RwLock::new(()));
    block_on(async {
        drop(lock.read());
        drop(lock.upgradable_read());
        drop(lock.write());
        drop(lock.read_owned());
        drop(lock.upgradable_read_owned());
        drop(lock.write_owned());
        assert_eq!(Arc::strong_count(&lock), 1);
        drop(lock.read().await);
        drop(lock.upgradable_read().await);
        drop(lock.write().await);
        let upgradable = lock.upgradable_read().await;
        drop(UpgradableReadGuard::upgrade(upgradable));
        let upgradable = lock.upgradable_read().await;
        drop(UpgradableReadGuard::upgrade(upgradable).await);

        let read = lock.read_owned().await;
        assert_eq!(Arc::strong_count(&lock), 2);
        drop(read);
        let upgradable = lock.upgradable_read_owned().await;
        assert_eq!(Arc::strong_count(&lock), 2);
        drop(OwnedUpgradableReadGuard::upgrade(upgradable));
        assert_eq!(Arc::strong_count(&lock), 1);
        let upgradable = lock.upgradable_read_owned().await;
        let writer = OwnedUpgradableReadGuard::upgrade(upgradable).await;
        assert_eq!(Arc::strong_count(&lock), 2);
        drop(writer);
        assert_eq!(Arc::strong_count(&lock), 1);
    });
    assert_rw_healthy(&lock);
}

#[test]
fn downgrades_let_waiting_readers_in_and_keep_writers_out() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        let mut writer = lock.try_write().unwrap();
        let mut reader = lock.read();
        assert_pending(probe.poll(&mut reader));
        *writer = 5;
        let read = WriteGuard::downgrade(writer);
        let other = ready(probe.poll(&mut reader));
        assert_eq!((*read, *other), (5, 5), "{policy}");
        assert!(lock.try_write().is_none(), "{policy}");
        drop((read, other));

        let writer = lock.try_write().unwrap();
        let upgradable = WriteGuard::downgrade_to_upgradable(writer);
        assert!(lock.try_read().is_some(), "{policy}");
        assert!(lock.try_upgradable_read().is_none(), "{policy}");
        let read = UpgradableReadGuard::downgrade(upgradable);
        assert!(lock.try_upgradable_read().is_some(), "{policy}");
        drop(read);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn downgrade_map_picks_the_part_before_readers_join() {
    // tokio's `downgrade_map` and `try_downgrade_map`.
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let probe = Probe::new();
    let mut reader = lock.read();
    assert_pending(probe.poll(&mut reader));
    let writer = WriteGuard::try_downgrade_map(writer, |_| {
        assert_pending(probe.poll(&mut reader));
        None::<&()>
    })
    .expect_err("nothing to map to");
    assert_pending(probe.poll(&mut reader));
    let mapped = WriteGuard::downgrade_map(writer, |value| {
        assert_pending(probe.poll(&mut reader));
        value
    });
    let read = ready(probe.poll(&mut reader));
    assert!(core::ptr::eq(&*mapped, &*read));
    drop((mapped, read, reader));

    let lock = Arc::new(RwLock::new((1, 2)));
    let second = OwnedWriteGuard::downgrade_map(lock.try_write_owned().unwrap(), |(_, b)| b);
    assert_eq!(*second, 2);
    assert!(lock.try_read().is_some());
    drop(second);
    assert_rw_healthy(&lock);
}

#[test]
fn mapped_guards_hold_the_lock_until_dropped() {
    let lock = RwLock::new((1, vec![2]));
    let first = ReadGuard::map(lock.try_read().unwrap(), |(a, _)| a);
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_some());
    drop(first);
    let mut items = WriteGuard::map(lock.try_write().unwrap(), |(_, items)| items);
    items.push(3);
    assert!(lock.try_read().is_none());
    drop(items);
    assert_eq!(lock.try_read().unwrap().1, [2, 3]);
    assert_rw_healthy(&lock);
}

#[test]
fn a_panic_in_map_releases_the_lock() {
    let lock = RwLock::new(0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = WriteGuard::map(lock.try_write().unwrap(), |_| -> &mut u8 {
            panic!("in map")
        });
    }));
    assert!(caught.is_err());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = ReadGuard::map(lock.try_read().unwrap(), |_| -> &u8 { panic!("in map") });
    }));
    assert!(caught.is_err());
    assert_rw_healthy(&lock);
}

#[test]
fn a_panic_while_holding_releases_every_kind() {
    let lock = RwLock::new(0);
    for kind in 0..3 {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
            0 => {
                let _guard = lock.read_blocking();
                panic!("reading");
            }
            1 => {
                let _guard = lock.write_blocking();
                panic!("writing");
            }
            _ => {
                let _guard = lock.upgradable_read_blocking();
                panic!("upgradable");
            }
        }));
        assert!(caught.is_err());
        assert_rw_healthy(&lock);
    }
}

#[test]
fn with_read_and_with_write_release_on_return_and_on_drop() {
    let lock = RwLock::new(vec![1]);
    block_on(async {
        let len = lock.with_read(async |items| items.len()).await;
        assert_eq!(len, 1);
        lock.with_write(async |items| items.push(2)).await;
        // Dropped half-way: the write is released.
        let mut future = Box::pin(lock.with_write(async |items| {
            future::yield_now().await;
            items.push(3);
        }));
        assert!(poll_once(&mut future).await.is_none());
        assert!(lock.try_read().is_none());
        drop(future);
    });
    assert_eq!(*lock.try_read().unwrap(), [1, 2]);
    assert_rw_healthy(&lock);
}

#[test]
fn debug_never_blocks() {
    let lock = RwLock::new_fifo(5);
    assert_eq!(format!("{lock:?}"), "RwLock { value: 5, fifo: true }");
    let reader = lock.try_read().unwrap();
    assert_eq!(format!("{lock:?}"), "RwLock { value: 5, fifo: true }");
    assert_eq!(format!("{reader:?} {reader}"), "5 5");
    drop(reader);
    let writer = lock.try_write().unwrap();
    assert_eq!(
        format!("{lock:?}"),
        "RwLock { value: <locked>, fifo: true }"
    );
    drop(writer);
    // Under `new_fifo` a waiter keeps `try_read` out, and so `Debug` too.
    let held = lock.try_write().unwrap();
    let mut waiter = lock.read();
    assert_pending(Probe::new().poll(&mut waiter));
    drop(held);
    assert!(format!("{waiter:?}").starts_with("ReadFuture"));
    drop(waiter);
    assert_rw_healthy(&lock);
}

#[test]
fn snapshots_count_holders_and_waiters() {
    let lock = RwLock::new(());
    assert_eq!(lock.state(), turnlock::RwState::default());
    let (a, b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    assert_eq!(lock.state().readers, 2);
    let upgradable = lock.try_upgradable_read().unwrap();
    let state = lock.state();
    assert_eq!(state.readers, 2, "the upgradable reader is not counted");
    assert!(state.upgradable && !state.writer);
    let probe = Probe::new();
    let mut writer = lock.write();
    assert_pending(probe.poll(&mut writer)); // at the front
    let mut reader = lock.read();
    assert_pending(probe.poll(&mut reader)); // in the line
    assert_eq!(lock.state().waiters, 2);
    drop((writer, reader));
    assert_eq!(lock.state().waiters, 0);
    drop((a, b));
    assert!(lock.is_locked());
    let writer = UpgradableReadGuard::try_upgrade(upgradable).unwrap();
    let state = lock.state();
    assert!(state.writer && !state.upgradable);
    drop(writer);
    assert!(!lock.is_locked());
}

#[test]
fn unsized_values() {
    let slice: Arc<RwLock<[u32]>> = Arc::new(RwLock::new([1, 2, 3]));
    slice.try_write().unwrap()[1] = 20;
    assert_eq!(&*slice.try_read_owned().unwrap(), [1, 20, 3]);
    let object: Box<RwLock<dyn core::fmt::Debug + Send + Sync>> = Box::new(RwLock::new(5_u8));
    assert_eq!(format!("{:?}", &*object.try_read().unwrap()), "5");
}

/// async-lock's covariance tests, for the borrowed read guard (tokio's is
/// covariant too); compiling is the test.
fn _read_guard_is_covariant<'g>(guard: ReadGuard<'g, &'static ()>) -> ReadGuard<'g, &'g ()> {
    guard
}

/// The most readers one lock counts (crate docs, "Limits"): 2^26 - 1 on
/// 64-bit targets, 2 047 on 32-bit ones.
const MAX_READERS: usize = if usize::BITS >= 64 {
    (1 << 26) - 1
} else {
    2_047
};

/// The message of a panic's payload (a literal or a formatted one).
fn panic_message(payload: &(dyn core::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<not a string>")
}

#[test]
#[cfg_attr(
    any(miri, debug_assertions),
    ignore = "2^26 acquisitions, about 20 s with debug assertions: run with --release \
              (src/raw/rw.rs checks the limit in debug builds from a word one reader short)"
)]
fn a_reader_past_the_limit_panics_and_leaves_the_lock_as_it_was() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    // The count is the same field under both policies; one is enough.
    let lock = RwLock::new(7);
    for _ in 0..MAX_READERS - 1 {
        let guard = lock.try_read();
        assert!(guard.is_some(), "a reader within the limit was refused");
        core::mem::forget(guard);
    }
    let last = lock.try_read().expect("the last reader within the limit");
    assert_eq!(lock.state().readers, MAX_READERS);
    let attempts: [(&str, &dyn Fn()); 3] = [
        ("try_read", &|| drop(lock.try_read())),
        ("read", &|| drop(block_on(poll_once(lock.read())))),
        ("read_blocking", &|| drop(lock.read_blocking())),
    ];
    for (name, attempt) in attempts {
        let payload = catch_unwind(AssertUnwindSafe(attempt))
            .expect_err("a reader past the limit did not panic");
        assert_eq!(
            panic_message(&*payload),
            "too many readers on one lock",
            "{name}"
        );
        let state = lock.state();
        assert_eq!(
            (state.readers, state.writer, state.waiters),
            (MAX_READERS, false, 0),
            "{name}: the panic changed the lock"
        );
    }
    assert!(lock.try_write().is_none(), "a writer passed the readers");
    drop(last);
    let again = lock.try_read().expect("a reader within the limit again");
    assert_eq!(*again, 7);
    assert_eq!(lock.state().readers, MAX_READERS);
}
