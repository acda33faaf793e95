//! [`Error`]: one error type that says what failed.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::key::LockId;

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What failed: the part of an [`Error`] to match on.
///
/// ```
/// use turnlock_postgres::{ErrorKind, Pool};
///
/// let err = Pool::new("host=db port=not-a-number").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection string or a builder setting is invalid: returned at
    /// once by [`Pool::new`](crate::Pool::new) and
    /// [`Builder::build`](crate::Builder::build), where nothing was
    /// attempted. Also the setup is unusable for advisory locks: the
    /// server sessions are shared by a connection pooler in transaction or
    /// statement mode (crate docs, "Behind a connection pooler"), found
    /// when a session opens or runs a statement; no lock was taken.
    Config,
    /// A session could not be opened: the server is unreachable, refused
    /// the connection, rejected the credentials, or did not answer within
    /// the connect timeout.
    Connect,
    /// A statement failed on a live session (for example, no right to
    /// create the fencing table).
    Query,
    /// The session that held the lock, or that was about to take it, is
    /// gone: PostgreSQL has released every advisory lock it had. Anything
    /// done under the lock since it was lost was not protected.
    SessionLost,
    /// The deadline passed before the lock was taken. Nothing is held and
    /// any wait on the server has been cancelled.
    TimedOut,
}

/// The error of every fallible operation of this crate.
///
/// [`kind`](Error::kind) says what failed; [`Display`](fmt::Display) says it
/// in words, including the cause reported by PostgreSQL or the operating
/// system, which [`source`](StdError::source) also returns.
///
/// ```
/// use turnlock_postgres::{ErrorKind, Pool};
///
/// let err = Pool::new("postgresql://db:5432/app?sslmode=sometimes").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert_eq!(
///     err.to_string(),
///     "invalid connection string: invalid value for option `sslmode`: \"sometimes\" \
///      (expected disable, allow, prefer, require, verify-ca or verify-full)"
/// );
/// ```
pub struct Error {
    kind: ErrorKind,
    context: String,
    source: Option<Source>,
    timeout: Option<Duration>,
    /// For [`ErrorKind::Connect`]: whether trying again later may succeed
    /// (a server restarting, a network hiccup), as opposed to settings
    /// that will fail again (credentials, an unknown database).
    transient: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Self {
            kind,
            context: context.into(),
            source: None,
            timeout: None,
            transient: false,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// A session could not be opened, because of `source`: an I/O error of
    /// the connector, or tokio-postgres' error of the start-up.
    pub(crate) fn connect(context: impl Into<String>, source: impl Into<Source>) -> Self {
        let source = source.into();
        let transient = is_transient(&*source);
        let mut context = context.into();
        if let Some(err) = source.downcast_ref::<tokio_postgres::Error>() {
            if password_missing(err) {
                context.push_str(
                    ": the server asks for a password and the connection string gives none",
                );
                return Error::new(ErrorKind::Connect, context);
            }
        }
        let mut err = Error::new(ErrorKind::Connect, context).with_source(source);
        err.transient = transient;
        err
    }

    /// A session could not be opened in time: the server may come back.
    pub(crate) fn connect_timed_out(context: impl Into<String>) -> Self {
        let mut err = Error::new(ErrorKind::Connect, context);
        err.transient = true;
        err
    }

    /// A server session that is not the pool's own (`detail` says how it
    /// showed): a pooler in transaction or statement mode, under which
    /// session-level advisory locks exclude nothing.
    pub(crate) fn shared_server_session(endpoint: &crate::Endpoint, detail: &str) -> Self {
        Error::new(
            ErrorKind::Config,
            format!(
                "the server session at {endpoint} is not this pool's own ({detail}): \
                 a connection pooler in transaction or statement mode (PgBouncer's \
                 pool_mode = transaction) shares server sessions between its clients, and \
                 session-level advisory locks then exclude nothing; connect the pool to the \
                 server directly, or through a pool in session mode"
            ),
        )
    }

    /// Whether a [`Connect`](ErrorKind::Connect) error may go away by
    /// itself: the acquisitions that have a deadline try again until it.
    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    /// The deadline of an acquisition of `what` ("lock 42") passed; `why`,
    /// if known, says what it was still waiting for.
    pub(crate) fn timed_out(what: &str, timeout: Option<Duration>, why: Option<String>) -> Self {
        let mut context = format!("timed out waiting for {what}");
        if let Some(timeout) = timeout {
            context.push_str(&format!(" after {timeout:?}"));
        }
        if let Some(why) = why {
            context.push_str(": ");
            context.push_str(&why);
        }
        let mut err = Self::new(ErrorKind::TimedOut, context);
        err.timeout = timeout;
        err
    }

    /// The session of `lock` (on server process `backend`) is gone.
    pub(crate) fn session_lost(
        lock: LockId,
        backend: i32,
        source: Option<tokio_postgres::Error>,
    ) -> Self {
        let err = Self::new(
            ErrorKind::SessionLost,
            format!("the database session (backend {backend}) of lock {lock} was lost"),
        );
        match source {
            Some(source) => err.with_source(source),
            None => err,
        }
    }

    /// What failed.
    ///
    /// ```
    /// use turnlock_postgres::{ErrorKind, Pool};
    ///
    /// let err = Pool::new("not a connection string").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Config);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The timeout that passed, for an error of kind
    /// [`TimedOut`](ErrorKind::TimedOut) returned by a `lock_timeout`
    /// (`Some(Duration::ZERO)` after a zero timeout found the lock taken);
    /// `None` otherwise (also after a `lock_until` deadline, which is a
    /// future with no duration).
    ///
    /// ```
    /// use turnlock_postgres::Pool;
    ///
    /// let err = Pool::new("nonsense").unwrap_err();
    /// assert_eq!(err.timeout(), None);
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The SQLSTATE code PostgreSQL reported, when the error came from the
    /// server (`"28P01"` for a wrong password, `"3D000"` for an unknown
    /// database, `"57P01"` for a terminated session).
    ///
    /// ```
    /// use turnlock_postgres::Pool;
    ///
    /// let err = Pool::new("nonsense").unwrap_err();
    /// assert_eq!(err.sql_state(), None);
    /// ```
    pub fn sql_state(&self) -> Option<&str> {
        self.source
            .as_deref()
            .and_then(|source| source.downcast_ref::<tokio_postgres::Error>())
            .and_then(tokio_postgres::Error::code)
            .map(tokio_postgres::error::SqlState::code)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("context", &self.context)
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        // The causes in words. tokio-postgres says only "db error" and
        // leaves the server's message to its own source: skip that link;
        // skip a link that repeats the text before it, too.
        let mut written = self.context.clone();
        let mut cause = self
            .source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static));
        while let Some(source) = cause {
            let text = source.to_string();
            if text != "db error" && !written.ends_with(&text) {
                write!(f, ": {text}")?;
                written = text;
            }
            cause = source.source();
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|source| source as _)
    }
}

/// Whether a client error means the session is gone (rather than one
/// statement failing on a live session).
pub(crate) fn is_session_gone(err: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::{Severity, SqlState};
    if err.is_closed() {
        return true;
    }
    match err.as_db_error() {
        Some(db) => {
            matches!(
                db.parsed_severity(),
                Some(Severity::Fatal | Severity::Panic)
            ) || *db.code() == SqlState::ADMIN_SHUTDOWN
                || *db.code() == SqlState::CRASH_SHUTDOWN
        }
        // An I/O error or an unexpected message: the connection is unusable.
        None => err.code().is_none(),
    }
}

/// Whether a cause of a failed start-up may go away by itself: the server
/// refused or dropped the connection, did not answer, or said it is
/// starting, stopping or full.
fn is_transient(source: &(dyn StdError + Send + Sync + 'static)) -> bool {
    use std::io::ErrorKind as Io;
    use tokio_postgres::error::SqlState;
    if let Some(err) = source.downcast_ref::<std::io::Error>() {
        return matches!(
            err.kind(),
            Io::ConnectionRefused
                | Io::ConnectionReset
                | Io::ConnectionAborted
                | Io::NotConnected
                | Io::BrokenPipe
                | Io::TimedOut
                | Io::UnexpectedEof
                | Io::Interrupted
                // A Unix socket that is not there while the server restarts.
                | Io::NotFound
                | Io::AddrNotAvailable
                | Io::HostUnreachable
                | Io::NetworkUnreachable
                | Io::NetworkDown
        );
    }
    if let Some(err) = source.downcast_ref::<tokio_postgres::Error>() {
        return match err.code() {
            Some(code) => {
                code.code().starts_with("08")
                    || [
                        SqlState::CANNOT_CONNECT_NOW,
                        SqlState::TOO_MANY_CONNECTIONS,
                        SqlState::ADMIN_SHUTDOWN,
                        SqlState::CRASH_SHUTDOWN,
                    ]
                    .contains(code)
            }
            // The connection broke during the start-up.
            None => {
                err.is_closed()
                    || StdError::source(err).is_some_and(|cause| cause.is::<std::io::Error>())
            }
        };
    }
    false
}

/// Whether tokio-postgres gave up a start-up because the server asked for
/// a password that the connection string does not have. tokio-postgres
/// reports it only in words ("invalid configuration: password missing");
/// `tests/errors.rs` notices if they change.
fn password_missing(err: &tokio_postgres::Error) -> bool {
    err.to_string() == "invalid configuration"
        && StdError::source(err).is_some_and(|cause| cause.to_string() == "password missing")
}

/// Whether a wait on the server ended because it ran for the session's
/// `lock_timeout` (a heartbeat interval) without the lock: it was not
/// granted.
pub(crate) fn is_wait_slice_over(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
}

/// Whether a client error is a query cancelled by a cancel request.
pub(crate) fn is_cancelled(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
}
