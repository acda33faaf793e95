//! [`RwLock`] as a storm [`Subject`]: reads and writes in every
//! acquisition style it has, upgradable reads that are upgraded (at once,
//! by waiting, with a deadline) and downgraded, on an `RwLock<Checked>`.

use std::sync::Arc;

use turnlock::{RwLock, UpgradableReadGuard, WriteGuard};

use super::{Acquiring, Counts, Held, How, Mode, Report, Style, Subject};
use crate::common::rw::assert_rw_healthy;
use crate::common::{Checked, Rng};

/// An `RwLock<Checked>` under test; two acquisitions in three read.
pub struct RwLockSubject {
    lock: Arc<RwLock<Checked>>,
    counts: Counts,
}

impl RwLockSubject {
    pub fn new(lock: RwLock<Checked>) -> Self {
        Self {
            lock: Arc::new(lock),
            counts: Counts::new(),
        }
    }
}

/// What an exclusive [`Style::Upgradable`] acquisition does once it holds
/// the upgradable read.
#[derive(Clone, Copy)]
enum Upgrade {
    /// `upgrade().await`, then writes.
    Await,
    /// `upgrade_until(deadline)`: writes, or reads on if the deadline won.
    Until(u64),
    /// `try_upgrade`: writes, or reads on if readers are there.
    Try,
    /// Upgrades, then downgrades the write to a read and reads.
    ThenDowngrade,
}

impl Upgrade {
    fn draw(rng: &mut Rng) -> Self {
        match rng.below(4) {
            0 => Upgrade::Await,
            1 => Upgrade::Until(rng.below(4)),
            2 => Upgrade::Try,
            _ => Upgrade::ThenDowngrade,
        }
    }
}

/// The held upgradable read of `lock`, turned into a section as `upgrade`
/// says.
async fn upgraded(guard: UpgradableReadGuard<'_, Checked>, upgrade: Upgrade) -> Held<'_> {
    match upgrade {
        Upgrade::Await => Held::exclusive(UpgradableReadGuard::upgrade(guard).await),
        Upgrade::Until(polls) => {
            let deadline = super::DeadlineFuture::AfterPolls(polls);
            match UpgradableReadGuard::upgrade_until(guard, deadline).await {
                Ok(writer) => Held::exclusive(writer),
                Err(guard) => Held::shared(guard),
            }
        }
        Upgrade::Try => match UpgradableReadGuard::try_upgrade(guard) {
            Ok(writer) => Held::exclusive(writer),
            Err(guard) => Held::shared(guard),
        },
        Upgrade::ThenDowngrade => {
            let writer = UpgradableReadGuard::upgrade(guard).await;
            Held::shared(WriteGuard::downgrade(writer))
        }
    }
}

impl Subject for RwLockSubject {
    const MODES: &'static [Mode] = &[Mode::Exclusive, Mode::Shared, Mode::Shared];

    fn counts(&self) -> &Counts {
        &self.counts
    }

    fn acquire<'a>(&'a self, how: &How, rng: &mut Rng) -> Acquiring<'a> {
        let lock = &self.lock;
        let write = how.mode == Mode::Exclusive;
        match how.style {
            Style::Await if write => {
                Box::pin(async move { Some(Held::exclusive(lock.write().await)) })
            }
            Style::Await => Box::pin(async move { Some(Held::shared(lock.read().await)) }),
            Style::Owned if write => {
                let future = lock.write_owned();
                Box::pin(async move { Some(Held::exclusive(future.await)) })
            }
            Style::Owned => {
                let future = lock.read_owned();
                Box::pin(async move { Some(Held::shared(future.await)) })
            }
            Style::Try if write => {
                Box::pin(core::future::ready(lock.try_write().map(Held::exclusive)))
            }
            Style::Try => Box::pin(core::future::ready(lock.try_read().map(Held::shared))),
            Style::TryOwned if write => Box::pin(core::future::ready(
                lock.try_write_owned().map(Held::exclusive),
            )),
            Style::TryOwned => {
                Box::pin(core::future::ready(lock.try_read_owned().map(Held::shared)))
            }
            Style::Until(_) if write => {
                let future = lock.write_until(how.deadline());
                Box::pin(async move { future.await.ok().map(Held::exclusive) })
            }
            Style::Until(_) => {
                let future = lock.read_until(how.deadline());
                Box::pin(async move { future.await.ok().map(Held::shared) })
            }
            Style::Timeout if write => {
                let future = lock.write_timeout(how.timeout);
                Box::pin(async move { future.await.ok().map(Held::exclusive) })
            }
            Style::Timeout => {
                let future = lock.read_timeout(how.timeout);
                Box::pin(async move { future.await.ok().map(Held::shared) })
            }
            Style::WithLock => {
                let (plan, counts) = (how.plan, &self.counts);
                Box::pin(async move {
                    if write {
                        lock.with_write(async |value| {
                            plan.hold(Held::exclusive(value), counts).await
                        })
                        .await;
                    } else {
                        lock.with_read(async |value| plan.hold(Held::shared(value), counts).await)
                            .await;
                    }
                    Some(Held::ran())
                })
            }
            Style::Upgradable => {
                let upgrade = write.then(|| Upgrade::draw(rng));
                let owned = rng.one_in(2);
                Box::pin(async move {
                    if owned {
                        // The owned forms, with the same choices.
                        let guard = lock.upgradable_read_owned().await;
                        return Some(match upgrade {
                            None => Held::shared(guard),
                            Some(_) => Held::exclusive(
                                turnlock::OwnedUpgradableReadGuard::upgrade(guard).await,
                            ),
                        });
                    }
                    let guard = lock.upgradable_read().await;
                    Some(match upgrade {
                        None => Held::shared(guard),
                        Some(upgrade) => upgraded(guard, upgrade).await,
                    })
                })
            }
            style => panic!("an RwLock has no {style:?} acquisition"),
        }
    }

    fn acquire_blocking<'a>(&'a self, how: &How, rng: &mut Rng) -> Option<Held<'a>> {
        let lock = &self.lock;
        let write = how.mode == Mode::Exclusive;
        match how.style {
            Style::Blocking if write && rng.one_in(3) => {
                let guard = lock.upgradable_read_blocking();
                Some(Held::exclusive(UpgradableReadGuard::upgrade_blocking(
                    guard,
                )))
            }
            Style::Blocking if write => Some(Held::exclusive(lock.write_blocking())),
            Style::Blocking => Some(Held::shared(lock.read_blocking())),
            Style::BlockingTimeout if write => lock
                .write_blocking_timeout(how.timeout)
                .ok()
                .map(Held::exclusive),
            Style::BlockingTimeout => lock
                .read_blocking_timeout(how.timeout)
                .ok()
                .map(Held::shared),
            style => panic!("{style:?} is not a blocking acquisition"),
        }
    }

    fn settle(&self, report: &Report) {
        let lock = &self.lock;
        assert!(
            !lock.is_locked(),
            "the lock is held after the storm: {:?}",
            lock.state()
        );
        let value = lock.try_write().expect("the lock is free after the storm");
        // `count` also checks that every section ended, those cancelled or
        // panicking half-way included.
        assert_eq!(
            (value.count(), value.reads()),
            (report.sections, report.shared_sections),
            "sections counted by the lock != by the model"
        );
        drop(value);
        assert_rw_healthy(lock);
    }
}
