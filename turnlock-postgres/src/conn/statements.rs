//! The statements the pool runs on a session, each one round trip (the
//! advisory-lock ones prepared, `prepared.rs`).
//!
//! Each first checks that it runs on the session's own server process: the
//! one that took the session's mark, a shared advisory lock `(MARK, n)`
//! (`mark.rs`). A pooler in
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
//! that the process still holds the mark (`mark::holds_mark`): that also
//! notices a pooler that resets server sessions after every transaction
//! (which releases the mark, and every lock with it).

use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::failure::{Failure, answer};
use super::mark::{MARK, holds_mark};
use super::prepared::{Access, Call};
use super::{BoxFuture, Session};
use crate::error::Error;
use crate::key::LockId;

/// How often an unlock is tried again when a late cancel request (aimed at
/// an abandoned wait) interrupts it instead.
const UNLOCK_ATTEMPTS: usize = 5;

impl Failure {
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

impl Session {
    /// Runs `call` on `key`: its boolean, checked to come from the session's
    /// own server process.
    async fn call(&self, call: Call, key: LockId, access: Access) -> Result<bool, Failure> {
        let (class, mark) = (&MARK, &self.mark);
        let statement = self.prepared.get(call, key, access);
        let rows = match key {
            LockId::Int8(id) => self.client.query(statement, &[&id, class, mark]).await,
            LockId::Int4Pair(a, b) => self.client.query(statement, &[&a, &b, class, mark]).await,
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

    /// `pg_try_advisory_lock(key)` (or `_shared`), as a future that owns
    /// what it needs.
    pub(crate) fn try_lock(
        self: &Arc<Self>,
        key: LockId,
        access: Access,
    ) -> BoxFuture<Result<bool, Failure>> {
        let session = self.clone();
        Box::pin(async move { session.call(Call::TryLock, key, access).await })
    }

    /// `pg_advisory_lock(key)` (or `_shared`): waits on the server until
    /// granted, or until one wait slice (the heartbeat interval) has passed,
    /// which ends it with `lock_not_available`
    /// ([`Failure::is_wait_slice_over`]).
    pub(crate) fn lock(
        self: &Arc<Self>,
        key: LockId,
        access: Access,
    ) -> BoxFuture<Result<bool, Failure>> {
        let session = self.clone();
        Box::pin(async move { session.call(Call::Lock, key, access).await })
    }

    /// `pg_advisory_unlock(key)` (or `_shared`): whether the session held
    /// the lock. Tried again when a late cancel request interrupts it.
    pub(crate) async fn unlock(&self, key: LockId, access: Access) -> Result<bool, Failure> {
        let mut attempt = 1;
        loop {
            match self.call(Call::Unlock, key, access).await {
                Err(failure) if failure.is_cancelled() && attempt < UNLOCK_ATTEMPTS => {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Whether a session of any process waits for `key` on the server: an
    /// ungranted request in `pg_locks` (which shows every server process,
    /// so the answer holds on whichever process runs it). A waiting shared
    /// request implies a waiting exclusive one ahead of it, so this is
    /// "does a writer wait". Read-only, and run rarely (see
    /// `pool/shared.rs`), so it is not prepared.
    pub(crate) async fn others_wait(&self, key: LockId) -> Result<bool, Failure> {
        // `pg_locks` shows a `bigint` key as its high and low halves with
        // `objsubid` 1, a pair as its two keys with `objsubid` 2.
        let (classid, objid, objsubid): (i64, i64, i16) = match key {
            LockId::Int8(id) => ((id as u64 >> 32) as i64, (id as u64 as u32).into(), 1),
            LockId::Int4Pair(a, b) => ((a as u32).into(), (b as u32).into(), 2),
        };
        let params: [(&(dyn ToSql + Sync), Type); 3] = [
            (&classid, Type::INT8),
            (&objid, Type::INT8),
            (&objsubid, Type::INT2),
        ];
        let rows = self
            .client
            .query_typed(
                "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' \
                 AND NOT granted AND classid = $1::oid AND objid = $2::oid \
                 AND objsubid = $3 AND database = \
                 (SELECT oid FROM pg_database WHERE datname = current_database()))",
                &params,
            )
            .await?;
        answer(&rows)
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
