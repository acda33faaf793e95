//! [`Status`]: a snapshot of a pool's books.

use super::inner::State;

/// A snapshot of a pool's sessions and keys, from [`Pool::status`](crate::Pool::status).
///
/// When nothing is held or being acquired, released or opened, every count
/// but `sessions` is 0 and [`is_idle`](Status::is_idle) is true: every
/// session is back and idle.
///
/// ```
/// let pool = turnlock_postgres::Pool::new("host=localhost").unwrap();
/// let status = pool.status();
/// assert_eq!((status.sessions, status.held, status.keys), (0, 0, 0));
/// assert!(status.is_idle());
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
    /// Advisory locks held by this pool's sessions, for guards or parked
    /// between two local holders of a key.
    pub held: usize,
    /// Advisory locks being released (`pg_advisory_unlock` in flight):
    /// still held for the server, free in a moment.
    pub releasing: usize,
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
            held: sessions.iter().map(|s| s.held.len()).sum(),
            releasing: sessions.iter().map(|s| s.releasing.len()).sum(),
            keys: state.keys.len(),
        }
    }

    /// Nothing held, waited for, released, in flight or being opened: the
    /// pool's sessions (if any) are all idle, and no key has a local caller.
    ///
    /// ```
    /// let pool = turnlock_postgres::Pool::new("host=localhost").unwrap();
    /// assert!(pool.status().is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        *self
            == Status {
                sessions: self.sessions,
                ..Status::default()
            }
    }
}
