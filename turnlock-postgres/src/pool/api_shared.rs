//! The shared (reader) methods of [`Pool`].

use std::future::Future;
use std::time::Duration;

use super::acquire::Progress;
use super::api::{Pool, timer_after};
use super::future::{Expiry, LockFuture, LockUntil, Start, Starter};
use super::shared;
use crate::guard::Guard;
use crate::key::{LockId, LockKey};

impl Pool {
    /// Locks `key` **shared** across every process on the database: any
    /// number of shared holders at once, here and in other processes, but
    /// never beside an exclusive holder ([`lock`](Pool::lock)), which
    /// waits for all of them (PostgreSQL's `pg_advisory_lock_shared`).
    ///
    /// Readers of one key in this process share one remote shared lock:
    /// the first takes it (one round trip), the next ones join it with no
    /// round trip at all. When its last reader lets go, it stays for the
    /// next local reader while other local callers of the key wait (and it
    /// may still be joined), and is given back otherwise; a local writer
    /// gives it back before it takes the key. A local writer
    /// waits for the local readers, and local readers for a local writer,
    /// in the order of the pool's policy ([`Builder::fifo`](crate::Builder::fifo)).
    /// After [`max_local_handoffs`](crate::Builder::max_local_handoffs)
    /// readers have joined one remote shared lock, the next reader asks the
    /// server (one round trip) whether a session of any process waits for
    /// the key. If one does, later readers take another shared lock, on
    /// another session, which PostgreSQL queues behind that writer while
    /// the full one drains: a stream of readers here never starves a
    /// writer there (which waits for at most two rounds of joins). If none
    /// does, the same lock takes joins again, so a stream of readers keeps
    /// one session.
    ///
    /// The guard is a [`Guard`] for which [`Guard::is_shared`] is true; it
    /// is released, lost and fenced as an exclusive one (a reader's
    /// [fencing token](Guard::fencing_token) is the last writer's).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let schema = pool.lock_shared("schema").await?; // beside other readers
    /// // ... read what a migration (holding "schema" exclusively) rewrites ...
    /// schema.release().await?;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_shared<'k>(&self, key: impl Into<LockKey<'k>>) -> LockFuture<'_> {
        let id = self.key_id(key);
        LockFuture::new(async move {
            let progress = Progress::without_deadline();
            let hold = shared::lock_shared(self.inner(), id, &progress).await?;
            Ok(Guard::new(hold))
        })
    }

    /// Locks `key` shared if no process holds it exclusively; never waits
    /// for a holder. `Ok(None)` means a writer holds it (or another reader
    /// of this process is still taking it).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// if let Some(_cache) = pool.try_lock_shared("cache:eu").await? {
    ///     // ... serve from the cache while nobody rebuilds it ...
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn try_lock_shared<'k>(
        &self,
        key: impl Into<LockKey<'k>>,
    ) -> LockFuture<'_, Option<Guard>> {
        let id = self.key_id(key);
        LockFuture::new(async move {
            let progress = Progress::without_deadline();
            let hold = shared::try_lock_shared(self.inner(), id, &progress).await?;
            Ok(hold.map(Guard::new))
        })
    }

    /// [`lock_shared`](Pool::lock_shared), giving up when `deadline`
    /// completes first (see [`lock_until`](Pool::lock_until)).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let deadline = async_io::Timer::after(Duration::from_secs(2));
    /// let reading = pool.lock_shared_until("report:7", deadline).await?;
    /// # drop(reading);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_shared_until<'k, D: Future>(
        &self,
        key: impl Into<LockKey<'k>>,
        deadline: D,
    ) -> LockUntil<'_, D> {
        let id = self.key_id(key);
        LockUntil::new(self.shared_starter(id), deadline, Expiry::of(id, None))
    }

    /// [`lock_shared`](Pool::lock_shared), giving up after `timeout` (see
    /// [`lock_timeout`](Pool::lock_timeout); `Duration::ZERO` is one try).
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let reading = pool.lock_shared_timeout(7, Duration::from_millis(250)).await?;
    /// # drop(reading);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lock_shared_timeout<'k>(
        &self,
        key: impl Into<LockKey<'k>>,
        timeout: Duration,
    ) -> LockFuture<'_> {
        let id = self.key_id(key);
        LockFuture::new(LockUntil::new(
            self.shared_starter(id),
            timer_after(timeout),
            Expiry::of(id, Some(timeout)),
        ))
    }

    /// How a shared acquisition of `id` with a deadline starts.
    fn shared_starter(&self, id: LockId) -> Starter<'_, Guard> {
        Box::new(move |start, progress| {
            Box::pin(async move {
                let hold = match start {
                    Start::Wait => Some(shared::lock_shared(self.inner(), id, &progress).await?),
                    Start::TryOnce => shared::try_lock_shared(self.inner(), id, &progress).await?,
                };
                Ok(hold.map(Guard::new))
            })
        })
    }
}
