//! One database session: a tokio-postgres client, its prepared statements,
//! the cancel token, and whether it is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::Event;
use tokio_postgres::{CancelToken, Client, Statement};

use super::{BoxFuture, Dialer, Endpoint, Spawner, timeout};
use crate::error::{Error, ErrorKind, is_cancelled};

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
    try_lock: Statement,
    lock: Statement,
    unlock: Statement,
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
                    Error::new(
                        ErrorKind::Connect,
                        format!("could not connect to {endpoint}"),
                    )
                    .with_source(err)
                })?;
                dialer.handshake(endpoint, stream).await.map_err(|err| {
                    Error::new(
                        ErrorKind::Connect,
                        format!("could not open a session at {endpoint}"),
                    )
                    .with_source(err)
                })
            };
            let (client, connection) = match timeout(connect_timeout, attempt).await {
                Some(Ok(pair)) => pair,
                Some(Err(err)) => {
                    last = Some(err);
                    continue;
                }
                None => {
                    last = Some(Error::new(
                        ErrorKind::Connect,
                        format!("could not connect to {endpoint} within {connect_timeout:?}"),
                    ));
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
            let prepare = async {
                let ((try_lock, lock), (unlock, pid)) = futures_lite::future::zip(
                    futures_lite::future::zip(
                        client.prepare("SELECT pg_try_advisory_lock($1::int8)"),
                        client.prepare("SELECT pg_advisory_lock($1::int8)"),
                    ),
                    futures_lite::future::zip(
                        client.prepare("SELECT pg_advisory_unlock($1::int8)"),
                        client.query_one("SELECT pg_backend_pid()", &[]),
                    ),
                )
                .await;
                Ok::<_, tokio_postgres::Error>((try_lock?, lock?, unlock?, pid?.get::<_, i32>(0)))
            };
            let setup = match timeout(connect_timeout, prepare).await {
                Some(Ok(setup)) => setup,
                Some(Err(err)) => {
                    liveness.mark_lost();
                    last = Some(
                        Error::new(
                            ErrorKind::Connect,
                            format!("could not prepare a session at {endpoint}"),
                        )
                        .with_source(err),
                    );
                    continue;
                }
                None => {
                    liveness.mark_lost();
                    last = Some(Error::new(
                        ErrorKind::Connect,
                        format!(
                            "the session at {endpoint} did not answer within {connect_timeout:?}"
                        ),
                    ));
                    continue;
                }
            };
            let (try_lock, lock, unlock, backend_pid) = setup;
            return Ok(Session {
                id,
                backend_pid,
                liveness,
                cancel: client.cancel_token(),
                client,
                try_lock,
                lock,
                unlock,
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

    /// `pg_try_advisory_lock(key)`, as a future that owns what it needs.
    pub(crate) fn try_lock(
        self: &Arc<Self>,
        key: i64,
    ) -> BoxFuture<Result<bool, tokio_postgres::Error>> {
        let session = self.clone();
        Box::pin(async move {
            let row = session.client.query_one(&session.try_lock, &[&key]).await?;
            Ok(row.get::<_, bool>(0))
        })
    }

    /// `pg_advisory_lock(key)`: waits on the server until granted.
    pub(crate) fn lock(
        self: &Arc<Self>,
        key: i64,
    ) -> BoxFuture<Result<bool, tokio_postgres::Error>> {
        let session = self.clone();
        Box::pin(async move {
            session.client.execute(&session.lock, &[&key]).await?;
            Ok(true)
        })
    }

    /// `pg_advisory_unlock(key)`: whether the session held the lock. Tried
    /// again when a late cancel request interrupts it.
    pub(crate) async fn unlock(&self, key: i64) -> Result<bool, tokio_postgres::Error> {
        let mut attempt = 1;
        loop {
            match self.client.query_one(&self.unlock, &[&key]).await {
                Ok(row) => return Ok(row.get::<_, bool>(0)),
                Err(err) if is_cancelled(&err) && attempt < UNLOCK_ATTEMPTS => attempt += 1,
                Err(err) => return Err(err),
            }
        }
    }
}
