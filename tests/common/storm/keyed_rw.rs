//! [`KeyedRwLocks`] as a storm [`Subject`]: reads and writes of keys in
//! every acquisition style it has, several keys at once (some read, some
//! written), over the keys of a [`KeyDraw`]: hot keys with checked values
//! and, if asked, cold keys, any of which may panic on purpose (the
//! [`StormKey`]s of `keyed.rs`).

use std::sync::Arc;

use turnlock::{KeyReadGuard, KeyWriteGuard, KeyedRwLocks, RwManyGuard};

use super::keyed::{KeyDraw, StormKey};
use super::{Acquiring, Counts, Held, How, Mode, Report, Style, Subject};
use crate::common::{Probe, Rng, assert_pending, ready};

/// A `KeyedRwLocks` under test, with a checked value per hot key; two
/// acquisitions in three read.
pub struct KeyedRwSubject<K> {
    locks: Arc<KeyedRwLocks<K>>,
    keys: KeyDraw,
}

impl<K: StormKey> KeyedRwSubject<K> {
    /// `locks` with hot keys `0..hot`.
    pub fn new(locks: KeyedRwLocks<K>, hot: u32) -> Self {
        Self {
            locks: Arc::new(locks),
            keys: KeyDraw::new(hot),
        }
    }

    /// One key in `one_in` is a cold one.
    pub fn cold_keys(mut self, one_in: u64) -> Self {
        self.keys.cold_keys(one_in);
        self
    }

    /// Wraps `guard`, which holds each key of `ids` in its mode, for a
    /// section.
    ///
    /// # Safety
    ///
    /// `guard` holds every key in `ids` in its mode until it is dropped.
    unsafe fn held<'a, G: Send + 'a>(&'a self, ids: Vec<(u32, Mode)>, guard: G) -> Held<'a> {
        for (id, mode) in &ids {
            let state = self.locks.state(id).expect("a held key has an entry");
            match mode {
                Mode::Exclusive => assert!(state.writer, "key {id} is written but not locked"),
                Mode::Shared => assert!(state.readers > 0, "key {id} is read but not locked"),
            }
        }
        // SAFETY: the caller's promise.
        unsafe { self.keys.cells.held_each(ids, guard) }
    }

    /// [`held`](Self::held) for one key.
    ///
    /// # Safety
    ///
    /// As for `held`.
    unsafe fn held_one<'a, G: Send + 'a>(&'a self, id: u32, mode: Mode, guard: G) -> Held<'a> {
        // SAFETY: the caller's promise.
        unsafe { self.held(vec![(id, mode)], guard) }
    }
}

impl<K: StormKey> Subject for KeyedRwSubject<K> {
    const MODES: &'static [Mode] = &[Mode::Exclusive, Mode::Shared, Mode::Shared];

    fn counts(&self) -> &Counts {
        &self.keys.counts
    }

    fn acquire<'a>(&'a self, how: &How, rng: &mut Rng) -> Acquiring<'a> {
        let locks = &self.locks;
        let key: K = self.keys.key(rng);
        let id = key.id();
        let mode = how.mode;
        let write = mode == Mode::Exclusive;
        match how.style {
            Style::Await if write => {
                let future = locks.write(key);
                Box::pin(async move {
                    let guard = future.await;
                    assert_eq!(
                        KeyWriteGuard::key(&guard).id(),
                        id,
                        "a guard of another key"
                    );
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Await => {
                let future = locks.read(key);
                Box::pin(async move {
                    let guard = future.await;
                    assert_eq!(KeyReadGuard::key(&guard).id(), id, "a guard of another key");
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Owned if write => {
                let future = locks.write_owned(key);
                Box::pin(async move {
                    let guard = future.await;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Owned => {
                let future = locks.read_owned(key);
                Box::pin(async move {
                    let guard = future.await;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Try if write => {
                let guard = locks.try_write(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds key `id` in `mode`.
                    guard.map(|guard| unsafe { self.held_one(id, mode, guard) }),
                ))
            }
            Style::Try => {
                let guard = locks.try_read(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds key `id` in `mode`.
                    guard.map(|guard| unsafe { self.held_one(id, mode, guard) }),
                ))
            }
            Style::TryOwned if write => {
                let guard = locks.try_write_owned(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds key `id` in `mode`.
                    guard.map(|guard| unsafe { self.held_one(id, mode, guard) }),
                ))
            }
            Style::TryOwned => {
                let guard = locks.try_read_owned(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds key `id` in `mode`.
                    guard.map(|guard| unsafe { self.held_one(id, mode, guard) }),
                ))
            }
            Style::Until(_) if write => {
                let future = locks.write_until(key, how.deadline());
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Until(_) => {
                let future = locks.read_until(key, how.deadline());
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Timeout if write => {
                let future = locks.write_timeout(key, how.timeout);
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::Timeout => {
                let future = locks.read_timeout(key, how.timeout);
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds key `id` in `mode`.
                    Some(unsafe { self.held_one(id, mode, guard) })
                })
            }
            Style::WithLock => {
                let (plan, counts) = (how.plan, &self.keys.counts);
                Box::pin(async move {
                    let section = async || {
                        // SAFETY: `with_read`/`with_write` holds the key `id`
                        // in `mode` while this runs, and the section ends
                        // inside.
                        let held = unsafe { self.held_one(id, mode, ()) };
                        plan.hold(held, counts).await;
                    };
                    if write {
                        locks.with_write(key, section).await;
                    } else {
                        locks.with_read(key, section).await;
                    }
                    Some(Held::ran())
                })
            }
            Style::Many => {
                // Up to three keys at once, in any order, maybe repeated,
                // each read or written.
                let (mut reads, mut writes) = (Vec::new(), Vec::new());
                let mut place = |key: K, rng: &mut Rng| {
                    if rng.one_in(2) {
                        writes.push(key);
                    } else {
                        reads.push(key);
                    }
                };
                place(key, rng);
                for _ in 0..rng.below(3) {
                    let key: K = self.keys.key(rng);
                    place(key, rng);
                }
                let future = locks.lock_many(reads, writes);
                Box::pin(async move {
                    let guard = future.await;
                    let ids = RwManyGuard::reads(&guard)
                        .map(|key| (key.id(), Mode::Shared))
                        .chain(RwManyGuard::writes(&guard).map(|key| (key.id(), Mode::Exclusive)))
                        .collect();
                    // SAFETY: the guard holds every key in `ids` in its mode.
                    Some(unsafe { self.held(ids, guard) })
                })
            }
            style => panic!("a KeyedRwLocks has no {style:?} acquisition"),
        }
    }

    fn acquire_blocking<'a>(&'a self, how: &How, rng: &mut Rng) -> Option<Held<'a>> {
        let key: K = self.keys.key(rng);
        let id = key.id();
        let mode = how.mode;
        let locks = &self.locks;
        match (how.style, mode) {
            (Style::Blocking, Mode::Exclusive) => {
                let guard = locks.write_blocking(key);
                // SAFETY: the guard holds key `id` in `mode`.
                Some(unsafe { self.held_one(id, mode, guard) })
            }
            (Style::Blocking, Mode::Shared) => {
                let guard = locks.read_blocking(key);
                // SAFETY: the guard holds key `id` in `mode`.
                Some(unsafe { self.held_one(id, mode, guard) })
            }
            (Style::BlockingTimeout, Mode::Exclusive) => {
                let guard = locks.write_blocking_timeout(key, how.timeout).ok()?;
                // SAFETY: the guard holds key `id` in `mode`.
                Some(unsafe { self.held_one(id, mode, guard) })
            }
            (Style::BlockingTimeout, Mode::Shared) => {
                let guard = locks.read_blocking_timeout(key, how.timeout).ok()?;
                // SAFETY: the guard holds key `id` in `mode`.
                Some(unsafe { self.held_one(id, mode, guard) })
            }
            (style, _) => panic!("{style:?} is not a blocking acquisition"),
        }
    }

    fn settle(&self, report: &Report) {
        let locks = &self.locks;
        let held: Vec<u32> = (0..self.keys.hot)
            .filter(|id| locks.state(id).is_some())
            .collect();
        assert_eq!(
            locks.len(),
            0,
            "entries left after the storm (hot keys with entries: {held:?}; {report:?})"
        );
        for id in 0..self.keys.hot {
            let guard = locks
                .try_write(K::plain(id, &self.keys.counts))
                .unwrap_or_else(|| panic!("key {id} cannot be written after the storm"));
            // SAFETY: we hold the key alone, and the storm is over.
            unsafe { self.keys.cells.assert_counted(id) };
            // Readers queued behind the writer are served together on
            // release, and the entry goes with the last of them.
            let probe = Probe::new();
            let mut first = locks.read(K::plain(id, &self.keys.counts));
            let mut second = locks.read(K::plain(id, &self.keys.counts));
            assert_pending(probe.poll(&mut first));
            assert_pending(probe.poll(&mut second));
            drop(guard);
            let both = (
                ready(probe.poll(&mut first)),
                ready(probe.poll(&mut second)),
            );
            drop((both, first, second));
            assert_eq!(locks.len(), 0, "key {id}: an entry was left behind");
        }
    }
}
