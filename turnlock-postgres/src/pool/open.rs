//! Opening a session for the pool.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::counts::Reservation;
use super::inner::SessionEntry;
use crate::conn::Session;
use crate::error::Error;

/// Opens a session and enters it into the pool, idle, for whoever plans
/// next. The reservation counts it against `max_sessions` until then.
pub(crate) async fn open(reservation: Reservation) -> Result<(), Error> {
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
            state.sessions.push(SessionEntry::new(session));
        }
        alive
    };
    inner.notify_changed();
    if entered {
        Ok(())
    } else {
        Err(Error::session_lost(None))
    }
}
