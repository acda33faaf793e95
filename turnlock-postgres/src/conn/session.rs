//! One database session: a tokio-postgres client, its prepared statements,
//! the cancel token, and whether it is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::Event;
use futures_lite::future::try_zip;
use tokio_postgres::types::Type;
use tokio_postgres::{CancelToken, Client, NoTls, Row, Statement};

use super::{BoxFuture, Compat, Dialer, Endpoint, Spawner, timeout};
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
    pub(crate) liveness: Arc<Liveness>,
    client: Client,
    statements: Statements,
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
                dialer
                    .config
                    .connect_raw(Compat(stream), NoTls)
                    .await
                    .map_err(|err| {
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
            // One round trip: the statements are prepared beside the query.
            let backend_pid = async {
                let row = client.query_one("SELECT pg_backend_pid()", &[]).await?;
                Ok::<_, tokio_postgres::Error>(row.get::<_, i32>(0))
            };
            let prepare = try_zip(backend_pid, Statements::prepare(&client));
            let (backend_pid, statements) = match timeout(connect_timeout, prepare).await {
                Some(Ok(pair)) => pair,
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
                liveness,
                cancel: client.cancel_token(),
                client,
                statements,
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

    /// One advisory-lock function on `key`, in one round trip, through the
    /// session's prepared statement: the server parses and plans each
    /// function once per session, not on every call.
    async fn call(&self, call: Call, key: LockId) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statements = &self.statements;
        match key {
            LockId::Int8(id) => self.client.query(statements.int8(call), &[&id]).await,
            LockId::Int4Pair(a, b) => {
                self.client
                    .query(statements.int4_pair(call), &[&a, &b])
                    .await
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

/// The advisory-lock functions the pool calls, prepared on each session
/// when it opens: `[try lock, lock, unlock]` for each form of key.
struct Statements {
    int8: [Statement; 3],
    int4_pair: [Statement; 3],
}

impl Statements {
    /// Prepares all six at once: the requests go out together, so the
    /// answers take one round trip.
    async fn prepare(client: &Client) -> Result<Statements, tokio_postgres::Error> {
        let int8 = |call: Call| client.prepare_typed(call.int8(), &[Type::INT8]);
        let pair = |call: Call| client.prepare_typed(call.int4_pair(), &[Type::INT4, Type::INT4]);
        let ((try_lock, lock), (unlock, ((pair_try_lock, pair_lock), pair_unlock))) = try_zip(
            try_zip(int8(Call::TryLock), int8(Call::Lock)),
            try_zip(
                int8(Call::Unlock),
                try_zip(
                    try_zip(pair(Call::TryLock), pair(Call::Lock)),
                    pair(Call::Unlock),
                ),
            ),
        )
        .await?;
        Ok(Statements {
            int8: [try_lock, lock, unlock],
            int4_pair: [pair_try_lock, pair_lock, pair_unlock],
        })
    }

    fn int8(&self, call: Call) -> &Statement {
        &self.int8[call as usize]
    }

    fn int4_pair(&self, call: Call) -> &Statement {
        &self.int4_pair[call as usize]
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
