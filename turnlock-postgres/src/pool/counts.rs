//! The pool's counts, each changed only by a RAII type that undoes it in
//! `Drop`, so that no path (an early return, a cancelled future, a panic)
//! forgets one:
//!
//! | type | counts | undone when |
//! |---|---|---|
//! | [`Busy`] | a short statement in flight on a session (`SessionEntry::busy`) | the statement's outcome is booked |
//! | [`Blocked`] | a session blocked in `pg_advisory_lock` (`SessionEntry::waiting`) | the wait has ended and is booked |
//! | [`Reservation`] | a session being opened (`State::connecting`) | it is in the pool or has failed |
//!
//! Local interest in a key is counted the same way, by `Interest` in
//! `interest.rs`.
//!
//! Each `Drop` takes the state lock, so none of these may be dropped while
//! it is held: where the books are already open, `end` undoes the count
//! under the caller's lock instead.

use std::sync::Arc;

use super::inner::{Inner, State};
use crate::conn::Session;

/// A short statement in flight on a session: no wait may block the session
/// meanwhile.
pub(crate) struct Busy {
    inner: Option<Arc<Inner>>,
    session: Arc<Session>,
}

impl Busy {
    /// Counts a statement on `session`, whose entry must be in `state`.
    pub(crate) fn start(inner: &Arc<Inner>, state: &mut State, session: &Arc<Session>) -> Self {
        if let Some(entry) = state.entry(session) {
            entry.busy += 1;
        }
        Busy {
            inner: Some(inner.clone()),
            session: session.clone(),
        }
    }

    /// [`start`](Busy::start), taking the lock itself.
    pub(crate) fn start_unlocked(inner: &Arc<Inner>, session: &Arc<Session>) -> Self {
        Busy::start(inner, &mut inner.state(), session)
    }

    /// Undoes the count under a lock the caller holds.
    pub(crate) fn end(mut self, state: &mut State) {
        self.inner = None;
        undo_busy(state, &self.session);
    }
}

fn undo_busy(state: &mut State, session: &Session) {
    if let Some(entry) = state.entry(session) {
        entry.busy -= 1;
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            undo_busy(&mut inner.state(), &self.session);
            inner.notify_changed();
        }
    }
}

/// A session blocked in `pg_advisory_lock`: nothing else may run on it.
pub(crate) struct Blocked {
    inner: Option<Arc<Inner>>,
    session: Arc<Session>,
}

impl Blocked {
    /// Marks `session` as waiting; its entry must be in `state`, holding
    /// nothing, with at most a release in flight (see
    /// `SessionEntry::only_releasing`).
    pub(crate) fn start(inner: &Arc<Inner>, state: &mut State, session: &Arc<Session>) -> Self {
        if let Some(entry) = state.entry(session) {
            debug_assert!(
                entry.usable() && entry.held.is_empty() && entry.busy <= 1,
                "only an empty session, or one finishing a release, may wait"
            );
            entry.waiting = true;
        }
        Blocked {
            inner: Some(inner.clone()),
            session: session.clone(),
        }
    }

    /// Undoes the mark under a lock the caller holds.
    pub(crate) fn end(mut self, state: &mut State) {
        self.inner = None;
        unblock(state, &self.session);
    }
}

fn unblock(state: &mut State, session: &Session) {
    if let Some(entry) = state.entry(session) {
        entry.waiting = false;
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            unblock(&mut inner.state(), &self.session);
            inner.notify_changed();
        }
    }
}

/// A session being opened: counted against `max_sessions` until it is in
/// the pool or has failed, whether or not the caller that asked for it is
/// still there.
pub(crate) struct Reservation {
    inner: Option<Arc<Inner>>,
}

impl Reservation {
    pub(crate) fn start(inner: &Arc<Inner>, state: &mut State) -> Self {
        state.connecting += 1;
        Reservation {
            inner: Some(inner.clone()),
        }
    }

    /// Undoes the count under a lock the caller holds.
    pub(crate) fn end(mut self, state: &mut State) {
        self.inner = None;
        state.connecting -= 1;
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        self.inner.as_ref().expect("a live reservation")
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state().connecting -= 1;
            inner.notify_changed();
        }
    }
}
