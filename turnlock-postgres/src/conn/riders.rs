//! Futures that ride on a session's connection: a statement sent by a
//! caller that does not wait for its answer (an unlock after a guard's
//! drop), finished by the task that drives the session's connection.
//!
//! That task reads every answer of the session, so it is the one that
//! knows first when a rider can go on: it polls the riders before and
//! after each poll of the connection, in the same wake-up. A rider
//! therefore costs no task of its own and no wake-up of another thread,
//! where a spawned task would cost both on every release.
//!
//! A rider boards in one of two ways. [`board`](Riders::board) polls it
//! once on the caller's thread, which sends its statement at once.
//! [`board_later`](Riders::board_later) leaves even that first poll to the
//! connection's task: the statement goes out when the task next runs
//! (right after the caller's task yields, where both share a thread), and
//! until then the rider may still find that it has nothing to send (an
//! unlock whose key was taken again meanwhile, `pool/unlock.rs`).
//!
//! # Why no rider is missed
//!
//! A rider is added to the list under its lock, after its first poll for
//! [`board`](Riders::board). The connection can only read the answer after
//! it has sent the statement, which it takes from the client's channel
//! after that first poll; it polls the riders after reading, and must take
//! the same lock to do so, so it finds the rider in the list. A rider
//! boarded for later is added, and the connection's task woken, under the
//! same lock that task takes to poll the list (and to leave its waker
//! there): either that poll finds the rider, or the rider finds the waker
//! of a task that has yet to poll, which then finds it. Riders are polled
//! with a waker that does nothing: every event they wait for is an answer
//! read by the connection, which is followed by a poll of the riders.

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
    /// The connection's task, as of its latest poll of the list: woken by
    /// [`board_later`](Riders::board_later).
    task: Option<Waker>,
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

    /// Adds `future` unpolled, for the connection's task to poll first
    /// (which sends its statement) the next time it runs. Returns it if the
    /// connection has ended, for the caller to run elsewhere.
    pub(crate) fn board_later(&self, future: BoxFuture<()>) -> Option<BoxFuture<()>> {
        let task = {
            let mut list = self.list();
            if list.closed {
                return Some(future);
            }
            list.futures.push(future);
            list.task.clone()
        };
        // Outside the lock: a waker is the executor's code.
        if let Some(task) = task {
            task.wake();
        }
        None
    }

    /// Polls every rider once, outside the lock; called by the connection's
    /// task (`task` is its waker) before and after each poll of the
    /// connection.
    pub(crate) fn poll_all(&self, task: &Waker) {
        let mut riding = {
            let mut list = self.list();
            if !list
                .task
                .as_ref()
                .is_some_and(|known| known.will_wake(task))
            {
                list.task = Some(task.clone());
            }
            mem::take(&mut list.futures)
        };
        if riding.is_empty() {
            return;
        }
        riding.retain_mut(|future| poll_once(future).is_pending());
        self.list().futures.append(&mut riding);
    }

    /// The connection has ended: polls every rider a last time (their
    /// statements fail at once now, and they book that) and drops those
    /// still unfinished. Later riders are turned away by
    /// [`board`](Riders::board) and [`board_later`](Riders::board_later).
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
