//! An async lock that needs no executor.
//!
//! [`Lock<T>`] gives one holder at a time access to a `T`, from async code
//! under any executor (smol, async-std, tokio, embassy-style `no_std`
//! executors, a hand-written `block_on`) and from plain threads, all on the
//! same lock at once. It is built from one atomic state word plus
//! [`event-listener`](https://docs.rs/event-listener) notifications, is
//! `#![no_std]`, and its protocol is model-checked with loom.
//!
//! ```
//! use std::sync::Arc;
//! use turnlock::Lock;
//!
//! # futures_lite::future::block_on(async {
//! let lock = Arc::new(Lock::new(Vec::new()));
//!
//! // A plain thread and async code share the lock.
//! let thread = {
//!     let lock = lock.clone();
//!     std::thread::spawn(move || lock.lock_blocking().push("thread"))
//! };
//! lock.lock().await.push("task");
//! thread.join().unwrap();
//!
//! let mut seen = lock.lock().await.clone();
//! seen.sort();
//! assert_eq!(seen, ["task", "thread"]);
//! # });
//! ```
//!
//! # Choosing a policy
//!
//! | | [`Lock::new`] | [`Lock::new_fifo`] |
//! |---|---|---|
//! | who gets a free lock | whoever asks first, even ahead of waiters | the oldest waiter (direct hand-off) |
//! | order of waiters | roughly FIFO; overtaken waiters join a strict queue | strictly the order of first poll |
//! | starvation | impossible: bounded number of hand-offs | impossible: FIFO |
//! | throughput under contention | higher: a free lock goes to whichever task is running | lower: each hand-off waits for the next task to run |
//! | use it for | caches, counters, shared state | connections, files, anything where call order matters |
//!
//! `new` lets a running task take a free lock ahead of sleeping waiters,
//! which keeps the lock busy. A waiter that is woken and finds the lock taken
//! again has been overtaken; it then joins a strict queue that no newcomer
//! can pass, and releases hand the lock to that queue in order. So every
//! waiter is served within a bounded number of hand-offs, with no clock
//! involved (unlike async-lock, whose fairness needs a timer and so `std`).
//!
//! # Cancellation and timeouts
//!
//! Every lock future can be dropped at any point: a waiter that gives up
//! leaves the line and nothing else changes. If the lock had just been handed
//! to it, the lock passes to the next waiter; no wake-up is lost.
//!
//! A pending lock future that is neither polled nor dropped still counts as
//! a waiter. Under `new_fifo`, once the lock is handed to it, it holds the
//! lock until its task polls it or drops it, exactly like an unused guard
//! (so a task that keeps two lock futures of one lock and awaits only the
//! second one waits for itself). Under `new` a woken waiter owns nothing:
//! the lock stays free, the next release wakes the next waiter, and any
//! other lock future of the same task takes the free lock when it is polled.
//!
//! A timeout is the same thing on a schedule:
//! [`lock_until`](Lock::lock_until) takes any future as its deadline, and
//! `lock_timeout` (feature `async-io`) and
//! [`lock_blocking_timeout`](Lock::lock_blocking_timeout) take a `Duration`.
//! They return [`TimedOut`] when the deadline wins. A timeout limits waiting,
//! never holding: it never releases somebody else's lock. (`@databases/lock`,
//! the TypeScript package this crate follows, does release the holder's lock
//! when a waiter times out; turnlock deliberately does not.)
//!
//! # Coming from `@databases/lock`
//!
//! | `@databases/lock` | turnlock |
//! |---|---|
//! | `createLock()` | [`Lock::new_fifo`] (same order, same hand-off) |
//! | `createLock(timeoutMilliseconds)` | the timeout moves to each call: `lock.lock_timeout(Duration::from_millis(ms))` (feature `async-io`), [`lock.lock_until(deadline)`](Lock::lock_until) or [`lock.lock_blocking_timeout(d)`](Lock::lock_blocking_timeout) |
//! | `withLock(fn)` | [`lock.with_lock(async \|value\| ...)`](Lock::with_lock) |
//! | `acquireLock()` + `releaseLock()` | `let guard = lock.lock().await;` ... `drop(guard)` |
//! | `createLocksByKey()` | `KeyedLocks::new_fifo()` (feature `keyed`) |
//!
//! The seed's self-deadlock guard, in Rust:
//!
//! ```
//! # #[cfg(feature = "async-io")]
//! # futures_lite::future::block_on(async {
//! use std::time::Duration;
//!
//! // createLock(60_000): every operation waits at most 60 s for the lock.
//! let connection = turnlock::Lock::new_fifo(());
//! let timeout = Duration::from_millis(50);
//!
//! let transaction = connection.lock_timeout(timeout).await.unwrap();
//! // A query on the outer connection from inside the transaction:
//! let err = connection.lock_timeout(timeout).await.unwrap_err();
//! assert_eq!(err.to_string(), "timed out waiting for lock after 50ms");
//! // Unlike the seed, the timeout did not release the transaction's lock.
//! assert!(connection.is_locked());
//! drop(transaction);
//! # });
//! ```
//!
//! README.md has the full mapping, and every behaviour where turnlock
//! differs on purpose.
//!
//! # Panics and poisoning
//!
//! A guard that is dropped during a panic releases the lock; there is no
//! poisoning, as with every async lock. [`Lock::with_lock`] releases on
//! return, on panic and when its future is dropped.
//!
//! # `no_std`
//!
//! The crate is always `#![no_std]` and needs `alloc` (the waiter queues of
//! `event-listener` are allocated).
//!
//! | needs | items |
//! |---|---|
//! | `core` + `alloc` | [`Lock`], [`Guard`], [`OwnedGuard`] (targets with pointer-sized atomics), [`Lock::lock_until`], [`TimedOut`] |
//! | feature `std` (default) | [`Lock::lock_blocking`], [`Lock::lock_blocking_timeout`] |
//! | feature `async-io` | `Lock::lock_timeout` |
//! | feature `keyed` (`core` + `alloc`) | `KeyedLocks` and its guards; `lock_blocking` with `std`, `lock_timeout` with `async-io` |
//!
//! # Feature flags
//!
//! * `std` (default): blocking acquisition and `std`'s thread parking.
//! * `async-io`: `lock_timeout` on `async_io::Timer` (implies `std`).
//! * `keyed`: `KeyedLocks`, a lock per key with entries that exist only while used (needs only `alloc`).
//! * `portable-atomic`: atomics from `portable-atomic`, for targets without
//!   native compare-and-swap.
//! * `loom` (internal): with `RUSTFLAGS="--cfg loom"`, builds against loom
//!   for the models in `loom-tests/`.
//!
//! # When not to use turnlock
//!
//! If the lock is never held across an `.await`, a blocking mutex
//! (`std::sync::Mutex`, `parking_lot::Mutex`) is faster and simpler, even in
//! async code. An async lock earns its cost when the critical section
//! awaits: a query on a connection, a write to a file, a call to a service.
//!
//! # Limits
//!
//! One lock counts at most 2^31 - 1 waiters of each kind at once on 64-bit
//! targets and 32 767 on 32-bit targets; a waiter beyond that panics.

#![no_std]
// The library keeps to `core` and `alloc`; tests and examples may use `std`.
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![cfg_attr(
    loom,
    allow(
        unused_imports,
        dead_code,
        reason = "loom has no clock, so the `Duration` timeouts are left out"
    )
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Declares a `const fn` that is a plain `fn` under loom (whose primitives
/// have no `const` constructors).
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

#[cfg(feature = "keyed")]
mod keyed;
mod lock;
mod raw;
mod sync;
mod timeout;

pub mod futures;

#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::OwnedKeyGuard;
#[cfg(feature = "keyed")]
pub use crate::keyed::{DefaultHashBuilder, KeyGuard, KeyHasher, KeyedLocks, ManyGuard};
#[cfg(target_has_atomic = "ptr")]
pub use crate::lock::OwnedGuard;
pub use crate::lock::{Guard, Lock};
pub use crate::timeout::TimedOut;

/// Compile-time checks of the auto traits promised in the docs.
#[allow(dead_code, reason = "only type-checked")]
fn _assert_auto_traits() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn unpin<T: Unpin>() {}
    send::<Lock<u8>>();
    sync::<Lock<u8>>();
    send::<Guard<'_, u8>>();
    sync::<Guard<'_, u8>>();
    send::<futures::LockFuture<'_, u8>>();
    sync::<futures::LockFuture<'_, u8>>();
    unpin::<futures::LockFuture<'_, u8>>();
    send::<futures::LockUntil<'_, u8, core::future::Ready<()>>>();
    send::<TimedOut>();
    sync::<TimedOut>();
    #[cfg(feature = "keyed")]
    keyed::_assert_auto_traits();
    #[cfg(target_has_atomic = "ptr")]
    {
        send::<OwnedGuard<u8>>();
        sync::<OwnedGuard<u8>>();
        send::<futures::OwnedLockFuture<u8>>();
        unpin::<futures::OwnedLockFuture<u8>>();
    }
}

/// The code blocks of README.md, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
