//! `KeyedRwLocks`: shared and exclusive access per key, with the lifecycle
//! of `KeyedLocks` (an entry only while a key is held or waited for,
//! reclaimed after cancellations and timeouts), owned guards, deadlines,
//! blocking forms, a `static` map, the many-key form, and keys whose
//! `Hash`, `Eq` or `Drop` panic.

#![cfg(feature = "keyed")]

mod common;

use core::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{Probe, assert_pending, join_all, ready, scaled, with_executor, with_watchdog};
use futures_lite::future::{block_on, poll_once};
use turnlock::{KeyReadGuard, KeyedRwLocks, OwnedKeyWriteGuard, RwManyGuard};

fn both_policies<K>() -> [(&'static str, KeyedRwLocks<K>); 2] {
    [
        ("new", KeyedRwLocks::new()),
        ("new_fifo", KeyedRwLocks::new_fifo()),
    ]
}

#[test]
fn readers_share_a_key_writers_exclude_it_other_keys_are_free() {
    for (policy, locks) in both_policies() {
        let a = locks.try_read("k").unwrap();
        let b = block_on(locks.read("k"));
        assert_eq!(locks.len(), 1, "{policy}");
        assert_eq!(locks.state("k").unwrap().readers, 2);
        assert!(locks.try_write("k").is_none(), "{policy}");
        assert!(locks.try_write("other").is_some(), "{policy}");
        let probe = Probe::new();
        let mut writer = locks.write("k");
        assert_pending(probe.poll(&mut writer));
        assert_eq!(locks.state("k").unwrap().waiters, 1);
        assert!(
            locks.try_read("k").is_none(),
            "{policy}: a reader passed the writer"
        );
        drop((a, b));
        let written = ready(probe.poll(&mut writer));
        assert!(locks.state("k").unwrap().writer);
        assert_eq!(*KeyReadGuard::key(&locks.try_read("x").unwrap()), "x");
        drop(written);
        assert!(locks.is_empty(), "{policy}");
        assert_eq!(locks.state("k"), None);
    }
}

#[test]
fn entries_go_when_waiters_are_cancelled_or_time_out() {
    for (policy, locks) in both_policies() {
        let writer = locks.try_write(1).unwrap();
        let probe = Probe::new();
        let mut reader = locks.read(1);
        assert_pending(probe.poll(&mut reader));
        let mut second = locks.write(1);
        assert_pending(probe.poll(&mut second));
        drop((reader, second));
        block_on(async {
            assert!(locks.read_until(1, async {}).await.is_err());
            assert!(locks.write_until(1, async {}).await.is_err());
            if cfg!(not(miri)) {
                // async-io's reactor needs timerfd, which Miri lacks.
                let timeout = locks.read_timeout(1, Duration::from_millis(1));
                assert!(timeout.await.is_err());
                assert!(locks.write_timeout(1, Duration::ZERO).await.is_err());
            }
        });
        assert!(
            locks
                .read_blocking_timeout(1, Duration::from_millis(1))
                .is_err()
        );
        assert!(locks.write_blocking_timeout(1, Duration::ZERO).is_err());
        assert_eq!(locks.len(), 1, "{policy}: only the writer's entry");
        drop(writer);
        assert!(locks.is_empty(), "{policy}");
        // A failed `try_*` leaves nothing either.
        let reader = locks.try_read(2).unwrap();
        assert!(locks.try_write(2).is_none());
        drop(reader);
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn a_grant_to_a_dropped_waiter_is_passed_on() {
    for (policy, locks) in both_policies() {
        let probe = Probe::new();
        let reader = locks.try_read(0).unwrap();
        let mut writer = locks.write(0);
        assert_pending(probe.poll(&mut writer));
        let mut late = locks.read(0);
        assert_pending(probe.poll(&mut late));
        drop(reader); // grants `writer`
        drop(writer); // which passes it on
        drop(ready(probe.poll(&mut late)));
        drop(late);
        assert!(locks.is_empty(), "{policy}");
    }
}

#[test]
fn owned_guards_are_static_and_send() {
    fn send_static<T: Send + 'static>(value: T) -> T {
        value
    }

    let locks = Arc::new(KeyedRwLocks::<i64>::new());
    let reader = send_static(locks.try_read_owned(7).unwrap());
    let writer = block_on(async {
        let other = send_static(locks.read_owned(7)).await;
        drop(other);
        send_static(locks.write_owned(8)).await
    });
    assert_eq!(*OwnedKeyWriteGuard::key(&writer), 8);
    let handle = thread::spawn(move || drop((reader, writer)));
    handle.join().unwrap();
    assert!(locks.is_empty());
    drop(locks.read_owned_blocking(1));
    drop(locks.write_owned_blocking(1));
    assert!(locks.try_write_owned(1).is_some());
    assert!(locks.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn tasks_and_threads_share_keys() {
    with_watchdog(60, || {
        for (policy, locks) in both_policies() {
            let locks = Arc::new(locks);
            // A value per key, written only under the key's write and read
            // under its reads: a write that overlaps a read is caught.
            let values: Arc<Vec<std::sync::atomic::AtomicI64>> = Arc::new(
                (0..4)
                    .map(|_| std::sync::atomic::AtomicI64::new(0))
                    .collect(),
            );
            let iters = scaled(500);
            let threads: Vec<_> = (0..2)
                .map(|t| {
                    let (locks, values) = (locks.clone(), values.clone());
                    thread::spawn(move || {
                        for i in 0..iters {
                            let key = (t + i) % 4;
                            if i % 3 == 0 {
                                let _guard = locks.write_blocking(key);
                                write_section(&values[key]);
                            } else {
                                let _guard = locks.read_blocking(key);
                                read_section(&values[key]);
                            }
                        }
                    })
                })
                .collect();
            with_executor(2, |executor| {
                let tasks: Vec<_> = (0..6)
                    .map(|t| {
                        let (locks, values) = (locks.clone(), values.clone());
                        executor.spawn(async move {
                            for i in 0..iters {
                                let key = (t + i) % 4;
                                if i % 4 == 0 {
                                    let _guard = locks.write(key).await;
                                    write_section(&values[key]);
                                } else {
                                    let _guard = locks.read(key).await;
                                    read_section(&values[key]);
                                    futures_lite::future::yield_now().await;
                                    read_section(&values[key]);
                                }
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
            join_all(threads);
            assert!(locks.is_empty(), "{policy}");
        }
    });
}

/// A writer's section: the value goes negative while it writes.
fn write_section(value: &std::sync::atomic::AtomicI64) {
    use std::sync::atomic::Ordering::SeqCst;
    let before = value.swap(-1, SeqCst);
    assert!(before >= 0, "a writer overlapped another holder");
    std::hint::spin_loop();
    assert_eq!(
        value.swap(before + 1, SeqCst),
        -1,
        "a writer overlapped another holder"
    );
}

/// A reader's section: the value is never negative.
fn read_section(value: &std::sync::atomic::AtomicI64) {
    assert!(
        value.load(std::sync::atomic::Ordering::SeqCst) >= 0,
        "a reader overlapped a writer"
    );
}

#[test]
fn lock_many_mixes_shared_and_exclusive_keys_without_deadlock() {
    with_watchdog(60, || {
        for (policy, locks) in both_policies::<&str>() {
            block_on(async {
                let held = locks.lock_many(["b", "a"], ["c", "a"]).await;
                assert!(RwManyGuard::reads(&held).eq([&"b"]), "{policy}");
                assert!(RwManyGuard::writes(&held).eq([&"a", &"c"]), "{policy}");
                assert_eq!(
                    format!("{held:?}"),
                    r#"RwManyGuard { reads: ["b"], writes: ["a", "c"] }"#
                );
                assert!(locks.try_read("b").is_some());
                assert!(locks.try_read("a").is_none() && locks.try_read("c").is_none());
                drop(held);
                assert!(locks.is_empty());
            });
            // Opposite orders on two threads, overlapping keys, some shared.
            let locks: Arc<KeyedRwLocks<usize>> = Arc::new(if policy == "new" {
                KeyedRwLocks::new()
            } else {
                KeyedRwLocks::new_fifo()
            });
            let rounds = scaled(300);
            let handles: Vec<_> = (0..2)
                .map(|t| {
                    let locks = locks.clone();
                    thread::spawn(move || {
                        for i in 0..rounds {
                            let (reads, writes) = if t == 0 {
                                (vec![3, 1], vec![2, 4])
                            } else {
                                (vec![4, 2], vec![1, 3 + i % 2])
                            };
                            drop(block_on(locks.lock_many(reads, writes)));
                        }
                    })
                })
                .collect();
            join_all(handles);
            assert!(locks.is_empty(), "{policy}");
        }
    });
}

#[test]
fn a_dropped_lock_many_releases_what_it_held() {
    let locks = KeyedRwLocks::new();
    let blocker = locks.try_write(2).unwrap();
    let probe = Probe::new();
    let mut many = locks.lock_many([1], [2, 3]);
    assert_pending(probe.poll(&mut many)); // holds 1, waits for 2
    assert!(locks.try_write(1).is_none());
    assert!(locks.try_read(1).is_some());
    drop(many);
    assert!(locks.try_write(1).is_some());
    drop(blocker);
    assert!(locks.is_empty());
}

static TABLES: KeyedRwLocks<&str, std::hash::BuildHasherDefault<std::hash::DefaultHasher>> =
    KeyedRwLocks::with_hasher(std::hash::BuildHasherDefault::new()).fifo();

#[test]
fn a_static_map() {
    let schema = TABLES.read_blocking("users");
    let other = TABLES.read_blocking("users");
    assert!(TABLES.is_fifo() && TABLES.is_locked("users"));
    drop((schema, other));
    let migration = TABLES.write_blocking("users");
    assert!(TABLES.state("users").unwrap().writer);
    drop(migration);
    assert!(TABLES.is_empty());
}

#[test]
fn with_read_and_with_write_release_on_drop() {
    let locks = KeyedRwLocks::new();
    block_on(async {
        assert_eq!(locks.with_read(1, async || 5).await, 5);
        let mut future = Box::pin(locks.with_write(1, async || {
            futures_lite::future::yield_now().await;
        }));
        assert!(poll_once(&mut future).await.is_none());
        assert!(locks.try_read(1).is_none());
        drop(future);
    });
    assert!(locks.is_empty());
}

/// A key whose `Hash`, `Eq` or `Drop` panics when asked to.
#[derive(Debug)]
struct Hostile {
    id: u32,
    panic_in: Option<&'static str>,
}

impl Hostile {
    fn fine(id: u32) -> Self {
        Self { id, panic_in: None }
    }

    fn panics_in(id: u32, place: &'static str) -> Self {
        Self {
            id,
            panic_in: Some(place),
        }
    }
}

impl Hash for Hostile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.panic_in == Some("hash") {
            panic!("planned: hash");
        }
        self.id.hash(state);
    }
}

impl PartialEq for Hostile {
    fn eq(&self, other: &Self) -> bool {
        if self.panic_in == Some("eq") || other.panic_in == Some("eq") {
            panic!("planned: eq");
        }
        self.id == other.id
    }
}

impl Eq for Hostile {}

impl PartialOrd for Hostile {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Hostile {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if self.panic_in == Some("drop") && !thread::panicking() {
            panic!("planned: drop");
        }
    }
}

#[test]
fn hostile_keys_leave_nothing_held_or_counted() {
    let locks = KeyedRwLocks::new();
    let held = locks.try_read(Hostile::fine(1)).unwrap();
    for place in ["hash", "eq", "drop"] {
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            drop(locks.try_write(Hostile::panics_in(1, place)));
        }));
        assert!(panicked.is_err(), "{place}");
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            drop(block_on(locks.read(Hostile::panics_in(1, place))));
        }));
        assert!(panicked.is_err(), "{place}");
        assert_eq!(locks.len(), 1, "{place}");
        assert_eq!(
            locks.state(&Hostile::fine(1)).unwrap().readers,
            1,
            "{place}"
        );
    }
    drop(held);
    assert!(locks.is_empty());
    // A key whose drop panics, held by `lock_many` with others: all are
    // released as the panic unwinds.
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let many = block_on(locks.lock_many(
            [Hostile::fine(1), Hostile::panics_in(2, "drop")],
            [Hostile::fine(3)],
        ));
        drop(many);
    }));
    assert!(panicked.is_err());
    assert!(locks.is_empty());
    assert!(locks.try_write(Hostile::fine(3)).is_some());
}
