//! The state every handle of a pool shares: settings, the local
//! `KeyedRwLocks`, and the bookkeeping under one mutex.
//!
//! # Bookkeeping
//!
//! One `std` mutex guards the pool's [`State`]: the sessions (each a
//! [`SessionEntry`]: the keys it holds, how many short statements are in
//! flight on it, whether it is blocked in a wait), the sessions being
//! opened, and, per key with local interest, how many local callers want
//! it and whether a remote lock is parked for the next of them. The mutex
//! is never held across an `.await`, and no user code runs under it.
//!
//! Counts change only through the RAII types of `counts.rs`, each undone
//! in its `Drop`; a session leaves the pool only through
//! [`Inner::session_gone`].
//!
//! A session is in one of two modes. **Shared**: any number of short
//! statements (`pg_try_advisory_lock`, `pg_advisory_unlock`, the fencing
//! update) run on it, pipelined; it may hold any number of locks.
//! **Waiting**: it runs one `pg_advisory_lock` that blocks until another
//! process lets go, and nothing else may queue behind it (a release queued
//! there would wait for a stranger). Only a session that holds nothing and
//! runs nothing becomes Waiting, so no holder's release ever waits for a
//! remote holder.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use event_listener::Event;
use turnlock::KeyedRwLocks;

use crate::conn::{Dialer, Fencing, Liveness, Session, Spawner};
use crate::key::LockId;

/// A pool's settings and shared state; every [`Pool`](crate::Pool) handle,
/// guard and background task of the pool holds it.
pub(crate) struct Inner {
    pub(crate) dialer: Dialer,
    pub(crate) spawner: Spawner,
    pub(crate) max_sessions: usize,
    pub(crate) namespace: Option<String>,
    pub(crate) max_local_handoffs: u32,
    pub(crate) fencing: Fencing,
    /// Where the callers of one key in this process queue first: writers
    /// (exclusive holders) alone, readers (shared holders) together.
    pub(crate) locks: Arc<KeyedRwLocks<LockId>>,
    state: Mutex<State>,
    /// Notified when a session becomes free, a session is opened or fails
    /// to open, or a session is gone: what a caller with nothing to use
    /// waits for.
    pub(crate) changed: Event,
    pub(crate) next_session_id: AtomicU64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) sessions: Vec<SessionEntry>,
    /// Sessions being opened (see `counts::Reservation`).
    pub(crate) connecting: usize,
    pub(crate) keys: HashMap<LockId, KeyEntry>,
}

/// The pool's books for one open session.
pub(crate) struct SessionEntry {
    pub(crate) session: Arc<Session>,
    /// Keys whose advisory lock this session holds, is releasing, or may
    /// hold (an abandoned try being finished). No statement for one of
    /// these keys is sent to this session, so a lock is never taken twice
    /// by one session (advisory locks are reentrant per session: a second
    /// grant would let a new holder in past waiters of other processes).
    pub(crate) held: Vec<LockId>,
    /// Keys being released on this session (`pg_advisory_unlock` in
    /// flight): still held for the server, free again in a moment.
    pub(crate) releasing: Vec<LockId>,
    /// Releases booked on this session (their keys are in `releasing`)
    /// whose statement has not gone out yet: a local caller of the key that
    /// comes first takes the lock over instead ([`State::reclaim`]).
    pub(crate) unsent: Vec<Unsent>,
    /// Short statements in flight (see `counts::Busy`).
    pub(crate) busy: usize,
    /// Blocked in `pg_advisory_lock`; nothing else may run on it (see
    /// `counts::Blocked`).
    pub(crate) waiting: bool,
}

/// The pool's books for one key with local interest.
#[derive(Default)]
pub(crate) struct KeyEntry {
    /// Local callers of the key: its holder and its waiters (see
    /// `counts::Interest`).
    pub(crate) interest: usize,
    /// A remote exclusive lock kept for the next local holder.
    pub(crate) parked: Option<ParkedLock>,
    /// Remote shared locks the local readers of the key share, oldest
    /// first; new readers join the newest (see `shared.rs`).
    pub(crate) shared: Vec<SharedHold>,
    /// A local reader is taking a new remote shared lock; other readers
    /// wait for it rather than take one of their own.
    pub(crate) taking_shared: bool,
}

/// A remote shared lock and the local readers on it. Its two counts
/// change only through the methods below, under the state mutex.
pub(crate) struct SharedHold {
    pub(crate) session: Arc<Session>,
    /// Local readers holding it now.
    readers: usize,
    /// Readers that joined it after the one that took it (bounded by
    /// `Builder::max_local_handoffs`, so that a writer in another process
    /// gets its turn).
    joins: u32,
}

impl SharedHold {
    /// A remote shared lock just taken on `session`, by one reader.
    pub(crate) fn taken(session: Arc<Session>) -> SharedHold {
        SharedHold {
            session,
            readers: 1,
            joins: 0,
        }
    }

    /// Local readers holding it now.
    pub(crate) fn readers(&self) -> usize {
        self.readers
    }

    /// Whether another reader may join it without a round trip: its
    /// session is alive and fewer than `max_joins` readers have joined.
    pub(crate) fn joinable(&self, max_joins: u32) -> bool {
        self.joins < max_joins && !self.session.is_lost()
    }

    /// A reader joins it without a round trip.
    pub(crate) fn join(&mut self) {
        self.readers += 1;
        self.joins += 1;
    }

    /// Nobody waits for the key on the server: it takes joins again, the
    /// renewing reader's first.
    pub(crate) fn renew(&mut self) {
        self.readers += 1;
        self.joins = 1;
    }

    /// A reader on it lets go.
    pub(crate) fn leave(&mut self) {
        self.readers -= 1;
    }
}

/// A release not sent yet (see `SessionEntry::unsent`).
pub(crate) struct Unsent {
    pub(crate) id: LockId,
    /// The local hand-offs in a row of the holder that let go.
    pub(crate) handoffs: u32,
}

/// A held advisory lock between two local holders of its key.
pub(crate) struct ParkedLock {
    pub(crate) session: Arc<Session>,
    /// Local hand-offs in a row so far (see `Builder::max_local_handoffs`).
    pub(crate) handoffs: u32,
}

impl KeyEntry {
    /// Takes out the remote shared locks that no local reader holds and
    /// none will join: all of them when no other local caller wants the key
    /// (`others`), else all but the newest, unless that one is still
    /// joinable (alive, fewer than `max_joins` joins). What is left stays
    /// for the next local reader, so that a stream of readers does not take
    /// and give back a lock each.
    pub(crate) fn take_unused_shared(&mut self, others: usize, max_joins: u32) -> Vec<SharedHold> {
        // In place: this runs at every reader's arrival and departure, and
        // allocates only when a lock is given back.
        let mut unused = Vec::new();
        let mut i = 0;
        while i < self.shared.len() {
            let hold = &self.shared[i];
            let newest = i + 1 == self.shared.len();
            let joinable = newest && hold.joinable(max_joins);
            if hold.readers() > 0 || others > 0 && joinable {
                i += 1;
            } else {
                unused.push(self.shared.remove(i));
            }
        }
        unused
    }
}

impl SessionEntry {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        SessionEntry {
            session,
            held: Vec::new(),
            releasing: Vec::new(),
            unsent: Vec::new(),
            busy: 0,
            waiting: false,
        }
    }

    /// Whether a statement for `id` may go to this session.
    pub(crate) fn may_take(&self, id: LockId) -> bool {
        !self.held.contains(&id) && !self.releasing.contains(&id)
    }

    /// Shared (not waiting) and alive.
    pub(crate) fn usable(&self) -> bool {
        !self.waiting && !self.session.is_lost()
    }

    /// Takes out the booking of `id`'s release that has not gone out yet,
    /// if there is one (see `unsent`).
    pub(crate) fn take_unsent(&mut self, id: LockId) -> Option<Unsent> {
        let i = self.unsent.iter().position(|unsent| unsent.id == id)?;
        Some(self.unsent.swap_remove(i))
    }

    /// Usable, nothing in flight, nothing held or being released: may
    /// become Waiting.
    pub(crate) fn empty(&self) -> bool {
        self.usable() && self.busy == 0 && self.held.is_empty() && self.releasing.is_empty()
    }

    /// Usable, holds nothing, and the one statement in flight is the
    /// release of `id`: a wait for `id` may queue right behind it. The
    /// server runs a session's statements in order, so the release is done
    /// before the wait begins and never waits behind it; and nothing else
    /// is left to queue behind the wait. One round trip less for a process
    /// that takes a key again as soon as it let go.
    pub(crate) fn only_releasing(&self, id: LockId) -> bool {
        self.usable() && self.busy == 1 && self.held.is_empty() && self.releasing == [id]
    }
}

impl State {
    pub(crate) fn entry(&mut self, session: &Session) -> Option<&mut SessionEntry> {
        self.sessions
            .iter_mut()
            .find(|entry| entry.session.id == session.id)
    }

    /// Turns a release of `id` that has not gone out yet back into a hold,
    /// for a local caller that takes the remote lock over as it would a
    /// parked one: one local hand-off more. The unlock, when the
    /// connection's task polls it, finds its booking gone and sends
    /// nothing (`unlock.rs`).
    pub(crate) fn reclaim(&mut self, id: LockId) -> Option<ParkedLock> {
        self.sessions.iter_mut().find_map(|entry| {
            if entry.session.is_lost() {
                return None;
            }
            let unsent = entry.take_unsent(id)?;
            remove_one(&mut entry.releasing, id);
            entry.held.push(id);
            Some(ParkedLock {
                session: entry.session.clone(),
                handoffs: unsent.handoffs + 1,
            })
        })
    }
}

/// Removes one occurrence of `id` from `keys`; whether there was one.
pub(crate) fn remove_one(keys: &mut Vec<LockId>, id: LockId) -> bool {
    match keys.iter().position(|&key| key == id) {
        Some(i) => {
            keys.swap_remove(i);
            true
        }
        None => false,
    }
}

impl Inner {
    pub(crate) fn new(
        dialer: Dialer,
        spawner: Spawner,
        max_sessions: usize,
        namespace: Option<String>,
        max_local_handoffs: u32,
        fencing: Fencing,
        locks: KeyedRwLocks<LockId>,
    ) -> Self {
        Inner {
            dialer,
            spawner,
            max_sessions,
            namespace,
            max_local_handoffs,
            fencing,
            locks: Arc::new(locks),
            state: Mutex::new(State::default()),
            changed: Event::new(),
            next_session_id: AtomicU64::new(0),
        }
    }

    /// The bookkeeping. Never held across an `.await`; a RAII count of
    /// `counts.rs` is never dropped while it is held (each has a method
    /// that ends it under a lock the caller holds).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.spawner.spawn(future);
    }

    /// Wakes every caller waiting for a change of the books.
    pub(crate) fn notify_changed(&self) {
        self.changed.notify(usize::MAX);
    }

    /// The one way a session leaves the pool: it is marked lost (which
    /// closes its connection, so the server frees whatever it held), its
    /// entry is removed, and waiting callers look again. For a session
    /// that died, that misbehaved, or whose state is unknown.
    pub(crate) fn session_gone(&self, session: &Session) {
        self.forget_session(session.id, &session.liveness);
    }

    /// [`session_gone`](Inner::session_gone) by the session's number, for
    /// the task that drives its connection (which has no `Session`).
    pub(crate) fn forget_session(&self, id: u64, liveness: &Liveness) {
        liveness.mark_lost();
        self.state().sessions.retain(|entry| entry.session.id != id);
        self.notify_changed();
    }
}

/// Bounds of the polling interval of a caller that has nothing to use.
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(1);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_millis(100);
