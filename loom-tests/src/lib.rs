//! loom models of the turnlock protocol live in `tests/`; build them with
//! `RUSTFLAGS="--cfg loom" cargo test -p turnlock-loom-tests --profile loom`.
//!
//! This library holds the small helpers the models share: stepping a future
//! by hand, a `block_on` that counts wake-ups, and a deadline future that
//! another thread fires. Without `--cfg loom` it is empty.

#[cfg(loom)]
pub use self::helpers::*;

#[cfg(loom)]
mod helpers {
    use core::future::Future;
    use core::pin::{Pin, pin};
    use core::task::{Context, Poll, Waker};
    use std::sync::Arc as StdArc;
    use std::task::Wake;

    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::sync::{Arc, Mutex};
    use turnlock::futures::OwnedLockFuture;
    use turnlock::{Lock, OwnedGuard};

    /// Polls `future` once with a waker that does nothing.
    ///
    /// Used to make a lock future join the line at a chosen moment; whoever
    /// polls it next registers a real waker.
    pub fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// Brings a `new` lock to the state with a waiter in the slot and one in
    /// the hand-off queue behind it, both of which lost a race, and returns
    /// them (slot first) with the guard of the current holder.
    ///
    /// Each of two releases wakes one more hint waiter, and a barging
    /// newcomer retakes the lock each time, so both woken waiters lose.
    pub fn slot_and_queue<T>(
        lock: &std::sync::Arc<Lock<T>>,
    ) -> (OwnedLockFuture<T>, OwnedLockFuture<T>, OwnedGuard<T>) {
        let held = lock.try_lock_owned().expect("a new lock is free");
        let mut first = lock.lock_owned();
        let mut second = lock.lock_owned();
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        drop(held);
        drop(lock.try_lock_owned().expect("a released lock is free"));
        let held = lock.try_lock_owned().expect("a released lock is free");
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        assert!(format!("{first:?}").contains("Slot"), "{first:?}");
        assert!(format!("{second:?}").contains("Queued"), "{second:?}");
        (first, second, held)
    }

    /// A waker that counts its wake-ups and passes them on.
    struct CountingWaker {
        inner: Waker,
        wakes: Arc<AtomicUsize>,
    }

    impl Wake for CountingWaker {
        fn wake(self: StdArc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &StdArc<Self>) {
            self.wakes.fetch_add(1, SeqCst);
            self.inner.wake_by_ref();
        }
    }

    /// Drives `future` to completion on the current loom thread.
    ///
    /// Returns the output and how many times the future's waker was woken
    /// before it completed. Built on `loom::future::block_on`, which polls
    /// again only after a wake-up (or a spurious one that loom explores), so
    /// a lost wake-up shows up as a loom deadlock.
    pub fn block_on_counting<F: Future>(future: F) -> (F::Output, usize) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let mut waker: Option<Waker> = None;
        let mut future = pin!(future);
        let output = loom::future::block_on(core::future::poll_fn(|cx| {
            let waker = waker.get_or_insert_with(|| {
                Waker::from(StdArc::new(CountingWaker {
                    inner: cx.waker().clone(),
                    wakes: wakes.clone(),
                }))
            });
            future.as_mut().poll(&mut Context::from_waker(waker))
        }));
        (output, wakes.load(SeqCst))
    }

    /// A deadline that fires when another thread says so.
    ///
    /// Stands in for a timer in the `lock_until` models: loom has no clock,
    /// and this way the model decides, interleaving by interleaving, whether
    /// the deadline or the release comes first.
    pub struct Trigger {
        /// Fired yet, and the waker of the last poll of a deadline.
        state: Mutex<(bool, Option<Waker>)>,
    }

    impl Trigger {
        /// A trigger that has not fired.
        pub fn new() -> Arc<Self> {
            Arc::new(Self {
                state: Mutex::new((false, None)),
            })
        }

        /// Fires the trigger and wakes the deadline's task.
        pub fn fire(&self) {
            let waker = {
                let mut state = self.state.lock().unwrap();
                state.0 = true;
                state.1.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }

        /// The deadline future of `trigger`: completes once it has fired.
        pub fn deadline(trigger: &Arc<Self>) -> Deadline {
            Deadline(trigger.clone())
        }
    }

    /// The future of [`Trigger::deadline`].
    pub struct Deadline(Arc<Trigger>);

    impl Future for Deadline {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut state = self.0.state.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
