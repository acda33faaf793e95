//! Opening a session for the pool.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::counts::Reservation;
use super::heartbeat;
use super::inner::{Inner, SessionEntry};
use crate::conn::Session;
use crate::error::{Error, ErrorKind};

/// Opens a session in the background and enters it into the pool, idle,
/// for whoever plans next; the future returned says whether it opened.
///
/// A session being opened is worth finishing even when the caller that
/// asked for it has gone (a short timeout on a cold pool): the task goes
/// on, bounded by the connect timeout, and the reservation counts the
/// session against `max_sessions` until it is open or has failed, so the
/// server never sees more sessions than that.
pub(crate) fn spawn_open(
    reservation: Reservation,
) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
    let (report, outcome) = async_channel::bounded(1);
    let inner = reservation.inner().clone();
    inner.spawn(async move {
        let _ = report.try_send(open(reservation).await);
    });
    async move {
        outcome.recv().await.unwrap_or_else(|_| {
            Err(Error::connect_timed_out(
                "opening a session ended without an answer",
            ))
        })
    }
}

/// Opens a session and enters it into the pool, idle. The reservation
/// counts it against `max_sessions` until then.
async fn open(reservation: Reservation) -> Result<(), Error> {
    let inner = reservation.inner().clone();
    let id = inner.next_session_id.fetch_add(1, Ordering::Relaxed);
    let weak = Arc::downgrade(&inner);
    let on_lost = Arc::new(move |liveness: &crate::conn::Liveness| {
        if let Some(inner) = weak.upgrade() {
            inner.forget_session(id, liveness);
        }
    });
    let session = Session::connect(id, &inner.dialer, &inner.spawner, on_lost).await?;
    let session = Arc::new(session);
    let entered = {
        let mut state = inner.state();
        reservation.end(&mut state);
        // A session that died before it was entered: its connection task
        // found nothing to remove.
        let alive = !session.is_lost();
        if alive {
            state.sessions.push(SessionEntry::new(session.clone()));
        }
        alive
    };
    inner.notify_changed();
    if entered {
        heartbeat::start(&inner, &session, |reservation| {
            Box::pin(spawn_open(reservation))
        });
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::SessionLost,
            format!(
                "the new session (backend {}) closed before it was used",
                session.backend_pid
            ),
        ))
    }
}

/// Opens a session unless the pool has one open, and waits for it.
pub(crate) async fn ensure_session(inner: &Arc<Inner>) -> Result<(), Error> {
    loop {
        let next = {
            let mut state = inner.state();
            if state.sessions.iter().any(|entry| !entry.session.is_lost()) {
                return Ok(());
            }
            if state.sessions.len() + state.connecting < inner.max_sessions {
                Ok(Reservation::start(inner, &mut state))
            } else {
                // Every place is taken by a session being opened: wait for
                // one of them. Listening before the lock is let go.
                Err(inner.changed.listen())
            }
        };
        match next {
            Ok(reservation) => spawn_open(reservation).await?,
            Err(listener) => listener.await,
        }
    }
}
