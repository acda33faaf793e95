//! [`Builder`]: a pool's settings, checked once, and the constructors of
//! [`Pool`] that lead to it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use turnlock::KeyedRwLocks;

use super::api::Pool;
use super::inner::Inner;
use crate::conn::{
    ConnInfo, ConnectorFn, Dialer, Endpoint, Fencing, SpawnFn, Spawner, Stream, TcpSettings,
    TlsOptions, Transport, default_connector, parse_conninfo, targets,
};
use crate::error::{Error, ErrorKind};

/// [`Builder::heartbeat`]'s default.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
/// The shortest heartbeat interval: PostgreSQL's `lock_timeout` counts
/// whole milliseconds.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

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
    config: Result<ConnInfo, Error>,
    max_sessions: usize,
    namespace: Option<String>,
    fifo: bool,
    max_local_handoffs: u32,
    connect_timeout: Option<Duration>,
    spawner: Option<Arc<SpawnFn>>,
    connector: Option<Arc<ConnectorFn>>,
    fencing_table: String,
    application_name: Option<String>,
    heartbeat: Duration,
}

impl Builder {
    fn new(config: Result<ConnInfo, Error>) -> Self {
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
            application_name: None,
            heartbeat: DEFAULT_HEARTBEAT,
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
    /// A session being opened counts against `max` until it is open or has
    /// failed. Its opening is finished for the pool even after the caller
    /// that asked for it has given up (its deadline passed, its future was
    /// dropped), bounded by the [connect timeout](Builder::connect_timeout)
    /// (for the connection, and again for the session's set-up, per host):
    /// the session then waits in the pool for the next acquisition, so
    /// attempts with deadlines shorter than opening a session takes do not
    /// each start a session of their own, and a later one finds it open.
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
    /// ([`KeyedRwLocks::new_fifo`]) instead of the throughput policy
    /// ([`KeyedRwLocks::new`]). Across processes the order is PostgreSQL's:
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
    /// local holder to the next local caller of the same key, without a
    /// round trip to the database; then it is released, so that waiters in
    /// other processes get their turn. The next caller is one that waited,
    /// or one that asked for the key after its holder dropped the guard but
    /// before the release went out (it goes out when the session's
    /// connection task next runs): a task that takes a key again right after
    /// dropping its guard keeps the lock, within this bound. Default 16; 0
    /// releases after every holder, so that processes taking turns on a key
    /// alternate strictly. For shared locks, how many local readers join one
    /// remote shared lock before the pool asks the server whether a writer
    /// of another process waits for the key (see
    /// [`Pool::lock_shared`](crate::Pool::lock_shared)).
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

    /// Runs the pool's background futures (connections, which also finish
    /// the releases sent when guards are dropped; cancellation of abandoned
    /// waits; sessions still being opened for a caller that gave up) with
    /// `spawn` instead of the crate's own driver thread.
    ///
    /// The futures are `Send + 'static` and must be polled to completion.
    /// `spawn` is called wherever the pool needs a task, also from a
    /// guard's `Drop`, which may run outside your runtime's context (in
    /// synchronous code, on another thread). So capture a handle to the
    /// runtime, as below, rather than call a function that looks up the
    /// current runtime: `tokio::spawn` panics outside a runtime's context,
    /// `tokio::runtime::Handle::spawn` does not.
    ///
    /// A future that `spawn` does not run to completion (it panicked, or
    /// dropped the future, or its runtime shut down) is finished on the
    /// crate's driver thread instead, which is then started: no lock is
    /// ever left held, and no connection left undriven, because of the
    /// spawner.
    ///
    /// ```
    /// # let runtime = tokio::runtime::Runtime::new().unwrap();
    /// # let _context = runtime.enter();
    /// // With tokio: a handle to the runtime, captured once.
    /// let runtime = tokio::runtime::Handle::current();
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .spawner(move |future| {
    ///         runtime.spawn(future);
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
    /// TLS is the crate's business, not the connector's: with the `tls`
    /// feature and an `sslmode` that asks for it, the handshake runs over
    /// the stream `connect` returns (PostgreSQL negotiates TLS inside its
    /// own protocol), so it reaches the server end to end through a tunnel
    /// or a proxy, and `verify-full` checks the host name of the connection
    /// string, not where the tunnel goes. A connector whose stream is
    /// encrypted already (an SSH tunnel) can say `sslmode=disable`. The
    /// default connector's TCP settings (keepalives, `tcp_user_timeout`)
    /// are not applied to a custom connector's streams.
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
    ///
    /// On a tokio runtime, tokio's own sockets (through `tokio_util::compat`)
    /// save every answer from the server a hop: the default sockets are
    /// driven by `async-io`'s reactor thread, which then wakes the tokio
    /// worker that waits for the answer (README "Scaling out" measures the
    /// difference). The pool calls the connector from its background
    /// futures, so give it a [spawner](Builder::spawner) on the same
    /// runtime, which must outlive the pool:
    ///
    /// ```
    /// # let runtime = tokio::runtime::Runtime::new().unwrap();
    /// # let _context = runtime.enter();
    /// use tokio_util::compat::TokioAsyncReadCompatExt;
    /// use turnlock_postgres::{Endpoint, Pool};
    ///
    /// let runtime = tokio::runtime::Handle::current();
    /// let pool = Pool::builder("host=db port=5432")
    ///     .spawner(move |future| {
    ///         runtime.spawn(future);
    ///     })
    ///     .connector(|endpoint| async move {
    ///         let Endpoint::Tcp { host, port } = endpoint else {
    ///             return Err(std::io::Error::other("TCP only"));
    ///         };
    ///         let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    ///         stream.set_nodelay(true)?;
    ///         Ok(stream.compat())
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

    /// The table that keeps [fencing tokens](crate::Guard::fencing_token), created
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

    /// How often every session shows that it still answers; default 5 s.
    /// A session that does not, because the server's machine or the network
    /// path vanished without closing the connection (a half-open
    /// connection, which TCP alone notices only after its keepalive, two
    /// hours by default), is declared lost within **three times this
    /// interval**: [`Guard::lost`](crate::Guard::lost) completes,
    /// [`Guard::release`](crate::Guard::release) reports
    /// [`ErrorKind::SessionLost`], and later
    /// acquisitions use fresh sessions.
    ///
    /// How: every interval each session runs `SELECT 1` and must answer
    /// within two intervals; each session runs with `lock_timeout` set to
    /// the interval, so a wait on the server (`pg_advisory_lock`) ends after
    /// one interval and is sent again, and a beat queued behind it is never
    /// late. (The same bound applies to the statements of fencing tokens: a
    /// token whose row stays locked by another transaction for a whole
    /// interval fails with [`ErrorKind::Query`](crate::ErrorKind::Query).)
    /// A session declared lost is closed, and its server process is ended
    /// with `pg_terminate_backend` from another session of the pool (best
    /// effort, same role), so that its locks are free at once instead of
    /// when the server notices the dead connection.
    ///
    /// The cost is one short statement per session per interval, and one
    /// round trip per interval for each key waiting on another process.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = turnlock_postgres::Pool::builder("host=db")
    ///     .heartbeat(Duration::from_secs(2)) // loss known within 6 s
    ///     .build();
    /// assert!(pool.is_ok());
    /// let err = turnlock_postgres::Pool::builder("host=db").heartbeat(Duration::ZERO).build();
    /// assert!(err.is_err());
    /// ```
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// The `application_name` of the pool's sessions, as the server shows
    /// it in `pg_stat_activity` (and so next to their locks in `pg_locks`,
    /// by `pid`). Overrides the connection string's; without either, it is
    /// `turnlock-postgres`.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::builder("host=db user=app")
    ///     .application_name("billing-worker")
    ///     .build();
    /// assert!(pool.is_ok());
    /// ```
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Checks the settings and makes the pool, without contacting the
    /// server: no session is opened yet, so wrong credentials or a server
    /// that is down show only at the first acquisition
    /// ([`ErrorKind::Connect`]). To find them at start-up, and have a
    /// session open ahead of the first lock, call
    /// [`Pool::connect`](crate::Pool::connect) after `build`.
    ///
    /// ```
    /// use turnlock_postgres::{ErrorKind, Pool};
    ///
    /// let err = Pool::builder("port=99999").build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn build(self) -> Result<Pool, Error> {
        let ConnInfo { mut config, tls } = self.config?;
        if self.heartbeat < MIN_HEARTBEAT {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the heartbeat interval must be at least {MIN_HEARTBEAT:?}"),
            ));
        }
        if self.max_sessions == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "max_sessions must be at least 1",
            ));
        }
        let fencing = Fencing::new(&self.fencing_table)?;
        if let Some(name) = &self.application_name {
            config.application_name(name);
        } else if config.get_application_name().is_none() {
            config.application_name("turnlock-postgres");
        }
        let connect_timeout = self
            .connect_timeout
            .or(config.get_connect_timeout().copied())
            .unwrap_or(Duration::from_secs(10));
        let targets = targets(&config);
        let transport = Transport::new(&tls, &targets)?;
        let dialer = Dialer {
            endpoints: targets.into_iter().map(|target| target.endpoint).collect(),
            connector: self
                .connector
                .unwrap_or_else(|| default_connector(TcpSettings::of(&config))),
            config,
            transport,
            connect_timeout,
            heartbeat: self.heartbeat,
        };
        let spawner = match self.spawner {
            Some(spawn) => Spawner::custom(spawn),
            None => Spawner::driver_thread(),
        };
        let locks = if self.fifo {
            KeyedRwLocks::new_fifo()
        } else {
            KeyedRwLocks::new()
        };
        Ok(Pool::from_inner(Arc::new(Inner::new(
            dialer,
            spawner,
            self.max_sessions,
            self.namespace,
            self.max_local_handoffs,
            fencing,
            locks,
        ))))
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
            .field("application_name", &self.application_name)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
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
        Builder::new(parse_conninfo(connection_string))
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
        let tls = TlsOptions::of_config(&config);
        Builder::new(Ok(ConnInfo { config, tls }))
    }
}
