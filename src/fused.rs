//! [`FusedFuture`] for every lock future (feature `futures-core`).
//!
//! `is_terminated` is `true` exactly once the future has returned `Ready`
//! (a guard, or `TimedOut` for the futures with a deadline), so
//! `futures::select!` skips a finished lock future instead of polling it
//! again, without `.fuse()`. The example is in the docs of
//! [`turnlock::futures`](crate::futures).

use futures_core::future::FusedFuture;

#[cfg(feature = "async-io")]
use crate::futures::LockTimeout;
#[cfg(target_has_atomic = "ptr")]
use crate::futures::OwnedLockFuture;
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
