//! [`ManyGuard`]: several keys held at once, from [`Pool::lock_many`](crate::Pool::lock_many).

use std::fmt;

use crate::error::Error;
use crate::guard::{Guard, Lost};
use crate::key::LockId;

/// Several keys held at once, from [`Pool::lock_many`](crate::Pool::lock_many)
/// and its deadline forms: one [`Guard`] per distinct key, in the order
/// they were taken (ascending [`LockId`]).
///
/// Dropping it releases every key; [`release`](ManyGuard::release) does
/// the same and reports how it went.
///
/// ```no_run
/// # futures_lite::future::block_on(async {
/// let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
/// let mut both = pool.lock_many(["account:alice", "account:bob"]).await?;
/// for guard in both.guards_mut() {
///     let token = guard.fencing_token().await?; // one per key
///     # let _ = token;
/// }
/// both.release().await?;
/// # Ok::<(), turnlock_postgres::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "if unused the keys are released at once"]
pub struct ManyGuard {
    guards: Vec<Guard>,
}

impl ManyGuard {
    pub(crate) fn new(guards: Vec<Guard>) -> Self {
        ManyGuard { guards }
    }

    /// The keys held, ascending.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let held = pool.lock_many([3, 1, 2, 1]).await?;
    /// assert_eq!(held.keys(), [1, 2, 3]);
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn keys(&self) -> Vec<LockId> {
        self.guards.iter().map(Guard::key).collect()
    }

    /// The guard of each key, ascending by key.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let held = pool.lock_many([1, 2]).await?;
    /// assert!(held.guards().iter().all(|guard| !guard.is_lost()));
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn guards(&self) -> &[Guard] {
        &self.guards
    }

    /// The guard of each key, for its [fencing token](Guard::fencing_token).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let mut held = pool.lock_many([1, 2]).await?;
    /// let first = held.guards_mut()[0].fencing_token().await?;
    /// # let _ = first;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn guards_mut(&mut self) -> &mut [Guard] {
        &mut self.guards
    }

    /// A future that completes when any of the locks is lost (see
    /// [`Guard::lost`]).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// # async fn transfer() {}
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let held = pool.lock_many(["a", "b"]).await?;
    /// let finished = futures_lite::future::or(
    ///     async { transfer().await; true },
    ///     async { held.lost().await; false },
    /// )
    /// .await;
    /// # let _ = finished;
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn lost(&self) -> Lost {
        Lost::of(self.guards.iter().map(Guard::liveness).collect())
    }

    /// Whether any of the locks has been lost.
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let held = pool.lock_many([1, 2]).await?;
    /// assert!(!held.is_lost());
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn is_lost(&self) -> bool {
        self.guards.iter().any(Guard::is_lost)
    }

    /// Releases every key (also after an error) and reports the first error
    /// (see [`Guard::release`]).
    ///
    /// ```no_run
    /// # futures_lite::future::block_on(async {
    /// let pool = turnlock_postgres::Pool::new("host=localhost")?;
    /// let held = pool.lock_many([1, 2]).await?;
    /// if let Err(err) = held.release().await {
    ///     eprintln!("the work ran without one of its locks: {err}");
    /// }
    /// # Ok::<(), turnlock_postgres::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn release(self) -> Result<(), Error> {
        let mut outcome = Ok(());
        for guard in self.guards.into_iter().rev() {
            if let Err(err) = guard.release().await {
                if outcome.is_ok() {
                    outcome = Err(err);
                }
            }
        }
        outcome
    }
}

impl fmt::Debug for ManyGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManyGuard")
            .field("keys", &self.keys())
            .field("lost", &self.is_lost())
            .finish()
    }
}
