//! A waker whose `clone` panics once `PANIC_ON_CLONE` is set: user code
//! that unwinds in the middle of a poll.

use core::sync::atomic::{AtomicBool, Ordering::SeqCst};
use core::task::{RawWaker, RawWakerVTable, Waker};

pub static PANIC_ON_CLONE: AtomicBool = AtomicBool::new(false);

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
/// A non-null data pointer, so that the waker identifies a task.
static TASK: u8 = 0;

fn raw() -> RawWaker {
    RawWaker::new(core::ptr::from_ref(&TASK).cast(), &VTABLE)
}

fn clone(_: *const ()) -> RawWaker {
    assert!(!PANIC_ON_CLONE.load(SeqCst), "the waker's clone panics");
    raw()
}

fn noop(_: *const ()) {}

pub fn waker() -> Waker {
    // SAFETY: the vtable's functions ignore the data pointer, which
    // points to a static; cloning returns the same waker.
    unsafe { Waker::from_raw(raw()) }
}
