//! One lock used at the same time from smol tasks, tokio tasks on a
//! multi-thread runtime, `futures`' `block_on` and plain threads: a release
//! on any of them wakes a waiter on any other.

mod common;

use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::thread;

use common::{Checked, Section, assert_healthy, join_all, scaled, with_executor, with_watchdog};
use turnlock::Lock;

fn mixed(lock: Arc<Lock<Checked>>) {
    let iters = scaled(300);
    let smol_tasks = 8;
    let tokio_tasks = 8;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let tokio_handles: Vec<_> = (0..tokio_tasks)
        .map(|t| {
            let lock = lock.clone();
            runtime.spawn(async move {
                for i in 0..iters {
                    let section = if (t + i) % 2 == 0 {
                        either_section(Section::enter(lock.lock().await))
                    } else {
                        either_section(Section::enter(lock.lock_owned().await))
                    };
                    if i % 3 == 0 {
                        tokio::task::yield_now().await;
                    }
                    drop(section);
                }
            })
        })
        .collect();

    let futures_thread = {
        let lock = lock.clone();
        thread::spawn(move || {
            futures::executor::block_on(async {
                for _ in 0..iters {
                    lock.with_lock(async |value| {
                        value.enter();
                        value.leave();
                    })
                    .await;
                }
            })
        })
    };

    let plain_threads: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || {
                for _ in 0..iters {
                    drop(Section::enter(lock.lock_blocking()));
                }
            })
        })
        .collect();

    with_executor(2, |executor| {
        let lock = lock.clone();
        async move {
            let handles: Vec<_> = (0..smol_tasks)
                .map(|_| {
                    let lock = lock.clone();
                    executor.spawn(async move {
                        for i in 0..iters {
                            let section = Section::enter(lock.lock().await);
                            if i % 3 == 0 {
                                futures_lite::future::yield_now().await;
                            }
                            drop(section);
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await;
            }
        }
    });
    runtime.block_on(async {
        for handle in tokio_handles {
            handle.await.expect("a tokio task failed");
        }
    });
    join_all(plain_threads);
    common::join(futures_thread);

    let expected = (smol_tasks + tokio_tasks + 1 + 2) * iters;
    assert_eq!(lock.try_lock().unwrap().count(), expected as u64);
    assert_healthy(&lock);
}

/// Erases the difference between a section over a `Guard` and one over an
/// `OwnedGuard`.
fn either_section<'a>(section: impl Send + 'a) -> Box<dyn Send + 'a> {
    Box::new(section)
}

#[test]
#[cfg_attr(miri, ignore = "tokio's runtime and many threads")]
fn smol_tokio_and_threads_on_one_lock_new() {
    with_watchdog(60, || mixed(Arc::new(Lock::new(Checked::new()))));
}

#[test]
#[cfg_attr(miri, ignore = "tokio's runtime and many threads")]
fn smol_tokio_and_threads_on_one_lock_fifo() {
    with_watchdog(60, || mixed(Arc::new(Lock::new_fifo(Checked::new()))));
}

/// One side of the ping-pong: waits for its turn, takes the lock (mostly
/// while the other side still holds it), passes the turn on and releases
/// after a few yields, so that the other side is usually waiting by then.
async fn take_turns(
    lock: Arc<Lock<u32>>,
    rounds: u32,
    my_turn: smol::channel::Receiver<()>,
    their_turn: smol::channel::Sender<()>,
    yield_now: impl Fn() -> Pin<Box<dyn Future<Output = ()> + Send>>,
) {
    for _ in 0..rounds {
        my_turn.recv().await.expect("the other side hung up");
        let mut guard = lock.lock().await;
        *guard += 1;
        // The other side may stop after its last round.
        let _ = their_turn.send(()).await;
        for _ in 0..3 {
            yield_now().await;
        }
        drop(guard);
    }
}

#[test]
#[cfg_attr(miri, ignore = "tokio's runtime")]
fn a_release_on_one_runtime_wakes_a_waiter_on_another() {
    // Ping-pong between a tokio task and a smol task on its own thread:
    // each mostly waits for a lock that the other one holds, so each
    // release wakes a waiter on the other runtime.
    with_watchdog(30, || {
        for fifo in [false, true] {
            let lock = Arc::new(if fifo {
                Lock::new_fifo(0u32)
            } else {
                Lock::new(0)
            });
            let rounds = scaled(200) as u32;
            let (tokio_turn_tx, tokio_turn_rx) = smol::channel::unbounded();
            let (smol_turn_tx, smol_turn_rx) = smol::channel::unbounded();
            tokio_turn_tx.try_send(()).unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap();
            let tokio_side = runtime.spawn(take_turns(
                lock.clone(),
                rounds,
                tokio_turn_rx,
                smol_turn_tx,
                || Box::pin(tokio::task::yield_now()),
            ));
            let smol_side = {
                let lock = lock.clone();
                thread::spawn(move || {
                    smol::block_on(take_turns(
                        lock,
                        rounds,
                        smol_turn_rx,
                        tokio_turn_tx,
                        || Box::pin(smol::future::yield_now()),
                    ))
                })
            };
            runtime.block_on(tokio_side).unwrap();
            common::join(smol_side);
            assert_eq!(*lock.try_lock().unwrap(), 2 * rounds);
            assert_healthy(&lock);
        }
    });
}
