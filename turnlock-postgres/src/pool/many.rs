//! Several keys at once: all or none, in ascending order, so that callers
//! naming overlapping sets in any order never deadlock, here or across
//! processes.

use std::future::Future;
use std::time::Duration;

use super::acquire::{self, Progress};
use super::api::{Pool, timer_after};
use super::future::{Expiry, LockFuture, LockUntil, Start, Starter};
use crate::guard::Guard;
use crate::key::{LockId, LockKey};
use crate::many::ManyGuard;

impl Pool {
    /// Locks every key of `keys` across all processes: all of them or,
    /// on error or cancellation, none.
    ///
    /// The keys are taken one after the other in ascending [`LockId`]
    /// order, duplicates once, each coalesced locally like a single key.
    /// So two callers (in this process or any other) that name overlapping
    /// sets, in any order, never deadlock: taking keys one by one in the
    /// order each caller happens to name them is exactly the deadlock that
    /// PostgreSQL cannot see between two sessions of one pool. Dropping the
    /// future, or an error, releases what it had taken.
    ///
    /// A caller that already holds one of the keys waits for itself: take
    /// all the keys you need in one call.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// // Another process may name them as ["account:bob", "account:alice"].
    /// let both = pool.lock_many(["account:alice", "account:bob"]).await?;
    /// // ... move money between the two accounts ...
    /// both.release().await?;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_many<'k, K: Into<LockKey<'k>>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> LockFuture<'_, ManyGuard> {
        let ids = self.sorted_ids(keys);
        LockFuture::new(async move {
            let progress = Progress::without_deadline();
            let guards = take_all(self, &ids, Start::Wait, &progress).await?;
            Ok(ManyGuard::new(guards.unwrap_or_default()))
        })
    }

    /// [`lock_many`](Pool::lock_many), giving up when `deadline` completes
    /// first (see [`lock_until`](Pool::lock_until)): then nothing is held.
    /// A deadline that has completed by the first poll makes it a single
    /// try of every key: all of them if all are free right now.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let deadline = async_io::Timer::after(Duration::from_secs(2));
    /// let held = pool.lock_many_until([1, 2, 3], deadline).await?;
    /// # drop(held);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_many_until<'k, K: Into<LockKey<'k>>, D: Future>(
        &self,
        keys: impl IntoIterator<Item = K>,
        deadline: D,
    ) -> LockUntil<'_, D, ManyGuard> {
        let ids = self.sorted_ids(keys);
        let expiry = expiry_of(&ids, None);
        LockUntil::new(self.many_starter(ids), deadline, expiry)
    }

    /// [`lock_many`](Pool::lock_many), giving up after `timeout` (see
    /// [`lock_timeout`](Pool::lock_timeout); `Duration::ZERO` is a single
    /// try of every key).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let held = pool.lock_many_timeout(["a", "b"], Duration::from_secs(5)).await?;
    /// # drop(held);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_many_timeout<'k, K: Into<LockKey<'k>>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        timeout: Duration,
    ) -> LockFuture<'_, ManyGuard> {
        let ids = self.sorted_ids(keys);
        let expiry = expiry_of(&ids, Some(timeout));
        LockFuture::new(LockUntil::new(
            self.many_starter(ids),
            timer_after(timeout),
            expiry,
        ))
    }

    fn sorted_ids<'k, K: Into<LockKey<'k>>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Vec<LockId> {
        let mut ids: Vec<LockId> = keys.into_iter().map(|key| self.key_id(key)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn many_starter(&self, ids: Vec<LockId>) -> Starter<'_, ManyGuard> {
        Box::new(move |start, progress| {
            Box::pin(async move {
                let guards = take_all(self, &ids, start, &progress).await?;
                Ok(guards.map(ManyGuard::new))
            })
        })
    }
}

/// Takes `ids` (ascending, distinct) one after the other; `None` if a try
/// found one taken. What was taken is released when this returns early
/// or is dropped (each `Guard` releases its key).
async fn take_all(
    pool: &Pool,
    ids: &[LockId],
    start: Start,
    progress: &Progress,
) -> Result<Option<Vec<Guard>>, crate::Error> {
    let mut guards = Vec::with_capacity(ids.len());
    for &id in ids {
        let hold = match start {
            Start::Wait => acquire::lock(pool.inner(), id, progress).await?,
            Start::TryOnce => match acquire::try_lock(pool.inner(), id, progress).await? {
                Some(hold) => hold,
                None => return Ok(None),
            },
        };
        guards.push(Guard::new(hold));
    }
    Ok(Some(guards))
}

fn expiry_of(ids: &[LockId], timeout: Option<Duration>) -> Expiry {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Expiry {
        what: format!("locks {}", list.join(", ")),
        timeout,
    }
}
