//! Shared acquisition: local readers share one remote shared lock.
//!
//! A reader first takes the key's local read lock (so no local writer
//! holds it), then a share of a remote shared lock (`KeyEntry::shared`):
//!
//! * it **joins** the newest one, without a round trip, if that is on a live
//!   session and fewer than `max_local_handoffs` readers have joined it;
//! * otherwise, if another local reader is taking a new one or checking the
//!   full one, it waits for that reader's outcome and looks again;
//! * otherwise, if the newest is full but still has readers, it **checks**
//!   on that lock's session whether a session of any process waits for the
//!   key on the server (`Session::others_wait`, one round trip): if none
//!   does, the lock takes `max_local_handoffs` joins again, this reader's
//!   first, and the process keeps one session for its readers;
//! * otherwise (a writer waits, the check failed, or the newest lock is
//!   gone) it **takes** a new one itself (`pg_advisory_lock_shared`, on a
//!   session that holds nothing of the key), and others join that.
//!
//! The last reader on a remote shared lock leaves it for the next local
//! reader while other local callers want the key and it may still be
//! joined, and gives it back otherwise (`release.rs`); a local writer gives
//! back such an idle lock before it takes the key (`acquire.rs`).
//! The bound on joins is what lets a writer in another process in: once a
//! lock is full and a writer waits, new readers take another one, which
//! PostgreSQL queues behind the waiting writer (a shared request waits
//! behind a conflicting one that waits), while the full one drains. A
//! writer that starts waiting just after a check passed waits for at most
//! one more round of `max_local_handoffs` joins.
//!
//! A lock parked for the next local writer (`KeyEntry::parked`) has no use
//! for a reader: the first reader to find it gives it back, so that no
//! reader waits behind an exclusive lock of its own process.

use std::sync::Arc;

use event_listener::EventListener;
use turnlock::OwnedKeyReadGuard;

use super::acquire::{Progress, Remote};
use super::counts::Busy;
use super::inner::{Inner, KeyEntry, SharedHold};
use super::interest::Interest;
use super::plan::Phase;
use super::release::Hold;
use super::unlock::give_back;
use crate::conn::{Access, Session};
use crate::error::Error;
use crate::key::LockId;

/// Locks `id` shared, waiting as long as it takes.
pub(crate) async fn lock_shared(
    inner: &Arc<Inner>,
    id: LockId,
    progress: &Progress,
) -> Result<Hold, Error> {
    let interest = Interest::enter(inner, id);
    progress.set("a writer in this process has it");
    let local = inner.locks.read_owned(id).await;
    loop {
        let taking = match look(inner, id) {
            Look::Joined(session) => return Ok(Hold::shared(interest, local, session)),
            Look::Wait(listener) => {
                progress.set("another reader in this process is taking it");
                listener.await;
                continue;
            }
            Look::Check(taking, session) => {
                progress.set("asking whether a writer of another process waits");
                let busy = Busy::start_unlocked(inner, &session);
                let others_wait = session.others_wait(id).await;
                drop(busy);
                if let Ok(false) = others_wait {
                    match taking.renew(&session) {
                        Some(session) => return Ok(Hold::shared(interest, local, session)),
                        None => continue,
                    }
                }
                taking
            }
            Look::Take(taking) => taking,
        };
        let remote = Remote::new(inner, id, Access::Shared, Phase::First, progress);
        let session = remote.granted().await?;
        return Ok(taking.took(session, interest, local));
    }
}

/// Locks `id` shared if no writer holds it, here or in another process.
/// `None` also while another reader of this process is still taking it.
pub(crate) async fn try_lock_shared(
    inner: &Arc<Inner>,
    id: LockId,
    progress: &Progress,
) -> Result<Option<Hold>, Error> {
    let interest = Interest::enter(inner, id);
    let Some(local) = inner.locks.try_read_owned(id) else {
        return Ok(None);
    };
    match look(inner, id) {
        Look::Joined(session) => Ok(Some(Hold::shared(interest, local, session))),
        Look::Wait(_) => Ok(None),
        // A try takes another lock rather than wait for a check: on another
        // server process, it fails while a writer waits.
        Look::Check(taking, _) | Look::Take(taking) => {
            let remote = Remote::new(inner, id, Access::Shared, Phase::TryOnly, progress);
            match remote.granted_or_held().await? {
                Some(session) => Ok(Some(taking.took(session, interest, local))),
                None => Ok(None),
            }
        }
    }
}

/// What a reader holding the local read lock finds in the books.
enum Look {
    /// It joined a remote shared lock on this session.
    Joined(Arc<Session>),
    /// Another reader is taking one, or checking the full one: wait for a
    /// change, then look again.
    Wait(EventListener),
    /// The newest is full and still has readers: check whether anyone waits
    /// for the key on the server before renewing it or taking a new one.
    Check(Taking, Arc<Session>),
    /// It takes a new one.
    Take(Taking),
}

fn look(inner: &Arc<Inner>, id: LockId) -> Look {
    let mut state = inner.state();
    let entry = state
        .keys
        .get_mut(&id)
        .expect("a reader counts as interest");
    // A lock parked for a local writer has no use for a reader; nor has a
    // shared lock without readers on a session that is gone.
    let parked = entry.parked.take();
    let unused = entry.take_unused_shared(entry.interest, inner.max_local_handoffs);
    let (joinable, full) = match entry.shared.last() {
        Some(hold) if !hold.session.is_lost() => (
            hold.joinable(inner.max_local_handoffs),
            (hold.readers() > 0).then(|| hold.session.clone()),
        ),
        _ => (false, None),
    };
    let look = if joinable {
        let hold = entry.shared.last_mut().expect("the newest lock");
        hold.join();
        Look::Joined(hold.session.clone())
    } else if entry.taking_shared {
        // Listening before the lock is let go: the taker's outcome is not
        // missed.
        Look::Wait(inner.changed.listen())
    } else {
        entry.taking_shared = true;
        let taking = Taking {
            inner: Some(inner.clone()),
            id,
        };
        match full {
            Some(session) => Look::Check(taking, session),
            None => Look::Take(taking),
        }
    };
    let unlocks = give_back(inner, &mut state, id, parked, unused);
    drop(state);
    for unlock in unlocks {
        unlock.send();
    }
    look
}

/// A reader taking a new remote shared lock for the key's local readers, or
/// checking whether the full one may be renewed. Dropped before it
/// [`took`](Taking::took) or [`renewed`](Taking::renew) one (the
/// acquisition failed or was cancelled), it lets the next reader try.
struct Taking {
    inner: Option<Arc<Inner>>,
    id: LockId,
}

impl Taking {
    /// The remote shared lock is held on `session`: books it, with this
    /// reader on it.
    fn took(
        self,
        session: Arc<Session>,
        interest: Interest,
        local: OwnedKeyReadGuard<LockId>,
    ) -> Hold {
        self.finish(|entry| entry.shared.push(SharedHold::taken(session.clone())));
        Hold::shared(interest, local, session)
    }

    /// Nobody waits for the key on the server: the full remote shared lock
    /// on `session` takes joins again, this reader's first. `None` if that
    /// lock is no longer the newest one in use (its readers all left and
    /// gave it back, or its session was lost): the reader looks again.
    fn renew(self, session: &Arc<Session>) -> Option<Arc<Session>> {
        self.finish(|entry| match entry.shared.last_mut() {
            Some(hold) if hold.session.id == session.id && !hold.session.is_lost() => {
                hold.renew();
                Some(hold.session.clone())
            }
            _ => None,
        })
    }

    /// Ends the taking with `book` applied to the key's books, and wakes
    /// the readers that waited for it.
    fn finish<R>(mut self, book: impl FnOnce(&mut KeyEntry) -> R) -> R {
        let inner = self.inner.take().expect("taking until it finished");
        let booked = {
            let mut state = inner.state();
            let entry = state
                .keys
                .get_mut(&self.id)
                .expect("a reader counts as interest");
            entry.taking_shared = false;
            book(entry)
        };
        inner.notify_changed();
        booked
    }
}

impl Drop for Taking {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Some(entry) = inner.state().keys.get_mut(&self.id) {
                entry.taking_shared = false;
            }
            inner.notify_changed();
        }
    }
}
