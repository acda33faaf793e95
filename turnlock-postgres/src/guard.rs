//! [`Guard`]: a held key, and [`Lost`], the future that says it is gone.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::conn::{Access, Liveness, Session};
use crate::error::{Error, ErrorKind, is_session_gone};
use crate::key::LockId;
use crate::pool::Hold;

/// A key held across all processes on the database.
///
/// Dropping the guard releases the key: at once for the next local waiter,
/// in the background for other processes (the release goes out when the
/// session's connection task next runs; a local caller that asks for the
/// key before then takes the lock over, within
/// [`max_local_handoffs`](crate::Builder::max_local_handoffs)).
/// [`release`](Guard::release) sends the release at once and reports how
/// it went. While held, [`lost`](Guard::lost)
/// completes if PostgreSQL drops the session that holds the lock, and
/// [`fencing_token`](Guard::fencing_token) gives a number that grows with
/// every acquisition of the key.
///
/// ```no_run
/// # futures_lite::future::block_on(async {
/// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
/// let guard = pool.lock("user:42").await?;
/// assert_eq!(guard.key(), pool.key_id("user:42"));
/// guard.release().await?;
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "if unused the key is released at once"]
pub struct Guard {
    /// `None` once released by [`Guard::release`].
    hold: Option<Hold>,
    /// What [`Guard::key`], [`Guard::lost`] and friends answer, also after
    /// the hold is gone.
    id: LockId,
    session: Arc<Session>,
    access: Access,
    token: Option<i64>,
}

impl Guard {
    pub(crate) fn new(hold: Hold) -> Self {
        Guard {
            id: hold.id(),
            session: hold.session().clone(),
            access: hold.access(),
            hold: Some(hold),
            token: None,
        }
    }

    /// Whether the key is held shared ([`Pool::lock_shared`](crate::Pool::lock_shared)
    /// and friends) rather than exclusively.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// assert!(pool.lock_shared(3).await?.is_shared());
    /// assert!(!pool.lock(4).await?.is_shared());
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_shared(&self) -> bool {
        self.access == Access::Shared
    }

    /// The advisory lock id held (see [`Pool::key_id`](crate::Pool::key_id)).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let guard = pool.lock(99).await?;
    /// assert_eq!(guard.key(), 99);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn key(&self) -> LockId {
        self.id
    }

    /// The process id of the PostgreSQL backend whose session holds the
    /// lock, as in `pg_locks.pid` and `pg_stat_activity.pid`.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let guard = pool.lock(99).await?;
    /// println!("held by backend {}", guard.backend_pid());
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn backend_pid(&self) -> i32 {
        self.session.backend_pid
    }

    /// A future that completes when the lock can no longer be trusted: the
    /// session that holds it has ended (the server terminated it, restarted,
    /// or the connection broke), so PostgreSQL has released the lock and
    /// another process may hold it now. It never completes while the lock
    /// is held.
    ///
    /// It owns what it needs (`'static`), so it can be raced against the
    /// work, or moved into another task.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// # async fn long_job() {}
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let guard = pool.lock("migration").await?;
    /// let finished = futures_lite::future::or(
    ///     async { long_job().await; true },
    ///     async { guard.lost().await; false },
    /// )
    /// .await;
    /// if !finished {
    ///     eprintln!("lost the lock: stopped the job");
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lost(&self) -> Lost {
        Lost::of(vec![self.session.liveness.clone()])
    }

    pub(crate) fn liveness(&self) -> Arc<Liveness> {
        self.session.liveness.clone()
    }

    /// Whether the lock has been lost (see [`lost`](Guard::lost)).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let guard = pool.lock(5).await?;
    /// assert!(!guard.is_lost());
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_lost(&self) -> bool {
        self.session.is_lost()
    }

    /// A fencing token for this acquisition: a number that grows with every
    /// acquisition of the key (by any process) that asks for one.
    ///
    /// A lock that can be lost without its holder noticing in time (a long
    /// pause, a partition) is only safe with fencing: pass the token along
    /// with every write the lock protects, and have the storage refuse a
    /// write whose token is lower than one it has already seen for the key.
    /// A holder that lost the lock then fails instead of overwriting its
    /// successor's work.
    ///
    /// The token comes from a row per key in the pool's fencing table
    /// (created on first use: `key bigint primary key, token bigint`),
    /// incremented on the session that holds the lock, so it is taken under
    /// the lock and durable once committed. The first call makes one round
    /// trip; later calls on the same guard return the same number. Fails
    /// with [`ErrorKind::SessionLost`] if the lock is already lost.
    ///
    /// A **shared** holder writes nothing, so it takes no new token: its
    /// token is the last one a writer took for the key (0 if none did),
    /// read under its shared lock. Storage can use it to tell which
    /// writer's state the reader saw, for instance to refuse to cache a
    /// result older than what it has.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// # let db = tokio_postgres::Config::new();
    /// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
    /// let mut guard = pool.lock("report:7").await?;
    /// let token = guard.fencing_token().await?;
    /// // UPDATE reports SET body = $1, token = $2 WHERE id = 7 AND token < $2
    /// // affects no row if a later holder has written already.
    /// # let _ = token;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn fencing_token(&mut self) -> Result<i64, Error> {
        if let Some(token) = self.token {
            return Ok(token);
        }
        if self.session.is_lost() {
            return Err(Error::session_lost(self.id, self.session.backend_pid, None));
        }
        let hold = self.hold.as_ref().expect("held until released");
        let fencing = &hold.inner().fencing;
        let client = self.session.client();
        let token = match self.access {
            Access::Exclusive => fencing.next_token(client, self.id).await,
            Access::Shared => fencing.last_token(client, self.id).await,
        }
        .map_err(|(what, err)| self.query_error(what, err))?;
        self.token = Some(token);
        Ok(token)
    }

    fn query_error(&self, what: &str, err: tokio_postgres::Error) -> Error {
        if is_session_gone(&err) || self.session.is_lost() {
            Error::session_lost(self.id, self.session.backend_pid, Some(err))
        } else {
            Error::new(ErrorKind::Query, what).with_source(err)
        }
    }

    /// Releases the key and reports how it went.
    ///
    /// `Ok(())`: the lock was held to the end, and is now released (or
    /// passed straight to the next local waiter). [`ErrorKind::SessionLost`]:
    /// it had been lost before this call, so whatever was done under it was
    /// not protected. [`ErrorKind::Query`]: the release statement failed on
    /// a live session. Dropping this future does not undo the release.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let guard = pool.lock("nightly").await?;
    /// // ... work ...
    /// if let Err(err) = guard.release().await {
    ///     eprintln!("the work ran without the lock: {err}");
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn release(mut self) -> Result<(), Error> {
        match self.hold.take() {
            Some(hold) => hold.release().await,
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("key", &self.id)
            .field("backend_pid", &self.session.backend_pid)
            .field("shared", &self.is_shared())
            .field("lost", &self.is_lost())
            .finish_non_exhaustive()
    }
}

/// The future of [`Guard::lost`]: completes when the session holding the
/// lock is gone.
///
/// ```no_run
/// # futures_lite::future::block_on(async {
/// let pool = turnlock_postgres::Pool::new("host=localhost")?;
/// let guard = pool.lock(1).await?;
/// let lost: turnlock_postgres::Lost = guard.lost();
/// # drop(lost);
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Lost {
    /// The sessions of the lock (or locks, for a `ManyGuard`): it completes
    /// when any of them is gone.
    sessions: Vec<Arc<Liveness>>,
    wait: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Lost {
    pub(crate) fn of(sessions: Vec<Arc<Liveness>>) -> Self {
        Lost {
            sessions,
            wait: None,
        }
    }

    fn any_lost(&self) -> bool {
        self.sessions.iter().any(|session| session.is_lost())
    }
}

impl Future for Lost {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.any_lost() {
            return Poll::Ready(());
        }
        let sessions = self.sessions.clone();
        self.wait
            .get_or_insert_with(|| {
                Box::pin(async move {
                    loop {
                        let mut listeners: Vec<_> =
                            sessions.iter().map(|session| session.listen()).collect();
                        // Listening first, then looking: no loss is missed.
                        if sessions.iter().any(|session| session.is_lost()) {
                            return;
                        }
                        std::future::poll_fn(|cx| {
                            let woken = listeners
                                .iter_mut()
                                .any(|listener| Pin::new(listener).poll(cx).is_ready());
                            if woken {
                                Poll::Ready(())
                            } else {
                                Poll::Pending
                            }
                        })
                        .await;
                    }
                })
            })
            .as_mut()
            .poll(cx)
    }
}

impl fmt::Debug for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lost")
            .field("lost", &self.any_lost())
            .finish()
    }
}
