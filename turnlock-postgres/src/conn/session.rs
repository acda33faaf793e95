//! One database session: a tokio-postgres client, its prepared statements,
//! the cancel token, and whether it is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::Event;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{CancelToken, Client, Row, SimpleQueryMessage};

use super::{BoxFuture, Dialer, Endpoint, Spawner, timeout};
use crate::error::{Error, ErrorKind, is_cancelled};
use crate::key::LockId;

/// How often an unlock is tried again when a late cancel request (aimed at
/// an abandoned wait) interrupts it instead.
const UNLOCK_ATTEMPTS: usize = 5;

/// Whether a session is gone, and who to tell.
#[derive(Default)]
pub(crate) struct Liveness {
    lost: AtomicBool,
    event: Event,
}

impl Liveness {
    pub(crate) fn is_lost(&self) -> bool {
        // Acquire: pairs with the Release in `mark_lost`, so that whoever
        // sees the flag also sees what was done before it was set.
        self.lost.load(Ordering::Acquire)
    }

    /// Marks the session gone and wakes everyone waiting for that. The
    /// task that drives the connection then drops it, which closes the
    /// socket: the server ends the session and frees its locks.
    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// Completes once the session is gone.
    pub(crate) async fn wait(&self) {
        loop {
            if self.is_lost() {
                return;
            }
            let listener = self.event.listen();
            if self.is_lost() {
                return;
            }
            listener.await;
        }
    }
}

pub(crate) struct Session {
    /// The pool's number for this session (never reused within a pool).
    pub(crate) id: u64,
    /// The server process that runs the session, as in `pg_locks.pid`.
    pub(crate) backend_pid: i32,
    /// When that process started, in the server's words: with the pid, it
    /// names the process even after the pid is reused.
    pub(crate) backend_start: String,
    pub(crate) liveness: Arc<Liveness>,
    client: Client,
    pub(super) cancel: CancelToken,
    pub(super) endpoint: Endpoint,
}

impl Session {
    /// Opens a session on the first endpoint that answers, each within the
    /// dialer's connect timeout. The connection future is handed to
    /// `spawner`; when it ends, or the session is marked lost, the
    /// connection is dropped and `on_lost` runs with the session's
    /// liveness.
    pub(crate) async fn connect(
        id: u64,
        dialer: &Dialer,
        spawner: &Spawner,
        on_lost: Arc<dyn Fn(&Liveness) + Send + Sync>,
    ) -> Result<Session, Error> {
        let connect_timeout = dialer.connect_timeout;
        let mut last = None;
        for endpoint in &dialer.endpoints {
            let attempt = async {
                let stream = (dialer.connector)(endpoint.clone()).await.map_err(|err| {
                    Error::connect(format!("could not connect to {endpoint}"), err)
                })?;
                dialer.handshake(endpoint, stream).await.map_err(|err| {
                    Error::connect(format!("could not open a session at {endpoint}"), err)
                })
            };
            let (client, connection) = match timeout(connect_timeout, attempt).await {
                Some(Ok(pair)) => pair,
                Some(Err(err)) => {
                    last = Some(err);
                    continue;
                }
                None => {
                    last = Some(Error::connect_timed_out(format!(
                        "could not connect to {endpoint} within {connect_timeout:?}"
                    )));
                    continue;
                }
            };
            // The connection must be driven before any statement can run.
            let liveness = Arc::new(Liveness::default());
            let watch = liveness.clone();
            let on_lost = on_lost.clone();
            spawner.spawn(async move {
                futures_lite::future::or(async { drop(connection.await) }, watch.wait()).await;
                watch.mark_lost();
                on_lost(&watch);
            });
            let setup = format!(
                "SET lock_timeout = {}; \
                 SELECT pg_backend_pid(), \
                 (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid())",
                dialer.heartbeat.as_millis().max(1)
            );
            let (backend_pid, backend_start) = match timeout(
                connect_timeout,
                client.simple_query(&setup),
            )
            .await
            {
                Some(Ok(messages)) => match identity(&messages) {
                    Some(identity) => identity,
                    None => {
                        liveness.mark_lost();
                        last = Some(Error::new(
                            ErrorKind::Connect,
                            format!(
                                "the session at {endpoint} did not say which server process it is"
                            ),
                        ));
                        continue;
                    }
                },
                Some(Err(err)) => {
                    liveness.mark_lost();
                    last = Some(Error::connect(
                        format!("could not set up a session at {endpoint}"),
                        err,
                    ));
                    continue;
                }
                None => {
                    liveness.mark_lost();
                    last = Some(Error::connect_timed_out(format!(
                        "the session at {endpoint} did not answer within {connect_timeout:?}"
                    )));
                    continue;
                }
            };
            return Ok(Session {
                id,
                backend_pid,
                backend_start,
                liveness,
                cancel: client.cancel_token(),
                client,
                endpoint: endpoint.clone(),
            });
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Config, "no host to connect to")))
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.liveness.is_lost() || self.client.is_closed()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// One advisory-lock function on `key`, in one round trip: an unnamed
    /// statement with typed parameters, so nothing is prepared per session
    /// (and nothing breaks when a pooler swaps server sessions, which the
    /// pool refuses anyway).
    async fn call(&self, call: Call, key: LockId) -> Result<Vec<Row>, tokio_postgres::Error> {
        match key {
            LockId::Int8(id) => {
                let params: [(&(dyn ToSql + Sync), Type); 1] = [(&id, Type::INT8)];
                self.client.query_typed(call.int8(), &params).await
            }
            LockId::Int4Pair(a, b) => {
                let params: [(&(dyn ToSql + Sync), Type); 2] = [(&a, Type::INT4), (&b, Type::INT4)];
                self.client.query_typed(call.int4_pair(), &params).await
            }
        }
    }

    /// `pg_try_advisory_lock(key)`, as a future that owns what it needs.
    pub(crate) fn try_lock(
        self: &Arc<Self>,
        key: LockId,
    ) -> BoxFuture<Result<bool, tokio_postgres::Error>> {
        let session = self.clone();
        Box::pin(async move { first_bool(session.call(Call::TryLock, key).await?) })
    }

    /// `pg_advisory_lock(key)`: waits on the server until granted.
    pub(crate) fn lock(
        self: &Arc<Self>,
        key: LockId,
    ) -> BoxFuture<Result<bool, tokio_postgres::Error>> {
        let session = self.clone();
        Box::pin(async move {
            session.call(Call::Lock, key).await?;
            Ok(true)
        })
    }

    /// A statement that does nothing: whether the session still answers.
    pub(crate) async fn ping(&self) -> Result<(), tokio_postgres::Error> {
        self.client.query_typed("SELECT 1", &[]).await.map(drop)
    }

    /// Ends the server process `backend_pid` started at `backend_start` (a
    /// session of the same role), if it still runs: whether it did.
    pub(crate) async fn terminate(
        &self,
        backend_pid: i32,
        backend_start: &str,
    ) -> Result<bool, tokio_postgres::Error> {
        let params: [(&(dyn ToSql + Sync), Type); 2] =
            [(&backend_pid, Type::INT4), (&backend_start, Type::TEXT)];
        let rows = self
            .client
            .query_typed(
                "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity \
                 WHERE pid = $1 AND backend_start::text = $2",
                &params,
            )
            .await?;
        first_bool(rows)
    }

    /// `pg_advisory_unlock(key)`: whether the session held the lock. Tried
    /// again when a late cancel request interrupts it.
    pub(crate) async fn unlock(&self, key: LockId) -> Result<bool, tokio_postgres::Error> {
        let mut attempt = 1;
        loop {
            match self.call(Call::Unlock, key).await.and_then(first_bool) {
                Ok(held) => return Ok(held),
                Err(err) if is_cancelled(&err) && attempt < UNLOCK_ATTEMPTS => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }
}

/// The advisory-lock functions the pool calls.
#[derive(Clone, Copy)]
enum Call {
    TryLock,
    Lock,
    Unlock,
}

impl Call {
    fn int8(self) -> &'static str {
        match self {
            Call::TryLock => "SELECT pg_try_advisory_lock($1)",
            Call::Lock => "SELECT pg_advisory_lock($1)",
            Call::Unlock => "SELECT pg_advisory_unlock($1)",
        }
    }

    fn int4_pair(self) -> &'static str {
        match self {
            Call::TryLock => "SELECT pg_try_advisory_lock($1, $2)",
            Call::Lock => "SELECT pg_advisory_lock($1, $2)",
            Call::Unlock => "SELECT pg_advisory_unlock($1, $2)",
        }
    }
}

/// The boolean a `SELECT pg_..._advisory_...` returns.
fn first_bool(rows: Vec<Row>) -> Result<bool, tokio_postgres::Error> {
    match rows.first() {
        Some(row) => row.try_get::<_, bool>(0),
        // Not seen: the server answers each of these `SELECT`s with one row
        // or an error. Read as "not granted" / "was not held", the answer
        // that claims nothing.
        None => Ok(false),
    }
}

/// The server process id and start time from the set-up query's row.
fn identity(messages: &[SimpleQueryMessage]) -> Option<(i32, String)> {
    messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some((row.get(0)?.parse().ok()?, row.get(1)?.to_owned())),
        _ => None,
    })
}
