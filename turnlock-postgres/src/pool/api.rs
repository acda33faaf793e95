//! [`Pool`]: the public API of a pool of sessions.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::acquire;
use super::inner::Inner;
use super::status::Status;
use crate::error::Error;
use crate::guard::Guard;
use crate::key::LockKey;

/// Keyed locks shared by every process that talks to one PostgreSQL
/// database, on its session-level advisory locks.
///
/// A `Pool` is a cheap handle (an `Arc`): clone it into every task. It owns
/// a local [`KeyedLocks<i64>`](turnlock::KeyedLocks), where the callers of
/// one key in this process queue first, and a bounded set of database
/// sessions, opened on demand and kept until the pool and its guards are
/// gone. See the [crate docs](crate) for the whole picture.
///
/// ```no_run
/// use std::time::Duration;
/// use turnlock_postgres::Pool;
///
/// # futures_lite::future::block_on(async {
/// let pool = Pool::new("host=localhost user=app dbname=app")?;
/// let guard = pool.lock_timeout("invoice:2024-17", Duration::from_secs(5)).await?;
/// // ... only one process in the whole deployment runs this at a time ...
/// guard.release().await?;
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    pub(super) fn from_inner(inner: Arc<Inner>) -> Self {
        Pool { inner }
    }
}

impl Pool {
    /// The advisory lock id `key` stands for in this pool (string keys are
    /// hashed with the pool's namespace): the number to look for in
    /// `pg_locks` or to use from SQL.
    ///
    /// In `pg_locks` a key appears as `locktype = 'advisory'`,
    /// `objsubid = 1`, `classid` its upper and `objid` its lower 32 bits.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::new("host=db").unwrap();
    /// assert_eq!(pool.key_id(42), 42);
    /// assert_eq!(pool.key_id("user:42"), 7788164824035369410);
    /// ```
    pub fn key_id<'k>(&self, key: impl Into<LockKey<'k>>) -> i64 {
        key.into().id(self.inner.namespace.as_deref())
    }

    /// Locks `key` across every process on the database, waiting as long as
    /// it takes.
    ///
    /// Local callers of the key queue on the pool's `KeyedLocks` first;
    /// only the first of them talks to the database. The future can be
    /// dropped at any time: a wait on the server is then cancelled in the
    /// background, and a lock granted in the race is released.
    ///
    /// Fails with [`ErrorKind::Connect`] when no session can be opened,
    /// with [`ErrorKind::SessionLost`] when sessions keep dying under it.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let guard = pool.lock("report:daily").await?;
    /// // ... exclusive across all processes ...
    /// drop(guard); // released in the background; `release().await` reports errors
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn lock<'k>(&self, key: impl Into<LockKey<'k>>) -> Result<Guard, Error> {
        let id = self.key_id(key);
        acquire::lock(&self.inner, id).await.map(Guard::new)
    }

    /// Locks `key` if nobody holds it, here or in another process; never
    /// waits for a holder. `Ok(None)` means it is held.
    ///
    /// It still needs a round trip to the database (unless the key is held
    /// in this process, which it can tell at once).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// match pool.try_lock("cron:cleanup").await? {
    ///     Some(_guard) => { /* run the job */ }
    ///     None => { /* another replica runs it */ }
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn try_lock<'k>(&self, key: impl Into<LockKey<'k>>) -> Result<Option<Guard>, Error> {
        let id = self.key_id(key);
        let hold = acquire::try_lock(&self.inner, id).await?;
        Ok(hold.map(Guard::new))
    }

    /// Locks `key`, giving up when `deadline` (any future: a timer of your
    /// runtime, a shutdown signal) completes first; then fails with
    /// [`ErrorKind::TimedOut`], holding nothing and waiting nowhere.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let deadline = async_io::Timer::after(Duration::from_secs(2));
    /// let guard = pool.lock_until("account:7", deadline).await?;
    /// # drop(guard);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn lock_until<'k, D: Future>(
        &self,
        key: impl Into<LockKey<'k>>,
        deadline: D,
    ) -> Result<Guard, Error> {
        let id = self.key_id(key);
        futures_lite::future::or(
            async { acquire::lock(&self.inner, id).await.map(Guard::new) },
            async {
                deadline.await;
                Err(Error::timed_out(None))
            },
        )
        .await
    }

    /// Locks `key`, giving up after `timeout` with [`ErrorKind::TimedOut`].
    /// The clock starts at the call. Covers everything: opening a session,
    /// waiting for local and remote holders.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use turnlock_postgres::ErrorKind;
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// match pool.lock_timeout(17, Duration::from_millis(250)).await {
    ///     Ok(guard) => drop(guard),
    ///     Err(err) if err.kind() == ErrorKind::TimedOut => { /* busy: try later */ }
    ///     Err(err) => return Err(err),
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn lock_timeout<'k>(
        &self,
        key: impl Into<LockKey<'k>>,
        timeout: Duration,
    ) -> Result<Guard, Error> {
        let timer = match Instant::now().checked_add(timeout) {
            Some(at) => async_io::Timer::at(at),
            None => async_io::Timer::never(),
        };
        let id = self.key_id(key);
        futures_lite::future::or(
            async { acquire::lock(&self.inner, id).await.map(Guard::new) },
            async {
                timer.await;
                Err(Error::timed_out(Some(timeout)))
            },
        )
        .await
    }

    /// Runs `f` while holding `key`, then releases it and waits for the
    /// release. `f` gets the guard, for its [fencing
    /// token](Guard::fencing_token) or to watch for [loss](Guard::lost).
    ///
    /// Returns `f`'s result, or the error of the acquisition, or of the
    /// release: [`ErrorKind::SessionLost`] there means the lock was lost
    /// while `f` ran, and `f`'s result is dropped because what it did was
    /// not protected. A panic in `f` releases the lock.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let total = pool
    ///     .with_lock("ledger:eu", async |guard| {
    ///         let token = guard.fencing_token().await?;
    ///         // write to storage that rejects tokens older than the last one seen
    ///         Ok::<_, turnlock_postgres::Error>(token)
    ///     })
    ///     .await??;
    /// # let _ = total;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn with_lock<'k, R>(
        &self,
        key: impl Into<LockKey<'k>>,
        f: impl AsyncFnOnce(&mut Guard) -> R,
    ) -> Result<R, Error> {
        let mut guard = self.lock(key).await?;
        let result = f(&mut guard).await;
        guard.release().await?;
        Ok(result)
    }

    /// Whether `key` is held or waited for in this process (another process
    /// may hold it either way).
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::new("host=db").unwrap();
    /// assert!(!pool.is_locked_here("job"));
    /// ```
    pub fn is_locked_here<'k>(&self, key: impl Into<LockKey<'k>>) -> bool {
        self.inner.locks.is_locked(&self.key_id(key))
    }

    /// A snapshot of the pool's sessions and keys.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::new("host=db").unwrap();
    /// assert_eq!(pool.status().sessions, 0); // nothing opened yet
    /// ```
    pub fn status(&self) -> Status {
        Status::of(&self.inner.state())
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("endpoints", &self.inner.dialer.endpoints)
            .field("max_sessions", &self.inner.max_sessions)
            .field("namespace", &self.inner.namespace)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
