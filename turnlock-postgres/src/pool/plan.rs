//! Placement: where the next statement for a key runs.

use super::inner::{SessionEntry, State};
use crate::key::LockId;

/// Statements queued on one shared session before another is preferred.
const PIPELINE: usize = 4;

/// Where an acquisition stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// First attempt: try on a shared session, or wait on an empty one.
    First,
    /// A try failed: only a session to wait on will do (or poll).
    AfterTry,
    /// `try_lock`: never wait on the server.
    TryOnly,
}

/// The decision, as an index into `State::sessions` where it names one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Placement {
    /// `pg_try_advisory_lock` on this shared session.
    Try(usize),
    /// `pg_advisory_lock` on this empty session, which becomes Waiting.
    Wait(usize),
    /// Open another session.
    Connect,
    /// This pool is releasing the key: wait for the release to be booked.
    AwaitRelease,
    /// Nothing to use now: wait for a change of the books (or poll).
    Sleep,
}

/// Chooses where the next statement for key `id` runs. In order of
/// preference: a shared session that holds locks and has little in flight;
/// an empty session, to wait on (a wait on an empty session is granted at
/// once when the lock is free), or one whose only work is releasing `id`,
/// to wait right behind that release; a short queue on any shared session;
/// a new session; a long queue. After a failed try only a session to wait
/// on will do, else the caller polls.
///
/// One session always stays out of server-side waits, so that other keys
/// can still be tried and released while every other session waits for a
/// remote holder (with one session, every wait polls). A statement for `id`
/// never goes to a session that holds `id`, nor to one that releases it
/// unless it is a wait queued right behind that release.
pub(crate) fn place(state: &State, max_sessions: usize, phase: Phase, id: LockId) -> Placement {
    let sessions = &state.sessions;
    let total = sessions.len() + state.connecting;
    let waiting = sessions.iter().filter(|s| s.waiting).count();
    let may_wait = phase != Phase::TryOnly && waiting + 1 < max_sessions;
    let may_try = phase != Phase::AfterTry;
    let shared = |s: &&SessionEntry| s.usable() && s.may_take(id);
    let least_busy = |filter: &dyn Fn(&SessionEntry) -> bool| {
        sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| shared(s) && filter(s))
            .min_by_key(|(_, s)| s.busy)
    };

    if may_try {
        if let Some((i, s)) = least_busy(&|s| !s.held.is_empty()) {
            if s.busy < PIPELINE {
                return Placement::Try(i);
            }
        }
    }
    if may_try || may_wait {
        if let Some(i) = sessions.iter().position(SessionEntry::empty) {
            return if may_wait {
                Placement::Wait(i)
            } else {
                Placement::Try(i)
            };
        }
    }
    if may_wait {
        if let Some(i) = sessions.iter().position(|s| s.only_releasing(id)) {
            return Placement::Wait(i);
        }
    }
    let least_busy_any = least_busy(&|_| true);
    if may_try {
        if let Some((i, s)) = least_busy_any {
            if s.busy < PIPELINE {
                return Placement::Try(i);
            }
        }
    }
    if sessions
        .iter()
        .any(|s| s.usable() && s.releasing.contains(&id))
    {
        // This pool is releasing the key right now: the session doing it
        // is free in a moment, cheaper than opening another.
        return Placement::AwaitRelease;
    }
    if (may_try || may_wait) && total < max_sessions {
        return Placement::Connect;
    }
    if may_try {
        if let Some((i, _)) = least_busy_any {
            return Placement::Try(i);
        }
    }
    Placement::Sleep
}
