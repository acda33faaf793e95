//! Auto traits: what is `Send`, `Sync` and `Unpin`, checked at compile time,
//! and the futures of a `Send + Sync` lock actually spawned on tokio's
//! multi-thread runtime and on smol. What must *not* compile is pinned by
//! `compile_fail` doctests on `Lock`, `Guard`, `OwnedGuard`, `MappedGuard`
//! and `OwnedMappedGuard`.

mod common;

use core::cell::Cell;
use core::fmt::Debug;
use core::future::Future;
use core::time::Duration;
use std::sync::Arc;
use std::thread;

use common::with_watchdog;
use turnlock::futures::{LockFuture, LockUntil, OwnedLockFuture};
use turnlock::{Guard, Lock, MappedGuard, OwnedGuard, OwnedMappedGuard, TimedOut};

fn send<T: ?Sized + Send>() {}
fn sync<T: ?Sized + Sync>() {}
fn unpin<T: ?Sized + Unpin>() {}
fn send_value<T: Send>(value: T) -> T {
    value
}

#[test]
fn send_sync_unpin_at_compile_time() {
    // A lock of a `Send` value is `Send + Sync`, whatever `Sync` says.
    send::<Lock<u8>>();
    sync::<Lock<u8>>();
    send::<Lock<Cell<u8>>>();
    sync::<Lock<Cell<u8>>>();
    send::<Lock<Vec<String>>>();
    sync::<Lock<Vec<String>>>();
    sync::<Lock<dyn Debug + Send>>();

    // Guards are `Send` when `T: Send`, `Sync` when `T: Send + Sync`.
    send::<Guard<'_, u8>>();
    sync::<Guard<'_, u8>>();
    send::<Guard<'_, Cell<u8>>>();
    send::<OwnedGuard<u8>>();
    sync::<OwnedGuard<u8>>();
    send::<OwnedGuard<Cell<u8>>>();

    // Mapped guards follow tokio's: `MappedGuard<U>` is `Send` when
    // `U: Send` and `Sync` when `U: Sync` (it reaches nothing else of the
    // value); `OwnedMappedGuard<T, U>` is `Send` when both are `Send` and
    // `Sync` when both are `Send + Sync` (it keeps the `Arc<Lock<T>>`).
    send::<MappedGuard<'_, u8>>();
    sync::<MappedGuard<'_, u8>>();
    send::<MappedGuard<'_, Cell<u8>>>();
    send::<MappedGuard<'_, [u8]>>();
    sync::<MappedGuard<'_, dyn Debug + Sync>>();
    send::<OwnedMappedGuard<u8, u8>>();
    sync::<OwnedMappedGuard<u8, u8>>();
    send::<OwnedMappedGuard<Cell<u8>, Cell<u8>>>();
    send::<OwnedMappedGuard<Vec<u8>, [u8]>>();
    sync::<OwnedMappedGuard<Vec<u8>, [u8]>>();

    // The futures of a `Send + Sync` lock are `Send` (and `Sync`), and
    // `Unpin`, so they can be polled through `&mut` without pinning.
    send::<LockFuture<'_, u8>>();
    sync::<LockFuture<'_, u8>>();
    unpin::<LockFuture<'_, u8>>();
    send::<LockFuture<'_, Cell<u8>>>();
    send::<OwnedLockFuture<u8>>();
    unpin::<OwnedLockFuture<u8>>();
    send::<LockUntil<'_, u8, tokio::time::Sleep>>();
    send::<LockUntil<'_, u8, core::future::Pending<()>>>();
    unpin::<LockUntil<'_, u8, core::future::Pending<()>>>();
    #[cfg(feature = "async-io")]
    {
        send::<turnlock::futures::LockTimeout<'_, u8>>();
        unpin::<turnlock::futures::LockTimeout<'_, u8>>();
        send::<LockUntil<'_, u8, async_io::Timer>>();
    }

    // Guards are `Unpin` too.
    unpin::<Guard<'_, u8>>();
    unpin::<OwnedGuard<u8>>();
    unpin::<MappedGuard<'_, u8>>();
    unpin::<OwnedMappedGuard<u8, u8>>();

    // The error is a plain value.
    send::<TimedOut>();
    sync::<TimedOut>();
    unpin::<TimedOut>();
    fn error<E: core::error::Error + Send + Sync + 'static>() {}
    error::<TimedOut>();
}

#[test]
fn with_lock_future_is_send() {
    let lock = Lock::new(0);
    let future = send_value(lock.with_lock(async |value| {
        *value += 1;
        futures_lite::future::yield_now().await;
        *value
    }));
    assert_eq!(futures_lite::future::block_on(future), 1);
}

#[test]
fn lock_of_cell_is_shared_by_threads() {
    // `Cell` is `Send` but not `Sync`: the lock makes it shareable, one
    // holder at a time.
    let lock = Lock::new(Cell::new(0));
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let guard = lock.lock_blocking();
                guard.set(guard.get() + 1);
            });
        }
    });
    assert_eq!(lock.into_inner().get(), 4);
}

#[test]
fn unsized_values() {
    let slice: Arc<Lock<[u32]>> = Arc::new(Lock::new([1, 2, 3]));
    slice.try_lock().unwrap()[1] = 20;
    let owned = slice.try_lock_owned().unwrap();
    assert_eq!(&*owned, [1, 20, 3]);
    drop(owned);

    let object: Box<Lock<dyn Debug + Send>> = Box::new(Lock::new_fifo(5_u8));
    assert_eq!(format!("{:?}", &*object.try_lock().unwrap()), "5");
    let guard = futures_lite::future::block_on(object.lock());
    thread::scope(|scope| {
        scope.spawn(move || format!("{:?}", &*guard));
    });
    assert!(!object.is_locked());
}

// Task bodies for `tokio::spawn`, which requires `Send` futures: each holds
// its lock future, and then its guard, across an `.await`.

async fn with_lock_future(lock: Arc<Lock<u32>>) {
    let mut guard = lock.lock().await;
    tokio::task::yield_now().await;
    *guard += 1;
}

async fn with_owned_future(lock: Arc<Lock<u32>>) {
    let mut guard = lock.lock_owned().await;
    tokio::task::yield_now().await;
    *guard += 1;
}

async fn with_tokio_deadline(lock: Arc<Lock<u32>>) {
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    let mut guard = lock.lock_until(deadline).await.unwrap();
    tokio::task::yield_now().await;
    *guard += 1;
}

async fn with_with_lock(lock: Arc<Lock<u32>>) {
    lock.with_lock(async |value| {
        tokio::task::yield_now().await;
        *value += 1;
    })
    .await;
}

#[cfg(feature = "async-io")]
async fn with_timeout(lock: Arc<Lock<u32>>) {
    let mut guard = lock.lock_timeout(Duration::from_secs(60)).await.unwrap();
    tokio::task::yield_now().await;
    *guard += 1;
}

static STATIC: Lock<u32> = Lock::new(0);

async fn with_static() {
    let mut guard = STATIC.lock().await;
    tokio::task::yield_now().await;
    *guard += 1;
}

#[test]
#[cfg_attr(miri, ignore = "tokio's runtime")]
fn lock_futures_spawn_on_tokio_multi_thread() {
    with_watchdog(30, || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let lock = Arc::new(Lock::new(0));
        let fifo = Arc::new(Lock::new_fifo(0));
        let rounds = 4;
        // Lock-future kinds spawned per round on `lock`.
        let per_round = if cfg!(feature = "async-io") { 5 } else { 4 };
        runtime.block_on(async {
            let mut handles = Vec::new();
            for _ in 0..rounds {
                handles.push(tokio::spawn(with_lock_future(lock.clone())));
                handles.push(tokio::spawn(with_lock_future(fifo.clone())));
                handles.push(tokio::spawn(with_owned_future(lock.clone())));
                handles.push(tokio::spawn(with_tokio_deadline(lock.clone())));
                handles.push(tokio::spawn(with_with_lock(lock.clone())));
                #[cfg(feature = "async-io")]
                {
                    handles.push(tokio::spawn(with_timeout(lock.clone())));
                }
                // A static lock: no `Arc` needed.
                handles.push(tokio::spawn(with_static()));
            }
            for handle in handles {
                handle.await.unwrap();
            }
        });
        assert_eq!(*lock.try_lock().unwrap(), rounds * per_round);
        assert_eq!(*fifo.try_lock().unwrap(), rounds);
        assert_eq!(*STATIC.try_lock().unwrap(), rounds);
    });
}

#[test]
#[cfg_attr(miri, ignore = "executor threads")]
fn lock_futures_spawn_on_smol() {
    with_watchdog(30, || {
        let lock = Arc::new(Lock::new(0));
        common::with_executor(2, |executor| {
            let lock = lock.clone();
            async move {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        let lock = lock.clone();
                        executor.spawn(async move {
                            let mut guard = lock.lock().await;
                            futures_lite::future::yield_now().await;
                            *guard += 1;
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await;
                }
            }
        });
        assert_eq!(*lock.try_lock().unwrap(), 8);
    });
}

/// A function generic over any lock future: the futures are ordinary,
/// nameable types.
fn poll_to_end<F: Future + Unpin>(mut future: F) -> F::Output {
    loop {
        if let core::task::Poll::Ready(out) = common::poll_noop(&mut future) {
            return out;
        }
    }
}

#[test]
fn named_futures_are_unpin_and_pollable_by_reference() {
    let lock = Arc::new(Lock::new(1));
    assert_eq!(*poll_to_end(lock.lock()), 1);
    assert_eq!(*poll_to_end(lock.lock_owned()), 1);
    assert_eq!(
        *poll_to_end(lock.lock_until(core::future::pending::<()>())).unwrap(),
        1
    );
}
