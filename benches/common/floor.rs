//! The smallest strict-FIFO locks on `event-listener`'s public API, as
//! floors for the counted benchmarks (`common::scenario`). In a file of
//! their own so that callgrind attributes their code apart from the
//! executor's.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use event_listener::{Event, IntoNotification};

use super::BenchLock;

/// The smallest strict-FIFO lock on `event-listener`'s public API: a state
/// word (bit 0: locked; above: waiters) and one `Event`; a release with
/// waiters keeps the lock locked and notifies the oldest listener, which
/// then owns it. `STACK` selects the `listener!` macro (the listener lives
/// in the future, no allocation) instead of `Event::listen` (a boxed,
/// nameable `EventListener`, which a named `Unpin` future must use).
///
/// A floor for measurements only: a future dropped while it waits leaves
/// its count behind (not cancel-safe).
pub struct ListenerFloor<const STACK: bool> {
    state: AtomicUsize,
    event: Event,
    value: UnsafeCell<u64>,
}

// SAFETY: the value is only reached through a guard, and a guard exists
// only while its holder owns the lock (mutual exclusion by the protocol).
unsafe impl<const STACK: bool> Sync for ListenerFloor<STACK> {}

/// One waiter in the state word of [`ListenerFloor`].
const FLOOR_WAITER: usize = 2;

impl<const STACK: bool> Default for ListenerFloor<STACK> {
    fn default() -> Self {
        Self {
            state: AtomicUsize::new(0),
            event: Event::new(),
            value: UnsafeCell::new(0),
        }
    }
}

impl<const STACK: bool> ListenerFloor<STACK> {
    /// Takes the lock if it is free (then nobody waits, see `unlock`), or
    /// counts one more waiter. `true`: taken.
    fn take_or_join(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        loop {
            let next = if state & 1 == 0 {
                1
            } else {
                state + FLOOR_WAITER
            };
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) => return state & 1 == 0,
                Err(actual) => state = actual,
            }
        }
    }

    async fn lock_slow(&self) {
        if STACK {
            event_listener::listener!(self.event => listener);
            if self.take_or_join() {
                return;
            }
            listener.await;
        } else {
            let listener = self.event.listen();
            if self.take_or_join() {
                return;
            }
            listener.await;
        }
        // Handed the lock: leave the waiter count as its owner.
        self.state.fetch_sub(FLOOR_WAITER, Acquire);
    }

    fn unlock(&self) {
        if self.state.compare_exchange(1, 0, Release, Relaxed).is_err() {
            // Waiters: keep the lock locked and hand it to the oldest.
            let handed = self.event.notify(1.additional().relaxed());
            debug_assert_eq!(handed, 1, "the floor's waiters never leave");
        }
    }
}

/// The guard of [`ListenerFloor`].
pub struct FloorGuard<'a, const STACK: bool>(&'a ListenerFloor<STACK>);

impl<const STACK: bool> Deref for FloorGuard<'_, STACK> {
    type Target = u64;
    fn deref(&self) -> &u64 {
        // SAFETY: the guard's holder owns the lock.
        unsafe { &*self.0.value.get() }
    }
}

impl<const STACK: bool> DerefMut for FloorGuard<'_, STACK> {
    fn deref_mut(&mut self) -> &mut u64 {
        // SAFETY: the guard's holder owns the lock.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<const STACK: bool> Drop for FloorGuard<'_, STACK> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl<const STACK: bool> BenchLock for ListenerFloor<STACK> {
    type Guard<'a> = FloorGuard<'a, STACK>;

    #[inline]
    async fn acquire(&self) -> FloorGuard<'_, STACK> {
        if self.state.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            self.lock_slow().await;
        }
        FloorGuard(self)
    }
}
