//! Acquisition that blocks the thread (`lock_blocking` and its timeout):
//! the same waiter as a lock future's, polled with a waker that unparks the
//! thread.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::task::{Context, Waker};

use super::RawLock;
use super::waiter::Waiter;
use crate::sync::{Thread, current_thread};

/// The point in time until which a blocking acquisition waits (no clocks
/// under loom: there, none).
#[cfg(not(loom))]
pub(crate) type BlockingDeadline = std::time::Instant;
#[cfg(loom)]
pub(crate) type BlockingDeadline = core::convert::Infallible;

impl RawLock {
    /// Blocks the thread until the lock is acquired or `deadline` passes.
    /// Returns `true` if the caller now owns the lock.
    pub(crate) fn lock_blocking(&self, deadline: Option<BlockingDeadline>) -> bool {
        if self.try_lock() {
            return true;
        }
        self.lock_blocking_slow(deadline)
    }

    #[cold]
    fn lock_blocking_slow(&self, deadline: Option<BlockingDeadline>) -> bool {
        let waker = thread_waker();
        let mut cx = Context::from_waker(&waker);
        let mut waiter = Waiter::new();
        loop {
            if self.poll_acquire(&mut waiter, &mut cx).is_ready() {
                return true;
            }
            match deadline {
                None => crate::sync::park(),
                #[cfg(not(loom))]
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return self.abandon(&mut waiter);
                    }
                    crate::sync::park_timeout(deadline - now);
                }
                #[cfg(loom)]
                Some(never) => match never {},
            }
        }
    }
}

/// Wakes a parked thread.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the current thread; cached per thread.
#[cfg(not(loom))]
fn thread_waker() -> Waker {
    std::thread_local! {
        static WAKER: Waker = Waker::from(Arc::new(Unparker(current_thread())));
    }
    WAKER
        .try_with(Waker::clone)
        .unwrap_or_else(|_| Waker::from(Arc::new(Unparker(current_thread()))))
}

#[cfg(loom)]
fn thread_waker() -> Waker {
    Waker::from(Arc::new(Unparker(current_thread())))
}
