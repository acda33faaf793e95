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
//! # Features
//!
//! ```toml
//! [dependencies]
//! turnlock = { version = "0.1", features = ["keyed", "async-io"] }
//! ```
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | (none) | [`Lock`], [`Guard`], [`OwnedGuard`], [`MappedGuard`], [`OwnedMappedGuard`], `lock().await`, `try_lock`, `lock_owned`, [`lock_until(deadline)`](Lock::lock_until) with any future as the deadline, [`TimedOut`]; the reader-writer [`RwLock`] with its guards ([`ReadGuard`], [`WriteGuard`], [`UpgradableReadGuard`], their `Owned*` and mapped forms), `read`/`write`/`upgradable_read`, `try_*`, `*_owned`, `*_until`; `#![no_std]` with `alloc` | `event-listener` |
//! | `std` (default) | blocking use from plain threads: [`lock_blocking`], [`lock_blocking_timeout`], [`lock_owned_blocking`], `RwLock`'s `read_blocking`, `write_blocking`, `upgradable_read_blocking`, `read_blocking_timeout`, `write_blocking_timeout`, `upgradable_read_blocking_timeout` and `UpgradableReadGuard::upgrade_blocking`, and the same for keyed locks | `std` |
//! | `keyed` | [`KeyedLocks`], a lock per key whose entries exist only while used, and [`KeyedRwLocks`], a reader-writer lock per key, with their guards and futures; needs only `alloc` | `hashbrown` |
//! | `async-io` | [`lock_timeout(Duration)`][`lock_timeout`] on `async-io`'s timer, under any executor (plain and keyed), and `RwLock`'s `read_timeout`, `write_timeout`, `upgradable_read_timeout` and `UpgradableReadGuard::upgrade_timeout`; implies `std` | `async-io` |
//! | `futures-core` | [`FusedFuture`][fused] for every lock future, so `futures::select!` takes them without `.fuse()` | `futures-core` |
//! | `portable-atomic` | no new items: atomics from `portable-atomic`, for targets without native compare-and-swap | `portable-atomic` |
//!
//! Every item that needs a feature says so in its documentation. The crate
//! is always `#![no_std]`; it needs `alloc` because the waiter queues of
//! `event-listener` are allocated. [`OwnedGuard`] and the other `Arc`-based
//! items need a target with pointer-sized atomics (as `Arc` does). The
//! `loom` feature is internal: with `RUSTFLAGS="--cfg loom"` it builds
//! against loom for the models in `loom-tests/`.
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
//! can pass, and releases hand the lock to that queue in order. (The head of
//! that queue is a one-waiter slot inside the lock that keeps the waiter's
//! waker, so being overtaken costs no second allocation.) So every
//! waiter is served within a bounded number of hand-offs, with no clock
//! involved (unlike async-lock, whose fairness needs a timer and so `std`).
//!
//! # Reader-writer locks
//!
//! [`RwLock<T>`](RwLock) gives any number of readers, or one writer, access
//! to a `T`, on the same design as [`Lock`]: one atomic state word, one
//! `event-listener` line, and a one-waiter slot at the front of the line
//! that keeps its waker in the lock. Uncontended `read` + drop and `write` +
//! drop are one compare-and-swap each way and allocate nothing.
//!
//! ```
//! use turnlock::{RwLock, UpgradableReadGuard};
//!
//! # futures_lite::future::block_on(async {
//! let config = RwLock::new(vec!["a"]);
//! let (one, two) = (config.read().await, config.read().await); // readers share
//! assert!(config.try_write().is_none()); // a writer waits for them
//! drop((one, two));
//!
//! // One upgradable reader beside plain readers; it becomes the writer
//! // with no other writer in between.
//! let entry = config.upgradable_read().await;
//! if !entry.contains(&"b") {
//!     let mut entry = UpgradableReadGuard::upgrade(entry).await;
//!     entry.push("b");
//! }
//! assert_eq!(*config.read().await, ["a", "b"]);
//! # });
//! ```
//!
//! | | [`RwLock::new`] | [`RwLock::new_fifo`] |
//! |---|---|---|
//! | who gets a compatible lock | whoever asks, unless a waiter is at the front | the oldest waiter; newcomers and `try_*` only when nobody waits |
//! | readers at the head of the line | admitted together | admitted together |
//! | a stream of readers against a writer | the writer waits for the readers present when it reached the front | the same |
//! | a stream of writers against a reader | writers arriving after it line up behind it | the same |
//! | bound on being overtaken | fifteen newcomers (two on 32-bit targets) per waiter ahead and for itself (they may take the lock while a wake-up is in flight) | none: strict order of arrival |
//! | throughput, one thread, 1 000 tasks, 9 reads : 1 write | about 0.6x async-lock's instructions per section | about 1.45x async-lock's: every acquisition waits in the line |
//! | throughput, two threads, 9 : 1, sections held across an await | about 1.3x async-lock's and tokio's | about 0.6x async-lock's |
//! | throughput, two threads, 9 : 1, short sections | about 1.6x async-lock's, 4.5x tokio's | about 0.35x async-lock's |
//!
//! Both policies are starvation-free without a clock. A waiter that must
//! wait for holders to leave goes to the front of the line, and while it is
//! there no newcomer enters: a writer there waits only for the readers that
//! held the lock when it arrived, and a reader only for the writer that
//! held it. Waiters behind it are admitted in order, consecutive readers
//! together. Under `new` up to fifteen running tasks (two on 32-bit
//! targets) may take a compatible lock while a release is waking the next
//! waiter (the lock stays busy while that task is scheduled); the woken
//! waiter then goes to the front, so it loses at most that one race. The
//! loom models in `loom-tests/tests/rw_*.rs` check both directions under
//! both policies, with the limit at two. When every task keeps asking, a
//! reader of `new` gets about 1.7 times a writer's acquisitions (README,
//! "Benchmarks"); `new_fifo` serves all in order.
//!
//! Upgradable reads ([`RwLock::upgradable_read`]) exclude writers and
//! other upgradable readers, not plain readers. An upgrade
//! ([`UpgradableReadGuard::upgrade`], also `try_upgrade`, `upgrade_until`
//! and blocking forms) keeps new readers out, waits for the present ones to
//! leave, and cannot be overtaken by a writer. [`WriteGuard::downgrade`] and
//! [`UpgradableReadGuard::downgrade`] go the other way without releasing.
//!
//! Cancellation, deadlines and the rule for set-aside futures are those of
//! `Lock`: a future dropped at any point (queued, at the front, as the lock
//! is handed to it, during an upgrade) passes on what it was given; a
//! polled future that is set aside may be handed its access and then holds
//! it until polled or dropped.
//!
//! [`KeyedRwLocks`] (feature `keyed`) is a reader-writer lock per key with
//! [`KeyedLocks`]' lifecycle: an entry only while a key is held or waited
//! for, pooled nodes, shrinking after bursts, panic safety with hostile
//! keys; `read(key)`, `write(key)`, their `try_*`, `*_owned` (`'static` and
//! `Send`, for spawned tasks), `*_until`, `*_timeout` and `*_blocking`
//! forms, `state(&key)` (holders of each kind and waiters) and a
//! deadlock-free `lock_many(reads, writes)`. It is a type of its own rather
//! than a mode of `KeyedLocks`: the exclusive map keeps its smaller nodes
//! and its cheaper protocol, a read guard cannot be mistaken for an
//! exclusive one, and neither type has methods that do not apply to it;
//! both are built on one generic map.
//!
//! # Cancellation and timeouts
//!
//! Every lock future can be dropped at any point: a waiter that gives up
//! leaves the line and nothing else changes. If the lock had just been handed
//! to it, the lock passes to the next waiter; no wake-up goes missing.
//!
//! A timeout is the same thing on a schedule:
//! [`lock_until`](Lock::lock_until) takes any future as its deadline (no
//! feature needed), and [`lock_timeout`] (feature `async-io`) and
//! [`lock_blocking_timeout`] (feature `std`, blocks the thread) take a
//! `Duration`.
//! They return [`TimedOut`] when the deadline wins. A timeout limits waiting,
//! never holding: it never releases somebody else's lock. (`@databases/lock`,
//! the TypeScript package this crate follows, does release the holder's lock
//! when a waiter times out; turnlock deliberately does not.)
//!
//! # Lock futures that are set aside
//!
//! A lock future joins the line when it is first polled, and from then on
//! it is a waiter until it completes or is dropped. **A polled lock future
//! that is set aside (neither polled again nor dropped) may be handed the
//! lock, and then holds it until it is polled or dropped**, exactly like an
//! unused guard. A task that meanwhile awaits another future of the same
//! lock waits for itself, and so does everybody else.
//!
//! * Under [`Lock::new_fifo`] every waiter may be handed the lock: that is
//!   what strict FIFO with direct hand-off means.
//! * Under [`Lock::new`] only a waiter that has lost a race may be: a waiter
//!   that was woken and found the lock taken by a running task joins the
//!   strict queue, which is what bounds starvation. That can happen inside
//!   a future's first poll on a multi-threaded executor, so a caller cannot
//!   tell; treat both policies alike. (No protocol can give a waiter that
//!   lost a race a place nobody overtakes and also let its task's other
//!   futures take the lock while it is not polled: that waiter, seen from
//!   the lock, is the same as a waiter whose task is merely slow to run.)
//!
//! Polling several lock futures of one lock together is always fine
//! (`select!`, `join!`, `zip`), and so is dropping the ones you no longer
//! need, which passes on a lock one of them was handed. Only keeping one
//! aside while awaiting another hangs. Debug builds with `std` name this
//! mistake with a panic instead of hanging, where they can: when a task
//! polls a lock future three times while another lock future of the same
//! task (a waker with the same data pointer) holds the same unclaimed
//! hand-off. A task that polls all its lock futures on every round, in any
//! order, polls another one at most twice in that time.
//!
//! ```
//! # futures_lite::future::block_on(async {
//! let lock = turnlock::Lock::new_fifo(0);
//! let holder = lock.lock().await;
//! let mut first = lock.lock();
//! let _ = futures_lite::future::poll_once(&mut first).await; // `first` waits
//! drop(holder); // hands the lock to `first`
//! // Awaiting another future of the lock now would wait for `first`:
//! // drop it (or await it) first.
//! drop(first);
//! *lock.lock().await += 1;
//! # });
//! ```
//!
//! # What a waker must not do
//!
//! `event-listener`, which queues the waiters, calls [`Waker::wake`] while
//! it holds the lock of its waiter list. A waker must therefore only
//! schedule its task, as the contract of `wake` asks: an executor whose
//! `wake` polls the task inline, on the waking thread, re-enters that list
//! from inside the wake-up and deadlocks.
//!
//! [`Waker::wake`]: core::task::Waker::wake
//!
//! # Coming from `@databases/lock`
//!
//! | `@databases/lock` | turnlock |
//! |---|---|
//! | `createLock()` | [`Lock::new_fifo`] (same order, same hand-off) |
//! | `createLock(timeoutMilliseconds)` | the timeout moves to each call: [`lock.lock_timeout(Duration::from_millis(ms))`][`lock_timeout`] (feature `async-io`), [`lock.lock_until(deadline)`](Lock::lock_until) or [`lock.lock_blocking_timeout(d)`][`lock_blocking_timeout`] |
//! | `withLock(fn)` | [`lock.with_lock(async \|value\| ...)`](Lock::with_lock) |
//! | `acquireLock()` + `releaseLock()` | `let guard = lock.lock().await;` ... `drop(guard)` |
//! | `createLocksByKey()` | [`KeyedLocks::new_fifo()`][`KeyedLocks`] (feature `keyed`) |
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
//! # Coming from tokio
//!
//! The API maps one to one (`blocking_lock` is [`lock_blocking`],
//! `blocking_lock_owned` is [`lock_owned_blocking`], `MutexGuard::map` is
//! [`Guard::map`], `tokio::time::timeout(d, m.lock())` is
//! [`lock.lock_until(tokio::time::sleep(d))`](Lock::lock_until)), but two
//! habits that tokio forgives hang a program here:
//!
//! * **An uncontended `lock().await` never yields.** tokio's `Mutex` spends
//!   the task's cooperative budget and yields now and then; turnlock knows
//!   no runtime and has no budget. A loop that takes and releases a free
//!   lock while it waits for another task to change something never returns
//!   to the executor, and on a single-threaded executor that task never
//!   runs. Give such loops a yield point:
//!
//!   ```
//!   # futures_lite::future::block_on(async {
//!   let ready = turnlock::Lock::new(false);
//!   let waiter = async {
//!       while !*ready.lock().await {
//!           // Without this, the setter below would never run.
//!           futures_lite::future::yield_now().await;
//!       }
//!   };
//!   let setter = async { *ready.lock().await = true };
//!   futures_lite::future::zip(waiter, setter).await;
//!   # });
//!   ```
//!
//! * **[`lock_blocking`] on an executor's thread deadlocks silently** when
//!   the holder is a task that needs that thread (on a single-threaded
//!   executor, any task). tokio's `blocking_lock` panics inside a runtime;
//!   turnlock cannot tell an executor's thread from any other, so it blocks.
//!   In async code use `lock().await`; run blocking code with
//!   `spawn_blocking`.
//!
//! # Panics and poisoning
//!
//! A guard that is dropped during a panic releases the lock; there is no
//! poisoning, as with every async lock. [`Lock::with_lock`] releases on
//! return, on panic and when its future is dropped.
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
//! One lock counts at most 2^29 - 1 waiters of each kind at once on 64-bit
//! targets and 8 191 on 32-bit targets; a waiter beyond that panics. An
//! `RwLock` (or a key of `KeyedRwLocks`) counts at most 2^26 - 1 readers
//! and 2^25 - 1 waiters in its line on 64-bit targets, 2 047 and 1 023 on
//! 32-bit targets; a reader or waiter beyond that panics.
//!
//! [fused]: crate::futures
// Links to items of a feature that is off lead to the feature table instead.
#![cfg_attr(
    feature = "std",
    doc = "[`lock_blocking`]: Lock::lock_blocking",
    doc = "[`lock_blocking_timeout`]: Lock::lock_blocking_timeout",
    doc = "[`lock_owned_blocking`]: Lock::lock_owned_blocking"
)]
#![cfg_attr(
    not(feature = "std"),
    doc = "[`lock_blocking`]: crate#features",
    doc = "[`lock_blocking_timeout`]: crate#features",
    doc = "[`lock_owned_blocking`]: crate#features"
)]
#![cfg_attr(feature = "async-io", doc = "[`lock_timeout`]: Lock::lock_timeout")]
#![cfg_attr(not(feature = "async-io"), doc = "[`lock_timeout`]: crate#features")]
#![cfg_attr(feature = "keyed", doc = "[`KeyedLocks`]: KeyedLocks")]
#![cfg_attr(not(feature = "keyed"), doc = "[`KeyedLocks`]: crate#features")]
#![cfg_attr(feature = "keyed", doc = "[`KeyedRwLocks`]: KeyedRwLocks")]
#![cfg_attr(not(feature = "keyed"), doc = "[`KeyedRwLocks`]: crate#features")]
#![no_std]
// The library keeps to `core` and `alloc`; tests and examples may use `std`.
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom))))]
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

mod acquire;
#[cfg(feature = "futures-core")]
mod fused;
#[cfg(feature = "keyed")]
mod keyed;
mod lock;
mod macros;
mod mapped;
mod raw;
mod rwlock;
mod sync;
mod timeout;
#[cfg(feature = "async-io")]
mod timer;

pub mod futures;

#[cfg(feature = "keyed")]
pub use crate::keyed::{
    DefaultHashBuilder, KeyGuard, KeyHasher, KeyReadGuard, KeyWriteGuard, KeyedLocks, KeyedRwLocks,
    ManyGuard, RwManyGuard,
};
#[cfg(all(feature = "keyed", target_has_atomic = "ptr"))]
pub use crate::keyed::{OwnedKeyGuard, OwnedKeyReadGuard, OwnedKeyWriteGuard};
#[cfg(target_has_atomic = "ptr")]
pub use crate::lock::OwnedGuard;
pub use crate::lock::{Guard, Lock};
pub use crate::mapped::MappedGuard;
#[cfg(target_has_atomic = "ptr")]
pub use crate::mapped::OwnedMappedGuard;
pub use crate::rwlock::{
    MappedReadGuard, MappedWriteGuard, ReadGuard, RwLock, RwState, UpgradableReadGuard, WriteGuard,
};
#[cfg(target_has_atomic = "ptr")]
pub use crate::rwlock::{
    OwnedMappedReadGuard, OwnedMappedWriteGuard, OwnedReadGuard, OwnedUpgradableReadGuard,
    OwnedWriteGuard,
};
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
    send::<MappedGuard<'_, u8>>();
    sync::<MappedGuard<'_, u8>>();
    send::<futures::LockFuture<'_, u8>>();
    sync::<futures::LockFuture<'_, u8>>();
    unpin::<futures::LockFuture<'_, u8>>();
    send::<futures::LockUntil<'_, u8, core::future::Ready<()>>>();
    send::<TimedOut>();
    sync::<TimedOut>();
    send::<RwLock<u8>>();
    sync::<RwLock<u8>>();
    send::<ReadGuard<'_, u8>>();
    sync::<ReadGuard<'_, u8>>();
    send::<WriteGuard<'_, u8>>();
    sync::<WriteGuard<'_, u8>>();
    send::<UpgradableReadGuard<'_, u8>>();
    sync::<UpgradableReadGuard<'_, u8>>();
    send::<MappedReadGuard<'_, u8>>();
    send::<MappedWriteGuard<'_, u8>>();
    send::<futures::ReadFuture<'_, u8>>();
    sync::<futures::ReadFuture<'_, u8>>();
    unpin::<futures::ReadFuture<'_, u8>>();
    unpin::<futures::WriteFuture<'_, u8>>();
    send::<futures::UpgradeFuture<'_, u8>>();
    unpin::<futures::UpgradeFuture<'_, u8>>();
    send::<futures::WriteUntil<'_, u8, core::future::Ready<()>>>();
    unpin::<futures::WriteUntil<'_, u8, core::future::Ready<()>>>();
    #[cfg(feature = "keyed")]
    keyed::_assert_auto_traits();
    #[cfg(target_has_atomic = "ptr")]
    {
        send::<OwnedGuard<u8>>();
        sync::<OwnedGuard<u8>>();
        send::<OwnedMappedGuard<[u8; 2], u8>>();
        sync::<OwnedMappedGuard<[u8; 2], u8>>();
        send::<futures::OwnedLockFuture<u8>>();
        unpin::<futures::OwnedLockFuture<u8>>();
        send::<OwnedReadGuard<u8>>();
        send::<OwnedWriteGuard<u8>>();
        send::<OwnedUpgradableReadGuard<u8>>();
        send::<OwnedMappedReadGuard<u8, u8>>();
        send::<OwnedMappedWriteGuard<u8, u8>>();
        send::<futures::OwnedReadFuture<u8>>();
        send::<futures::OwnedUpgradeFuture<u8>>();
        unpin::<futures::OwnedWriteFuture<u8>>();
    }
}

/// The code blocks of README.md, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
