//! Futures that ride on a session's connection: a statement sent by a
//! caller that does not wait for its answer (an unlock after a guard's
//! drop), finished by the task that drives the session's connection.
//!
//! That task reads every answer of the session, so it is the one that
//! knows first when a rider can go on: it polls the riders right after
//! each poll of the connection, in the same wake-up. A rider therefore
//! costs no task of its own and no wake-up of another thread, where a
//! spawned task would cost both on every release.
//!
//! # Why no rider is missed
//!
//! A rider is polled for the first time (which sends its statement) and
//! added to the list under one lock. The connection can only read the
//! answer after it has sent the statement, which it takes from the
//! client's channel after that first poll; it polls the riders after
//! reading, and must take the same lock to do so, so it finds the rider
//! in the list. Riders are polled with a waker that does nothing: every
//! event they wait for is an answer read by the connection, which is
//! followed by a poll of the riders.

use std::mem;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::BoxFuture;

/// A session's riders; see the module docs.
#[derive(Default)]
pub(crate) struct Riders {
    list: Mutex<List>,
}

#[derive(Default)]
struct List {
    futures: Vec<BoxFuture<()>>,
    /// The connection has ended: nobody polls this list any more.
    closed: bool,
}

impl Riders {
    fn list(&self) -> MutexGuard<'_, List> {
        // A rider never runs under the lock, and the list stays whole
        // whatever panicked while it was held.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls `future` once, which sends its statement, and leaves the rest
    /// to the connection's task. Returns it unfinished if the connection
    /// has ended, for the caller to run elsewhere.
    pub(crate) fn board(&self, mut future: BoxFuture<()>) -> Option<BoxFuture<()>> {
        let mut list = self.list();
        if list.closed {
            return Some(future);
        }
        // Under the lock: see "Why no rider is missed". The first poll of
        // an unlock only queues its statement on the client's channel.
        if poll_once(&mut future).is_pending() {
            list.futures.push(future);
        }
        None
    }

    /// Polls every rider once, outside the lock; called by the connection's
    /// task after each poll of the connection.
    pub(crate) fn poll_all(&self) {
        let mut riding = mem::take(&mut self.list().futures);
        if riding.is_empty() {
            return;
        }
        riding.retain_mut(|future| poll_once(future).is_pending());
        self.list().futures.append(&mut riding);
    }

    /// The connection has ended: polls every rider a last time (their
    /// statements fail at once now, and they book that) and drops those
    /// still unfinished. Later riders are turned away by
    /// [`board`](Riders::board).
    pub(crate) fn close(&self) {
        let riding = {
            let mut list = self.list();
            list.closed = true;
            mem::take(&mut list.futures)
        };
        for mut future in riding {
            let _ = poll_once(&mut future);
        }
    }
}

fn poll_once(future: &mut BoxFuture<()>) -> Poll<()> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}
