//! Releases in flight: a key taken again while this pool releases it
//! waits for that release on the same session.

mod common;

use std::time::Duration;

use common::{advisory_locks, backends, eventually, tokio, url, with_timeout};
use turnlock_postgres::{ErrorKind, Pool};

/// Sends `signal` to a server process (the tests run as the server's user
/// or as root).
fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: `kill` takes plain integers and touches no memory of ours.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal})");
}

/// Continues a stopped backend when dropped, so that a failing test never
/// leaves the server with a frozen process.
struct Stopped(i32);

impl Stopped {
    fn new(pid: i32) -> Self {
        signal(pid, libc::SIGSTOP);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

#[test]
fn a_key_taken_again_while_this_pool_releases_it_waits_for_that_release() {
    let app = "releases_again";
    let url = url(app);
    tokio(60, async move {
        let pool = Pool::new(&url).unwrap();
        let guard = pool.lock(7102).await.unwrap();
        let backend = guard.backend_pid();
        // The backend does not answer until continued: the unlock of the
        // dropped guard stays in flight.
        let stopped = Stopped::new(backend);
        drop(guard);
        assert_eq!(pool.status().releasing, 1);

        let err = pool
            .lock_timeout(7102, Duration::from_millis(300))
            .await
            .expect_err("the release is still in flight");
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(
            err.to_string().contains("this process is releasing it"),
            "{err}"
        );
        let waiter = ::tokio::spawn({
            let pool = pool.clone();
            async move { pool.lock(7102).await.unwrap() }
        });
        ::tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        // Waiting for the release, the pool opened no other session.
        assert_eq!(pool.status().sessions, 1);
        assert_eq!(backends(app), 1);

        drop(stopped);
        let guard = with_timeout(Duration::from_secs(10), waiter)
            .await
            .expect("woken by the booked release")
            .unwrap();
        assert_eq!(guard.backend_pid(), backend, "taken again on its session");
        guard.release().await.unwrap();
        eventually(10, "idle", || pool.status().is_idle()).await;
        eventually(10, "nothing left in pg_locks", || advisory_locks(app) == 0).await;
    });
}
