//! [`Status`]: a snapshot of a pool's books.

use super::inner::State;

/// A snapshot of a pool's sessions and keys, from [`Pool::status`].
///
/// When nothing is held or being acquired, `waiting`, `busy`, `held` and
/// `keys` are all 0: every session is back and idle.
///
/// ```
/// let pool = turnlock_postgres::Pool::new("host=localhost").unwrap();
/// let status = pool.status();
/// assert_eq!((status.sessions, status.held, status.keys), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Status {
    /// Open sessions (database connections).
    pub sessions: usize,
    /// Sessions being opened.
    pub connecting: usize,
    /// Sessions blocked in `pg_advisory_lock`, waiting for another process
    /// (or being cancelled after their waiter gave up).
    pub waiting: usize,
    /// Short statements in flight (tries, releases).
    pub busy: usize,
    /// Advisory locks held by this pool's sessions: by guards, parked
    /// between two local holders of a key, or being released.
    pub held: usize,
    /// Keys with a local holder or waiter.
    pub keys: usize,
}

impl Status {
    pub(super) fn of(state: &State) -> Status {
        let sessions = &state.sessions;
        Status {
            sessions: sessions.len(),
            connecting: state.connecting,
            waiting: sessions.iter().filter(|s| s.waiting).count(),
            busy: sessions.iter().map(|s| s.busy).sum(),
            held: sessions
                .iter()
                .map(|s| s.held.len() + s.releasing.len())
                .sum(),
            keys: state.keys.len(),
        }
    }
}
