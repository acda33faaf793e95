//! `RwLock` futures given up at every point: before the first poll, in the
//! line, with the turn in hand, at the front, at the instant of a grant,
//! during an upgrade; deadlines and timeouts; the set-aside rule and its
//! debug check.

mod common;

use std::time::Duration;

use common::rw::{assert_rw_healthy, policies};
use common::{Probe, assert_pending, ready, with_watchdog};
use futures_lite::future::{block_on, poll_once};
use turnlock::UpgradableReadGuard;

#[test]
fn dropped_before_the_first_poll() {
    for (_, new) in policies() {
        let lock = new(());
        let writer = lock.try_write().unwrap();
        drop((lock.read(), lock.write(), lock.upgradable_read()));
        drop(lock.read_until(std::future::pending::<()>()));
        drop(writer);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn dropped_in_the_line_and_at_the_front() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        let holder = lock.try_write().unwrap();
        let mut front = lock.read();
        assert_pending(probe.poll(&mut front));
        let mut queued = lock.write();
        assert_pending(probe.poll(&mut queued));
        let mut last = lock.read();
        assert_pending(probe.poll(&mut last));
        // The queued writer leaves the line, then the front reader leaves.
        drop(queued);
        drop(front);
        drop(holder);
        // `last` is served: the front was empty, so the release sent it
        // the turn.
        assert_eq!(*ready(probe.poll(&mut last)), 0, "{policy}");
        drop(last);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn a_grant_that_reaches_a_dropped_future_is_passed_on() {
    for (policy, new) in policies() {
        // Granted at the front, dropped before it looked.
        let lock = new(0);
        let probe = Probe::new();
        let holder = lock.try_read().unwrap();
        let mut writer = lock.write();
        assert_pending(probe.poll(&mut writer));
        let mut reader = lock.read();
        assert_pending(probe.poll(&mut reader));
        drop(holder); // grants `writer`
        assert!(lock.state().writer, "{policy}");
        drop(writer); // releases the grant: `reader` gets the turn
        assert_eq!(*ready(probe.poll(&mut reader)), 0, "{policy}");
        drop(reader);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn a_turn_that_reaches_a_dropped_future_is_passed_on() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        let holder = lock.try_write().unwrap();
        let mut front = lock.write();
        assert_pending(probe.poll(&mut front));
        let mut first = lock.read();
        assert_pending(probe.poll(&mut first));
        let mut second = lock.read();
        assert_pending(probe.poll(&mut second));
        drop(holder);
        drop(ready(probe.poll(&mut front))); // the turn goes to `first`
        drop(first); // ... which passes it to `second`
        assert_eq!(*ready(probe.poll(&mut second)), 0, "{policy}");
        drop(second);
        assert_rw_healthy(&lock);
    }
}

/// A waker whose `clone` panics as a waiter with the turn finds the lock
/// taken and moves to the front (the only place a waiter with the turn
/// clones it): the panic reaches the poller, and the dropped future passes
/// the turn on to the waiter behind it.
#[test]
fn a_waker_that_panics_as_the_turn_arrives_passes_the_turn_on() {
    use core::pin::Pin;
    use core::sync::atomic::Ordering::SeqCst;
    use core::task::Context;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use common::panicking_waker;

    with_watchdog(30, || {
        let lock = turnlock::RwLock::new(());
        let probe = Probe::new();
        let waker = panicking_waker::waker();
        let mut cx = Context::from_waker(&waker);
        let holder = lock.try_write().unwrap();
        let mut front = lock.write();
        assert_pending(probe.poll(&mut front));
        let mut reader = lock.read();
        assert!(Pin::new(&mut reader).poll(&mut cx).is_pending());
        let mut behind = lock.read();
        assert_pending(probe.poll(&mut behind));
        drop(holder);
        drop(ready(probe.poll(&mut front))); // the turn goes to `reader`
        let barged = lock
            .try_write()
            .expect("`new` lets a newcomer pass the turn");
        panicking_waker::PANIC_ON_CLONE.store(true, SeqCst);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let _ = Pin::new(&mut reader).poll(&mut cx);
        }));
        panicking_waker::PANIC_ON_CLONE.store(false, SeqCst);
        assert!(result.is_err(), "the waker's panic reaches the poller");
        drop(reader);
        // The turn went on to `behind`, which moves to the front.
        assert_pending(probe.poll(&mut behind));
        assert!(lock.try_read().is_none(), "a newcomer passed the front");
        drop(barged);
        drop(ready(probe.poll(&mut behind)));
        assert_rw_healthy(&lock);
    });
}

#[test]
fn an_upgrade_dropped_at_any_point_releases_everything() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        // Dropped before its first poll.
        let upgradable = lock.try_upgradable_read().unwrap();
        drop(UpgradableReadGuard::upgrade(upgradable));
        assert_rw_healthy(&lock);
        // Dropped while waiting for a reader.
        let reader = lock.try_read().unwrap();
        let upgradable = lock.try_upgradable_read().unwrap();
        let mut upgrade = UpgradableReadGuard::upgrade(upgradable);
        assert_pending(probe.poll(&mut upgrade));
        drop(upgrade);
        assert!(
            lock.try_read().is_some(),
            "{policy}: the upgrade still keeps readers out"
        );
        drop(reader);
        assert_rw_healthy(&lock);
        // Dropped after the last reader handed it the write.
        let reader = lock.try_read().unwrap();
        let upgradable = lock.try_upgradable_read().unwrap();
        let mut upgrade = UpgradableReadGuard::upgrade(upgradable);
        assert_pending(probe.poll(&mut upgrade));
        let mut writer = lock.write();
        assert_pending(probe.poll(&mut writer));
        drop(reader); // hands the write to `upgrade`
        assert!(lock.state().writer, "{policy}");
        drop(upgrade);
        drop(ready(probe.poll(&mut writer)));
        assert_rw_healthy(&lock);
    }
}

#[test]
fn deadlines_stop_only_the_waiter() {
    for (policy, new) in policies() {
        let lock = new(1);
        block_on(async {
            let writer = lock.write().await;
            let err = lock.read_until(std::future::ready(())).await.unwrap_err();
            assert_eq!(err.timeout(), None);
            assert!(lock.upgradable_read_until(async {}).await.is_err());
            assert!(
                lock.state().writer,
                "{policy}: a timeout released the holder"
            );
            drop(writer);
            let reader = lock.read().await;
            assert!(lock.write_until(async {}).await.is_err());
            // A read that may be taken at once is taken past the deadline.
            assert_eq!(*lock.read_until(async {}).await.unwrap(), 1);
            drop(reader);
        });
        assert_rw_healthy(&lock);
    }
}

#[test]
fn a_deadline_firing_as_the_grant_arrives_keeps_the_guard() {
    for (policy, new) in policies() {
        let lock = new(0);
        let probe = Probe::new();
        let holder = lock.try_write().unwrap();
        let (fire, deadline) = futures::channel::oneshot::channel::<()>();
        let mut reader = Box::pin(lock.read_until(deadline));
        assert_pending(probe.poll_pinned(reader.as_mut()));
        drop(holder); // grants the reader at the front
        fire.send(()).unwrap(); // and the deadline fires too
        let guard = ready(probe.poll_pinned(reader.as_mut())).expect("granted first");
        assert_eq!(*guard, 0, "{policy}");
        drop(guard);
        drop(reader);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn upgrade_deadlines_give_the_upgradable_guard_back() {
    for (policy, new) in policies() {
        let lock = new(0);
        block_on(async {
            let reader = lock.read().await;
            let upgradable = lock.upgradable_read().await;
            let upgradable = UpgradableReadGuard::upgrade_until(upgradable, async {})
                .await
                .unwrap_err();
            // The upgrade stopped: readers may come in again.
            assert!(lock.try_read().is_some(), "{policy}");
            drop(reader);
            let mut writer = UpgradableReadGuard::upgrade_until(upgradable, async {})
                .await
                .expect("no readers: upgraded at once");
            *writer += 1;
        });
        let upgradable = lock.try_upgradable_read().unwrap();
        let reader = lock.try_read().unwrap();
        let upgradable =
            UpgradableReadGuard::upgrade_blocking_timeout(upgradable, Duration::from_millis(5))
                .unwrap_err();
        drop(reader);
        drop(UpgradableReadGuard::upgrade_blocking_timeout(upgradable, Duration::ZERO).unwrap());
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert_rw_healthy(&lock);
    }
}

#[test]
fn blocking_timeouts() {
    for (policy, new) in policies() {
        let lock = new(());
        let writer = lock.try_write().unwrap();
        let err = lock
            .read_blocking_timeout(Duration::from_millis(5))
            .unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
        assert!(
            lock.write_blocking_timeout(Duration::ZERO).is_err(),
            "{policy}"
        );
        drop(writer);
        let reader = lock.read_blocking_timeout(Duration::ZERO).unwrap();
        assert!(
            lock.read_blocking_timeout(Duration::MAX).is_ok(),
            "{policy}"
        );
        assert!(
            lock.write_blocking_timeout(Duration::from_millis(5))
                .is_err()
        );
        drop(reader);
        assert_rw_healthy(&lock);
    }
}

#[test]
#[cfg_attr(miri, ignore = "async-io's reactor needs timerfd, which Miri lacks")]
fn async_io_timeouts() {
    for (policy, new) in policies() {
        let lock = new(());
        block_on(async {
            let writer = lock.write().await;
            let err = lock
                .read_timeout(Duration::from_millis(5))
                .await
                .unwrap_err();
            assert_eq!(err.timeout(), Some(Duration::from_millis(5)));
            assert!(
                lock.write_timeout(Duration::ZERO).await.is_err(),
                "{policy}"
            );
            drop(writer);
            let upgradable = lock.upgradable_read().await;
            let reader = lock.read_timeout(Duration::ZERO).await.unwrap();
            let upgradable =
                UpgradableReadGuard::upgrade_timeout(upgradable, Duration::from_millis(5))
                    .await
                    .unwrap_err();
            drop(reader);
            drop(
                UpgradableReadGuard::upgrade_timeout(upgradable, Duration::from_millis(5))
                    .await
                    .unwrap(),
            );
        });
        assert_rw_healthy(&lock);
    }
}

#[test]
fn upgradable_read_blocking_timeout() {
    for (policy, new) in policies() {
        let lock = new(0);
        let first = lock.try_upgradable_read().unwrap();
        let err = lock
            .upgradable_read_blocking_timeout(Duration::from_millis(5))
            .unwrap_err();
        assert_eq!(err.to_string(), "timed out waiting for lock after 5ms");
        assert_eq!(
            lock.state().waiters,
            0,
            "{policy}: the timed-out waiter stayed"
        );
        let reader = lock.read_blocking_timeout(Duration::ZERO).unwrap();
        drop(first);
        let second = lock
            .upgradable_read_blocking_timeout(Duration::ZERO)
            .expect("an upgradable read beside a plain one");
        assert!(lock.state().upgradable, "{policy}");
        drop((reader, second));
        // A waiter that is served before its timeout: the holder releases
        // once the waiter is in the line.
        let lock = std::sync::Arc::new(lock);
        let writer = lock.try_write_owned().unwrap();
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                let guard = lock
                    .upgradable_read_blocking_timeout(Duration::from_secs(60))
                    .expect("served before the timeout");
                *UpgradableReadGuard::upgrade_blocking(guard) += 1;
            })
        };
        with_watchdog(10, {
            let lock = lock.clone();
            move || {
                while lock.state().waiters == 0 {
                    std::thread::yield_now();
                }
            }
        });
        drop(writer);
        waiter.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1, "{policy}");
        assert_rw_healthy(&lock);
    }
}

#[test]
#[cfg_attr(miri, ignore = "async-io's reactor needs timerfd, which Miri lacks")]
fn upgradable_read_timeout() {
    for (policy, new) in policies() {
        let lock = new(0);
        block_on(async {
            let writer = lock.write().await;
            let err = lock
                .upgradable_read_timeout(Duration::from_millis(5))
                .await
                .unwrap_err();
            assert_eq!(err.timeout(), Some(Duration::from_millis(5)), "{policy}");
            assert_eq!(
                lock.state().waiters,
                0,
                "{policy}: the timed-out waiter stayed"
            );
            let probe = Probe::new();
            let mut waiting = lock.upgradable_read_timeout(Duration::from_secs(60));
            assert_pending(probe.poll(&mut waiting));
            drop(writer);
            assert_eq!(probe.wakes(), 1, "{policy}: the release woke nobody");
            let upgradable = ready(probe.poll(&mut waiting)).expect("served before the timeout");
            let reader = lock.read_timeout(Duration::ZERO).await.unwrap();
            assert!(
                lock.upgradable_read_timeout(Duration::ZERO).await.is_err(),
                "{policy}: two upgradable readers"
            );
            drop(reader);
            *UpgradableReadGuard::upgrade_timeout(upgradable, Duration::ZERO)
                .await
                .unwrap() += 1;
        });
        assert_eq!(*lock.try_read().unwrap(), 1, "{policy}");
        assert_rw_healthy(&lock);
    }
}

/// A task keeps a read future that was granted the lock at the front, sets
/// it aside, and awaits a write of the same lock: it waits for itself.
/// Debug builds name the mistake instead of hanging.
#[test]
#[cfg(debug_assertions)]
fn a_set_aside_future_is_named_instead_of_hanging() {
    for (_, new) in policies() {
        with_watchdog(30, move || {
            let lock = new(());
            let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                block_on(async {
                    let holder = lock.try_write().unwrap();
                    let mut reader = lock.read();
                    assert!(poll_once(&mut reader).await.is_none());
                    drop(holder); // grants `reader`
                    drop(lock.write().await); // `reader` is set aside
                })
            }));
            let message = result.expect_err("awaiting the write must not succeed");
            let message = message
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| message.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            assert!(message.contains("set aside"), "{message}");
            assert_rw_healthy(&lock);
        });
    }
}

/// Polling all the futures of a task together is fine, in any order.
#[test]
fn a_task_that_polls_all_its_futures_is_served() {
    for (policy, new) in policies() {
        let lock = new(0);
        block_on(async {
            let holder = lock.try_write().unwrap();
            let (mut reader, mut writer) = (lock.read(), lock.write());
            assert!(poll_once(&mut reader).await.is_none());
            assert!(poll_once(&mut writer).await.is_none());
            drop(holder);
            let (read, written) = futures_lite::future::zip(
                async {
                    let read = reader.await;
                    let value = *read;
                    drop(read);
                    value
                },
                async {
                    let mut guard = writer.await;
                    *guard += 1;
                    *guard
                },
            )
            .await;
            assert_eq!((read, written), (0, 1), "{policy}");
        });
        assert_rw_healthy(&lock);
    }
}
