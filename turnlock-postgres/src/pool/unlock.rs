//! Giving a remote lock back: `pg_advisory_unlock` in the background, its
//! outcome booked by the pool and, if asked for, reported.

use std::sync::Arc;

use super::counts::Busy;
use super::inner::{Inner, State, remove_one};
use crate::conn::{Failure, Session};
use crate::error::{Error, ErrorKind};
use crate::key::LockId;

/// An unlock about to run: counted on its session, the key moved from
/// `held` to `releasing`.
pub(crate) struct Unlock {
    inner: Arc<Inner>,
    session: Arc<Session>,
    id: LockId,
    busy: Busy,
}

impl Unlock {
    /// Books the unlock of `id` on `session`; `None` if the session is gone
    /// (then the server has freed the lock already).
    pub(crate) fn start(
        inner: &Arc<Inner>,
        state: &mut State,
        session: &Arc<Session>,
        id: LockId,
    ) -> Option<Unlock> {
        if session.is_lost() {
            return None;
        }
        let entry = state.entry(session)?;
        if remove_one(&mut entry.held, id) {
            entry.releasing.push(id);
        }
        Some(Unlock {
            inner: inner.clone(),
            busy: Busy::start(inner, state, session),
            session: session.clone(),
            id,
        })
    }

    /// Runs the unlock in the background; only the pool learns how it went.
    pub(crate) fn spawn(self) {
        let inner = self.inner.clone();
        inner.spawn(async move {
            let _ = self.run().await;
        });
    }

    /// Runs the unlock in the background; the receiver gets the outcome.
    pub(crate) fn spawn_reporting(self) -> async_channel::Receiver<Result<(), Error>> {
        let (report, outcome) = async_channel::bounded(1);
        let inner = self.inner.clone();
        inner.spawn(async move {
            let _ = report.try_send(self.run().await);
        });
        outcome
    }

    async fn run(self) -> Result<(), Error> {
        let Unlock {
            inner,
            session,
            id,
            busy,
        } = self;
        let result = session.unlock(id).await;
        let gone = match &result {
            Err(failure) => failure.is_session_gone() || matches!(failure, Failure::Foreign),
            Ok(_) => false,
        };
        if gone || session.is_lost() {
            drop(busy);
            inner.session_gone(&session);
        } else {
            let mut state = inner.state();
            if let Some(entry) = state.entry(&session) {
                remove_one(&mut entry.releasing, id);
            }
            busy.end(&mut state);
            drop(state);
            inner.notify_changed();
        }
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::new(
                ErrorKind::SessionLost,
                format!(
                    "lock {id} was no longer held by its session (backend {})",
                    session.backend_pid
                ),
            )),
            Err(Failure::Foreign) => Err(Failure::Foreign.into_error(&session, "")),
            Err(failure) if session.is_lost() => Err(Error::session_lost(
                id,
                session.backend_pid,
                failure.into_db(),
            )),
            Err(failure) => Err(failure.into_error(&session, "pg_advisory_unlock failed")),
        }
    }
}
