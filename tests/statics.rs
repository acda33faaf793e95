//! `Lock::new` and `Lock::new_fifo` are `const fn`: a lock can be a
//! `static`, shared by threads and `'static` tasks without an `Arc`.
//!
//! Each static here is used by one test only (tests run in parallel).

mod common;

use std::thread;

use common::{Checked, Section, join_all, scaled, with_watchdog};
use futures_lite::future::block_on;
use turnlock::Lock;

static THREADS_NEW: Lock<Checked> = Lock::new(Checked::new());
static THREADS_FIFO: Lock<Checked> = Lock::new_fifo(Checked::new());

/// Threads hammer a static lock in every style.
fn hammer(lock: &'static Lock<Checked>) {
    let threads = 4;
    let iters = scaled(1_000);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..iters {
                    match (t + i) % 4 {
                        0 => drop(Section::enter(lock.lock_blocking())),
                        1 => drop(Section::enter(block_on(lock.lock()))),
                        2 => block_on(lock.with_lock(async |value| {
                            value.enter();
                            value.leave();
                        })),
                        _ => loop {
                            if let Some(guard) = lock.try_lock() {
                                drop(Section::enter(guard));
                                break;
                            }
                            thread::yield_now();
                        },
                    }
                }
            })
        })
        .collect();
    join_all(handles);
    assert_eq!(lock.try_lock().unwrap().count(), (threads * iters) as u64);
    assert!(!lock.is_locked());
}

#[test]
fn static_new_lock_from_threads() {
    assert!(!THREADS_NEW.is_fifo());
    with_watchdog(60, || hammer(&THREADS_NEW));
}

#[test]
fn static_fifo_lock_from_threads() {
    assert!(THREADS_FIFO.is_fifo());
    with_watchdog(60, || hammer(&THREADS_FIFO));
}

static LOG: Lock<Vec<u32>> = Lock::new_fifo(Vec::new());

#[test]
fn static_lock_futures_are_static() {
    // `LOG.lock()` borrows a static, so the future is `'static` and can move
    // to another thread without an `Arc`.
    fn assert_static<T: 'static>(value: T) -> T {
        value
    }
    with_watchdog(30, || {
        let held = LOG.try_lock().unwrap();
        let future = assert_static(LOG.lock());
        let waiter = thread::spawn(move || block_on(future).push(2));
        let guard = assert_static(held);
        let pusher = thread::spawn(move || {
            let mut guard = guard;
            guard.push(1);
        });
        join_all(vec![pusher, waiter]);
        // The first push happened while the waiter waited, so it came first.
        assert_eq!(*LOG.try_lock().unwrap(), [1, 2]);
    });
}

static COUNTER: Lock<u64> = Lock::new(0);

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn static_lock_from_spawned_tasks() {
    // Tasks spawned on an executor need `'static` futures: a static lock
    // gives them one with a plain `lock()`.
    with_watchdog(30, || {
        let tasks = 8;
        let iters = scaled(200) as u64;
        common::with_executor(2, |executor| async move {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    executor.spawn(async move {
                        for _ in 0..iters {
                            let mut guard = COUNTER.lock().await;
                            futures_lite::future::yield_now().await;
                            *guard += 1;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await;
            }
        });
        assert_eq!(*COUNTER.try_lock().unwrap(), tasks * iters);
    });
}

/// `KeyedLocks::with_hasher` and `fifo` are `const fn`: a keyed map can be
/// a `static` too, with a hasher that can be built in a `const` context.
#[cfg(feature = "keyed")]
mod keyed {
    use core::hash::{BuildHasherDefault, Hasher};
    use core::sync::atomic::AtomicBool;
    use core::sync::atomic::Ordering::SeqCst;
    use std::thread;

    use futures_lite::future::block_on;
    use turnlock::{DefaultHashBuilder, KeyGuard, KeyedLocks};

    use crate::common::{join_all, scaled, with_watchdog};

    /// FNV-1a: a hasher with no state to seed.
    struct Fnv(u64);

    impl Default for Fnv {
        fn default() -> Self {
            Self(0xcbf2_9ce4_8422_2325)
        }
    }

    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }

        fn write(&mut self, bytes: &[u8]) {
            for &byte in bytes {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }

    type Fixed = BuildHasherDefault<Fnv>;

    const KEYS: usize = 4;

    static KEYED_NEW: KeyedLocks<usize, Fixed> = KeyedLocks::with_hasher(BuildHasherDefault::new());
    static KEYED_FIFO: KeyedLocks<usize, Fixed> =
        KeyedLocks::with_hasher(BuildHasherDefault::new()).fifo();

    /// Threads lock the keys of a static map in every blocking-friendly
    /// style; a flag per key notices two holders at once.
    fn hammer(locks: &'static KeyedLocks<usize, Fixed>) {
        static INSIDE: [[AtomicBool; KEYS]; 2] =
            [const { [const { AtomicBool::new(false) }; KEYS] }; 2];
        let inside = &INSIDE[usize::from(locks.is_fifo())];
        let section = |key: usize| {
            assert!(!inside[key].swap(true, SeqCst), "two holders of key {key}");
            inside[key].store(false, SeqCst);
        };
        let iters = scaled(1_000);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                thread::spawn(move || {
                    for i in 0..iters {
                        let key = (t + i) % KEYS;
                        match i % 4 {
                            0 => {
                                let guard = locks.lock_blocking(key);
                                assert_eq!(*KeyGuard::key(&guard), key);
                                section(key);
                            }
                            1 => {
                                let _guard = block_on(locks.lock(key));
                                section(key);
                            }
                            2 => block_on(locks.with_lock(key, async || section(key))),
                            _ => loop {
                                if let Some(_guard) = locks.try_lock(key) {
                                    section(key);
                                    break;
                                }
                                thread::yield_now();
                            },
                        }
                    }
                })
            })
            .collect();
        join_all(handles);
        assert!(locks.is_empty());
        for key in 0..KEYS {
            assert!(!locks.is_locked(&key));
        }
    }

    #[test]
    fn static_keyed_locks_from_threads() {
        assert!(!KEYED_NEW.is_fifo());
        with_watchdog(60, || hammer(&KEYED_NEW));
    }

    #[test]
    fn static_fifo_keyed_locks_from_threads() {
        assert!(KEYED_FIFO.is_fifo());
        with_watchdog(60, || hammer(&KEYED_FIFO));
    }

    static ORDER: KeyedLocks<&str, Fixed> = KeyedLocks::with_hasher(BuildHasherDefault::new());

    /// The default hasher with a fixed key is `const` as well.
    static DEFAULT_HASHER: KeyedLocks<String> =
        KeyedLocks::with_hasher(DefaultHashBuilder::with_keys(0x1234, 0x5678));

    #[test]
    fn static_keyed_locks_with_the_default_hasher() {
        let guard = DEFAULT_HASHER.try_lock(String::from("config")).unwrap();
        assert!(DEFAULT_HASHER.is_locked("config"));
        assert!(DEFAULT_HASHER.try_lock(String::from("config")).is_none());
        drop(guard);
        assert!(DEFAULT_HASHER.is_empty());
    }

    #[test]
    fn static_keyed_futures_and_guards_are_static() {
        fn assert_static<T: 'static>(value: T) -> T {
            value
        }
        with_watchdog(30, || {
            let held = assert_static(ORDER.try_lock("row").unwrap());
            let future = assert_static(ORDER.lock("row"));
            let waiter = thread::spawn(move || drop(block_on(future)));
            // The guard moves to another thread without an `Arc`.
            thread::spawn(move || drop(held)).join().unwrap();
            waiter.join().unwrap();
            assert!(ORDER.is_empty());
        });
    }
}
