//! Giving a remote lock back: `pg_advisory_unlock` in the background, its
//! outcome booked by the pool and, if asked for, reported.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use super::counts::Busy;
use super::inner::{Inner, PendingUnlock, State, remove_one};
use crate::conn::{BoxFuture, Failure, Session};
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
    ///
    /// The statement is sent here (see [`send_then_spawn`]); the wait for
    /// its answer is left in the books for whoever comes first: a task of
    /// the spawner, or the next local caller of the key, which then needs
    /// no wake-up from another task to go on ([`DriveUnlock`]).
    pub(crate) fn spawn(self) {
        let inner = self.inner.clone();
        let (session, key) = (self.session.id, self.id);
        let mut run: BoxFuture<()> = Box::pin(async move {
            let _ = self.run().await;
        });
        if send(&mut run).is_ready() {
            return;
        }
        inner
            .state()
            .unlocks
            .push(PendingUnlock { session, key, run });
        let driver = inner.clone();
        inner.spawn(async move {
            let pending = driver.state().take_unlock(session, key);
            if let Some(run) = pending {
                run.await;
            }
        });
    }

    /// Runs the unlock in the background; the receiver gets the outcome.
    pub(crate) fn spawn_reporting(self) -> async_channel::Receiver<Result<(), Error>> {
        let (report, outcome) = async_channel::bounded(1);
        let inner = self.inner.clone();
        send_then_spawn(&inner, async move {
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

/// Polls `unlock` once here, which sends its statement, and leaves the
/// wait for the answer to the pool's spawner: the server sees the release
/// at once, not after the spawner has scheduled a task (with the default
/// driver thread, after a wake-up of another thread).
fn send_then_spawn(inner: &Inner, unlock: impl Future<Output = ()> + Send + 'static) {
    let mut unlock: BoxFuture<()> = Box::pin(unlock);
    if send(&mut unlock).is_pending() {
        inner.spawn(unlock);
    }
}

/// The first poll of an unlock, which sends its statement.
fn send(unlock: &mut BoxFuture<()>) -> Poll<()> {
    unlock
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

/// A pending unlock driven by the next local caller of its key, which
/// waits for it anyway. Dropped unfinished (the caller gave up), it hands
/// the rest to the spawner: the release is always booked.
pub(crate) struct DriveUnlock {
    inner: Arc<Inner>,
    run: Option<BoxFuture<()>>,
}

impl DriveUnlock {
    pub(crate) fn new(inner: &Arc<Inner>, run: BoxFuture<()>) -> Self {
        DriveUnlock {
            inner: inner.clone(),
            run: Some(run),
        }
    }
}

impl Future for DriveUnlock {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let run = self.run.as_mut().expect("polled after completion");
        ready!(run.as_mut().poll(cx));
        self.run = None;
        Poll::Ready(())
    }
}

impl Drop for DriveUnlock {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            self.inner.spawn(run);
        }
    }
}
