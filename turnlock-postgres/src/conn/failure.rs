//! Why a statement of the pool failed, and how its one boolean answer is
//! read.

use tokio_postgres::Row;

use crate::error::{is_cancelled, is_session_gone, is_wait_slice_over};

/// Why a statement of the pool failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The client or the server reported an error.
    Db(tokio_postgres::Error),
    /// The statement reached a server process other than the session's own
    /// (it did nothing there): a pooler shares server sessions.
    Foreign,
}

impl Failure {
    /// The session is gone: its locks are released by the server.
    pub(crate) fn is_session_gone(&self) -> bool {
        matches!(self, Failure::Db(err) if is_session_gone(err))
    }

    /// The session cannot be used again: it is gone, or its statements
    /// reach a foreign server process (a pooler shares server sessions).
    pub(crate) fn ends_session(&self) -> bool {
        self.is_session_gone() || matches!(self, Failure::Foreign)
    }

    /// A cancel request (meant for an earlier, abandoned wait) interrupted it.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self, Failure::Db(err) if is_cancelled(err))
    }

    /// A wait ended after one slice (`lock_timeout`) without the lock.
    pub(crate) fn is_wait_slice_over(&self) -> bool {
        matches!(self, Failure::Db(err) if is_wait_slice_over(err))
    }

    /// The client's error, unless the statement reached a foreign process.
    pub(crate) fn into_db(self) -> Option<tokio_postgres::Error> {
        match self {
            Failure::Db(err) => Some(err),
            Failure::Foreign => None,
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        Failure::Db(err)
    }
}

/// The boolean of a statement's one row; NULL (the check failed, so the
/// statement did nothing) is [`Failure::Foreign`].
pub(super) fn answer(rows: &[Row]) -> Result<bool, Failure> {
    match rows.first() {
        Some(row) => match row.try_get::<_, Option<bool>>(0)? {
            Some(answer) => Ok(answer),
            None => Err(Failure::Foreign),
        },
        // Not seen: the server answers each of these `SELECT`s with one
        // row or an error. Read as "did nothing".
        None => Err(Failure::Foreign),
    }
}
