//! A held key and how its holder lets go: an exclusive remote lock is
//! parked for the next local waiter of the key, or given back; a shared one
//! is given back by its last local reader.

use std::sync::Arc;

use turnlock::{OwnedKeyReadGuard, OwnedKeyWriteGuard};

use super::inner::{Inner, ParkedLock};
use super::interest::Interest;
use super::unlock::{Unlock, give_back};
use crate::conn::{Access, Session};
use crate::error::Error;
use crate::key::LockId;

/// The pool's side of a held key: the local lock, the remote lock's
/// session, and the holder's interest in the key. [`Guard`](crate::Guard)
/// wraps it. Dropped, it lets go; [`release`](Hold::release) does the same
/// and reports how it went.
pub(crate) struct Hold(Option<Held>);

enum Held {
    /// The local write lock and the remote exclusive lock.
    Exclusive {
        /// The holder's interest in the key, which also names the pool and
        /// the key.
        interest: Interest,
        local: OwnedKeyWriteGuard<LockId>,
        session: Arc<Session>,
        /// Local hand-offs in a row before this holder (0 after a grant by
        /// the server).
        handoffs: u32,
    },
    /// The local read lock and a share of a remote shared lock
    /// (`KeyEntry::shared`).
    Shared {
        interest: Interest,
        local: OwnedKeyReadGuard<LockId>,
        session: Arc<Session>,
    },
}

/// How a holder lets go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// Its guard was dropped: a release may wait for the connection's task
    /// to send it (`Unlock::later`).
    Dropped,
    /// [`Hold::release`]: the caller awaits the outcome of an unlock sent
    /// at once.
    Released,
}

/// What letting go did.
enum LetGo {
    /// Nothing to release now: the exclusive lock waits for the next local
    /// holder of the key, or other local readers still share the shared
    /// one.
    Kept,
    /// The session was gone: nothing to release, the lock had been lost.
    AlreadyLost,
    /// `pg_advisory_unlock` (or `_shared`) is about to run.
    Unlocking(Unlock),
}

impl Hold {
    pub(crate) fn exclusive(
        interest: Interest,
        local: OwnedKeyWriteGuard<LockId>,
        session: Arc<Session>,
        handoffs: u32,
    ) -> Self {
        Hold(Some(Held::Exclusive {
            interest,
            local,
            session,
            handoffs,
        }))
    }

    pub(crate) fn shared(
        interest: Interest,
        local: OwnedKeyReadGuard<LockId>,
        session: Arc<Session>,
    ) -> Self {
        Hold(Some(Held::Shared {
            interest,
            local,
            session,
        }))
    }

    fn held(&self) -> &Held {
        self.0.as_ref().expect("held until let go")
    }

    fn interest(&self) -> &Interest {
        match self.held() {
            Held::Exclusive { interest, .. } | Held::Shared { interest, .. } => interest,
        }
    }

    pub(crate) fn id(&self) -> LockId {
        self.interest().id()
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        self.interest().inner()
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        match self.held() {
            Held::Exclusive { session, .. } | Held::Shared { session, .. } => session,
        }
    }

    pub(crate) fn access(&self) -> Access {
        match self.held() {
            Held::Exclusive { .. } => Access::Exclusive,
            Held::Shared { .. } => Access::Shared,
        }
    }

    /// Lets go and reports whether the lock was held to the end.
    pub(crate) async fn release(mut self) -> Result<(), Error> {
        let (id, session) = (self.id(), self.session().clone());
        let lost = || Error::session_lost(id, session.backend_pid, None);
        let held = self.0.take().expect("held until let go");
        match held.let_go(Leaving::Released) {
            LetGo::Kept if session.is_lost() => Err(lost()),
            LetGo::Kept => Ok(()),
            LetGo::AlreadyLost => Err(lost()),
            LetGo::Unlocking(unlock) => unlock
                .send_reporting()
                .recv()
                .await
                .unwrap_or_else(|_| Err(lost())),
        }
    }
}

impl Drop for Hold {
    /// Lets go; the pool books how the release went.
    fn drop(&mut self) {
        if let Some(held) = self.0.take() {
            if let LetGo::Unlocking(unlock) = held.let_go(Leaving::Dropped) {
                unlock.send();
            }
        }
    }
}

impl Held {
    /// Books what the holder's leaving means for the remote lock; the local
    /// lock is let go last, so that the next local holder finds the books
    /// as they are now.
    fn let_go(self, leaving: Leaving) -> LetGo {
        match self {
            Held::Exclusive {
                interest,
                local,
                session,
                handoffs,
            } => {
                let outcome = let_go_exclusive(interest, &session, handoffs, leaving);
                drop(local);
                outcome
            }
            Held::Shared {
                interest,
                local,
                session,
            } => {
                let outcome = let_go_shared(interest, &session);
                drop(local);
                outcome
            }
        }
    }
}

/// Parks the remote exclusive lock for the next local waiter (at most
/// `max_local_handoffs` times in a row, and only on a live session), or
/// books its release: one that a local caller arriving before it goes out
/// may still take over, within the same bound, if the guard was dropped.
fn let_go_exclusive(
    interest: Interest,
    session: &Arc<Session>,
    handoffs: u32,
    leaving: Leaving,
) -> LetGo {
    let (inner, id) = (interest.inner().clone(), interest.id());
    let mut state = inner.state();
    let others = interest.leave(&mut state);
    if !session.is_lost() && others > 0 && handoffs < inner.max_local_handoffs {
        let entry = state.keys.get_mut(&id).expect("a key with local callers");
        entry.parked = Some(ParkedLock {
            session: session.clone(),
            handoffs: handoffs + 1,
        });
        return LetGo::Kept;
    }
    match Unlock::start(&inner, &mut state, session, id, Access::Exclusive) {
        Some(unlock) if leaving == Leaving::Dropped && handoffs < inner.max_local_handoffs => {
            LetGo::Unlocking(unlock.later(&mut state, handoffs))
        }
        Some(unlock) => LetGo::Unlocking(unlock),
        None => LetGo::AlreadyLost,
    }
}

/// Leaves the remote shared lock on `session`. A lock without readers is
/// kept for the next local reader while other local callers want the key
/// and it may still be joined (see `KeyEntry::take_unused_shared`);
/// otherwise its release is booked, with that of any other shared lock of
/// the key nobody uses any more.
fn let_go_shared(interest: Interest, session: &Arc<Session>) -> LetGo {
    let (inner, id) = (interest.inner().clone(), interest.id());
    let mut state = inner.state();
    let entry = state
        .keys
        .get_mut(&id)
        .expect("a reader counts as interest");
    // Its hold is missing if its session was lost and the hold replaced.
    if let Some(hold) = entry
        .shared
        .iter_mut()
        .find(|hold| hold.session.id == session.id)
    {
        hold.leave();
    }
    let others = entry.interest - 1;
    let unused = entry.take_unused_shared(others, inner.max_local_handoffs);
    let mine = unused.iter().any(|hold| hold.session.id == session.id);
    let mut unlocks = give_back(&inner, &mut state, id, None, unused);
    interest.leave(&mut state);
    drop(state);
    let outcome = match unlocks.iter().position(|u| u.session_id() == session.id) {
        Some(i) => LetGo::Unlocking(unlocks.swap_remove(i)),
        None if mine => LetGo::AlreadyLost,
        None => LetGo::Kept,
    };
    for unlock in unlocks {
        unlock.send();
    }
    // Readers waiting to join or take a shared lock look again.
    inner.notify_changed();
    outcome
}
