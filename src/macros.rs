//! Declarations shared by the guard and future types of several modules.

/// Declares a public lock future around an inner future that does the
/// work: the struct, its `Future` (the inner output, mapped by `$map` if
/// given), `FusedFuture` (feature `futures-core`) and `Debug`.
///
/// `[$($gen)*]` are the generic parameters of the impls, `[$($arg)*]` the
/// type's arguments; `decl[...]` gives the struct's own parameters when
/// they differ (default type parameters), and `where[...]` bounds the
/// `Future` impl only. `new(...) => $make` builds the inner future. The
/// inner future is structurally pinned (never moved out of the wrapper,
/// which has no `Drop` of its own), so the wrapper is `Unpin` exactly when
/// it is.
macro_rules! lock_future {
    (
        $(#[$attr:meta])*
        pub struct $future:ident[$($gen:tt)*][$($arg:tt)*]($inner:ty) -> $output:ty;
        $($rest:tt)*
    ) => {
        $crate::macros::lock_future! {
            $(#[$attr])*
            pub struct $future decl[$($gen)*][$($gen)*][$($arg)*]($inner) -> $output;
            $($rest)*
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $future:ident decl[$($decl:tt)*][$($gen:tt)*][$($arg:tt)*]($inner:ty)
            -> $output:ty;
        $(where[$($bound:tt)*];)?
        new($($param:ident: $param_ty:ty),* $(,)?) => $make:expr;
        $(map(|$out:pat_param| $map:expr);)?
    ) => {
        $(#[$attr])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $future<$($decl)*>($inner);

        impl<$($gen)*> $future<$($arg)*> {
            #[inline]
            pub(crate) fn new($($param: $param_ty),*) -> Self {
                Self($make)
            }
        }

        impl<$($gen)*> core::future::Future for $future<$($arg)*>
        $(where $($bound)*)?
        {
            type Output = $output;

            #[inline]
            fn poll(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
            ) -> core::task::Poll<$output> {
                // SAFETY: the inner future is structurally pinned: it is never
                // moved out of `self`, and the wrapper has no `Drop`.
                let inner = unsafe { self.map_unchecked_mut(|this| &mut this.0) };
                let polled = core::future::Future::poll(inner, cx);
                $(let polled = polled.map(|$out| $map);)?
                polled
            }
        }

        #[cfg(feature = "futures-core")]
        impl<$($gen)*> futures_core::future::FusedFuture for $future<$($arg)*>
        $(where $($bound)*)?
        {
            #[inline]
            fn is_terminated(&self) -> bool {
                futures_core::future::FusedFuture::is_terminated(&self.0)
            }
        }

        impl<$($gen)*> core::fmt::Debug for $future<$($arg)*> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_tuple(stringify!($future)).field(&self.0).finish()
            }
        }
    };
}
pub(crate) use lock_future;

/// `Debug` and `Display` of a guard: those of what it dereferences to.
/// `[$($gen)*]` are the generic parameters of the impls.
macro_rules! guard_fmt {
    ([$($gen:tt)*] $guard:ty) => {
        impl<$($gen)*> core::fmt::Debug for $guard
        where
            <$guard as core::ops::Deref>::Target: core::fmt::Debug,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($gen)*> core::fmt::Display for $guard
        where
            <$guard as core::ops::Deref>::Target: core::fmt::Display,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&**self, f)
            }
        }
    };
}
pub(crate) use guard_fmt;

/// What [`Lock`](crate::Lock) and [`RwLock`](crate::RwLock) share around
/// their value: the two `const` constructors (documented by the caller, as
/// their policies differ), `into_inner`, `get_mut`, `is_fifo`, the crate's
/// way to the raw protocol, `Default` and `From`.
///
/// `$lock { raw: $raw, value }` names the type and its raw protocol, which
/// both have `new(Policy)`; the type must have exactly the fields `raw`
/// and `value: UnsafeCell<T>`.
macro_rules! value_lock {
    (
        $lock:ident { raw: $raw:ident, value }
        $(#[$new:meta])* new;
        $(#[$fifo:meta])* new_fifo;
    ) => {
        impl<T> $lock<T> {
            $crate::sync::loom_const_fn! {
                $(#[$new])*
                pub const fn new(value: T) -> Self {
                    Self { raw: $raw::new($crate::raw::Policy::Throughput), value: UnsafeCell::new(value) }
                }
            }

            $crate::sync::loom_const_fn! {
                $(#[$fifo])*
                pub const fn new_fifo(value: T) -> Self {
                    Self { raw: $raw::new($crate::raw::Policy::Fifo), value: UnsafeCell::new(value) }
                }
            }

            /// Consumes the lock and returns the value.
            ///
            /// ```
            #[doc = concat!("let lock = turnlock::", stringify!($lock), "::new(String::from(\"done\"));")]
            /// assert_eq!(lock.into_inner(), "done");
            /// ```
            pub fn into_inner(self) -> T {
                self.value.into_inner()
            }
        }

        impl<T: ?Sized> $lock<T> {
            #[doc = concat!("`true` for a lock made by [`", stringify!($lock), "::new_fifo`].")]
            ///
            /// ```
            #[doc = concat!("assert!(turnlock::", stringify!($lock), "::new_fifo(()).is_fifo());")]
            #[doc = concat!("assert!(!turnlock::", stringify!($lock), "::new(()).is_fifo());")]
            /// ```
            #[inline]
            pub fn is_fifo(&self) -> bool {
                self.raw.is_fifo()
            }

            /// A mutable reference to the value, without locking: `&mut self`
            /// already proves that nobody else holds the lock.
            ///
            /// ```
            #[doc = concat!("let mut lock = turnlock::", stringify!($lock), "::new(1);")]
            /// *lock.get_mut() = 5;
            /// assert_eq!(lock.into_inner(), 5);
            /// ```
            #[inline]
            pub fn get_mut(&mut self) -> &mut T {
                self.value.get_mut()
            }

            /// The raw protocol, for the guards, the futures and the keyed
            /// layer.
            #[inline]
            pub(crate) fn raw(&self) -> &$raw {
                &self.raw
            }
        }

        impl<T: Default> Default for $lock<T> {
            #[doc = concat!("A `", stringify!($lock), "::new(T::default())`.")]
            fn default() -> Self {
                Self::new(T::default())
            }
        }

        impl<T> From<T> for $lock<T> {
            #[doc = concat!("A `", stringify!($lock), "::new(value)`.")]
            fn from(value: T) -> Self {
                Self::new(value)
            }
        }
    };
}
pub(crate) use value_lock;
