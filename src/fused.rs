//! [`FusedFuture`] for every lock future (feature `futures-core`).
//!
//! `is_terminated` is `true` exactly once the future has returned `Ready`
//! (a guard, or `TimedOut` for the futures with a deadline), so
//! `futures::select!` skips a finished lock future instead of polling it
//! again, without `.fuse()`. The example is in the docs of
//! [`turnlock::futures`](crate::futures).

#[cfg(feature = "keyed")]
use core::hash::{BuildHasher, Hash};

use futures_core::future::FusedFuture;

#[cfg(all(feature = "keyed", feature = "async-io"))]
use crate::futures::KeyLockTimeout;
#[cfg(feature = "async-io")]
use crate::futures::LockTimeout;
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
use crate::futures::OwnedKeyLockFuture;
#[cfg(target_has_atomic = "ptr")]
use crate::futures::OwnedLockFuture;
#[cfg(feature = "keyed")]
use crate::futures::{KeyLockFuture, KeyLockUntil, LockManyFuture};
use crate::futures::{LockFuture, LockUntil};

impl<T: ?Sized> FusedFuture for LockFuture<'_, T> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(target_has_atomic = "ptr")]
impl<T: ?Sized> FusedFuture for OwnedLockFuture<T> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

impl<T: ?Sized, D: Future> FusedFuture for LockUntil<'_, T, D> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(feature = "async-io")]
impl<T: ?Sized> FusedFuture for LockTimeout<'_, T> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(feature = "keyed")]
impl<K: Eq + Hash, S: BuildHasher> FusedFuture for KeyLockFuture<'_, K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
impl<K: Eq + Hash, S: BuildHasher> FusedFuture for OwnedKeyLockFuture<K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(feature = "keyed")]
impl<K: Eq + Hash, D: Future, S: BuildHasher> FusedFuture for KeyLockUntil<'_, K, D, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(all(feature = "keyed", feature = "async-io"))]
impl<K: Eq + Hash, S: BuildHasher> FusedFuture for KeyLockTimeout<'_, K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}

#[cfg(feature = "keyed")]
impl<K: Eq + Hash, S: BuildHasher> FusedFuture for LockManyFuture<'_, K, S> {
    #[inline]
    fn is_terminated(&self) -> bool {
        self.finished()
    }
}
