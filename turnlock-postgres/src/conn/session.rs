//! One database session: a tokio-postgres client on a server process that
//! is marked as the pool's own, the cancel token, and whether it is gone.
//! Its statements are in `statements.rs`, its mark in `mark.rs`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::Event;
use futures_lite::future::try_zip;
use tokio_postgres::{CancelToken, Client};

use super::mark::own_process;
use super::prepared::Prepared;
use super::riders::Riders;
use super::{BoxFuture, Dialer, Endpoint, Spawner, timeout};
use crate::error::{Error, ErrorKind};

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

    /// Listens for the session to be marked lost (look at
    /// [`is_lost`](Liveness::is_lost) after listening).
    pub(crate) fn listen(&self) -> event_listener::EventListener {
        self.event.listen()
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
    pub(super) client: Client,
    pub(super) cancel: CancelToken,
    pub(super) endpoint: Endpoint,
    /// Statements whose answers the connection's task books (`riders.rs`).
    riders: Arc<Riders>,
    /// The second key of the shared advisory lock `(MARK, mark)` that this
    /// session's server process took when it opened, which marks the
    /// process as the pool's own: every statement checks that it runs
    /// there (`statements.rs`).
    pub(super) mark: i32,
    /// The advisory-lock statements, prepared when the session opened.
    pub(super) prepared: Prepared,
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
        let mut last = None;
        for endpoint in &dialer.endpoints {
            match Session::open_at(id, dialer, endpoint, spawner, &on_lost).await {
                Ok(session) => return Ok(session),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Config, "no host to connect to")))
    }

    async fn open_at(
        id: u64,
        dialer: &Dialer,
        endpoint: &Endpoint,
        spawner: &Spawner,
        on_lost: &Arc<dyn Fn(&Liveness) + Send + Sync>,
    ) -> Result<Session, Error> {
        let connect_timeout = dialer.connect_timeout;
        let handshake = async {
            let stream = (dialer.connector)(endpoint.clone())
                .await
                .map_err(|err| Error::connect(format!("could not connect to {endpoint}"), err))?;
            dialer.handshake(endpoint, stream).await.map_err(|err| {
                Error::connect(format!("could not open a session at {endpoint}"), err)
            })
        };
        let (client, connection) =
            timeout(connect_timeout, handshake)
                .await
                .unwrap_or_else(|| {
                    Err(Error::connect_timed_out(format!(
                        "could not connect to {endpoint} within {connect_timeout:?}"
                    )))
                })?;
        // The connection must be driven before any statement can run; its
        // task also polls the session's riders after each of its polls.
        let liveness = Arc::new(Liveness::default());
        let riders = Arc::new(Riders::default());
        let (watch, riding) = (liveness.clone(), riders.clone());
        let on_lost = on_lost.clone();
        spawner.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let drive = std::future::poll_fn(|cx| {
                // Riders boarded for later send their statements first, so
                // that this poll of the connection writes them.
                riding.poll_all(cx.waker());
                let polled = connection.as_mut().poll(cx);
                riding.poll_all(cx.waker());
                polled.map(drop)
            });
            futures_lite::future::or(drive, watch.wait()).await;
            watch.mark_lost();
            riding.close();
            on_lost(&watch);
        });
        // The statements are prepared once the process is known to be the
        // session's own (one round trip more): sent beside the checks, a
        // pooler in transaction mode could keep one server process for the
        // whole batch and pass them.
        let setup = timeout(connect_timeout, async {
            let identity = own_process(&client, endpoint).await?;
            // Every wait on the server ends after one heartbeat interval
            // (`lock_timeout`, PostgreSQL's `lock_not_available`) and is
            // sent again, so that a beat queued behind it is never late.
            // Set once for the session rather than by each wait: a wait
            // then costs the server no setting to parse and undo, and any
            // other statement that would wait on a lock (taking a fencing
            // token) gives up after the same interval instead of making
            // the heartbeat late. Sent with the prepares: one round trip.
            let slice = format!("SET lock_timeout = {}", dialer.heartbeat.as_millis().max(1));
            let (prepared, ()) = try_zip(Prepared::prepare(&client), client.batch_execute(&slice))
                .await
                .map_err(|err| {
                    Error::connect(format!("could not set up a session at {endpoint}"), err)
                })?;
            Ok((identity, prepared))
        })
        .await
        .unwrap_or_else(|| {
            Err(Error::connect_timed_out(format!(
                "the session at {endpoint} did not answer within {connect_timeout:?}"
            )))
        });
        let ((backend_pid, backend_start, mark), prepared) = match setup {
            Ok(identity) => identity,
            Err(err) => {
                liveness.mark_lost();
                return Err(err);
            }
        };
        Ok(Session {
            id,
            backend_pid,
            backend_start,
            liveness,
            cancel: client.cancel_token(),
            client,
            endpoint: endpoint.clone(),
            riders,
            mark,
            prepared,
        })
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.liveness.is_lost() || self.client.is_closed()
    }

    /// Sends a statement by polling `future` once, and leaves the wait for
    /// its answer to the task that drives the connection (`riders.rs`).
    /// Returns it unfinished if the connection has ended, for the caller to
    /// run elsewhere.
    pub(crate) fn ride(&self, future: BoxFuture<()>) -> Option<BoxFuture<()>> {
        self.riders.board(future)
    }

    /// Like [`ride`](Session::ride), but the statement is sent by the task
    /// that drives the connection, when it next runs (`riders.rs`).
    pub(crate) fn ride_later(&self, future: BoxFuture<()>) -> Option<BoxFuture<()>> {
        self.riders.board_later(future)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}
