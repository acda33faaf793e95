//! [`Pool`]: the keyed-lock API over a bounded set of database sessions.
//!
//! # Bookkeeping
//!
//! One `std` mutex guards the pool's [`State`]: the sessions (each a
//! [`Slot`]: the keys it holds, how many short statements
//! are in flight on it, whether it is blocked in a wait) and, per key with
//! local interest, how many local callers want it and whether a remote lock
//! is *parked* for the next of them. The mutex is never held across an
//! `.await`.
//!
//! A session is in one of two modes. **Shared**: any number of short
//! statements (`pg_try_advisory_lock`, `pg_advisory_unlock`, the fencing
//! update) run on it, pipelined; it may hold any number of locks. **Waiting**:
//! it runs one `pg_advisory_lock` that blocks until another process lets
//! go, and nothing else may queue behind it (a release queued there would
//! wait for a stranger). Only a session that holds nothing and runs nothing
//! becomes Waiting, so no holder's release ever waits for a remote holder.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener};
use turnlock::KeyedLocks;

use crate::connect::{
    BoxFuture, ConnectorFn, Endpoint, SpawnFn, Stream, default_connector, default_spawner, timeout,
};
use crate::error::{Error, ErrorKind, is_cancelled, is_session_gone};
use crate::guard::{Guard, Release};
use crate::key::LockKey;
use crate::session::Session;

/// Attempts on a fresh session after the one in use turned out to be gone.
const SESSION_RETRIES: usize = 3;
/// Statements queued on one shared session before a new one is opened.
const PIPELINE: usize = 4;
/// Polling interval bounds when every session is busy waiting.
const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

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

/// Settings for a [`Pool`]: `Pool::builder(connection_string)`, then any of
/// these, then [`build`](Builder::build).
///
/// ```
/// use std::time::Duration;
/// use turnlock_postgres::Pool;
///
/// let pool = Pool::builder("postgresql://app@db.internal/app")
///     .max_sessions(4)
///     .namespace("billing")
///     .fifo()
///     .connect_timeout(Duration::from_secs(3))
///     .build()
///     .unwrap();
/// assert_eq!(pool.key_id("user:42"), 1659354476491683446);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    config: Result<tokio_postgres::Config, Error>,
    max_sessions: usize,
    namespace: Option<String>,
    fifo: bool,
    max_local_handoffs: u32,
    connect_timeout: Option<Duration>,
    spawner: Option<Arc<SpawnFn>>,
    connector: Option<Arc<ConnectorFn>>,
    fencing_table: String,
}

/// A snapshot of a pool's sessions and keys, from [`Pool::status`].
///
/// When nothing is held or being acquired, `waiting`, `busy`, `held` and
/// `keys` are all 0: every session is back and idle.
///
/// ```
/// let pool = turnlock_postgres::Pool::new("host=localhost").unwrap();
/// let status = pool.status();
/// assert_eq!((status.sessions, status.held, status.keys), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Status {
    /// Open sessions (database connections).
    pub sessions: usize,
    /// Sessions being opened.
    pub connecting: usize,
    /// Sessions blocked in `pg_advisory_lock`, waiting for another process
    /// (or being cancelled after their waiter gave up).
    pub waiting: usize,
    /// Short statements in flight (tries, releases).
    pub busy: usize,
    /// Advisory locks held by this pool's sessions: by guards, parked
    /// between two local holders of a key, or being released.
    pub held: usize,
    /// Keys with a local holder or waiter.
    pub keys: usize,
}

pub(crate) struct Inner {
    config: tokio_postgres::Config,
    endpoints: Vec<Endpoint>,
    connect_timeout: Duration,
    pub(crate) connector: Arc<ConnectorFn>,
    pub(crate) spawner: Arc<SpawnFn>,
    max_sessions: usize,
    namespace: Option<String>,
    max_local_handoffs: u32,
    pub(crate) fencing_table: String,
    pub(crate) fencing_ready: AtomicBool,
    pub(crate) locks: Arc<KeyedLocks<i64>>,
    state: Mutex<State>,
    /// Notified when a session becomes free, a reservation ends or a
    /// session is gone: what a caller with nothing to use waits for.
    changed: Event,
    next_id: AtomicU64,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    connecting: usize,
    /// Of those, the sessions opened to wait on.
    connecting_to_wait: usize,
    keys: HashMap<i64, KeyState>,
}

struct Slot {
    session: Arc<Session>,
    /// Keys whose advisory lock this session holds, is releasing, or may
    /// hold (an abandoned try being finished). No statement for one of
    /// these keys is sent to this session, so a lock is never taken twice
    /// by one session (advisory locks are reentrant per session: a second
    /// grant would let a new holder in past waiters of other processes).
    held: Vec<i64>,
    /// Keys being released on this session (`pg_advisory_unlock` in
    /// flight): still held for the server, free again in a moment.
    releasing: Vec<i64>,
    /// Short statements in flight.
    busy: usize,
    /// Blocked in `pg_advisory_lock`; nothing else may run on it.
    waiting: bool,
}

impl Slot {
    /// Removes one entry of `id` from `held`.
    fn forget_key(&mut self, id: i64) {
        remove_one(&mut self.held, id);
    }

    /// Whether a statement for `id` may go to this session.
    fn may_take(&self, id: i64) -> bool {
        !self.held.contains(&id) && !self.releasing.contains(&id)
    }

    fn usable(&self) -> bool {
        !self.waiting && !self.session.is_lost()
    }
    fn idle(&self) -> bool {
        self.usable() && self.busy == 0
    }
}

#[derive(Default)]
struct KeyState {
    /// Local callers of the key: its holder and its waiters.
    interest: usize,
    /// A remote lock kept for the next local holder.
    parked: Option<Parked>,
}

pub(crate) struct Parked {
    pub(crate) session: Arc<Session>,
    pub(crate) handoffs: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// First attempt: try on a shared session, or wait on an empty one.
    First,
    /// A try failed: a waiting session is needed (or poll).
    AfterTry,
    /// `try_lock`: never wait on the server.
    TryOnly,
}

enum Plan {
    Try(Arc<Session>),
    Wait(Arc<Session>),
    /// Open a session, then wait on it (`true`) or try on it.
    Connect(Reservation, bool),
    Sleep(EventListener),
}

impl Builder {
    fn new(config: Result<tokio_postgres::Config, Error>) -> Self {
        Builder {
            config,
            max_sessions: 10,
            namespace: None,
            fifo: false,
            max_local_handoffs: 16,
            connect_timeout: None,
            spawner: None,
            connector: None,
            fencing_table: "turnlock_fencing".into(),
        }
    }

    /// The most sessions (connections) the pool opens at once; at least 1.
    /// Default 10.
    ///
    /// Held locks and short statements share sessions. A key waiting for
    /// another process's holder occupies a session of its own until it gets
    /// the lock (a session blocked in `pg_advisory_lock` can do nothing
    /// else), but one session always stays out of such waits, so that other
    /// keys can still be taken and released. Waiters beyond `max - 1` poll
    /// with `pg_try_advisory_lock` instead (backing off up to 100 ms), so no
    /// key is ever stuck behind another key's remote holder. With `1`, every
    /// wait polls.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db").max_sessions(2).build();
    /// assert!(pool.is_ok());
    /// let err = turnlock_postgres::Pool::builder("host=db").max_sessions(0).build();
    /// assert!(err.is_err());
    /// ```
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Hashes string and byte keys within `namespace`, so two applications
    /// sharing a database do not share locks (see
    /// [`LockKey`](crate::LockKey#the-hash-written-out)). Integer keys are
    /// used as they are.
    ///
    /// ```
    /// use turnlock_postgres::Pool;
    ///
    /// let a = Pool::builder("host=db").namespace("a").build().unwrap();
    /// let b = Pool::builder("host=db").namespace("b").build().unwrap();
    /// assert_ne!(a.key_id("job:1"), b.key_id("job:1"));
    /// assert_eq!(a.key_id(7), b.key_id(7));
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Local waiters are served in strict FIFO order
    /// ([`KeyedLocks::new_fifo`]) instead of the throughput policy
    /// ([`KeyedLocks::new`]). Across processes the order is PostgreSQL's:
    /// its lock manager grants a released advisory lock to the longest
    /// waiting session.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db").fifo().build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn fifo(mut self) -> Self {
        self.fifo = true;
        self
    }

    /// How many times in a row a held remote lock may pass straight from one
    /// local holder to the next local waiter of the same key, without a
    /// round trip to the database; then it is released, so that waiters in
    /// other processes get their turn. Default 16; 0 releases after every
    /// holder.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .max_local_handoffs(0) // strict alternation with other processes
    ///     .build()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn max_local_handoffs(mut self, max: u32) -> Self {
        self.max_local_handoffs = max;
        self
    }

    /// The longest a session may take to open (per host of the connection
    /// string). Default: the connection string's `connect_timeout`, or 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .connect_timeout(Duration::from_millis(500))
    ///     .build()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Runs the pool's background futures (connections, releases after a
    /// guard's drop, cancellation of abandoned waits) with `spawn` instead
    /// of the crate's own driver thread.
    ///
    /// The futures are `Send + 'static` and must be polled to completion;
    /// a runtime that stops polling them stops the pool.
    ///
    /// ```
    /// // With tokio:
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .spawner(|future| {
    ///         tokio::spawn(future);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// // With smol: `.spawner(|future| smol::spawn(future).detach())`.
    /// # drop(pool);
    /// ```
    pub fn spawner<F>(mut self, spawn: F) -> Self
    where
        F: Fn(Pin<Box<dyn Future<Output = ()> + Send + 'static>>) + Send + Sync + 'static,
    {
        self.spawner = Some(Arc::new(spawn));
        self
    }

    /// Opens streams with `connect` instead of the built-in TCP and
    /// Unix-socket connector: for tunnels, proxies, or sockets set up your
    /// own way. It is called for every session and every cancel request,
    /// with the [`Endpoint`] taken from the connection string.
    ///
    /// The stream speaks PostgreSQL's protocol in the clear: this crate has
    /// no TLS of its own, so `sslmode=require` fails.
    ///
    /// ```
    /// use turnlock_postgres::{Endpoint, Pool};
    ///
    /// let pool = Pool::builder("host=db port=5432")
    ///     .connector(|endpoint| async move {
    ///         match endpoint {
    ///             // Everything goes through a local tunnel.
    ///             Endpoint::Tcp { .. } => async_net::TcpStream::connect("127.0.0.1:15432").await,
    ///             _ => Err(std::io::Error::other("unix sockets are not tunnelled")),
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(pool);
    /// ```
    pub fn connector<F, Fut, S>(mut self, connect: F) -> Self
    where
        F: Fn(Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: Stream,
    {
        let connect = Arc::new(connect);
        self.connector = Some(Arc::new(move |endpoint| {
            let connect = connect.clone();
            Box::pin(async move {
                let stream = connect(endpoint).await?;
                Ok(Box::new(stream) as Box<dyn Stream>)
            })
        }));
        self
    }

    /// The table that keeps [fencing tokens](Guard::fencing_token), created
    /// on first use: `name` or `schema.name`, letters, digits and `_`.
    /// Default `turnlock_fencing`.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .fencing_table("locks.fencing")
    ///     .build();
    /// assert!(pool.is_ok());
    /// let err = turnlock_postgres::Pool::builder("host=db")
    ///     .fencing_table("fencing; DROP TABLE users")
    ///     .build();
    /// assert!(err.is_err());
    /// ```
    pub fn fencing_table(mut self, name: impl Into<String>) -> Self {
        self.fencing_table = name.into();
        self
    }

    /// Checks the settings and makes the pool. Opens no session yet: the
    /// first is opened by the first acquisition, so a server that is down
    /// shows as an error there ([`ErrorKind::Connect`]).
    ///
    /// ```
    /// use turnlock_postgres::{ErrorKind, Pool};
    ///
    /// let err = Pool::builder("port=99999").build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn build(self) -> Result<Pool, Error> {
        let mut config = self.config?;
        if self.max_sessions == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "max_sessions must be at least 1",
            ));
        }
        let fencing_table = quote_table(&self.fencing_table)?;
        if config.get_application_name().is_none() {
            config.application_name("turnlock-postgres");
        }
        let connect_timeout = self
            .connect_timeout
            .or(config.get_connect_timeout().copied())
            .unwrap_or(Duration::from_secs(10));
        let endpoints = endpoints(&config);
        let keepalive = config.get_keepalives().then(|| {
            let mut keepalive =
                socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            #[cfg(not(any(target_os = "windows", target_os = "openbsd")))]
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
            keepalive
        });
        let locks = if self.fifo {
            KeyedLocks::new_fifo()
        } else {
            KeyedLocks::new()
        };
        Ok(Pool {
            inner: Arc::new(Inner {
                config,
                endpoints,
                connect_timeout,
                connector: self
                    .connector
                    .unwrap_or_else(|| default_connector(keepalive)),
                spawner: self.spawner.unwrap_or_else(default_spawner),
                max_sessions: self.max_sessions,
                namespace: self.namespace,
                max_local_handoffs: self.max_local_handoffs,
                fencing_table,
                fencing_ready: AtomicBool::new(false),
                locks: Arc::new(locks),
                state: Mutex::new(State::default()),
                changed: Event::new(),
                next_id: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_sessions", &self.max_sessions)
            .field("namespace", &self.namespace)
            .field("fifo", &self.fifo)
            .field("max_local_handoffs", &self.max_local_handoffs)
            .field("connect_timeout", &self.connect_timeout)
            .field("fencing_table", &self.fencing_table)
            .finish_non_exhaustive()
    }
}

/// `"name"` or `"schema"."name"`, after checking the characters.
fn quote_table(name: &str) -> Result<String, Error> {
    let parts: Vec<&str> = name.split('.').collect();
    let valid = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() > 2 || !parts.iter().all(|part| valid(part)) {
        return Err(Error::new(
            ErrorKind::Config,
            format!("invalid fencing table name {name:?}: use name or schema.name"),
        ));
    }
    Ok(parts
        .iter()
        .map(|part| format!("\"{part}\""))
        .collect::<Vec<_>>()
        .join("."))
}

/// The endpoints of a connection string, in libpq's order.
fn endpoints(config: &tokio_postgres::Config) -> Vec<Endpoint> {
    use tokio_postgres::config::Host;
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let ports = config.get_ports();
    let port = |i: usize| match ports {
        [] => 5432,
        [port] => *port,
        ports => ports.get(i).copied().unwrap_or(5432),
    };
    let count = hosts.len().max(addrs.len());
    if count == 0 {
        // libpq's default: the local socket directory, then localhost.
        let mut endpoints: Vec<Endpoint> = ["/var/run/postgresql", "/tmp"]
            .iter()
            .map(|dir| std::path::Path::new(dir).join(format!(".s.PGSQL.{}", port(0))))
            .filter(|path| path.exists())
            .map(|path| Endpoint::Unix { path })
            .collect();
        endpoints.push(Endpoint::Tcp {
            host: "localhost".into(),
            port: port(0),
        });
        return endpoints;
    }
    (0..count)
        .map(|i| {
            if let Some(addr) = addrs.get(i) {
                return Endpoint::Tcp {
                    host: addr.to_string(),
                    port: port(i),
                };
            }
            match &hosts[i] {
                Host::Tcp(host) => Endpoint::Tcp {
                    host: host.clone(),
                    port: port(i),
                },
                #[cfg(unix)]
                Host::Unix(dir) => Endpoint::Unix {
                    path: dir.join(format!(".s.PGSQL.{}", port(i))),
                },
            }
        })
        .collect()
}

impl Pool {
    /// A pool with default settings for `connection_string`, in libpq's
    /// key-value form (`host=db user=app dbname=app`) or as a URL
    /// (`postgresql://app@db/app`). Opens no session yet.
    ///
    /// ```
    /// use turnlock_postgres::{ErrorKind, Pool};
    ///
    /// assert!(Pool::new("postgresql://app:secret@db.internal:5432/app").is_ok());
    /// let err = Pool::new("host=db port=http").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn new(connection_string: &str) -> Result<Pool, Error> {
        Pool::builder(connection_string).build()
    }

    /// A [`Builder`] for `connection_string`; parse errors are reported by
    /// [`Builder::build`].
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db user=app").max_sessions(3).build();
    /// assert!(pool.is_ok());
    /// ```
    pub fn builder(connection_string: &str) -> Builder {
        Builder::new(
            tokio_postgres::Config::from_str(connection_string).map_err(|err| {
                Error::new(
                    ErrorKind::Config,
                    "invalid configuration: bad connection string",
                )
                .with_source(err)
            }),
        )
    }

    /// A [`Builder`] for a `tokio_postgres::Config` made in code.
    ///
    /// ```
    /// let mut config = tokio_postgres::Config::new();
    /// config.host("db").user("app").dbname("app");
    /// let pool = turnlock_postgres::Pool::with_config(config).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn with_config(config: tokio_postgres::Config) -> Builder {
        Builder::new(Ok(config))
    }

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
        acquire(&self.inner, id, false)
            .await
            .map(|guard| guard.expect("a blocking acquisition returns a guard"))
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
        acquire(&self.inner, id, true).await
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
            async {
                acquire(&self.inner, id, false)
                    .await
                    .map(|guard| guard.expect("a blocking acquisition returns a guard"))
            },
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
            async {
                acquire(&self.inner, id, false)
                    .await
                    .map(|guard| guard.expect("a blocking acquisition returns a guard"))
            },
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
        let state = self.inner.state();
        Status {
            sessions: state.slots.len(),
            connecting: state.connecting,
            waiting: state.slots.iter().filter(|slot| slot.waiting).count(),
            busy: state.slots.iter().map(|slot| slot.busy).sum(),
            held: state
                .slots
                .iter()
                .map(|slot| slot.held.len() + slot.releasing.len())
                .sum(),
            keys: state.keys.len(),
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("endpoints", &self.inner.endpoints)
            .field("max_sessions", &self.inner.max_sessions)
            .field("namespace", &self.inner.namespace)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn remove_one(keys: &mut Vec<i64>, id: i64) -> bool {
    match keys.iter().position(|&key| key == id) {
        Some(i) => {
            keys.swap_remove(i);
            true
        }
        None => false,
    }
}

/// The shared session with the fewest statements in flight, among those
/// that may take `id`.
fn least_busy(slots: &mut [Slot], id: i64) -> Option<&mut Slot> {
    slots
        .iter_mut()
        .filter(|s| s.usable() && s.may_take(id))
        .min_by_key(|s| s.busy)
}

/// A local caller of a key: counted from its start until it gives up or
/// its guard is released.
pub(crate) struct Interest {
    inner: Arc<Inner>,
    id: i64,
}

impl Interest {
    fn enter(inner: &Arc<Inner>, id: i64) -> Self {
        inner.state().keys.entry(id).or_default().interest += 1;
        Interest {
            inner: inner.clone(),
            id,
        }
    }

    /// Hands the count over to a guard, which gives it back in
    /// [`Inner::release`].
    pub(crate) fn into_guard(self) {
        std::mem::forget(self);
    }
}

impl Drop for Interest {
    fn drop(&mut self) {
        let unlock = {
            let mut state = self.inner.state();
            let entry = state.keys.get_mut(&self.id).expect("counted key");
            entry.interest -= 1;
            if entry.interest > 0 {
                None
            } else {
                // The last local caller left: a parked lock has nobody to go to.
                let parked = state.keys.remove(&self.id).and_then(|entry| entry.parked);
                parked.and_then(|parked| {
                    state
                        .start_unlock(&parked.session, self.id)
                        .then_some(parked.session)
                })
            }
        };
        if let Some(session) = unlock {
            self.inner.spawn_unlock(session, self.id, None);
        }
    }
}

/// A session being opened: counted against `max_sessions` until it is in
/// the pool or has failed.
struct Reservation {
    inner: Arc<Inner>,
    wait: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.inner.state();
        state.connecting -= 1;
        state.connecting_to_wait -= usize::from(self.wait);
        drop(state);
        self.inner.changed.notify(usize::MAX);
    }
}

impl State {
    fn slot(&mut self, session: &Session) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|slot| slot.session.id == session.id)
    }

    fn remove(&mut self, session: &Session) {
        self.slots.retain(|slot| slot.session.id != session.id);
    }

    /// Counts an unlock about to start; false if the session is gone.
    fn start_unlock(&mut self, session: &Session, id: i64) -> bool {
        match self.slot(session) {
            Some(slot) if !session.is_lost() => {
                slot.busy += 1;
                if remove_one(&mut slot.held, id) {
                    slot.releasing.push(id);
                }
                true
            }
            _ => false,
        }
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        (self.spawner)(Box::pin(future));
    }

    /// Chooses where the next statement for a key runs. In order of
    /// preference: a shared session that holds locks and has nothing (or
    /// little) in flight; an empty idle session, to wait on (a wait on an
    /// empty session is granted at once when the lock is free); a short
    /// queue on any shared session; a new session; a long queue. After a
    /// failed try only a session to wait on will do, else the caller polls.
    fn plan(self: &Arc<Self>, phase: Phase, id: i64) -> Plan {
        let mut state = self.state();
        let state = &mut *state;
        let total = state.slots.len() + state.connecting;
        // One session always stays out of server-side waits, so that other
        // keys can still be tried and released while every other session
        // waits for a remote holder (with one session, every wait polls).
        let waiting = state.slots.iter().filter(|s| s.waiting).count() + state.connecting_to_wait;
        let may_wait = phase != Phase::TryOnly && waiting + 1 < self.max_sessions;
        let try_on = |slot: &mut Slot| {
            slot.busy += 1;
            Plan::Try(slot.session.clone())
        };
        if phase != Phase::AfterTry {
            let holding = state
                .slots
                .iter_mut()
                .filter(|s| s.usable() && !s.held.is_empty() && s.may_take(id));
            if let Some(slot) = holding.min_by_key(|s| s.busy).filter(|s| s.busy < PIPELINE) {
                return try_on(slot);
            }
        }
        if phase != Phase::AfterTry || may_wait {
            if let Some(slot) = state
                .slots
                .iter_mut()
                .find(|s| s.idle() && s.held.is_empty() && s.releasing.is_empty())
            {
                if !may_wait {
                    return try_on(slot);
                }
                slot.waiting = true;
                return Plan::Wait(slot.session.clone());
            }
        }
        if phase != Phase::AfterTry {
            if let Some(slot) = least_busy(&mut state.slots, id).filter(|s| s.busy < PIPELINE) {
                return try_on(slot);
            }
        }
        if state
            .slots
            .iter()
            .any(|s| s.usable() && s.releasing.contains(&id))
        {
            // This pool is releasing the key right now: the session doing
            // it is free in a moment, cheaper than opening another.
            return Plan::Sleep(self.changed.listen());
        }
        if (phase != Phase::AfterTry || may_wait) && total < self.max_sessions {
            state.connecting += 1;
            state.connecting_to_wait += usize::from(may_wait);
            let reservation = Reservation {
                inner: self.clone(),
                wait: may_wait,
            };
            return Plan::Connect(reservation, may_wait);
        }
        if phase != Phase::AfterTry {
            if let Some(slot) = least_busy(&mut state.slots, id) {
                return try_on(slot);
            }
        }
        Plan::Sleep(self.changed.listen())
    }

    /// Opens a session for `reservation`, entering it as Waiting or with
    /// one short statement in flight.
    async fn open(self: &Arc<Self>, reservation: Reservation) -> Result<Arc<Session>, Error> {
        let waiting = reservation.wait;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let weak = Arc::downgrade(self);
        let on_lost = Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.forget(id);
            }
        });
        let session = Session::connect(
            id,
            &self.config,
            &self.endpoints,
            &*self.connector,
            &*self.spawner,
            self.connect_timeout,
            on_lost,
        )
        .await?;
        let session = Arc::new(session);
        {
            let mut state = self.state();
            state.slots.push(Slot {
                session: session.clone(),
                held: Vec::new(),
                releasing: Vec::new(),
                busy: usize::from(!waiting),
                waiting,
            });
            if session.is_lost() {
                // Gone before it was entered; `forget` found nothing.
                state.remove(&session);
            }
        }
        drop(reservation);
        if session.is_lost() {
            return Err(Error::session_lost(None));
        }
        Ok(session)
    }

    fn forget(&self, id: u64) {
        self.state().slots.retain(|slot| slot.session.id != id);
        self.changed.notify(usize::MAX);
    }

    /// Books the end of a try (`blocking == false`) or a wait.
    fn finish(
        &self,
        session: &Session,
        id: i64,
        blocking: bool,
        result: &Result<bool, tokio_postgres::Error>,
    ) {
        let mut state = self.state();
        if let Err(err) = result {
            if is_session_gone(err) {
                session.liveness.mark_lost();
                state.remove(session);
                drop(state);
                self.changed.notify(usize::MAX);
                return;
            }
        }
        if let Some(slot) = state.slot(session) {
            if blocking {
                slot.waiting = false;
            } else {
                slot.busy -= 1;
            }
            if matches!(result, Ok(true)) {
                slot.held.push(id);
            }
        }
        drop(state);
        self.changed.notify(usize::MAX);
    }

    /// Takes the lock parked for the next local holder of `id`, if any.
    fn take_parked(&self, id: i64) -> Option<Parked> {
        let mut state = self.state();
        let parked = state.keys.get_mut(&id)?.parked.take()?;
        if parked.session.is_lost() {
            return None;
        }
        Some(parked)
    }

    /// A holder lets go: park the remote lock for the next local waiter, or
    /// release it. The caller's interest count is given back here.
    pub(crate) fn release(
        self: &Arc<Self>,
        id: i64,
        session: &Arc<Session>,
        handoffs: u32,
        report: bool,
    ) -> Release {
        let mut state = self.state();
        let entry = state
            .keys
            .get_mut(&id)
            .expect("a holder counts as interest");
        let lost = session.is_lost();
        if !lost && entry.interest > 1 && handoffs < self.max_local_handoffs {
            entry.interest -= 1;
            entry.parked = Some(Parked {
                session: session.clone(),
                handoffs: handoffs + 1,
            });
            return Release::Parked;
        }
        entry.interest -= 1;
        if entry.interest == 0 {
            state.keys.remove(&id);
        }
        if lost || !state.start_unlock(session, id) {
            return Release::Lost;
        }
        drop(state);
        let (tx, rx) = match report {
            true => {
                let (tx, rx) = async_channel::bounded(1);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        self.spawn_unlock(session.clone(), id, tx);
        Release::Unlocking(rx)
    }

    /// Releases `id` on `session` in the background (its slot's `busy` was
    /// counted by the caller); the receiver gets the outcome.
    fn spawn_unlock(
        self: &Arc<Self>,
        session: Arc<Session>,
        id: i64,
        report: Option<async_channel::Sender<Result<(), Error>>>,
    ) {
        let inner = self.clone();
        self.spawn(async move {
            let result = session.unlock(id).await;
            let outcome =
                {
                    let mut state = inner.state();
                    match &result {
                        Err(err) if is_session_gone(err) || session.is_lost() => {
                            session.liveness.mark_lost();
                            state.remove(&session);
                        }
                        _ => {
                            if let Some(slot) = state.slot(&session) {
                                slot.busy -= 1;
                                remove_one(&mut slot.releasing, id);
                            }
                        }
                    }
                    match result {
                        Ok(true) => Ok(()),
                        Ok(false) => Err(Error::new(
                            ErrorKind::SessionLost,
                            "the lock was no longer held by its session",
                        )),
                        Err(err) if session.is_lost() => Err(Error::session_lost(Some(err))),
                        Err(err) => Err(Error::new(ErrorKind::Query, "pg_advisory_unlock failed")
                            .with_source(err)),
                    }
                };
            inner.changed.notify(usize::MAX);
            if let Some(report) = report {
                let _ = report.try_send(outcome);
            }
        });
    }
}

/// One acquisition: local queue, then a parked lock or the database.
async fn acquire(inner: &Arc<Inner>, id: i64, try_only: bool) -> Result<Option<Guard>, Error> {
    let interest = Interest::enter(inner, id);
    let local = if try_only {
        match inner.locks.try_lock_owned(id) {
            Some(local) => local,
            None => return Ok(None),
        }
    } else {
        inner.locks.lock_owned(id).await
    };
    if let Some(parked) = inner.take_parked(id) {
        return Ok(Some(Guard::new(
            inner.clone(),
            id,
            parked.session,
            parked.handoffs,
            local,
            interest,
        )));
    }
    match remote(inner, id, try_only).await? {
        Some(session) => Ok(Some(Guard::new(
            inner.clone(),
            id,
            session,
            0,
            local,
            interest,
        ))),
        None => Ok(None),
    }
}

/// Takes `id` on the database for the local holder: a session that has it,
/// or `None` (only for `try_only`) when another process holds it.
async fn remote(
    inner: &Arc<Inner>,
    id: i64,
    try_only: bool,
) -> Result<Option<Arc<Session>>, Error> {
    let first = if try_only {
        Phase::TryOnly
    } else {
        Phase::First
    };
    let mut phase = first;
    let mut backoff = MIN_BACKOFF;
    let mut retries = 0;
    let mut cancelled = 0;
    loop {
        let (session, blocking) = match inner.plan(phase, id) {
            Plan::Try(session) => (session, false),
            Plan::Wait(session) => (session, true),
            Plan::Connect(reservation, wait) => {
                let session = inner.open(reservation).await;
                match session {
                    Ok(session) => (session, wait),
                    Err(err)
                        if err.kind() == ErrorKind::SessionLost && retries < SESSION_RETRIES =>
                    {
                        retries += 1;
                        continue;
                    }
                    Err(err) => return Err(err),
                }
            }
            Plan::Sleep(listener) => {
                futures_lite::future::or(listener, async {
                    async_io::Timer::after(backoff).await;
                })
                .await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                phase = first;
                continue;
            }
        };
        let statement = if blocking {
            session.lock(id)
        } else {
            session.try_lock(id)
        };
        let result = InFlight {
            inner: inner.clone(),
            session: session.clone(),
            id,
            blocking,
            statement: Some(statement),
        }
        .await;
        match result {
            Ok(true) => return Ok(Some(session)),
            Ok(false) if try_only => return Ok(None),
            Ok(false) => phase = Phase::AfterTry,
            Err(err) if is_session_gone(&err) || session.is_lost() => {
                if retries >= SESSION_RETRIES {
                    return Err(Error::session_lost(Some(err)));
                }
                retries += 1;
                phase = first;
            }
            Err(err) if is_cancelled(&err) && cancelled < SESSION_RETRIES => {
                // A cancel request meant for an earlier, abandoned statement
                // of this session landed on this one. It may have hit just
                // after a grant: undo that (a no-op otherwise), then retry.
                cancelled += 1;
                let busy = Busy::start(inner, &session);
                let undone = session.unlock(id).await;
                drop(busy);
                if let Err(err) = undone {
                    if !is_cancelled(&err) {
                        return Err(Error::new(ErrorKind::Query, "pg_advisory_unlock failed")
                            .with_source(err));
                    }
                }
                phase = first;
            }
            Err(err) => {
                return Err(
                    Error::new(ErrorKind::Query, "advisory lock statement failed").with_source(err),
                );
            }
        }
    }
}

/// A short statement in flight on a session, outside the usual paths:
/// counted in its slot's `busy` until dropped, so that nobody blocks the
/// session with a wait meanwhile.
struct Busy<'a> {
    inner: &'a Inner,
    session: &'a Session,
}

impl<'a> Busy<'a> {
    fn start(inner: &'a Inner, session: &'a Session) -> Self {
        if let Some(slot) = inner.state().slot(session) {
            slot.busy += 1;
        }
        Busy { inner, session }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.inner.state().slot(self.session) {
            slot.busy = slot.busy.saturating_sub(1);
        }
        self.inner.changed.notify(usize::MAX);
    }
}

/// A lock statement on its way. If it is dropped before it finishes, the
/// rest runs in the background: a wait is cancelled, and whatever the
/// statement may have taken is released before the session is used again.
struct InFlight {
    inner: Arc<Inner>,
    session: Arc<Session>,
    id: i64,
    blocking: bool,
    statement: Option<BoxFuture<Result<bool, tokio_postgres::Error>>>,
}

impl Future for InFlight {
    type Output = Result<bool, tokio_postgres::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let statement = self.statement.as_mut().expect("polled after completion");
        let result = ready!(statement.as_mut().poll(cx));
        self.statement = None;
        self.inner
            .finish(&self.session, self.id, self.blocking, &result);
        Poll::Ready(result)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(statement) = self.statement.take() else {
            return;
        };
        if !self.blocking {
            // Until the try is finished, it may have taken the lock.
            if let Some(slot) = self.inner.state().slot(&self.session) {
                slot.held.push(self.id);
            }
        }
        let inner = self.inner.clone();
        let session = self.session.clone();
        let (id, blocking) = (self.id, self.blocking);
        self.inner
            .spawn(abandon(inner, session, id, blocking, statement));
    }
}

/// Finishes a lock statement nobody waits for any more.
async fn abandon(
    inner: Arc<Inner>,
    session: Arc<Session>,
    id: i64,
    blocking: bool,
    mut statement: BoxFuture<Result<bool, tokio_postgres::Error>>,
) {
    // Whether every cancel request was seen through to the server's close,
    // which it only does after signalling the backend: then no request can
    // land on a later statement.
    let mut settled = true;
    let result = if blocking {
        // Cancel until the statement ends: a cancel request that arrives
        // before the statement has reached the server is ignored by it.
        let mut patience = Duration::from_millis(20);
        loop {
            let sent = timeout(Duration::from_secs(5), session.cancel(&*inner.connector)).await;
            settled &= matches!(sent, Some(Ok(())));
            if let Some(result) = timeout(patience, &mut statement).await {
                break result;
            }
            patience = (patience * 2).min(Duration::from_secs(1));
        }
    } else {
        statement.await
    };
    let gone = matches!(&result, Err(err) if is_session_gone(err)) || session.is_lost();
    // A wait that reported an error may still have been granted (a cancel
    // that lands just after the grant), so only "not granted" skips this.
    let release = !gone && !matches!(result, Ok(false));
    let released = !release || session.unlock(id).await.is_ok();
    {
        let mut state = inner.state();
        if gone || blocking && (!released || !settled) {
            // Gone, or a waiting session in an unknown state (a lock it may
            // hold, a cancel request still on its way): drop it. Closing
            // the connection releases whatever it held.
            session.liveness.mark_lost();
            state.remove(&session);
        } else if let Some(slot) = state.slot(&session) {
            if blocking {
                slot.waiting = false;
            } else {
                slot.busy -= 1;
                slot.forget_key(id);
            }
        }
    }
    inner.changed.notify(usize::MAX);
}
