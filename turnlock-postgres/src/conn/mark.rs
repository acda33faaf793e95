//! A session's mark: a shared advisory lock `(MARK, n)` that tells the
//! pool's own server process from any other, taken when the session opens
//! and checked by the heartbeat (see `statements.rs` for the check every
//! statement makes).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::Endpoint;
use super::failure::{Failure, answer};
use crate::error::{Error, ErrorKind};

/// The first key of every session's mark, `(MARK, n)` in PostgreSQL's
/// two-key form: "turn" in ASCII. In `pg_locks`, a mark is an advisory
/// `ShareLock` with `objsubid = 2` and `classid = 1953854062`.
pub(crate) const MARK: i32 = 0x7475_726e;

/// Attempts at a mark nobody else holds before giving up.
const MARK_ATTEMPTS: usize = 8;

/// Marks the session's server process as the pool's own, and checks that
/// it is: takes a shared advisory lock `(MARK, n)` that no other session
/// holds (taken exclusively first, to be sure of that, then kept shared),
/// and counts the advisory locks the process holds, in one transaction (so
/// on one server process, even behind a pooler). Anything but our one
/// lock means that the process carries another client's locks: a pooler
/// shares server sessions, or reuses them without resetting them. Gives
/// the process id, its start time and `n`.
pub(super) async fn own_process(
    client: &Client,
    endpoint: &Endpoint,
) -> Result<(i32, String, i32), Error> {
    for _ in 0..MARK_ATTEMPTS {
        let mark = random_i32();
        let setup = format!(
            "SELECT pg_backend_pid(), \
             (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()), \
             CASE WHEN pg_try_advisory_lock({MARK}, {mark}) \
             THEN (CASE WHEN pg_try_advisory_lock_shared({MARK}, {mark}) \
             THEN pg_advisory_unlock({MARK}, {mark}) ELSE false END) \
             ELSE false END; \
             SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        );
        let messages = client.simple_query(&setup).await.map_err(|err| {
            Error::connect(format!("could not set up a session at {endpoint}"), err)
        })?;
        let rows: Vec<&SimpleQueryRow> = messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect();
        let read = |identity: &SimpleQueryRow, count: &SimpleQueryRow| {
            let pid = identity.get(0)?.parse().ok()?;
            let started = identity.get(1)?.to_owned();
            let marked = identity.get(2)? == "t";
            let locks: u64 = count.get(0)?.parse().ok()?;
            Some((pid, started, marked, locks))
        };
        let parsed = match rows.as_slice() {
            [identity, count] => read(identity, count),
            _ => None,
        };
        match parsed {
            Some((pid, started, true, 1)) => {
                // The mark outlives the transaction that took it on a
                // session of our own; not where a pooler resets server
                // sessions after every transaction, or moves this one.
                return match holds_mark(client, mark).await {
                    Ok(true) => Ok((pid, started, mark)),
                    Ok(false) | Err(Failure::Foreign) => Err(Error::shared_server_session(
                        endpoint,
                        "its server process lost its mark from one transaction to the next",
                    )),
                    Err(Failure::Db(err)) => Err(Error::connect(
                        format!("could not set up a session at {endpoint}"),
                        err,
                    )),
                };
            }
            // Another session holds this mark: draw again.
            Some((_, _, false, 0)) => continue,
            Some((_, _, _, locks)) => {
                return Err(Error::shared_server_session(
                    endpoint,
                    &format!(
                        "its server process already holds {} advisory lock(s) this session \
                         did not take",
                        locks.saturating_sub(1)
                    ),
                ));
            }
            None => break,
        }
    }
    Err(Error::new(
        ErrorKind::Connect,
        format!("the session at {endpoint} could not mark its server process"),
    ))
}

/// A random number: the operating system's random source (through
/// `RandomState`'s keys), mixed with a counter, the clock and the pid.
fn random_i32() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    let bits = hasher.finish();
    i32::from_ne_bytes(((bits >> 32) as u32 ^ bits as u32).to_ne_bytes())
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
