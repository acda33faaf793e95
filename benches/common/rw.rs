//! The reader-writer locks under test, behind one trait: turnlock's two
//! policies, async-lock's and tokio's `RwLock`, and (for the executor's
//! share of a single-thread run) a no-op lock.

use core::cell::UnsafeCell;
use core::future::Future;
use core::ops::{Deref, DerefMut};

/// An async reader-writer lock around a `u64`, as each implementation
/// offers it.
pub trait BenchRwLock: Send + Sync + 'static {
    /// The guard of a read.
    type Read<'a>: Deref<Target = u64> + Send
    where
        Self: 'a;
    /// The guard of a write.
    type Write<'a>: DerefMut<Target = u64> + Send
    where
        Self: 'a;

    /// Acquires a read.
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send;

    /// Acquires the write.
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send;
}

impl BenchRwLock for turnlock::RwLock<u64> {
    type Read<'a> = turnlock::ReadGuard<'a, u64>;
    type Write<'a> = turnlock::WriteGuard<'a, u64>;

    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send {
        turnlock::RwLock::read(self)
    }

    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send {
        turnlock::RwLock::write(self)
    }
}

impl BenchRwLock for async_lock::RwLock<u64> {
    type Read<'a> = async_lock::RwLockReadGuard<'a, u64>;
    type Write<'a> = async_lock::RwLockWriteGuard<'a, u64>;

    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send {
        async_lock::RwLock::read(self)
    }

    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send {
        async_lock::RwLock::write(self)
    }
}

impl BenchRwLock for tokio::sync::RwLock<u64> {
    type Read<'a> = tokio::sync::RwLockReadGuard<'a, u64>;
    type Write<'a> = tokio::sync::RwLockWriteGuard<'a, u64>;

    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send {
        tokio::sync::RwLock::read(self)
    }

    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send {
        tokio::sync::RwLock::write(self)
    }
}

/// A reader-writer lock that never waits and excludes nobody: the
/// executor's share of a section. Only for single-thread runs.
#[derive(Default)]
pub struct NoopRw(UnsafeCell<u64>);

// SAFETY: only the single-thread scenario uses it, where no two threads ever
// touch the value; `Sync` only satisfies `BenchRwLock`'s bound.
unsafe impl Sync for NoopRw {}

/// A guard of [`NoopRw`].
pub struct NoopRwGuard<'a>(&'a NoopRw);

impl Deref for NoopRwGuard<'_> {
    type Target = u64;

    fn deref(&self) -> &u64 {
        // SAFETY: single-thread use only (see `NoopRw`), and no `&mut` into
        // the value outlives one `deref_mut` call.
        unsafe { &*self.0.0.get() }
    }
}

impl DerefMut for NoopRwGuard<'_> {
    fn deref_mut(&mut self) -> &mut u64 {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.0.0.get() }
    }
}

impl BenchRwLock for NoopRw {
    type Read<'a> = NoopRwGuard<'a>;
    type Write<'a> = NoopRwGuard<'a>;

    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send {
        core::future::ready(NoopRwGuard(self))
    }

    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send {
        core::future::ready(NoopRwGuard(self))
    }
}

/// Something to do with each implementation, see [`each_rwlock`].
pub trait VisitRw {
    /// Called once per implementation with its report name and constructor.
    fn visit<L: BenchRwLock>(&mut self, name: &'static str, make: fn() -> L);
}

/// Report name of the no-op lock.
pub const NOOP_RW: &str = "noop";

/// Calls `visitor` for turnlock (both policies) and the peers, always in
/// the same order; with `noop`, the no-op lock last.
pub fn each_rwlock(visitor: &mut impl VisitRw, noop: bool) {
    visitor.visit(super::TURNLOCK_NEW, || turnlock::RwLock::new(0));
    visitor.visit(super::TURNLOCK_FIFO, || turnlock::RwLock::new_fifo(0));
    visitor.visit("async-lock", || async_lock::RwLock::new(0));
    visitor.visit("tokio", || tokio::sync::RwLock::new(0));
    if noop {
        visitor.visit(NOOP_RW, NoopRw::default);
    }
}

/// One task of the read-mostly mix: `sections` sections, one in ten a
/// write (at a place that depends on `task`, so that writes spread over
/// the tasks), each holding the lock across one `yield_now().await` when
/// `hold` is set.
pub async fn read_mostly<L: BenchRwLock>(lock: &L, task: usize, sections: u64, hold: bool) {
    for section in 0..sections {
        if (task as u64 + section) % 10 == 0 {
            let mut guard = lock.write().await;
            *guard += 1;
            if hold {
                futures_lite::future::yield_now().await;
            }
            drop(guard);
        } else {
            let guard = lock.read().await;
            core::hint::black_box(*guard);
            if hold {
                futures_lite::future::yield_now().await;
            }
            drop(guard);
        }
    }
}
