//! Scenario 5: per-key locks. 64 tasks on 2 threads lock pseudo-random keys
//! out of 4 096 (little contention per key) or out of 8 (much), with a short
//! critical section. turnlock's `KeyedLocks` (both policies) against
//! `lockable::LockPool` and a hand-written map of `async_lock` mutexes that
//! removes entries when unused ([`MapLocks`]).
//!
//! The median divided by the group's throughput is the time per critical
//! section, as in `contended.rs`.

mod common;

use core::future::Future;
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use common::{Keys, Pool};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

const TASKS: u64 = 64;
const THREADS: usize = 2;
const PER_TASK: u64 = 256;

/// Per-key async locks, as every implementation under test offers them.
trait BenchKeyed: Send + Sync + 'static {
    /// Holds the lock of one key.
    type Guard<'a>: Send
    where
        Self: 'a;

    /// Locks `key`.
    fn acquire(&self, key: u64) -> impl Future<Output = Self::Guard<'_>> + Send;

    /// `true` when no key has an entry (nobody holds or waits).
    fn is_idle(&self) -> bool;
}

#[cfg(feature = "keyed")]
impl BenchKeyed for turnlock::KeyedLocks<u64> {
    type Guard<'a> = turnlock::KeyGuard<'a, u64>;

    #[inline]
    fn acquire(&self, key: u64) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock(key)
    }

    fn is_idle(&self) -> bool {
        self.is_empty()
    }
}

impl BenchKeyed for lockable::LockPool<u64> {
    type Guard<'a> = <Self as lockable::Lockable<u64, ()>>::Guard<'a>;

    #[inline]
    fn acquire(&self, key: u64) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.async_lock(key)
    }

    fn is_idle(&self) -> bool {
        self.num_locked() == 0
    }
}

/// Per-key locks the straightforward way: a `std` mutex around a map from
/// key to a shared `async_lock` mutex. An entry is created by the first
/// claim on its key and removed by the last one to leave, holder or waiter.
struct MapLocks {
    map: Mutex<HashMap<u64, Arc<async_lock::Mutex<()>>>>,
}

/// One claim on a key's entry: a clone of its `Arc`, made under the map lock.
struct Claim<'a> {
    locks: &'a MapLocks,
    key: u64,
    /// `Some` until dropped.
    mutex: Option<Arc<async_lock::Mutex<()>>>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drop(self.mutex.take());
        // Every clone is made while the map is locked, so while we hold it
        // the count can only fall: if the map's own reference is the last
        // one, nobody holds or waits for the key and the entry can go.
        if map
            .get(&self.key)
            .is_some_and(|mutex| Arc::strong_count(mutex) == 1)
        {
            map.remove(&self.key);
        }
    }
}

/// Holds a key of a [`MapLocks`]. Fields drop in order: the mutex is
/// released before the claim leaves.
struct MapGuard<'a> {
    _guard: async_lock::MutexGuardArc<()>,
    _claim: Claim<'a>,
}

impl MapLocks {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Locks `key`; dropping the future before it completes leaves the map
    /// as it was (the claim removes the entry if it was the last one).
    async fn lock(&self, key: u64) -> MapGuard<'_> {
        let mutex = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| Arc::new(async_lock::Mutex::new(())))
            .clone();
        let claim = Claim {
            locks: self,
            key,
            mutex: Some(mutex),
        };
        let guard = claim.mutex.as_ref().expect("claimed").lock_arc().await;
        MapGuard {
            _guard: guard,
            _claim: claim,
        }
    }
}

impl BenchKeyed for MapLocks {
    type Guard<'a> = MapGuard<'a>;

    #[inline]
    fn acquire(&self, key: u64) -> impl Future<Output = Self::Guard<'_>> + Send {
        self.lock(key)
    }

    fn is_idle(&self) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// Something to do with each implementation, see [`each_keyed`].
trait VisitKeyed {
    fn visit<L: BenchKeyed>(&mut self, name: &'static str, make: fn() -> L);
}

fn each_keyed(visitor: &mut impl VisitKeyed) {
    #[cfg(feature = "keyed")]
    {
        visitor.visit(common::TURNLOCK_NEW, turnlock::KeyedLocks::new);
        visitor.visit(common::TURNLOCK_FIFO, turnlock::KeyedLocks::new_fifo);
    }
    visitor.visit("lockable", lockable::LockPool::new);
    visitor.visit("hashmap-async-lock", MapLocks::new);
}

/// One iteration: every task takes `PER_TASK` keys below `keys` and bumps
/// the key's counter with a plain load and store, which loses updates if
/// two tasks ever hold the same key at once.
fn run<L: BenchKeyed>(pool: &Pool, locks: &Arc<L>, keys: u64) -> Duration {
    let counters: Arc<Vec<AtomicU64>> = Arc::new((0..keys).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    pool.run_all((0..TASKS).map(|task| {
        let (locks, counters) = (locks.clone(), counters.clone());
        async move {
            let mut sequence = Keys::new(task);
            for _ in 0..PER_TASK {
                let key = sequence.next_below(keys);
                let _guard = locks.acquire(key).await;
                let counter = &counters[key as usize];
                counter.store(counter.load(Relaxed) + 1, Relaxed);
            }
        }
    }));
    let elapsed = start.elapsed();
    let total: u64 = counters.iter().map(|counter| counter.load(Relaxed)).sum();
    assert_eq!(total, TASKS * PER_TASK, "lost an update");
    assert!(locks.is_idle(), "an entry outlived its last holder");
    elapsed
}

fn keyed(c: &mut Criterion) {
    struct Bench<'a, 'b> {
        group: &'a mut BenchmarkGroup<'b, WallTime>,
        pool: &'a Pool,
        keys: u64,
    }

    impl VisitKeyed for Bench<'_, '_> {
        fn visit<L: BenchKeyed>(&mut self, name: &'static str, make: fn() -> L) {
            let locks = Arc::new(make());
            let (pool, keys) = (self.pool, self.keys);
            self.group.bench_function(name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(pool, &locks, keys)).sum());
            });
        }
    }

    let pool = Pool::new(THREADS);
    for keys in [4096, 8] {
        let mut group = c.benchmark_group(format!("keyed-{keys}-keys"));
        group
            .throughput(Throughput::Elements(TASKS * PER_TASK))
            .sampling_mode(SamplingMode::Flat);
        if !common::quick() {
            group.sample_size(30);
        }
        each_keyed(&mut Bench {
            group: &mut group,
            pool: &pool,
            keys,
        });
        group.finish();
    }
}

fn main() {
    let mut criterion = common::criterion().configure_from_args();
    keyed(&mut criterion);
    criterion.final_summary();
}
