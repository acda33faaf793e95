//! `TimedOut`'s message states the timeout exactly: whole milliseconds as
//! "after 10ms" (the upstream format), anything finer in the largest unit
//! that divides it, never rounded.

use std::time::Duration;

use turnlock::Lock;

/// The message of a blocking wait for a held lock that gives up after `timeout`.
fn message_after(timeout: Duration) -> String {
    let lock = Lock::new(());
    let _held = lock.try_lock().expect("a new lock is free");
    let err = lock
        .lock_blocking_timeout(timeout)
        .expect_err("the lock is held for the whole wait");
    assert_eq!(err.timeout(), Some(timeout));
    err.to_string()
}

#[test]
fn whole_milliseconds_print_as_milliseconds() {
    assert_eq!(
        message_after(Duration::from_millis(10)),
        "timed out waiting for lock after 10ms"
    );
    assert_eq!(
        message_after(Duration::from_micros(2000)),
        "timed out waiting for lock after 2ms"
    );
}

#[test]
fn zero_prints_as_zero_milliseconds() {
    assert_eq!(
        message_after(Duration::ZERO),
        "timed out waiting for lock after 0ms"
    );
}

#[test]
fn sub_millisecond_timeouts_print_in_microseconds() {
    assert_eq!(
        message_after(Duration::from_micros(500)),
        "timed out waiting for lock after 500µs"
    );
    assert_eq!(
        message_after(Duration::from_micros(1)),
        "timed out waiting for lock after 1µs"
    );
}

#[test]
fn fractional_milliseconds_print_in_microseconds() {
    assert_eq!(
        message_after(Duration::from_micros(1500)),
        "timed out waiting for lock after 1500µs"
    );
}

#[test]
fn fractional_microseconds_print_in_nanoseconds() {
    assert_eq!(
        message_after(Duration::from_nanos(250)),
        "timed out waiting for lock after 250ns"
    );
    assert_eq!(
        message_after(Duration::from_nanos(1_000_001)),
        "timed out waiting for lock after 1000001ns"
    );
}

#[cfg(feature = "async-io")]
#[test]
fn async_timeouts_use_the_same_format() {
    futures_lite::future::block_on(async {
        let lock = Lock::new(());
        let _held = lock.lock().await;
        let err = lock
            .lock_timeout(Duration::from_micros(300))
            .await
            .expect_err("the lock is held");
        assert_eq!(err.to_string(), "timed out waiting for lock after 300µs");
    });
}
