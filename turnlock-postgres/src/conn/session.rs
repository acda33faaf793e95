//! One database session: a tokio-postgres client on a server process that
//! is marked as the pool's own, the cancel token, and whether it is gone.
//! Its statements are in `statements.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use event_listener::Event;
use tokio_postgres::{CancelToken, Client, SimpleQueryMessage, SimpleQueryRow};

use super::statements::{Failure, Prepared, holds_mark};
use super::{Dialer, Endpoint, Spawner, timeout};
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
    /// The second key of the shared advisory lock `(MARK, mark)` that this
    /// session's server process took when it opened, which marks the
    /// process as the pool's own: every statement checks that it runs
    /// there (`statements.rs`).
    pub(super) mark: i32,
    /// `Builder::heartbeat` in milliseconds: the `lock_timeout` of waits.
    pub(super) wait_slice: String,
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
        // The connection must be driven before any statement can run.
        let liveness = Arc::new(Liveness::default());
        let watch = liveness.clone();
        let on_lost = on_lost.clone();
        spawner.spawn(async move {
            futures_lite::future::or(async { drop(connection.await) }, watch.wait()).await;
            watch.mark_lost();
            on_lost(&watch);
        });
        // The statements are prepared once the process is known to be the
        // session's own (one round trip more): sent beside the checks, a
        // pooler in transaction mode could keep one server process for the
        // whole batch and pass them.
        let setup = timeout(connect_timeout, async {
            let identity = own_process(&client, endpoint).await?;
            let prepared = Prepared::prepare(&client).await.map_err(|err| {
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
            mark,
            wait_slice: dialer.heartbeat.as_millis().max(1).to_string(),
            prepared,
        })
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.liveness.is_lost() || self.client.is_closed()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

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
async fn own_process(client: &Client, endpoint: &Endpoint) -> Result<(i32, String, i32), Error> {
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
