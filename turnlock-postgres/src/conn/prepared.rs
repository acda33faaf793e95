//! The advisory-lock statements, prepared once when a session opens and
//! run by name: the server does not parse and plan them on every call.
//! Each is guarded by the check `mine` (see `statements.rs`).

use futures_lite::future::try_zip;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use crate::key::LockId;

/// The advisory-lock functions the pool calls.
#[derive(Clone, Copy)]
pub(super) enum Call {
    TryLock = 0,
    Lock = 1,
    Unlock = 2,
}

/// How a key is held: by one holder among all processes, or shared by any
/// number of holders that exclude only exclusive ones (PostgreSQL's
/// `pg_advisory_lock` and `pg_advisory_lock_shared` families).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Exclusive = 0,
    Shared = 1,
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
/// parameters `$key` and the mark as `$m, $n`, with the functions of one
/// [`Access`] (`$suffix`: empty or `_shared`). A statement that fails the
/// check returns NULL. A wait ends after the session's `lock_timeout` (set
/// when it opens, `session.rs`); `pg_advisory_lock` returns `void`, which
/// `IS NOT NULL` turns into true without converting it to text.
macro_rules! calls {
    ($key:literal, $m:literal, $n:literal, $suffix:literal) => {
        [
            concat!(
                "SELECT CASE WHEN ",
                mine!($m, $n),
                " THEN pg_try_advisory_lock",
                $suffix,
                "(",
                $key,
                ") END"
            ),
            concat!(
                "SELECT CASE WHEN ",
                mine!($m, $n),
                " THEN pg_advisory_lock",
                $suffix,
                "(",
                $key,
                ") IS NOT NULL END"
            ),
            concat!(
                "SELECT CASE WHEN ",
                mine!($m, $n),
                " THEN pg_advisory_unlock",
                $suffix,
                "(",
                $key,
                ") END"
            ),
        ]
    };
}

/// For a `bigint` key, by [`Access`].
const INT8: [[&str; 3]; 2] = [
    calls!("$1", "$2", "$3", ""),
    calls!("$1", "$2", "$3", "_shared"),
];
/// For a pair key, by [`Access`].
const INT4_PAIR: [[&str; 3]; 2] = [
    calls!("$1, $2", "$3", "$4", ""),
    calls!("$1, $2", "$3", "$4", "_shared"),
];

/// The statements of [`Call`] for each [`Access`], prepared on one
/// session.
pub(super) struct Prepared {
    int8: [[Statement; 3]; 2],
    int4_pair: [[Statement; 3]; 2],
}

impl Prepared {
    /// Prepares all twelve at once: the requests go out together, so the
    /// answers take one round trip.
    pub(super) async fn prepare(client: &Client) -> Result<Prepared, tokio_postgres::Error> {
        use Type as T;
        let prepare = |sql: &'static str, types: &'static [Type]| client.prepare_typed(sql, types);
        let int8 = |sql: &'static [&'static str; 3]| {
            try_zip(
                try_zip(
                    prepare(sql[0], &[T::INT8, T::INT4, T::INT4]),
                    prepare(sql[1], &[T::INT8, T::INT4, T::INT4]),
                ),
                prepare(sql[2], &[T::INT8, T::INT4, T::INT4]),
            )
        };
        let int4_pair = |sql: &'static [&'static str; 3]| {
            try_zip(
                try_zip(
                    prepare(sql[0], &[T::INT4, T::INT4, T::INT4, T::INT4]),
                    prepare(sql[1], &[T::INT4, T::INT4, T::INT4, T::INT4]),
                ),
                prepare(sql[2], &[T::INT4, T::INT4, T::INT4, T::INT4]),
            )
        };
        let ((exclusive8, shared8), (exclusive4, shared4)) = try_zip(
            try_zip(int8(&INT8[0]), int8(&INT8[1])),
            try_zip(int4_pair(&INT4_PAIR[0]), int4_pair(&INT4_PAIR[1])),
        )
        .await?;
        let three = |((try_lock, lock), unlock)| [try_lock, lock, unlock];
        Ok(Prepared {
            int8: [three(exclusive8), three(shared8)],
            int4_pair: [three(exclusive4), three(shared4)],
        })
    }

    /// The statement of `call` with `access` for keys of `key`'s form.
    pub(super) fn get(&self, call: Call, key: LockId, access: Access) -> &Statement {
        let by_access = match key {
            LockId::Int8(_) => &self.int8,
            LockId::Int4Pair(..) => &self.int4_pair,
        };
        &by_access[access as usize][call as usize]
    }
}
