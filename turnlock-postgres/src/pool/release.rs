//! A held key and how its holder lets go: the remote lock is parked for
//! the next local waiter of the key, or given back.

use std::sync::Arc;

use turnlock::OwnedKeyGuard;

use super::inner::{Inner, ParkedLock};
use super::interest::Interest;
use super::unlock::Unlock;
use crate::conn::Session;
use crate::error::Error;
use crate::key::LockId;

/// The pool's side of a held key: the local lock, the remote lock's
/// session, and the holder's interest in the key. [`Guard`](crate::Guard)
/// wraps it. Dropped, it lets go; [`release`](Hold::release) does the same
/// and reports how it went.
pub(crate) struct Hold(Option<Held>);

struct Held {
    /// The holder's interest in the key, which also names the pool and the
    /// key.
    interest: Interest,
    local: OwnedKeyGuard<LockId>,
    session: Arc<Session>,
    /// Local hand-offs in a row before this holder (0 after a grant by the
    /// server).
    handoffs: u32,
}

/// What letting go did.
enum LetGo {
    /// The remote lock waits for the next local holder of the key.
    Parked,
    /// The session was gone: nothing to release, the lock had been lost.
    AlreadyLost,
    /// `pg_advisory_unlock` is about to run.
    Unlocking(Unlock),
}

impl Hold {
    pub(crate) fn new(
        interest: Interest,
        local: OwnedKeyGuard<LockId>,
        session: Arc<Session>,
        handoffs: u32,
    ) -> Self {
        Hold(Some(Held {
            interest,
            local,
            session,
            handoffs,
        }))
    }

    fn held(&self) -> &Held {
        self.0.as_ref().expect("held until let go")
    }

    pub(crate) fn id(&self) -> LockId {
        self.held().interest.id()
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.held().session
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        self.held().interest.inner()
    }

    /// Lets go and reports whether the lock was held to the end.
    pub(crate) async fn release(mut self) -> Result<(), Error> {
        let held = self.0.take().expect("held until let go");
        let session = held.session.clone();
        let (id, backend) = (held.interest.id(), session.backend_pid);
        let lost = || Error::session_lost(id, backend, None);
        match held.let_go() {
            LetGo::Parked if session.is_lost() => Err(lost()),
            LetGo::Parked => Ok(()),
            LetGo::AlreadyLost => Err(lost()),
            LetGo::Unlocking(unlock) => unlock
                .spawn_reporting()
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
            if let LetGo::Unlocking(unlock) = held.let_go() {
                unlock.spawn();
            }
        }
    }
}

impl Held {
    /// Parks the remote lock for the next local waiter (at most
    /// `max_local_handoffs` times in a row, and only on a live session), or
    /// books its release. The local lock is let go last, so that the next
    /// local holder finds the parked lock.
    fn let_go(self) -> LetGo {
        let Held {
            interest,
            local,
            session,
            handoffs,
        } = self;
        let (inner, id) = (interest.inner().clone(), interest.id());
        let mut state = inner.state();
        let others = interest.leave(&mut state);
        let lost = session.is_lost();
        let outcome = if !lost && others > 0 && handoffs < inner.max_local_handoffs {
            let entry = state.keys.get_mut(&id).expect("a key with local callers");
            entry.parked = Some(ParkedLock {
                session,
                handoffs: handoffs + 1,
            });
            LetGo::Parked
        } else {
            match Unlock::start(&inner, &mut state, &session, id) {
                Some(unlock) => LetGo::Unlocking(unlock),
                None => LetGo::AlreadyLost,
            }
        };
        drop(state);
        drop(local);
        outcome
    }
}
