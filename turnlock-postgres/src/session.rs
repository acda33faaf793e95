//! One database session: a tokio-postgres client, its prepared statements,
//! the cancel token, and the flag that says it is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use event_listener::Event;
use futures_lite::AsyncReadExt;
use tokio_postgres::{CancelToken, Client, NoTls, Statement};

use crate::connect::{BoxFuture, Compat, ConnectorFn, Endpoint, SpawnFn, timeout};
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
        self.lost.load(Ordering::Acquire)
    }

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
    pub(crate) id: u64,
    pub(crate) backend_pid: i32,
    pub(crate) liveness: Arc<Liveness>,
    client: Client,
    try_lock: Statement,
    lock: Statement,
    unlock: Statement,
    cancel: CancelToken,
    endpoint: Endpoint,
}

impl Session {
    /// Opens a session on the first endpoint that answers, each within
    /// `connect_timeout`. The connection future is handed to `spawn`; when
    /// it ends, the session is marked lost and `on_lost` runs.
    pub(crate) async fn connect(
        id: u64,
        config: &tokio_postgres::Config,
        endpoints: &[Endpoint],
        connector: &ConnectorFn,
        spawn: &SpawnFn,
        connect_timeout: Duration,
        on_lost: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Session, Error> {
        let mut last = None;
        for endpoint in endpoints {
            let attempt = async {
                let stream = connector(endpoint.clone()).await.map_err(|err| {
                    Error::new(
                        ErrorKind::Connect,
                        format!("could not connect to {endpoint}"),
                    )
                    .with_source(err)
                })?;
                config
                    .connect_raw(Compat(stream), NoTls)
                    .await
                    .map_err(|err| {
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
            spawn(Box::pin(async move {
                let _ = connection.await;
                watch.mark_lost();
                on_lost();
            }));
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

    /// Asks the server to cancel the statement this session runs, over a
    /// new connection to the same endpoint, and waits until the server has
    /// acted on it: the server signals the backend before it closes the
    /// cancel connection, so a statement sent after this returns is never
    /// the one cancelled.
    pub(crate) async fn cancel(&self, connector: &ConnectorFn) -> Result<(), Error> {
        let failed = |err: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorKind::Connect, "could not send a cancel request").with_source(err)
        };
        let mut stream = Compat(
            connector(self.endpoint.clone())
                .await
                .map_err(|e| failed(e.into()))?,
        );
        self.cancel
            .cancel_query_raw(&mut stream, NoTls)
            .await
            .map_err(|e| failed(e.into()))?;
        let mut buf = [0u8; 64];
        loop {
            match stream.0.read(&mut buf).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }
}
