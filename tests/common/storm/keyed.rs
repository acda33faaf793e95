//! [`KeyedLocks`] as a storm [`Subject`]: every acquisition style it has,
//! over a few hot keys (each with a checked value outside the map) and,
//! if asked, cold keys that come and go, with keys that may panic on
//! purpose in `Drop`, `Hash` or `Eq`.

use core::borrow::Borrow;
use core::cell::UnsafeCell;
use core::hash::{Hash, Hasher};
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::thread;

use turnlock::{KeyGuard, KeyedLocks, ManyGuard};

use super::{Acquiring, Counts, Held, Hold, How, Mode, PLANNED, Report, Style, Subject};
use crate::common::{Checked, Probe, Rng, assert_pending, ready};

/// A key of a keyed storm.
pub trait StormKey: Hash + Eq + Ord + Borrow<u32> + Clone + Send + Sync + 'static {
    /// The key numbered `id` that behaves.
    fn plain(id: u32, counts: &Arc<Counts>) -> Self;

    /// The key numbered `id` for one acquisition (it may draw a planned
    /// misbehaviour from `rng`).
    fn drawn(id: u32, _rng: &mut Rng, counts: &Arc<Counts>) -> Self {
        Self::plain(id, counts)
    }

    fn id(&self) -> u32 {
        *self.borrow()
    }
}

impl StormKey for u32 {
    fn plain(id: u32, _: &Arc<Counts>) -> Self {
        id
    }
}

/// The keys a keyed storm draws: hot keys `0..hot`, each with a checked
/// value in `cells`, and, if asked, cold keys (numbered from 1 000, rarely
/// used twice: new entries, pool churn, tables that grow and shrink); any
/// of them may panic on purpose, counting itself in `counts`.
pub struct KeyDraw {
    pub hot: u32,
    /// A key is cold once in this many draws (0: never).
    cold_one_in: u64,
    pub cells: KeyCells,
    pub counts: Arc<Counts>,
}

impl KeyDraw {
    pub fn new(hot: u32) -> Self {
        Self {
            hot,
            cold_one_in: 0,
            cells: KeyCells::new(hot),
            counts: Arc::new(Counts::new()),
        }
    }

    /// One key in `one_in` is a cold one.
    pub fn cold_keys(&mut self, one_in: u64) {
        self.cold_one_in = one_in;
    }

    /// The key of one acquisition.
    pub fn key<K: StormKey>(&self, rng: &mut Rng) -> K {
        let id = if self.cold_one_in != 0 && rng.one_in(self.cold_one_in) {
            1_000 + rng.below(100_000) as u32
        } else {
            rng.below(u64::from(self.hot)) as u32
        };
        K::drawn(id, rng, &self.counts)
    }
}

/// A `KeyedLocks` under test, with a checked value per hot key.
pub struct KeyedSubject<K> {
    locks: Arc<KeyedLocks<K>>,
    keys: KeyDraw,
}

impl<K: StormKey> KeyedSubject<K> {
    /// `locks` with hot keys `0..hot`.
    pub fn new(locks: KeyedLocks<K>, hot: u32) -> Self {
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

    /// Wraps `guard`, which holds the keys `ids` exclusively, for a section.
    ///
    /// # Safety
    ///
    /// `guard` holds every key in `ids` until it is dropped.
    unsafe fn held<'a, G: Send + 'a>(&'a self, ids: Vec<u32>, guard: G) -> Held<'a> {
        for id in &ids {
            assert!(self.locks.is_locked(id), "key {id} is held but not locked");
        }
        // SAFETY: the caller's promise.
        unsafe { self.keys.cells.held(ids, Mode::Exclusive, guard) }
    }
}

/// A checked value per hot key (`0..hot`), outside the primitive, with the
/// model's count of the sections that reached it: for any primitive with
/// keys (a keyed lock, a keyed reader-writer lock).
pub struct KeyCells {
    cells: Vec<UnsafeCell<Checked>>,
    /// Sections per hot key, by the model.
    model: Vec<AtomicU64>,
}

// SAFETY: cell `i` is only touched through a `Held` made by `KeyCells::held`
// for a guard that holds key `i`, so by one exclusive holder or several
// shared ones (through `&`) at a time; if the primitive ever let a
// conflicting holder in, the test fails (the checked value natively, a
// data race under Miri and TSan).
unsafe impl Sync for KeyCells {}

impl KeyCells {
    pub fn new(hot: u32) -> Self {
        Self {
            cells: (0..hot).map(|_| UnsafeCell::new(Checked::new())).collect(),
            model: (0..hot).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Wraps `guard`, which holds the keys `ids` in `mode`, for a section
    /// over their cells (cold keys have none).
    ///
    /// # Safety
    ///
    /// `guard` holds every key in `ids` in `mode` until it is dropped.
    pub unsafe fn held<'a, G: Send + 'a>(
        &'a self,
        ids: Vec<u32>,
        mode: Mode,
        guard: G,
    ) -> Held<'a> {
        let ids = ids.into_iter().map(|id| (id, mode)).collect();
        // SAFETY: the caller's promise, for every key in its mode.
        unsafe { self.held_each(ids, guard) }
    }

    /// Wraps `guard`, which holds each key of `ids` in the mode beside it,
    /// for a section over their cells (several keys of a reader-writer
    /// primitive, some read and some written). The section counts as
    /// exclusive if it writes any key.
    ///
    /// # Safety
    ///
    /// `guard` holds every key in `ids` in its mode until it is dropped.
    pub unsafe fn held_each<'a, G: Send + 'a>(
        &'a self,
        ids: Vec<(u32, Mode)>,
        guard: G,
    ) -> Held<'a> {
        Held::new(KeysHeld {
            cells: self,
            ids,
            _guard: guard,
        })
    }

    /// After the storm: the cell of hot key `id` counted the sections that
    /// the model counted for it.
    ///
    /// # Safety
    ///
    /// Nobody holds key `id` except the caller.
    pub unsafe fn assert_counted(&self, id: u32) {
        // SAFETY: the caller's promise.
        let cell = unsafe { &*self.cells[id as usize].get() };
        let model = self.model[id as usize].load(SeqCst);
        assert_eq!(
            cell.count() + cell.reads(),
            model,
            "key {id}: sections counted by the key != by the model"
        );
    }
}

/// Keys held by a guard, for a section over their cells.
struct KeysHeld<'a, G> {
    cells: &'a KeyCells,
    /// Each key, with the mode the guard holds it in.
    ids: Vec<(u32, Mode)>,
    /// Released after the section left every cell.
    _guard: G,
}

impl<G: Send> Hold for KeysHeld<'_, G> {
    fn mode(&self) -> Mode {
        if self.ids.iter().any(|(_, mode)| *mode == Mode::Exclusive) {
            Mode::Exclusive
        } else {
            Mode::Shared
        }
    }

    fn enter(&mut self) {
        for &(id, mode) in &self.ids {
            let Some(cell) = self.cells.cells.get(id as usize) else {
                continue;
            };
            self.cells.model[id as usize].fetch_add(1, Relaxed);
            match mode {
                // SAFETY: the guard holds `id` alone (the promise of `held`).
                Mode::Exclusive => unsafe { (*cell.get()).enter() },
                // SAFETY: the guard holds `id` beside other readers at most.
                Mode::Shared => unsafe { (*cell.get()).enter_shared() },
            }
        }
    }

    fn leave(&mut self) {
        for &(id, mode) in &self.ids {
            let Some(cell) = self.cells.cells.get(id as usize) else {
                continue;
            };
            match mode {
                // SAFETY: as in `enter`; the guard is dropped after this.
                Mode::Exclusive => unsafe { (*cell.get()).leave() },
                // SAFETY: as in `enter`.
                Mode::Shared => unsafe { (*cell.get()).leave_shared() },
            }
        }
    }
}

impl<K: StormKey> Subject for KeyedSubject<K> {
    fn counts(&self) -> &Counts {
        &self.keys.counts
    }

    fn acquire<'a>(&'a self, how: &How, rng: &mut Rng) -> Acquiring<'a> {
        let locks = &self.locks;
        let key: K = self.keys.key(rng);
        let id = key.id();
        match how.style {
            Style::Await => {
                let future = locks.lock(key);
                Box::pin(async move {
                    let guard = future.await;
                    assert_eq!(KeyGuard::key(&guard).id(), id, "a guard of another key");
                    // SAFETY: the guard holds the key `id`.
                    Some(unsafe { self.held(vec![id], guard) })
                })
            }
            Style::Owned => {
                let future = locks.lock_owned(key);
                Box::pin(async move {
                    let guard = future.await;
                    // SAFETY: the guard holds the key `id`.
                    Some(unsafe { self.held(vec![id], guard) })
                })
            }
            Style::Try => {
                let guard = locks.try_lock(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds the key `id`.
                    guard.map(|guard| unsafe { self.held(vec![id], guard) }),
                ))
            }
            Style::TryOwned => {
                let guard = locks.try_lock_owned(key);
                Box::pin(core::future::ready(
                    // SAFETY: the guard holds the key `id`.
                    guard.map(|guard| unsafe { self.held(vec![id], guard) }),
                ))
            }
            Style::Until(_) => {
                let future = locks.lock_until(key, how.deadline());
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds the key `id`.
                    Some(unsafe { self.held(vec![id], guard) })
                })
            }
            Style::Timeout => {
                let future = locks.lock_timeout(key, how.timeout);
                Box::pin(async move {
                    let guard = future.await.ok()?;
                    // SAFETY: the guard holds the key `id`.
                    Some(unsafe { self.held(vec![id], guard) })
                })
            }
            Style::WithLock => {
                let (plan, counts) = (how.plan, &self.keys.counts);
                Box::pin(async move {
                    locks
                        .with_lock(key, async || {
                            // SAFETY: `with_lock` holds the key `id` while
                            // this runs, and the section ends inside.
                            let held = unsafe { self.held(vec![id], ()) };
                            plan.hold(held, counts).await;
                        })
                        .await;
                    Some(Held::ran())
                })
            }
            Style::Many => {
                // Up to three keys at once, in any order, maybe repeated.
                let mut keys = vec![key];
                for _ in 0..rng.below(3) {
                    keys.push(self.keys.key(rng));
                }
                let future = locks.lock_many(keys);
                Box::pin(async move {
                    let guard = future.await;
                    let ids = ManyGuard::keys(&guard).map(StormKey::id).collect();
                    // SAFETY: the guard holds every key in `ids`.
                    Some(unsafe { self.held(ids, guard) })
                })
            }
            style => panic!("a KeyedLocks has no {style:?} acquisition"),
        }
    }

    fn acquire_blocking<'a>(&'a self, how: &How, rng: &mut Rng) -> Option<Held<'a>> {
        let key: K = self.keys.key(rng);
        let id = key.id();
        let guard = match how.style {
            Style::Blocking => self.locks.lock_blocking(key),
            Style::BlockingTimeout => self.locks.lock_blocking_timeout(key, how.timeout).ok()?,
            style => panic!("{style:?} is not a blocking acquisition"),
        };
        // SAFETY: the guard holds the key `id`.
        Some(unsafe { self.held(vec![id], guard) })
    }

    fn settle(&self, report: &Report) {
        let locks = &self.locks;
        let locked: Vec<u32> = (0..self.keys.hot)
            .filter(|id| locks.is_locked(id))
            .collect();
        assert_eq!(
            locks.len(),
            0,
            "entries left after the storm (hot keys locked: {locked:?}; {report:?})"
        );
        assert!(locks.is_empty());
        for id in 0..self.keys.hot {
            assert!(!locks.is_locked(&id), "key {id} is locked after the storm");
            let guard = locks
                .try_lock(K::plain(id, &self.keys.counts))
                .unwrap_or_else(|| panic!("key {id} cannot be taken after the storm"));
            // SAFETY: we hold the key, and the storm is over.
            unsafe { self.keys.cells.assert_counted(id) };
            // A waiter queued behind the holder is served on release, and
            // the entry goes with the last of them.
            let probe = Probe::new();
            let mut waiter = locks.lock(K::plain(id, &self.keys.counts));
            assert_pending(probe.poll(&mut waiter));
            drop(guard);
            drop(ready(probe.poll(&mut waiter)));
            drop(waiter);
            assert_eq!(locks.len(), 0, "key {id}: an entry was left behind");
        }
        assert!(locks.is_empty());
    }
}

/// A key that may panic on purpose in `Drop`, `Hash` or `Eq` (never while
/// its thread is already unwinding, which would abort).
pub struct Key {
    pub id: u32,
    hostile: Hostile,
    counts: Arc<Counts>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hostile {
    No,
    Drop,
    Hash,
    Eq,
}

impl StormKey for Key {
    fn plain(id: u32, counts: &Arc<Counts>) -> Self {
        Self {
            id,
            hostile: Hostile::No,
            counts: counts.clone(),
        }
    }

    fn drawn(id: u32, rng: &mut Rng, counts: &Arc<Counts>) -> Self {
        let hostile = match rng.below(60) {
            0 => Hostile::Drop,
            1 => Hostile::Hash,
            2 => Hostile::Eq,
            _ => Hostile::No,
        };
        Self {
            id,
            hostile,
            counts: counts.clone(),
        }
    }
}

impl Key {
    fn planned(&self, kind: Hostile) -> bool {
        self.hostile == kind && !thread::panicking()
    }
}

impl Clone for Key {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            hostile: self.hostile,
            counts: self.counts.clone(),
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.planned(Hostile::Drop) {
            Counts::bump(&self.counts.panics_drop);
            panic!("{PLANNED}: key {} panics on drop", self.id);
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        if self.planned(Hostile::Hash) {
            Counts::bump(&self.counts.panics_hash);
            panic!("{PLANNED}: key {} panics on hash", self.id);
        }
        // Exactly as `u32`, so that `is_locked(&id)` finds the key.
        self.id.hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        for key in [self, other] {
            if key.planned(Hostile::Eq) {
                Counts::bump(&key.counts.panics_eq);
                panic!("{PLANNED}: key {} panics on eq", key.id);
            }
        }
        self.id == other.id
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl Borrow<u32> for Key {
    fn borrow(&self) -> &u32 {
        &self.id
    }
}
