//! Giving a remote lock back: `pg_advisory_unlock` sent at once, or, after
//! a guard's drop, when the session's connection task next runs (a local
//! caller of the key that comes first takes the lock over instead); its
//! answer booked by that task and, if asked for, reported.

use std::sync::Arc;

use super::counts::Busy;
use super::inner::{Inner, ParkedLock, SharedHold, State, Unsent, remove_one};
use crate::conn::{Access, Failure, Session};
use crate::error::{Error, ErrorKind};
use crate::key::LockId;

/// An unlock about to run: counted on its session, the key moved from
/// `held` to `releasing`.
pub(crate) struct Unlock {
    inner: Arc<Inner>,
    session: Arc<Session>,
    id: LockId,
    access: Access,
    busy: Busy,
    sending: Sending,
}

/// When an unlock's statement goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// At once, from the caller's thread.
    Now,
    /// When the session's connection task next runs, unless a local caller
    /// of the key has taken the lock over by then (`SessionEntry::unsent`).
    Later,
}

impl Unlock {
    /// Books the unlock of `id` (held with `access`) on `session`; `None`
    /// if the session is gone (then the server has freed the lock already).
    pub(crate) fn start(
        inner: &Arc<Inner>,
        state: &mut State,
        session: &Arc<Session>,
        id: LockId,
        access: Access,
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
            access,
            sending: Sending::Now,
        })
    }

    /// Books the release as not sent yet: it goes out when the session's
    /// connection task next runs, and a local caller of the key that comes
    /// before that takes the lock over instead, with one local hand-off
    /// more than `handoffs`, those of the holder that let go. For an
    /// exclusive lock whose holder dropped its guard: the holder's own task
    /// often takes the key again at once, and then needs no round trip.
    pub(crate) fn later(mut self, state: &mut State, handoffs: u32) -> Unlock {
        if let Some(entry) = state.entry(&self.session) {
            entry.unsent.push(Unsent {
                id: self.id,
                handoffs,
            });
            self.sending = Sending::Later;
        }
        self
    }

    /// The number of the session it runs on.
    pub(crate) fn session_id(&self) -> u64 {
        self.session.id
    }

    /// Sends the unlock now; the task that drives the session's
    /// connection books its answer (`conn/riders.rs`), so the release
    /// costs no task and no wake-up of its own. Only the pool learns how
    /// it went.
    pub(crate) fn send(self) {
        self.send_then(drop);
    }

    /// [`send`](Unlock::send), with the outcome reported to the receiver.
    pub(crate) fn send_reporting(self) -> async_channel::Receiver<Result<(), Error>> {
        let (report, outcome) = async_channel::bounded(1);
        self.send_then(move |result| {
            let _ = report.try_send(result);
        });
        outcome
    }

    /// Sends the unlock, and hands its outcome to `then` once booked.
    fn send_then(self, then: impl FnOnce(Result<(), Error>) + Send + 'static) {
        let (inner, session, sending) = (self.inner.clone(), self.session.clone(), self.sending);
        let run = Box::pin(async move { then(self.run().await) });
        let unsent = match sending {
            Sending::Now => session.ride(run),
            Sending::Later => session.ride_later(run),
        };
        if let Some(run) = unsent {
            // The connection has just ended: the statement fails at once.
            inner.spawn(run);
        }
    }

    async fn run(self) -> Result<(), Error> {
        let Unlock {
            inner,
            session,
            id,
            access,
            busy,
            sending,
        } = self;
        if sending == Sending::Later {
            // Sent now, unless a local caller took the lock over: then its
            // booking is gone, and the key is held again. (Without its
            // session's entry, the session is gone: the statement fails at
            // once and books that.) Bookings of one key on one session are
            // interchangeable: if the key was taken over and dropped again
            // before this ran, this unlock takes the newer booking and sends
            // the one release that is due, and the newer unlock finds none
            // left and sends nothing.
            let mut state = inner.state();
            let taken_over = state
                .entry(&session)
                .is_some_and(|entry| entry.take_unsent(id).is_none());
            if taken_over {
                busy.end(&mut state);
                drop(state);
                inner.notify_changed();
                return Ok(());
            }
        }
        let result = session.unlock(id, access).await;
        let gone = matches!(&result, Err(failure) if failure.ends_session());
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

/// Books the release of remote locks of key `id` that no local holder
/// uses: a lock parked for a writer, shared locks without readers. Those
/// on sessions that are gone need none.
pub(crate) fn give_back(
    inner: &Arc<Inner>,
    state: &mut State,
    id: LockId,
    parked: Option<ParkedLock>,
    shared: Vec<SharedHold>,
) -> Vec<Unlock> {
    let parked = parked.map(|parked| (parked.session, Access::Exclusive));
    let shared = shared
        .into_iter()
        .map(|hold| (hold.session, Access::Shared));
    parked
        .into_iter()
        .chain(shared)
        .filter_map(|(session, access)| Unlock::start(inner, state, &session, id, access))
        .collect()
}
