//! Acquisition: the local queue first, then a parked lock or the database;
//! and what happens to a statement whose caller has gone.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use event_listener::EventListener;

use super::counts::{Blocked, Busy, Reservation};
use super::inner::{Inner, MAX_BACKOFF, MIN_BACKOFF, ParkedLock, remove_one};
use super::interest::Interest;
use super::open::spawn_open;
use super::plan::{Phase, Placement, place};
use super::release::Hold;
use super::unlock::give_back;
use crate::conn::{Access, BoxFuture, Failure, Session, timeout};
use crate::error::{Error, ErrorKind};
use crate::key::LockId;

/// Attempts on a fresh session after the one in use turned out to be gone,
/// for an acquisition without a deadline (one with a deadline tries until
/// it passes).
const SESSION_RETRIES: usize = 3;

/// Bounds of the pause before an acquisition with a deadline tries again
/// to open a session after a transient error.
const MIN_CONNECT_BACKOFF: Duration = Duration::from_millis(50);
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// What an acquisition has been waiting for most recently, for the message
/// of its timeout; and whether it has a deadline, in which case a
/// transient failure to open a session is tried again until it passes.
pub(crate) struct Progress {
    deadline: bool,
    note: Mutex<Option<String>>,
}

impl Progress {
    /// For an acquisition that waits as long as it takes: the first failure
    /// to open a session is its error.
    pub(crate) fn without_deadline() -> Self {
        Progress {
            deadline: false,
            note: Mutex::new(None),
        }
    }

    pub(crate) fn with_deadline() -> Self {
        Progress {
            deadline: true,
            note: Mutex::new(None),
        }
    }

    pub(super) fn set(&self, note: impl Into<String>) {
        *self.note.lock().unwrap_or_else(PoisonError::into_inner) = Some(note.into());
    }

    /// What it was waiting for, if anything was noted.
    pub(crate) fn note(&self) -> Option<String> {
        self.note
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Locks `id`, waiting as long as it takes.
pub(crate) async fn lock(
    inner: &Arc<Inner>,
    id: LockId,
    progress: &Progress,
) -> Result<Hold, Error> {
    let interest = Interest::enter(inner, id);
    progress.set("a holder in this process has it");
    let local = inner.locks.write_owned(id).await;
    let (session, handoffs) = match take_over(inner, id).await {
        Some(parked) => (parked.session, parked.handoffs),
        None => {
            let remote = Remote::new(inner, id, Access::Exclusive, Phase::First, progress);
            (remote.granted().await?, 0)
        }
    };
    Ok(Hold::exclusive(interest, local, session, handoffs))
}

/// Locks `id` if nobody holds it, here or in another process.
pub(crate) async fn try_lock(
    inner: &Arc<Inner>,
    id: LockId,
    progress: &Progress,
) -> Result<Option<Hold>, Error> {
    let interest = Interest::enter(inner, id);
    let Some(local) = inner.locks.try_write_owned(id) else {
        return Ok(None);
    };
    let (session, handoffs) = match take_over(inner, id).await {
        Some(parked) => (parked.session, parked.handoffs),
        None => {
            let remote = Remote::new(inner, id, Access::Exclusive, Phase::TryOnly, progress);
            match remote.granted_or_held().await? {
                Some(session) => (session, 0),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(Hold::exclusive(interest, local, session, handoffs)))
}

/// What a local writer finds once it holds the key's local write lock: the
/// remote exclusive lock parked for it, or else one whose release has not
/// gone out yet ([`State::reclaim`](super::inner::State::reclaim)), if
/// any. Shared locks the key's readers left for the next reader are given
/// back first, and their release awaited: PostgreSQL would keep this
/// process's exclusive lock waiting for its own shared lock, and a try
/// would fail.
async fn take_over(inner: &Arc<Inner>, id: LockId) -> Option<ParkedLock> {
    let (parked, unlocks) = {
        let mut state = inner.state();
        let entry = state.keys.get_mut(&id)?;
        let parked = entry.parked.take();
        // No reader holds the key while a writer does.
        let idle = entry.take_unused_shared(0, 0);
        debug_assert!(entry.shared.is_empty(), "a reader beside a writer");
        let parked = parked.or_else(|| state.reclaim(id));
        let unlocks = give_back(inner, &mut state, id, None, idle);
        (parked, unlocks)
    };
    for unlock in unlocks {
        // An unlock that failed lost its session, which frees the lock too.
        let _ = unlock.send_reporting().recv().await;
    }
    parked.filter(|parked| !parked.session.is_lost())
}

/// What to run where, with its count already booked.
enum Plan {
    Try(Arc<Session>, Busy),
    Wait(Arc<Session>, Blocked),
    Connect(Reservation),
    AwaitRelease(EventListener),
    Sleep(EventListener),
}

/// Decides under the lock and books the decision (see [`place`]).
fn plan(inner: &Arc<Inner>, phase: Phase, id: LockId) -> Plan {
    let mut state = inner.state();
    match place(&state, inner.max_sessions, phase, id) {
        Placement::Try(i) => {
            let session = state.sessions[i].session.clone();
            let busy = Busy::start(inner, &mut state, &session);
            Plan::Try(session, busy)
        }
        Placement::Wait(i) => {
            let session = state.sessions[i].session.clone();
            let blocked = Blocked::start(inner, &mut state, &session);
            Plan::Wait(session, blocked)
        }
        Placement::Connect => Plan::Connect(Reservation::start(inner, &mut state)),
        // Listening before the lock is let go: no change is missed.
        Placement::AwaitRelease => Plan::AwaitRelease(inner.changed.listen()),
        Placement::Sleep => Plan::Sleep(inner.changed.listen()),
    }
}

/// One step of taking the remote lock.
enum Step {
    Granted(Arc<Session>),
    /// Another process holds the key (a try failed).
    HeldElsewhere,
    /// Nothing decided yet: plan again.
    Again,
}

/// Takes a key on the database for its local holder (or readers).
pub(super) struct Remote<'a> {
    inner: &'a Arc<Inner>,
    id: LockId,
    access: Access,
    progress: &'a Progress,
    first: Phase,
    phase: Phase,
    backoff: Duration,
    connect_backoff: Duration,
    retries: usize,
    cancelled: usize,
}

impl<'a> Remote<'a> {
    pub(super) fn new(
        inner: &'a Arc<Inner>,
        id: LockId,
        access: Access,
        first: Phase,
        progress: &'a Progress,
    ) -> Self {
        Remote {
            inner,
            id,
            access,
            progress,
            first,
            phase: first,
            backoff: MIN_BACKOFF,
            connect_backoff: MIN_CONNECT_BACKOFF,
            retries: 0,
            cancelled: 0,
        }
    }

    /// Whether another attempt after a lost session is allowed.
    fn may_retry(&mut self) -> bool {
        self.retries += 1;
        self.progress.deadline || self.retries <= SESSION_RETRIES
    }

    /// A session that holds the key, however long that takes.
    pub(super) async fn granted(mut self) -> Result<Arc<Session>, Error> {
        loop {
            match self.step().await? {
                Step::Granted(session) => return Ok(session),
                Step::HeldElsewhere => self.phase = Phase::AfterTry,
                Step::Again => {}
            }
        }
    }

    /// A session that holds the key, or `None` if another process holds it.
    pub(super) async fn granted_or_held(mut self) -> Result<Option<Arc<Session>>, Error> {
        loop {
            match self.step().await? {
                Step::Granted(session) => return Ok(Some(session)),
                Step::HeldElsewhere => return Ok(None),
                Step::Again => {}
            }
        }
    }

    async fn step(&mut self) -> Result<Step, Error> {
        let (inner, id, access) = (self.inner, self.id, self.access);
        let (session, counted) = match plan(inner, self.phase, id) {
            Plan::Try(session, busy) => (session, Counted::Try(busy)),
            Plan::Wait(session, blocked) => (session, Counted::Wait(blocked)),
            Plan::Connect(reservation) => {
                self.progress.set("a session is being opened");
                return match spawn_open(reservation).await {
                    Ok(()) => Ok(Step::Again),
                    Err(err) if err.kind() == ErrorKind::SessionLost && self.may_retry() => {
                        Ok(Step::Again)
                    }
                    Err(err) if err.is_transient() && self.progress.deadline => {
                        self.progress
                            .set(format!("no session could be opened: {err}"));
                        async_io::Timer::after(self.connect_backoff).await;
                        self.connect_backoff = (self.connect_backoff * 2).min(MAX_CONNECT_BACKOFF);
                        Ok(Step::Again)
                    }
                    Err(err) => Err(err),
                };
            }
            Plan::AwaitRelease(listener) => {
                // The unlock in flight ends with a change of the books
                // whatever its outcome (booked, or its session gone), so
                // no timer is needed: arming one costs a wake-up of the
                // timer's reactor on every acquisition of a busy key.
                self.progress.set("this process is releasing it");
                listener.await;
                self.phase = self.first;
                return Ok(Step::Again);
            }
            Plan::Sleep(listener) => {
                self.progress.set("every session of the pool is busy");
                futures_lite::future::or(listener, async {
                    async_io::Timer::after(self.backoff).await;
                })
                .await;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                self.phase = self.first;
                return Ok(Step::Again);
            }
        };
        let statement = match counted {
            Counted::Try(_) => {
                self.progress.set("the database has not answered yet");
                session.try_lock(id, access)
            }
            Counted::Wait(_) => {
                self.progress
                    .set("it is held elsewhere (waiting in pg_advisory_lock)");
                session.lock(id, access)
            }
        };
        let result = InFlight {
            inner: inner.clone(),
            session: session.clone(),
            id,
            access,
            counted: Some(counted),
            statement: Some(statement),
        }
        .await;
        match result {
            Ok(true) => Ok(Step::Granted(session)),
            Ok(false) => {
                self.progress.set("it is held elsewhere");
                Ok(Step::HeldElsewhere)
            }
            // Not the session's own server process: `book` let it go.
            Err(Failure::Foreign) => Err(Failure::Foreign.into_error(&session, "")),
            Err(failure) if failure.is_session_gone() || session.is_lost() => {
                if !self.may_retry() {
                    return Err(Error::session_lost(
                        id,
                        session.backend_pid,
                        failure.into_db(),
                    ));
                }
                self.phase = self.first;
                Ok(Step::Again)
            }
            Err(failure) if failure.is_wait_slice_over() => {
                // The wait ran for a heartbeat interval (the session's
                // `lock_timeout`) without the lock: wait again.
                Ok(Step::HeldElsewhere)
            }
            Err(failure) if failure.is_cancelled() && self.cancelled < SESSION_RETRIES => {
                // A cancel request meant for an earlier, abandoned statement
                // of this session landed on this one. It may have hit just
                // after a grant: undo that (a no-op otherwise), then retry.
                self.cancelled += 1;
                let busy = Busy::start_unlocked(inner, &session);
                let undone = session.unlock(id, access).await;
                drop(busy);
                match undone {
                    Err(failure) if !failure.is_cancelled() => {
                        Err(failure.into_error(&session, "pg_advisory_unlock failed"))
                    }
                    _ => {
                        self.phase = self.first;
                        Ok(Step::Again)
                    }
                }
            }
            Err(failure) => Err(failure.into_error(&session, "advisory lock statement failed")),
        }
    }
}

/// A lock statement's count: a try on a shared session, or a wait that
/// blocks its session.
enum Counted {
    Try(Busy),
    Wait(Blocked),
}

impl Counted {
    fn end(self, state: &mut super::inner::State) {
        match self {
            Counted::Try(busy) => busy.end(state),
            Counted::Wait(blocked) => blocked.end(state),
        }
    }
}

/// A lock statement on its way. If it is dropped before it finishes, the
/// rest runs in the background ([`abandon`]): a wait is cancelled, and
/// whatever the statement may have taken is released before the session is
/// used again.
struct InFlight {
    inner: Arc<Inner>,
    session: Arc<Session>,
    id: LockId,
    access: Access,
    counted: Option<Counted>,
    statement: Option<BoxFuture<Result<bool, Failure>>>,
}

impl Future for InFlight {
    type Output = Result<bool, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let statement = self.statement.as_mut().expect("polled after completion");
        let result = ready!(statement.as_mut().poll(cx));
        self.statement = None;
        let counted = self.counted.take().expect("counted until booked");
        self.book(counted, &result);
        Poll::Ready(result)
    }
}

impl InFlight {
    /// Books a finished statement: a grant, or a session that is gone.
    fn book(&self, counted: Counted, result: &Result<bool, Failure>) {
        if matches!(result, Err(failure) if failure.ends_session()) {
            drop(counted);
            self.inner.session_gone(&self.session);
            return;
        }
        let mut state = self.inner.state();
        if let (Ok(true), Some(entry)) = (result, state.entry(&self.session)) {
            entry.held.push(self.id);
        }
        counted.end(&mut state);
        drop(state);
        self.inner.notify_changed();
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let (Some(statement), Some(counted)) = (self.statement.take(), self.counted.take()) else {
            return;
        };
        if let Counted::Try(_) = counted {
            // Until the try is finished, it may have taken the lock.
            if let Some(entry) = self.inner.state().entry(&self.session) {
                entry.held.push(self.id);
            }
        }
        let (inner, session) = (self.inner.clone(), self.session.clone());
        self.inner.spawn(abandon(
            inner,
            session,
            (self.id, self.access),
            counted,
            statement,
        ));
    }
}

/// Finishes a lock statement nobody waits for any more.
async fn abandon(
    inner: Arc<Inner>,
    session: Arc<Session>,
    (id, access): (LockId, Access),
    counted: Counted,
    mut statement: BoxFuture<Result<bool, Failure>>,
) {
    let waited = matches!(counted, Counted::Wait(_));
    // Whether every cancel request was seen through to the server's close,
    // which it only does after signalling the backend: then no request can
    // land on a later statement.
    let mut settled = true;
    let result = if waited {
        // Cancel until the statement ends: a cancel request that arrives
        // before the statement has reached the server is ignored by it.
        let mut patience = Duration::from_millis(20);
        loop {
            let sent = timeout(Duration::from_secs(5), session.cancel(&inner.dialer)).await;
            settled &= matches!(sent, Some(Ok(())));
            if let Some(result) = timeout(patience, &mut statement).await {
                break result;
            }
            patience = (patience * 2).min(Duration::from_secs(1));
        }
    } else {
        statement.await
    };
    let gone = matches!(&result, Err(failure) if failure.ends_session()) || session.is_lost();
    // A wait that reported an error may still have been granted (a cancel
    // that lands just after the grant), so only "not granted" skips this.
    let not_granted = match &result {
        Ok(granted) => !granted,
        Err(failure) => failure.is_wait_slice_over(),
    };
    let release = !gone && !not_granted;
    let released = !release || session.unlock(id, access).await.is_ok();
    if gone || !released || waited && !settled {
        // Gone, or in an unknown state (a lock it may hold, a cancel
        // request still on its way): drop it. Closing the connection
        // releases whatever it held.
        drop(counted);
        inner.session_gone(&session);
        return;
    }
    let mut state = inner.state();
    if let (Counted::Try(_), Some(entry)) = (&counted, state.entry(&session)) {
        remove_one(&mut entry.held, id);
    }
    counted.end(&mut state);
    drop(state);
    inner.notify_changed();
}
