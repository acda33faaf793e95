//! The macro that declares every key guard: those of `KeyedLocks`
//! (`KeyGuard`, `OwnedKeyGuard`, declared beside it in `locks.rs`) and of
//! `KeyedRwLocks`. A guard keeps its map (borrowed or owned) and the
//! counted node of its key; dropping it releases the node's lock in the
//! guard's mode, then the count.

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
