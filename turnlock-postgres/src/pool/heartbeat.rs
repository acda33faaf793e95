//! Loss detected in bounded time: every session beats, and one that falls
//! silent is closed and its server process ended.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::counts::{Busy, Reservation};
use super::inner::Inner;
use crate::conn::{BoxFuture, Session, timeout};
use crate::error::Error;

/// How long the pool keeps trying to end a silent session's server process
/// (it needs a session that answers to do it from).
const TERMINATE_PATIENCE: Duration = Duration::from_secs(60);

/// How the pool opens a session (`open.rs`), given to the heartbeat by the
/// code that opens sessions, so that this file needs none of it.
pub(crate) type Open = fn(Reservation) -> BoxFuture<Result<(), Error>>;

/// Starts the beats of a session that was just entered into the pool; a
/// session that falls silent has its server process ended from another
/// session, opened with `open` if need be.
///
/// Every `interval` the session runs `SELECT 1`, which must be answered
/// within two intervals (one may be spent behind a wait, which the
/// server's `lock_timeout` ends after one interval). A session that does
/// not answer is declared lost at most three intervals after it fell
/// silent. The task holds the pool and the session weakly: it ends with
/// them.
pub(crate) fn start(inner: &Arc<Inner>, session: &Arc<Session>, open: Open) {
    let interval = inner.dialer.heartbeat;
    let (pool, weak) = (Arc::downgrade(inner), Arc::downgrade(session));
    inner.spawn(async move {
        loop {
            async_io::Timer::after(interval).await;
            let (Some(inner), Some(session)) = (pool.upgrade(), weak.upgrade()) else {
                return;
            };
            if session.is_lost() {
                return;
            }
            let answer = timeout(interval * 2, session.ping()).await;
            if session.is_lost() {
                return;
            }
            if !matches!(answer, Some(Ok(()))) {
                silent(&inner, &session, open);
                return;
            }
        }
    });
}

/// A session that stopped answering: the pool lets go of it (its holders
/// learn that their locks are lost), and its server process, which may
/// still hold them, is ended from another session.
fn silent(inner: &Arc<Inner>, session: &Arc<Session>, open: Open) {
    inner.session_gone(session);
    let (pid, started) = (session.backend_pid, session.backend_start.clone());
    let pool = Arc::downgrade(inner);
    inner.spawn(async move {
        let _ = timeout(TERMINATE_PATIENCE, terminate(pool, pid, &started, open)).await;
    });
}

/// Ends server process `pid` (started at `started`) from a session of the
/// pool that answers, opening one if there is none and there is room.
async fn terminate(pool: Weak<Inner>, pid: i32, started: &str, open: Open) {
    let mut pause = Duration::from_millis(50);
    loop {
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let next = {
            let mut state = inner.state();
            let usable = state
                .sessions
                .iter()
                .find(|entry| entry.usable())
                .map(|entry| entry.session.clone());
            match usable {
                Some(session) => Ok((Busy::start(&inner, &mut state, &session), session)),
                None if state.sessions.len() + state.connecting < inner.max_sessions => {
                    Err(Some(Reservation::start(&inner, &mut state)))
                }
                None => Err(None),
            }
        };
        match next {
            Ok((busy, session)) => {
                let ended = session.terminate(pid, started).await;
                drop(busy);
                if ended.is_ok() {
                    return;
                }
            }
            Err(Some(reservation)) => {
                let _ = open(reservation).await;
            }
            Err(None) => {}
        }
        drop(inner);
        async_io::Timer::after(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
