//! The statements the pool runs on a session, each one round trip. The
//! advisory-lock statements are prepared once, when the session opens, and
//! run by name: the server does not parse and plan them on every call.
//!
//! Each first checks that it runs on the session's own server process: the
//! one that took the session's mark, a shared advisory lock `(MARK, n)`
//! (`session.rs`). A pooler in
//! transaction mode hands every transaction to whichever server process is
//! free, and an advisory lock taken there would exclude nothing (another
//! client's transaction may run on that process next, and advisory locks
//! are reentrant per process). The check, `mine`:
//!
//! ```sql
//! CASE WHEN pg_try_advisory_lock(MARK, n) THEN pg_advisory_unlock(MARK, n) ELSE false END
//! ```
//!
//! The exclusive try succeeds on the process that holds the mark shared (a
//! process does not conflict with itself) and fails on any other while
//! that process lives; `CASE` runs the lock function only after the check
//! passed, so a statement on a foreign process does nothing there. An
//! interrupted check (a late cancel between the two calls) leaves one more
//! exclusive count on our own mark, which changes no later answer.
//!
//! The heartbeat, and a session once it has opened, check more strictly
//! that the process still holds the mark ([`holds_mark`]): that also
//! notices a pooler that resets server sessions after every transaction
//! (which releases the mark, and every lock with it).

use std::sync::Arc;

use futures_lite::future::try_zip;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};

use super::session::MARK;
use super::{BoxFuture, Session};
use crate::error::{Error, is_cancelled, is_session_gone, is_wait_slice_over};
use crate::key::LockId;

/// How often an unlock is tried again when a late cancel request (aimed at
/// an abandoned wait) interrupts it instead.
const UNLOCK_ATTEMPTS: usize = 5;

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

    /// The error for a caller: `what` failed on `session`.
    pub(crate) fn into_error(self, session: &Session, what: &str) -> Error {
        match self {
            Failure::Foreign => Error::shared_server_session(
                &session.endpoint,
                "a statement reached another server process than the session's own",
            ),
            Failure::Db(err) => Error::new(crate::ErrorKind::Query, what).with_source(err),
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        Failure::Db(err)
    }
}

/// The advisory-lock functions the pool calls.
#[derive(Clone, Copy)]
enum Call {
    TryLock = 0,
    Lock = 1,
    Unlock = 2,
}

/// `CASE` that is true on the session's own server process, with the
/// mark's keys as the parameters `$m` and `$n` (see the module docs).
macro_rules! mine {
    ($m:literal, $n:literal) => {
        concat!(
            "(CASE WHEN pg_try_advisory_lock(",
            $m,
            ", ",
            $n,
            ") THEN pg_advisory_unlock(",
            $m,
            ", ",
            $n,
            ") ELSE false END)"
        )
    };
}

/// The statements of [`Call`], in its order, for a key passed as the
/// parameters `$key`, the mark as `$m, $n` and a wait's `lock_timeout` as
/// `$timeout`. A statement that fails the check returns NULL.
macro_rules! calls {
    ($key:literal, $m:literal, $n:literal, $timeout:literal) => {
        [
            concat!(
                "SELECT CASE WHEN ",
                mine!($m, $n),
                " THEN pg_try_advisory_lock(",
                $key,
                ") END"
            ),
            concat!(
                "SELECT CASE WHEN set_config('lock_timeout', ",
                $timeout,
                ", true) IS NULL THEN NULL WHEN ",
                mine!($m, $n),
                " THEN pg_advisory_lock(",
                $key,
                ")::text = '' END"
            ),
            concat!(
                "SELECT CASE WHEN ",
                mine!($m, $n),
                " THEN pg_advisory_unlock(",
                $key,
                ") END"
            ),
        ]
    };
}

/// For a `bigint` key.
const INT8: [&str; 3] = calls!("$1", "$2", "$3", "$4");
/// For a pair key.
const INT4_PAIR: [&str; 3] = calls!("$1, $2", "$3", "$4", "$5");

/// The statements of [`Call`], in its order, prepared on one session.
pub(super) struct Prepared {
    int8: [Statement; 3],
    int4_pair: [Statement; 3],
}

impl Prepared {
    /// Prepares all six at once: the requests go out together, so the
    /// answers take one round trip.
    pub(super) async fn prepare(client: &Client) -> Result<Prepared, tokio_postgres::Error> {
        use Type as T;
        let prepare = |sql: &'static str, types: &'static [Type]| client.prepare_typed(sql, types);
        let int8 = try_zip(
            try_zip(
                prepare(INT8[0], &[T::INT8, T::INT4, T::INT4]),
                prepare(INT8[1], &[T::INT8, T::INT4, T::INT4, T::TEXT]),
            ),
            prepare(INT8[2], &[T::INT8, T::INT4, T::INT4]),
        );
        let int4_pair = try_zip(
            try_zip(
                prepare(INT4_PAIR[0], &[T::INT4, T::INT4, T::INT4, T::INT4]),
                prepare(INT4_PAIR[1], &[T::INT4, T::INT4, T::INT4, T::INT4, T::TEXT]),
            ),
            prepare(INT4_PAIR[2], &[T::INT4, T::INT4, T::INT4, T::INT4]),
        );
        let (((try8, lock8), unlock8), ((try4, lock4), unlock4)) = try_zip(int8, int4_pair).await?;
        Ok(Prepared {
            int8: [try8, lock8, unlock8],
            int4_pair: [try4, lock4, unlock4],
        })
    }
}

impl Session {
    /// Runs `call` on `key`: its boolean, checked to come from the session's
    /// own server process.
    async fn call(&self, call: Call, key: LockId) -> Result<bool, Failure> {
        let (class, mark, slice) = (&MARK, &self.mark, &self.wait_slice);
        let int8 = &self.prepared.int8[call as usize];
        let int4_pair = &self.prepared.int4_pair[call as usize];
        let rows = match (key, call) {
            (LockId::Int8(id), Call::Lock) => {
                self.client.query(int8, &[&id, class, mark, slice]).await
            }
            (LockId::Int8(id), _) => self.client.query(int8, &[&id, class, mark]).await,
            (LockId::Int4Pair(a, b), Call::Lock) => {
                self.client
                    .query(int4_pair, &[&a, &b, class, mark, slice])
                    .await
            }
            (LockId::Int4Pair(a, b), _) => {
                self.client.query(int4_pair, &[&a, &b, class, mark]).await
            }
        };
        match rows {
            Ok(rows) => answer(&rows),
            // The statement is prepared on the session's own server
            // process only: a pooler handed the call to another one.
            Err(err) if err.code() == Some(&SqlState::INVALID_SQL_STATEMENT_NAME) => {
                Err(Failure::Foreign)
            }
            Err(err) => Err(Failure::Db(err)),
        }
    }

    /// `pg_try_advisory_lock(key)`, as a future that owns what it needs.
    pub(crate) fn try_lock(self: &Arc<Self>, key: LockId) -> BoxFuture<Result<bool, Failure>> {
        let session = self.clone();
        Box::pin(async move { session.call(Call::TryLock, key).await })
    }

    /// `pg_advisory_lock(key)`: waits on the server until granted, or until
    /// one wait slice (the heartbeat interval) has passed, which ends it
    /// with `lock_not_available` ([`Failure::is_wait_slice_over`]).
    pub(crate) fn lock(self: &Arc<Self>, key: LockId) -> BoxFuture<Result<bool, Failure>> {
        let session = self.clone();
        Box::pin(async move { session.call(Call::Lock, key).await })
    }

    /// `pg_advisory_unlock(key)`: whether the session held the lock. Tried
    /// again when a late cancel request interrupts it.
    pub(crate) async fn unlock(&self, key: LockId) -> Result<bool, Failure> {
        let mut attempt = 1;
        loop {
            match self.call(Call::Unlock, key).await {
                Err(failure) if failure.is_cancelled() && attempt < UNLOCK_ATTEMPTS => {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// The heartbeat: whether the session still answers, from its own
    /// server process, which still holds the session's mark.
    pub(crate) async fn ping(&self) -> Result<(), Failure> {
        match holds_mark(&self.client, self.mark).await? {
            true => Ok(()),
            false => Err(Failure::Foreign),
        }
    }

    /// Ends the server process `backend_pid` started at `backend_start` (a
    /// session of the same role), if it still runs: whether it did.
    pub(crate) async fn terminate(
        &self,
        backend_pid: i32,
        backend_start: &str,
    ) -> Result<bool, Failure> {
        let params: [(&(dyn ToSql + Sync), Type); 2] =
            [(&backend_pid, Type::INT4), (&backend_start, Type::TEXT)];
        let rows = self
            .client
            .query_typed(
                "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) \
                 FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2",
                &params,
            )
            .await?;
        answer(&rows)
    }
}

/// The boolean of a statement's one row; NULL (the check failed, so the
/// statement did nothing) is [`Failure::Foreign`].
fn answer(rows: &[Row]) -> Result<bool, Failure> {
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

/// Whether the server process a statement reaches holds the mark `(MARK,
/// mark)` shared: it gives the mark back and takes it again, which only
/// the holder can do (`pg_advisory_unlock_shared` is false elsewhere, and
/// the lock function then does not run).
pub(super) async fn holds_mark(client: &Client, mark: i32) -> Result<bool, Failure> {
    let params: [(&(dyn ToSql + Sync), Type); 2] = [(&MARK, Type::INT4), (&mark, Type::INT4)];
    let rows = client
        .query_typed(
            "SELECT CASE WHEN pg_advisory_unlock_shared($1, $2) \
             THEN pg_try_advisory_lock_shared($1, $2) ELSE false END",
            &params,
        )
        .await?;
    answer(&rows)
}
