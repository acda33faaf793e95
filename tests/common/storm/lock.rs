//! [`Lock`] as a storm [`Subject`]: every acquisition style it has, on a
//! `Lock<Checked>`.

use std::sync::Arc;

use turnlock::Lock;

use super::{Acquiring, Counts, Held, How, Report, Style, Subject};
use crate::common::{Checked, Rng, assert_healthy};

/// A `Lock<Checked>` under test.
pub struct LockSubject {
    lock: Arc<Lock<Checked>>,
    counts: Counts,
}

impl LockSubject {
    pub fn new(lock: Lock<Checked>) -> Self {
        Self {
            lock: Arc::new(lock),
            counts: Counts::new(),
        }
    }
}

impl Subject for LockSubject {
    fn counts(&self) -> &Counts {
        &self.counts
    }

    fn acquire<'a>(&'a self, how: &How, _: &mut Rng) -> Acquiring<'a> {
        let lock = &self.lock;
        match how.style {
            Style::Await => Box::pin(async move { Some(Held::exclusive(lock.lock().await)) }),
            Style::Owned => {
                let future = lock.lock_owned();
                Box::pin(async move { Some(Held::exclusive(future.await)) })
            }
            Style::Try => Box::pin(core::future::ready(lock.try_lock().map(Held::exclusive))),
            Style::TryOwned => Box::pin(core::future::ready(
                lock.try_lock_owned().map(Held::exclusive),
            )),
            Style::Until(_) => {
                let future = lock.lock_until(how.deadline());
                Box::pin(async move { future.await.ok().map(Held::exclusive) })
            }
            Style::Timeout => {
                let future = lock.lock_timeout(how.timeout);
                Box::pin(async move { future.await.ok().map(Held::exclusive) })
            }
            Style::WithLock => {
                let (plan, counts) = (how.plan, &self.counts);
                Box::pin(async move {
                    lock.with_lock(async |value| plan.hold(Held::exclusive(value), counts).await)
                        .await;
                    Some(Held::ran())
                })
            }
            style => panic!("a Lock has no {style:?} acquisition"),
        }
    }

    fn acquire_blocking<'a>(&'a self, how: &How, _: &mut Rng) -> Option<Held<'a>> {
        match how.style {
            Style::Blocking => Some(Held::exclusive(self.lock.lock_blocking())),
            Style::BlockingTimeout => self
                .lock
                .lock_blocking_timeout(how.timeout)
                .ok()
                .map(Held::exclusive),
            style => panic!("{style:?} is not a blocking acquisition"),
        }
    }

    fn settle(&self, report: &Report) {
        let lock = &self.lock;
        assert!(
            !lock.is_locked(),
            "the lock is held after the storm: {lock:?}"
        );
        let done = lock
            .try_lock()
            .expect("the lock is free after the storm")
            .count();
        // `count` also checks that every section ended, those cancelled or
        // panicking half-way included.
        assert_eq!(
            done, report.sections,
            "sections counted by the lock != by the model"
        );
        assert_healthy(lock);
    }
}
