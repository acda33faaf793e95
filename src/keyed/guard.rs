//! The guards of held keys: [`KeyGuard`] and [`OwnedKeyGuard`] for
//! [`KeyedLocks`], and the macro that declares every key guard (those of
//! `KeyedRwLocks` too). A guard keeps its map (borrowed or owned) and the
//! counted node of its key; dropping it releases the node's lock in the
//! guard's mode, then the count.

use super::KeyedLocks;
use crate::raw::RawLock;

/// Declares the guard of one held key: the struct, its constructor, `key`,
/// `source`, the release on drop (the lock in its mode, then the count) and
/// `Debug`. `pub struct G<'a>: &'a Map, Lock = mode;` borrows the map
/// `Map<K, S>`, `pub struct G: Arc<Map>, Lock = mode;` owns a share of it;
/// the attributes in `key[...]` and `source[...]` document those two
/// functions.
macro_rules! key_guard {
    (
        $(#[$attr:meta])*
        pub struct $guard:ident<$lt:lifetime>: &$lt2:lifetime $map:ident, $lock:ty = $mode:expr;
        key[$(#[$key_doc:meta])*];
        source[$(#[$source_doc:meta])*];
    ) => {
        $crate::keyed::guard::key_guard! {
            $(#[$attr])*
            pub struct $guard
                decl[$lt, K, S = $crate::keyed::DefaultHashBuilder][$lt, K, S][$lt, K, S]
            {
                locks: &$lt2 $map<K, S>,
                lock: $lock = $mode,
            }
            key[$(#[$key_doc])*];
            source[$(#[$source_doc])*] -> &$lt2 $map<K, S> = |this| this.locks;
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $guard:ident: Arc<$map:ident>, $lock:ty = $mode:expr;
        key[$(#[$key_doc:meta])*];
        source[$(#[$source_doc:meta])*];
    ) => {
        $crate::keyed::guard::key_guard! {
            $(#[$attr])*
            pub struct $guard decl[K, S = $crate::keyed::DefaultHashBuilder][K, S][K, S] {
                locks: alloc::sync::Arc<$map<K, S>>,
                lock: $lock = $mode,
            }
            key[$(#[$key_doc])*];
            source[$(#[$source_doc])*] -> &alloc::sync::Arc<$map<K, S>> = |this| &this.locks;
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $guard:ident decl[$($decl:tt)*][$($gen:tt)*][$($arg:tt)*] {
            locks: $locks:ty,
            lock: $lock:ty = $mode:expr,
        }
        key[$(#[$key_doc:meta])*];
        source[$(#[$source_doc:meta])*] -> $source:ty = |$this:ident| $get_source:expr;
    ) => {
        $(#[$attr])*
        #[must_use = "if unused the key is released at once"]
        pub struct $guard<$($decl)*> {
            locks: $locks,
            /// Counted, and its lock is held in the guard's mode.
            node: $crate::keyed::map::NodePtr<K, $lock>,
        }

        impl<$($gen)*> $guard<$($arg)*> {
            /// # Safety
            ///
            /// The caller holds a count on `node`, a node of `locks`, and
            /// its lock in this guard's mode; it hands both to the guard.
            #[inline]
            pub(in crate::keyed) unsafe fn new(
                locks: $locks,
                node: $crate::keyed::map::NodePtr<K, $lock>,
            ) -> Self {
                // SAFETY: the caller holds a count.
                debug_assert!($crate::keyed::map::NodeLock::is_locked(&unsafe { node.get() }.raw));
                Self { locks, node }
            }

            $(#[$key_doc])*
            #[inline]
            pub fn key(this: &Self) -> &K {
                // SAFETY: the guard holds a count on its node.
                unsafe { this.node.get() }.key()
            }

            $(#[$source_doc])*
            #[inline]
            pub fn source($this: &Self) -> $source {
                $get_source
            }
        }

        impl<$($gen)*> Drop for $guard<$($arg)*> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the guard holds the lock in its mode and a count on
                // the node, and this is their only release: first the lock,
                // then the count.
                unsafe {
                    $crate::raw::Protocol::release(&self.node.get().raw, $mode);
                    self.locks.map.release(self.node);
                }
            }
        }

        impl<$($gen)*> core::fmt::Debug for $guard<$($arg)*>
        where
            K: core::fmt::Debug,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($guard))
                    .field("key", Self::key(self))
                    .finish()
            }
        }
    };
}
pub(super) use key_guard;

key_guard! {
    /// Holds the lock of one key of a [`KeyedLocks`]; the key is released
    /// when it is dropped. Needs the `keyed` feature.
    ///
    /// Protects no value of its own (the map holds none): what it guards is
    /// whatever the key stands for. [`KeyGuard::key`] tells which key.
    ///
    /// ```
    /// let locks = turnlock::KeyedLocks::new();
    /// let guard = locks.try_lock(7).unwrap();
    /// assert_eq!(*turnlock::KeyGuard::key(&guard), 7);
    /// assert!(std::ptr::eq(turnlock::KeyGuard::source(&guard), &locks));
    /// ```
    ///
    /// A guard cannot outlive its map:
    ///
    /// ```compile_fail
    /// let guard = {
    ///     let locks = turnlock::KeyedLocks::new();
    ///     locks.try_lock(1).unwrap()
    /// };
    /// ```
    pub struct KeyGuard<'a>: &'a KeyedLocks, RawLock = ();
    key[
        /// The key this guard holds.
        ///
        /// An associated function, like [`Guard::source`](crate::Guard::source).
        ///
        /// ```
        /// let locks = turnlock::KeyedLocks::new();
        /// let guard = locks.try_lock("inbox").unwrap();
        /// assert_eq!(*turnlock::KeyGuard::key(&guard), "inbox");
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// let locks = turnlock::KeyedLocks::new();
        /// let guard = locks.try_lock(0).unwrap();
        /// assert!(std::ptr::eq(turnlock::KeyGuard::source(&guard), &locks));
        /// ```
    ];
}

#[cfg(target_has_atomic = "ptr")]
key_guard! {
    /// Holds the lock of one key of an `Arc<KeyedLocks>`; `'static`, so it
    /// can move into spawned tasks and threads. Needs the `keyed` feature.
    ///
    /// Made by [`KeyedLocks::lock_owned`], [`KeyedLocks::try_lock_owned`]
    /// and `KeyedLocks::lock_owned_blocking` (feature `std`).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let locks = Arc::new(turnlock::KeyedLocks::new());
    /// let guard = locks.try_lock_owned("k").unwrap();
    /// assert_eq!(*turnlock::OwnedKeyGuard::key(&guard), "k");
    /// assert!(Arc::ptr_eq(turnlock::OwnedKeyGuard::source(&guard), &locks));
    /// ```
    pub struct OwnedKeyGuard: Arc<KeyedLocks>, RawLock = ();
    key[
        /// The key this guard holds.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedLocks::new());
        /// let guard = locks.try_lock_owned(9).unwrap();
        /// assert_eq!(*turnlock::OwnedKeyGuard::key(&guard), 9);
        /// ```
    ];
    source[
        /// The map this guard's key belongs to.
        ///
        /// ```
        /// use std::sync::Arc;
        ///
        /// let locks = Arc::new(turnlock::KeyedLocks::new());
        /// let guard = locks.try_lock_owned(9).unwrap();
        /// assert!(Arc::ptr_eq(turnlock::OwnedKeyGuard::source(&guard), &locks));
        /// ```
    ];
}
