//! The named futures of acquisitions. They borrow the pool, never the key:
//! a key is turned into its advisory lock id when the method is called.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::acquire::Progress;
use crate::error::Error;
use crate::guard::Guard;
use crate::key::LockId;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// An acquisition on its way: the future of [`Pool::lock`](crate::Pool::lock)
/// (`T` = [`Guard`]), [`Pool::try_lock`](crate::Pool::try_lock)
/// (`Option<Guard>`), [`Pool::lock_timeout`](crate::Pool::lock_timeout) and
/// the `lock_many` family.
///
/// It borrows the pool only, so the key may be a temporary. Dropping it at
/// any point leaves nothing behind: a wait on the server is cancelled in
/// the background, and a lock granted in the race is released.
///
/// ```no_run
/// # futures_lite::future::block_on(async {
/// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
/// let user = 42;
/// let acquire: turnlock_postgres::LockFuture<'_> = pool.lock(format!("user:{user}"));
/// let guard = acquire.await?;
/// # drop(guard);
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, T = Guard> {
    future: Boxed<'a, T>,
}

impl<'a, T> LockFuture<'a, T> {
    pub(crate) fn new(future: impl Future<Output = Result<T, Error>> + Send + 'a) -> Self {
        LockFuture {
            future: Box::pin(future),
        }
    }
}

impl<T> Future for LockFuture<'_, T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<T> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture").finish_non_exhaustive()
    }
}

/// How an acquisition with a deadline runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Start {
    /// Wait for the lock until the deadline.
    Wait,
    /// The deadline had passed at the first poll: one try, no waiting.
    TryOnce,
}

/// Starts an acquisition; `None` from a [`Start::TryOnce`] means the lock
/// was taken.
pub(crate) type Starter<'a, T> =
    Box<dyn FnOnce(Start, Arc<Progress>) -> Boxed<'a, Option<T>> + Send + 'a>;

/// What a timeout says.
pub(crate) struct Expiry {
    /// The lock or locks waited for: "lock 42", "locks 1, 2".
    pub(crate) what: String,
    /// The `Duration` of a `lock_timeout`; `None` for a deadline future.
    pub(crate) timeout: Option<Duration>,
}

impl Expiry {
    pub(crate) fn of(id: LockId, timeout: Option<Duration>) -> Self {
        Expiry {
            what: format!("lock {id}"),
            timeout,
        }
    }
}

/// An acquisition that gives up when a deadline completes: the future of
/// [`Pool::lock_until`](crate::Pool::lock_until).
///
/// If the deadline has completed already when this future is first polled,
/// the acquisition is a single try: the lock if it is free right now,
/// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) if it is taken.
/// Otherwise it waits, and fails with `TimedOut` when the deadline
/// completes first, holding nothing and waiting nowhere. Like every
/// acquisition future it borrows the pool, not the key.
///
/// ```no_run
/// # futures_lite::future::block_on(async {
/// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
/// // A deadline that has passed: only if the key is free right now.
/// match pool.lock_until("report", std::future::ready(())).await {
///     Ok(guard) => drop(guard),
///     Err(err) => assert_eq!(err.kind(), turnlock_postgres::ErrorKind::TimedOut),
/// }
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct LockUntil<'a, D, T = Guard> {
    starter: Option<Starter<'a, T>>,
    running: Option<Boxed<'a, Option<T>>>,
    deadline: Pin<Box<D>>,
    /// The deadline had passed at the first poll: the acquisition is one
    /// try, and the deadline is not polled again.
    expired: bool,
    progress: Arc<Progress>,
    expiry: Expiry,
}

impl<'a, D: Future, T> LockUntil<'a, D, T> {
    pub(crate) fn new(starter: Starter<'a, T>, deadline: D, expiry: Expiry) -> Self {
        LockUntil {
            starter: Some(starter),
            running: None,
            deadline: Box::pin(deadline),
            expired: false,
            progress: Arc::new(Progress::with_deadline()),
            expiry,
        }
    }

    fn timed_out(&self) -> Error {
        Error::timed_out(&self.expiry.what, self.expiry.timeout, self.progress.note())
    }
}

impl<D: Future, T> Future for LockUntil<'_, D, T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(starter) = this.starter.take() {
            this.expired = this.deadline.as_mut().poll(cx).is_ready();
            let start = if this.expired {
                Start::TryOnce
            } else {
                Start::Wait
            };
            this.running = Some(starter(start, this.progress.clone()));
        }
        let running = this
            .running
            .as_mut()
            .expect("`LockUntil` polled after completion");
        if let Poll::Ready(outcome) = running.as_mut().poll(cx) {
            this.running = None;
            return Poll::Ready(match outcome {
                Ok(Some(held)) => Ok(held),
                Ok(None) => Err(this.timed_out()),
                Err(err) => Err(err),
            });
        }
        if !this.expired && this.deadline.as_mut().poll(cx).is_ready() {
            // Dropping the acquisition cancels whatever it was doing.
            this.running = None;
            return Poll::Ready(Err(this.timed_out()));
        }
        Poll::Pending
    }
}

impl<D, T> fmt::Debug for LockUntil<'_, D, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockUntil")
            .field("lock", &self.expiry.what)
            .field("timeout", &self.expiry.timeout)
            .finish_non_exhaustive()
    }
}
