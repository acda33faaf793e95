//! [`Pool`]: the public API of a pool of sessions.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::acquire::{self, Progress};
use super::future::{Expiry, LockFuture, LockUntil, Start, Starter};
use super::inner::Inner;
use super::open;
use super::status::Status;
use crate::error::Error;
use crate::guard::Guard;
use crate::key::{LockId, LockKey};

/// Keyed locks shared by every process that talks to one PostgreSQL
/// database, on its session-level advisory locks.
///
/// A `Pool` is a cheap handle (an `Arc`): clone it into every task. It owns
/// a local [`KeyedRwLocks<LockId>`](turnlock::KeyedRwLocks), where the callers of
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

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.inner
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
    pub fn key_id<'k>(&self, key: impl Into<LockKey<'k>>) -> LockId {
        key.into().id(self.inner.namespace.as_deref())
    }

    /// Locks `key` across every process on the database, waiting as long as
    /// it takes.
    ///
    /// Local callers of the key queue on the pool's `KeyedRwLocks` first;
    /// only the first of them talks to the database. The future can be
    /// dropped at any time: a wait on the server is then cancelled in the
    /// background, and a lock granted in the race is released.
    ///
    /// Fails with [`ErrorKind::Connect`](crate::ErrorKind::Connect) when no session can be opened,
    /// with [`ErrorKind::SessionLost`](crate::ErrorKind::SessionLost) when sessions keep dying under it.
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
    pub fn lock<'k>(&self, key: impl Into<LockKey<'k>>) -> LockFuture<'_> {
        let id = self.key_id(key);
        LockFuture::new(async move {
            let progress = Progress::without_deadline();
            let hold = acquire::lock(&self.inner, id, &progress).await?;
            Ok(Guard::new(hold))
        })
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
    pub fn try_lock<'k>(&self, key: impl Into<LockKey<'k>>) -> LockFuture<'_, Option<Guard>> {
        let id = self.key_id(key);
        LockFuture::new(async move {
            let progress = Progress::without_deadline();
            let hold = acquire::try_lock(&self.inner, id, &progress).await?;
            Ok(hold.map(Guard::new))
        })
    }

    /// Locks `key`, giving up when `deadline` (any future: a timer of your
    /// runtime, a shutdown signal) completes first; then fails with
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut), holding nothing and waiting nowhere.
    ///
    /// A deadline that has completed already when the future is first
    /// polled makes this a single try: the lock if it is free right now,
    /// `TimedOut` if it is taken. Until the deadline, a transient failure
    /// to open a session (the server restarting, refusing connections for
    /// a moment, or full) is tried again with a growing pause, up to 1 s;
    /// the `TimedOut` error then says why no session could be opened.
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
    pub fn lock_until<'k, D: Future>(
        &self,
        key: impl Into<LockKey<'k>>,
        deadline: D,
    ) -> LockUntil<'_, D> {
        let id = self.key_id(key);
        LockUntil::new(self.starter(id), deadline, Expiry::of(id, None))
    }

    /// Locks `key`, giving up after `timeout` with [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut).
    /// The clock starts at the call. Covers everything: opening a session,
    /// waiting for local and remote holders.
    ///
    /// `Duration::ZERO` (or a timeout that has passed by the first poll)
    /// means "only if it is free right now": one try, as
    /// [`try_lock`](Pool::try_lock), with `TimedOut` instead of `None`.
    /// Transient failures to open a session are tried again until the
    /// timeout, as for [`lock_until`](Pool::lock_until).
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
    pub fn lock_timeout<'k>(
        &self,
        key: impl Into<LockKey<'k>>,
        timeout: Duration,
    ) -> LockFuture<'_> {
        let id = self.key_id(key);
        let timer = timer_after(timeout);
        LockFuture::new(LockUntil::new(
            self.starter(id),
            timer,
            Expiry::of(id, Some(timeout)),
        ))
    }

    /// How an acquisition of `id` with a deadline starts.
    fn starter(&self, id: LockId) -> Starter<'_, Guard> {
        Box::new(move |start, progress| {
            Box::pin(async move {
                let hold = match start {
                    Start::Wait => Some(acquire::lock(&self.inner, id, &progress).await?),
                    Start::TryOnce => acquire::try_lock(&self.inner, id, &progress).await?,
                };
                Ok(hold.map(Guard::new))
            })
        })
    }

    /// Runs `f` while holding `key`, then releases it and waits for the
    /// release. `f` gets the guard, for its [fencing
    /// token](Guard::fencing_token) or to watch for [loss](Guard::lost).
    ///
    /// Returns `f`'s result, or the error of the acquisition, or of the
    /// release: [`ErrorKind::SessionLost`](crate::ErrorKind::SessionLost) there means the lock was lost
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

    /// Opens a session now unless the pool has one open, and waits until it
    /// is open: a wrong connection string, wrong credentials or an
    /// unreachable server show up here, at start-up, rather than at the
    /// first lock. The session stays in the pool for the acquisitions that
    /// follow. Fails as an acquisition that cannot open a session does
    /// ([`ErrorKind::Connect`](crate::ErrorKind::Connect), within the
    /// connect timeout), without trying again.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// pool.connect().await?; // fail fast at start-up
    /// assert_eq!(pool.status().sessions, 1);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(&self) -> Result<(), Error> {
        open::ensure_session(&self.inner).await
    }

    /// Waits until the pool is [idle](Status::is_idle): nothing held,
    /// waited for, released, in flight or being opened. Guards still held
    /// keep it waiting, so drop them first.
    ///
    /// The pool finishes some work in the background after its callers are
    /// done: the release of a guard that was dropped rather than
    /// [released](Guard::release), the cancel request of a wait that timed
    /// out or was dropped, a session opened for a caller that gave up. A
    /// process that exits with such work in flight leaves it to the server
    /// (closing its connections releases its locks), which is safe; but a
    /// cancel request cut off halfway makes PgBouncer 1.18 exit ("bad
    /// client state", see "Behind a connection pooler" in the crate docs).
    /// Await this before a process exits to let that work finish.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let _ = pool.lock_timeout("job", std::time::Duration::from_millis(10)).await;
    /// // The guard's release (dropped at once) or the timed-out wait's
    /// // cancel request has gone through:
    /// pool.idle().await;
    /// assert!(pool.status().is_idle());
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn idle(&self) {
        loop {
            // Listening before looking: a change after the look is not
            // missed.
            let changed = self.inner.changed.listen();
            if self.status().is_idle() {
                return;
            }
            // The books notify on the changes that end work; the timer
            // bounds the wait should one come without a notification.
            futures_lite::future::or(changed, async {
                async_io::Timer::after(Duration::from_millis(50)).await;
            })
            .await;
        }
    }

    /// The process ids of the pool's open sessions on the server, as in
    /// `pg_stat_activity.pid` and `pg_locks.pid`: to see the pool's sessions
    /// and locks from SQL.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let guard = pool.lock("report").await?;
    /// let pids = pool.backend_pids();
    /// assert!(pids.contains(&guard.backend_pid()));
    /// // SELECT * FROM pg_locks WHERE locktype = 'advisory' AND pid = ANY($1)
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn backend_pids(&self) -> Vec<i32> {
        self.inner
            .state()
            .sessions
            .iter()
            .filter(|entry| !entry.session.is_lost())
            .map(|entry| entry.session.backend_pid)
            .collect()
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

/// A timer for `timeout` from now (one that never fires when the instant
/// would overflow).
pub(super) fn timer_after(timeout: Duration) -> async_io::Timer {
    match Instant::now().checked_add(timeout) {
        Some(at) => async_io::Timer::at(at),
        None => async_io::Timer::never(),
    }
}
