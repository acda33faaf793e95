//! Acquisition that blocks the thread (`lock_blocking`, `read_blocking`,
//! their timeouts, ...), for every protocol: the same waiter as a lock
//! future's, polled with a waker that unparks the thread.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::task::{Context, Waker};

use super::protocol::Protocol;
use super::waiter::Waiter;
use crate::sync::{Thread, current_thread};

/// The point in time until which a blocking acquisition waits (no clocks
/// under loom: there, none).
#[cfg(not(loom))]
pub(crate) type BlockingDeadline = std::time::Instant;
#[cfg(loom)]
pub(crate) type BlockingDeadline = core::convert::Infallible;

/// Blocks the thread until `protocol` is acquired in `mode` or `deadline`
/// passes. Returns `true` if the caller now holds it.
pub(crate) fn acquire_blocking<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    deadline: Option<BlockingDeadline>,
) -> bool {
    if protocol.try_acquire(mode) {
        return true;
    }
    acquire_blocking_slow(protocol, mode, deadline)
}

#[cold]
fn acquire_blocking_slow<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    deadline: Option<BlockingDeadline>,
) -> bool {
    let waker = thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut waiter = Waiter::new();
    loop {
        if protocol.poll_acquire(mode, &mut waiter, &mut cx).is_ready() {
            return true;
        }
        match deadline {
            None => crate::sync::park(),
            #[cfg(not(loom))]
            Some(deadline) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return protocol.abandon(&mut waiter);
                }
                crate::sync::park_timeout(deadline - now);
            }
            #[cfg(loom)]
            Some(never) => match never {},
        }
    }
}

/// A blocking acquisition that gives up after `timeout`; `true` if the
/// caller now holds the lock. `Duration::ZERO` only tries; a timeout too
/// large to represent as a point in time means no timeout.
#[cfg(not(loom))]
pub(crate) fn acquire_blocking_timeout<P: Protocol + ?Sized>(
    protocol: &P,
    mode: P::Mode,
    timeout: core::time::Duration,
) -> bool {
    if timeout.is_zero() {
        protocol.try_acquire(mode)
    } else {
        acquire_blocking(
            protocol,
            mode,
            std::time::Instant::now().checked_add(timeout),
        )
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
