//! The named futures returned by the lock methods.
//!
//! Each is a small state machine around one acquisition. All of them are
//! cancellation-safe: dropping one at any point leaves the lock as if it had
//! never been polled, except that a waiter that had just been handed the lock
//! passes it on to the next waiter. They are `Send` when the lock is `Sync`
//! (so when `T: Send`), and `Unpin` (`LockUntil` when its deadline is).
//!
//! With the `futures-core` feature, each of them also implements
//! `futures_core::future::FusedFuture`: `is_terminated` turns `true` when
//! the future returns `Ready`, so `futures::select!` takes them as they are,
//! without `.fuse()`, and skips the ones that have finished.
//!
//! ```
//! # #[cfg(feature = "futures-core")]
//! # futures::executor::block_on(async {
//! use futures::select;
//!
//! let config = turnlock::Lock::new("config");
//! let state = turnlock::Lock::new("state");
//! let (mut config_future, mut state_future) = (config.lock(), state.lock());
//! let mut taken = Vec::new();
//! loop {
//!     select! {
//!         guard = config_future => taken.push(*guard),
//!         guard = state_future => taken.push(*guard),
//!         complete => break,
//!     }
//! }
//! taken.sort();
//! assert_eq!(taken, ["config", "state"]);
//! # });
//! ```

#[cfg(target_has_atomic = "ptr")]
pub use crate::acquire::OwnedLockFuture;
pub use crate::acquire::{LockFuture, LockUntil};
#[cfg(feature = "async-io")]
pub use crate::timer::LockTimeout;

#[cfg(target_has_atomic = "ptr")]
pub use crate::rwlock::{
    OwnedReadFuture, OwnedUpgradableReadFuture, OwnedUpgradeFuture, OwnedUpgradeUntil,
    OwnedWriteFuture,
};
pub use crate::rwlock::{
    ReadFuture, ReadUntil, UpgradableReadFuture, UpgradableReadUntil, UpgradeFuture, UpgradeUntil,
    WriteFuture, WriteUntil,
};
#[cfg(feature = "async-io")]
pub use crate::rwlock::{ReadTimeout, UpgradableReadTimeout, UpgradeTimeout, WriteTimeout};

#[cfg(all(feature = "keyed", feature = "async-io"))]
pub use crate::keyed::KeyLockTimeout;
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::OwnedKeyLockFuture;
#[cfg(feature = "keyed")]
pub use crate::keyed::{KeyLockFuture, KeyLockUntil, LockManyFuture};
#[cfg(feature = "keyed")]
pub use crate::keyed::{KeyReadFuture, KeyReadUntil, KeyWriteFuture, KeyWriteUntil, RwManyFuture};
#[cfg(all(feature = "keyed", feature = "async-io"))]
pub use crate::keyed::{KeyReadTimeout, KeyWriteTimeout};
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::{OwnedKeyReadFuture, OwnedKeyWriteFuture};
