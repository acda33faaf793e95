//! One key's acquisition, and waiting for one key of a keyed map: the
//! generic futures that the named futures of `KeyedLocks` (`locks.rs`) and
//! `KeyedRwLocks` (`rw/guards.rs`) wrap.
//!
//! [`Acquire`] waits for the lock of a counted node; [`KeyFuture`] adds the
//! map and the key (counted in at the first poll) and [`KeyUntil`] a
//! deadline. Both are generic over a [`KeyHolder`]: which map (borrowed or
//! owned, `KeyedLocks` or `KeyedRwLocks`), which access, which guard, so
//! the futures of `KeyedRwLocks` are built on them too. The public futures
//! are thin wrappers declared by `lock_future!`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

use super::map::{Map, NodeLock, NodePtr};
#[cfg(feature = "std")]
use crate::raw::acquire_blocking;
#[cfg(all(feature = "std", not(loom)))]
use crate::raw::acquire_blocking_timeout;
use crate::raw::{Protocol, RawLock, Waiter, poll_until};
use crate::timeout::TimedOut;

/// One key's acquisition: the counted node, from the first poll until the
/// lock is handed over, and the waiter of its lock. Generic over the
/// node's lock (`L`, with what an acquisition asks of it in `mode`), so
/// that `KeyedLocks` and `KeyedRwLocks` share it.
///
/// Every future that owns an `Acquire` calls [`Acquire::cancel`] when it is
/// dropped; that is what keeps cancelled waiters from leaving entries behind.
pub(super) struct Acquire<K, L: NodeLock = RawLock> {
    /// `Some` while this acquisition holds a count and has not handed it on.
    node: Option<NodePtr<K, L>>,
    waiter: Waiter,
    /// What the acquisition asks the node's lock for.
    mode: L::Mode,
}

impl<K, L: NodeLock> Acquire<K, L> {
    /// An acquisition that has not started.
    #[inline]
    pub(super) const fn new(mode: L::Mode) -> Self {
        Self {
            node: None,
            waiter: Waiter::new(),
            mode,
        }
    }

    /// Starts acquiring `node`, on which the caller has just counted in:
    /// from now on the key has an entry, and the count is ours.
    #[inline]
    pub(super) fn start(&mut self, node: NodePtr<K, L>) {
        debug_assert!(self.node.is_none(), "acquisition started twice");
        self.waiter = Waiter::new();
        self.node = Some(node);
    }

    /// Starts the next acquisition, in `mode` (for several keys in turn).
    #[inline]
    pub(super) fn start_in(&mut self, node: NodePtr<K, L>, mode: L::Mode) {
        self.mode = mode;
        self.start(node);
    }

    /// Polls the lock of the started key. `Ready` hands the count and the
    /// lock to the caller.
    #[inline]
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<NodePtr<K, L>> {
        let node = self.node.expect("key lock future polled after completion");
        // SAFETY: we hold a count on `node`.
        let raw = &unsafe { node.get() }.raw;
        ready!(raw.poll_acquire(self.mode, &mut self.waiter, cx));
        self.node = None;
        Poll::Ready(node)
    }

    /// Like [`poll`](Self::poll), but gives up when `deadline` completes:
    /// then the count is given back and the result is `Ready(None)`.
    pub(super) fn poll_until<D: Future>(
        &mut self,
        map: &Map<K, L>,
        deadline: Pin<&mut D>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<NodePtr<K, L>>> {
        let node = self.node.expect("key lock future polled after completion");
        // SAFETY: we hold a count on `node`.
        let raw = &unsafe { node.get() }.raw;
        let acquired = ready!(poll_until(raw, self.mode, &mut self.waiter, deadline, cx));
        self.node = None;
        if acquired {
            Poll::Ready(Some(node))
        } else {
            // SAFETY: our count; `poll_until` has left the line, and we do
            // not own the lock.
            unsafe { map.release(node) };
            Poll::Ready(None)
        }
    }

    /// Gives up at any point: leaves the line (releasing the lock if it had
    /// been handed to us meanwhile) and gives the count back.
    #[inline]
    pub(super) fn cancel(&mut self, map: &Map<K, L>) {
        if let Some(node) = self.node.take() {
            // SAFETY: we hold a count on `node`.
            let raw = &unsafe { node.get() }.raw;
            if raw.abandon(&mut self.waiter) {
                // SAFETY: `abandon` reported that this waiter owns the lock.
                unsafe { raw.release(self.mode) };
            }
            // SAFETY: our count; we left the line and own no lock.
            unsafe { map.release(node) };
        }
    }
}

impl<K, L: NodeLock> fmt::Debug for Acquire<K, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("counted", &self.node.is_some())
            .field("waiter", &self.waiter)
            .finish()
    }
}

/// Takes `node`'s lock in `mode` if it may be taken right now; otherwise
/// gives the count back and returns `None`.
///
/// # Safety
///
/// The caller holds a count on `node`, a node of `map`, and gives it to the
/// result (or up).
#[inline]
pub(super) unsafe fn try_take<K, L: NodeLock>(
    map: &Map<K, L>,
    node: NodePtr<K, L>,
    mode: L::Mode,
) -> Option<NodePtr<K, L>> {
    // SAFETY: the caller holds a count on `node`.
    if unsafe { node.get() }.raw.try_acquire(mode) {
        Some(node)
    } else {
        // SAFETY: the caller's count; we never waited and hold no lock.
        unsafe { map.release(node) };
        None
    }
}

/// Blocks the thread until `node`'s lock is held in `mode`.
///
/// # Safety
///
/// The caller holds a count on `node` and gives it to the result.
#[cfg(feature = "std")]
pub(super) unsafe fn take_blocking<K, L: NodeLock>(
    node: NodePtr<K, L>,
    mode: L::Mode,
) -> NodePtr<K, L> {
    // SAFETY: the caller holds a count on `node`.
    let acquired = acquire_blocking(&unsafe { node.get() }.raw, mode, None);
    debug_assert!(
        acquired,
        "a blocking wait without a deadline returned empty"
    );
    node
}

/// Like [`take_blocking`], but gives up after `timeout`: then gives the
/// count back.
///
/// # Safety
///
/// As for [`try_take`].
#[cfg(all(feature = "std", not(loom)))]
pub(super) unsafe fn take_blocking_timeout<K, L: NodeLock>(
    map: &Map<K, L>,
    node: NodePtr<K, L>,
    mode: L::Mode,
    timeout: Duration,
) -> Result<NodePtr<K, L>, TimedOut> {
    // SAFETY: the caller holds a count on `node`.
    if acquire_blocking_timeout(&unsafe { node.get() }.raw, mode, timeout) {
        Ok(node)
    } else {
        // SAFETY: the caller's count; the blocking wait left the line.
        unsafe { map.release(node) };
        Err(TimedOut::after(timeout))
    }
}

/// A map that a key's acquisition counts in on, borrowed or owned, with
/// the access it asks for and the guard a held key becomes.
pub(crate) trait KeyHolder: Sized {
    /// The map's key.
    type Key;
    /// The lock of the map's nodes.
    type Lock: NodeLock;
    /// What a held key becomes.
    type Guard;
    /// What the acquisition asks the node's lock for.
    const MODE: <Self::Lock as Protocol>::Mode;

    /// The map.
    fn map(&self) -> &Map<Self::Key, Self::Lock>;

    /// Turns a held key into its guard.
    ///
    /// # Safety
    ///
    /// The caller holds a count on `node`, a node of this map, and its lock
    /// in [`MODE`](KeyHolder::MODE), and hands both to the guard.
    unsafe fn guard(self, node: NodePtr<Self::Key, Self::Lock>) -> Self::Guard;
}

/// A [`KeyHolder`] whose keys can be hashed: it counts them in.
pub(crate) trait CountIn: KeyHolder {
    /// Counts in on the node of `key` (see the module docs of `keyed`).
    fn count_in(&self, key: Self::Key) -> NodePtr<Self::Key, Self::Lock>;
}

/// Implements [`KeyHolder`] and [`CountIn`] for a borrowed and an owned map
/// type, with the mode and the guards.
macro_rules! key_holder {
    (
        $holder:ident<$map:ident>, $lock:ty, $mode:expr,
        $guard:ident, $owned_guard:ident $(,)?
    ) => {
        $crate::keyed::acquire::key_holder!(
            @one ['a] $holder<&'a $map<K, S>>, $lock, $mode, $guard['a, K, S]
        );
        #[cfg(target_has_atomic = "ptr")]
        $crate::keyed::acquire::key_holder!(
            @one [] $holder<alloc::sync::Arc<$map<K, S>>>, $lock, $mode, $owned_guard[K, S]
        );
    };
    (
        @one [$($lt:lifetime)?] $holder:ident<$ptr:ty>, $lock:ty, $mode:expr,
        $guard:ident[$($guard_arg:tt)*]
    ) => {
        impl<$($lt,)? K, S> $crate::keyed::acquire::KeyHolder for $holder<$ptr> {
            type Key = K;
            type Lock = $lock;
            type Guard = $guard<$($guard_arg)*>;
            const MODE: <$lock as $crate::raw::Protocol>::Mode = $mode;

            #[inline]
            fn map(&self) -> &$crate::keyed::map::Map<K, $lock> {
                &self.0.map
            }

            #[inline]
            unsafe fn guard(self, node: $crate::keyed::map::NodePtr<K, $lock>) -> Self::Guard {
                // SAFETY: the caller holds a count and the lock in `MODE`.
                unsafe { $guard::new(self.0, node) }
            }
        }

        impl<$($lt,)? K: Eq + core::hash::Hash, S: core::hash::BuildHasher>
            $crate::keyed::acquire::CountIn for $holder<$ptr>
        {
            #[inline]
            fn count_in(&self, key: K) -> $crate::keyed::map::NodePtr<K, $lock> {
                self.0.count_in(key)
            }
        }
    };
}
pub(super) use key_holder;

/// Declares the four futures of one way to take a key of `$map`, as thin
/// `lock_future!` wrappers over [`KeyFuture`] and [`KeyUntil`] with the
/// holder `$holder`: on the borrowed map (`future`), on an `Arc` of it
/// (`owned`, where `Arc` exists), with a deadline (`until`) and with a
/// timeout (`timeout`, feature `async-io`). Each name comes with its docs.
macro_rules! key_futures {
    (
        $holder:ident<$map:ident> => $guard:ident, $owned_guard:ident;
        $(#[$future_doc:meta])* future $future:ident;
        $(#[$owned_doc:meta])* owned $owned:ident;
        $(#[$until_doc:meta])* until $until:ident;
        $(#[$timeout_doc:meta])* timeout $timeout:ident;
    ) => {
        $crate::macros::lock_future! {
            $(#[$future_doc])*
            pub struct $future
                decl['a, K, S = $crate::keyed::DefaultHashBuilder]['a, K, S]['a, K, S]
                ($crate::keyed::acquire::KeyFuture<$holder<&'a $map<K, S>>>) -> $guard<'a, K, S>;
            where[K: Eq + core::hash::Hash, S: core::hash::BuildHasher];
            new(locks: &'a $map<K, S>, key: K) =>
                $crate::keyed::acquire::KeyFuture::new($holder(locks), key);
        }

        #[cfg(target_has_atomic = "ptr")]
        $crate::macros::lock_future! {
            $(#[$owned_doc])*
            pub struct $owned
                decl[K, S = $crate::keyed::DefaultHashBuilder][K, S][K, S]
                ($crate::keyed::acquire::KeyFuture<$holder<alloc::sync::Arc<$map<K, S>>>>)
                -> $owned_guard<K, S>;
            where[K: Eq + core::hash::Hash, S: core::hash::BuildHasher];
            new(locks: alloc::sync::Arc<$map<K, S>>, key: K) =>
                $crate::keyed::acquire::KeyFuture::new($holder(locks), key);
        }

        $crate::macros::lock_future! {
            $(#[$until_doc])*
            pub struct $until
                decl['a, K, D, S = $crate::keyed::DefaultHashBuilder]['a, K, D, S]['a, K, D, S]
                ($crate::keyed::acquire::KeyUntil<$holder<&'a $map<K, S>>, D>)
                -> Result<$guard<'a, K, S>, $crate::timeout::TimedOut>;
            where[K: Eq + core::hash::Hash, D: core::future::Future, S: core::hash::BuildHasher];
            new(locks: &'a $map<K, S>, key: K, deadline: D, after: Option<core::time::Duration>) =>
                $crate::keyed::acquire::KeyUntil::new($holder(locks), key, deadline, after);
        }

        #[cfg(feature = "async-io")]
        $crate::macros::lock_future! {
            $(#[$timeout_doc])*
            pub struct $timeout
                decl['a, K, S = $crate::keyed::DefaultHashBuilder]['a, K, S]['a, K, S]
                ($until<'a, K, $crate::timer::Deadline, S>)
                -> Result<$guard<'a, K, S>, $crate::timeout::TimedOut>;
            where[K: Eq + core::hash::Hash, S: core::hash::BuildHasher];
            new(locks: &'a $map<K, S>, key: K, timeout: core::time::Duration) =>
                $until::new(locks, key, $crate::timer::Deadline::after(timeout), Some(timeout));
        }
    };
}
pub(super) use key_futures;

/// A key's acquisition as a future: the map until the guard takes it, the
/// key until the first poll counts it in, and the acquisition.
pub(crate) struct KeyFuture<H: KeyHolder> {
    /// `None` once the future has completed.
    holder: Option<H>,
    /// The key, until the first poll counts it in.
    key: Option<H::Key>,
    acquire: Acquire<H::Key, H::Lock>,
}

// The key is never pinned: it moves into the map on the first poll.
impl<H: KeyHolder> Unpin for KeyFuture<H> {}

impl<H: KeyHolder> KeyFuture<H> {
    #[inline]
    pub(crate) fn new(holder: H, key: H::Key) -> Self {
        Self {
            holder: Some(holder),
            key: Some(key),
            acquire: Acquire::new(H::MODE),
        }
    }

    /// Polls with `deadline`: `Ready(None)` when it completed first (the
    /// count is given back and the waiter has left the line).
    fn poll_until<D: Future>(
        &mut self,
        deadline: Pin<&mut D>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<H::Guard>>
    where
        H: CountIn,
    {
        self.start();
        let holder = self.holder.as_ref().expect("checked in `start`");
        let held = ready!(self.acquire.poll_until(holder.map(), deadline, cx));
        let holder = self.holder.take().expect("checked in `start`");
        // SAFETY: `poll_until` handed us a count on `node` and its lock.
        Poll::Ready(held.map(|node| unsafe { holder.guard(node) }))
    }

    /// Counts the key in at the first poll.
    #[inline]
    fn start(&mut self)
    where
        H: CountIn,
    {
        let holder = self
            .holder
            .as_ref()
            .expect("key lock future polled after completion");
        if let Some(key) = self.key.take() {
            self.acquire.start(holder.count_in(key));
        }
    }
}

impl<H: CountIn> Future for KeyFuture<H> {
    type Output = H::Guard;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<H::Guard> {
        let this = self.get_mut();
        this.start();
        let node = ready!(this.acquire.poll(cx));
        let holder = this.holder.take().expect("checked in `start`");
        // SAFETY: `poll` handed us a count on `node` and its lock.
        Poll::Ready(unsafe { holder.guard(node) })
    }
}

#[cfg(feature = "futures-core")]
impl<H: CountIn> futures_core::future::FusedFuture for KeyFuture<H> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.holder.is_none()
    }
}

impl<H: KeyHolder> Drop for KeyFuture<H> {
    #[inline]
    fn drop(&mut self) {
        if let Some(holder) = &self.holder {
            self.acquire.cancel(holder.map());
        }
    }
}

impl<H: KeyHolder> fmt::Debug for KeyFuture<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFuture")
            .field("acquire", &self.acquire)
            .finish_non_exhaustive()
    }
}

/// A key's acquisition with a deadline, which is structurally pinned.
pub(crate) struct KeyUntil<H: KeyHolder, D> {
    future: KeyFuture<H>,
    /// Structurally pinned: never moved once `self` is pinned.
    deadline: D,
    /// The timeout that made the deadline, for the error message.
    after: Option<Duration>,
}

// Only the deadline is pinned structurally.
impl<H: KeyHolder, D: Unpin> Unpin for KeyUntil<H, D> {}

impl<H: KeyHolder, D> KeyUntil<H, D> {
    #[inline]
    pub(crate) fn new(holder: H, key: H::Key, deadline: D, after: Option<Duration>) -> Self {
        Self {
            future: KeyFuture::new(holder, key),
            deadline,
            after,
        }
    }
}

impl<H: CountIn, D: Future> Future for KeyUntil<H, D> {
    type Output = Result<H::Guard, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `deadline` is the only structurally pinned field; it is
        // re-pinned below and never moved. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `this.deadline` lives inside a pinned `Self` and is never
        // moved out of it (not even by `Drop`, which leaves it alone).
        let deadline = unsafe { Pin::new_unchecked(&mut this.deadline) };
        let after = this.after;
        this.future
            .poll_until(deadline, cx)
            .map(|held| held.ok_or(TimedOut::new(after)))
    }
}

#[cfg(feature = "futures-core")]
impl<H: CountIn, D: Future> futures_core::future::FusedFuture for KeyUntil<H, D> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.future.holder.is_none()
    }
}

impl<H: KeyHolder, D> fmt::Debug for KeyUntil<H, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUntil")
            .field("future", &self.future)
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}
