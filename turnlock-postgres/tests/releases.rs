//! Releases in flight: a dropped guard's unlock reaches the server with no
//! task of the spawner, sent and booked by the session's connection task;
//! a key taken again while this pool releases it waits right behind that
//! release on the same session. (A key taken again before the release has
//! gone out takes the lock over instead: `coalescing.rs`.)

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{advisory_locks, backends, eventually, tokio, url, with_timeout};
use turnlock_postgres::{Builder, ErrorKind, Pool};

type Kept = Arc<Mutex<Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>>>;

/// A pool's spawner that runs what it is given on the current tokio
/// runtime until it is stalled, and keeps it from then on until it resumes.
#[derive(Clone)]
struct Stalling {
    handle: ::tokio::runtime::Handle,
    kept: Kept,
    stalled: Arc<AtomicBool>,
}

impl Stalling {
    /// Inside a tokio runtime.
    fn new() -> Self {
        Stalling {
            handle: ::tokio::runtime::Handle::current(),
            kept: Kept::default(),
            stalled: Arc::default(),
        }
    }

    fn pool(&self, builder: Builder) -> Pool {
        let spawner = self.clone();
        builder
            .spawner(move |future| {
                if spawner.stalled.load(SeqCst) {
                    spawner.kept.lock().unwrap().push(future);
                } else {
                    spawner.handle.spawn(future);
                }
            })
            .build()
            .unwrap()
    }

    /// From now on, keeps what it is given.
    fn stall(&self) {
        self.stalled.store(true, SeqCst);
    }

    /// Runs what it kept, and from now on what it is given.
    fn resume(&self) {
        self.stalled.store(false, SeqCst);
        for future in self.kept.lock().unwrap().drain(..) {
            self.handle.spawn(future);
        }
    }
}

#[test]
fn a_dropped_guards_unlock_reaches_the_server_and_is_booked_without_the_spawner() {
    let app = "releases_unspawned";
    let url = url(app);
    tokio(60, async move {
        let spawner = Stalling::new();
        let pool = spawner.pool(Pool::builder(&url));
        let guard = pool.lock(7101).await.unwrap();
        // From here on the spawner keeps what it is given: a task spawned
        // for the release would not run.
        spawner.stall();
        drop(guard);
        let other = Pool::new(&common::url("releases_unspawned_other")).unwrap();
        let taken = other
            .lock_timeout(7101, Duration::from_secs(10))
            .await
            .expect("the unlock was sent when the guard was dropped");
        eventually(10, "the release booked", || pool.status().is_idle()).await;
        assert!(
            spawner.kept.lock().unwrap().is_empty(),
            "the release needed no task of the spawner"
        );
        taken.release().await.unwrap();
        spawner.resume();
        eventually(10, "nothing left in pg_locks", || advisory_locks(app) == 0).await;
    });
}

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
fn a_key_taken_again_while_this_pool_releases_it_waits_behind_that_release() {
    let app = "releases_again";
    let url = url(app);
    tokio(60, async move {
        // No local hand-offs: the waiter below never takes over the release
        // of the dropped guard, whenever it runs.
        let pool = Pool::builder(&url).max_local_handoffs(0).build().unwrap();
        let guard = pool.lock(7102).await.unwrap();
        let backend = guard.backend_pid();
        // The backend does not answer until continued: the unlock of the
        // dropped guard stays in flight.
        let stopped = Stopped::new(backend);
        drop(guard);
        assert_eq!(pool.status().releasing, 1);

        let waiter = ::tokio::spawn({
            let pool = pool.clone();
            async move { pool.lock(7102).await.unwrap() }
        });
        ::tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished());
        // Its wait is queued behind the release: no other session opened.
        assert_eq!(pool.status().sessions, 1);
        assert_eq!(backends(app), 1);

        drop(stopped);
        let guard = with_timeout(Duration::from_secs(10), waiter)
            .await
            .expect("granted right after the release")
            .unwrap();
        assert_eq!(guard.backend_pid(), backend, "taken again on its session");
        guard.release().await.unwrap();
        eventually(10, "idle", || pool.status().is_idle()).await;
        eventually(10, "nothing left in pg_locks", || advisory_locks(app) == 0).await;
    });
}

#[test]
fn a_wait_behind_a_late_release_that_times_out_leaves_nothing_held() {
    let app = "releases_late";
    let url = url(app);
    tokio(60, async move {
        let spawner = Stalling::new();
        // No local hand-offs: a dropped guard's release goes out at once,
        // and a key taken again never takes it over.
        let pool = spawner.pool(Pool::builder(&url).max_local_handoffs(0));
        let guard = pool.lock(7103).await.unwrap();
        let backend = guard.backend_pid();
        // Taken again at once, with no task of the spawner.
        spawner.stall();
        drop(guard);
        let guard = with_timeout(Duration::from_secs(10), pool.lock(7103))
            .await
            .expect("taken again behind its release")
            .unwrap();
        assert_eq!(guard.backend_pid(), backend);
        assert_eq!(advisory_locks(app), 1);

        // A caller that gives up while the answers are late hands the
        // rest of its wait to the spawner, which cancels it and gives back
        // whatever it was granted.
        let stopped = Stopped::new(backend);
        drop(guard);
        let err = pool
            .lock_timeout(7103, Duration::from_millis(300))
            .await
            .expect_err("the release is still in flight");
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop(stopped);
        spawner.resume();
        eventually(10, "the pool idle", || pool.status().is_idle()).await;
        eventually(10, "nothing left in pg_locks", || advisory_locks(app) == 0).await;
        let again = pool
            .lock_timeout(7103, Duration::from_secs(10))
            .await
            .expect("the key is free again");
        drop(again);
    });
}
