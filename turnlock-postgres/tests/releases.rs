//! Releases in flight: a dropped guard's unlock reaches the server without
//! waiting for the spawner, and a key taken again while this pool releases
//! it waits for that release on the same session, finishing it itself.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{advisory_locks, backends, eventually, tokio, url, with_timeout};
use turnlock_postgres::{ErrorKind, Pool};

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

    fn pool(&self, url: &str) -> Pool {
        let spawner = self.clone();
        Pool::builder(url)
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
fn a_dropped_guards_unlock_reaches_the_server_before_the_spawner_runs_anything() {
    let app = "releases_unspawned";
    let url = url(app);
    tokio(60, async move {
        let spawner = Stalling::new();
        let pool = spawner.pool(&url);
        let guard = pool.lock(7101).await.unwrap();
        // From here on the spawner keeps what it is given: the release's
        // background task does not run.
        spawner.stall();
        drop(guard);
        let other = Pool::new(&common::url("releases_unspawned_other")).unwrap();
        let taken = other
            .lock_timeout(7101, Duration::from_secs(10))
            .await
            .expect("the unlock was sent when the guard was dropped");
        assert_eq!(
            pool.status().releasing,
            1,
            "the pool has not booked the release yet"
        );
        taken.release().await.unwrap();
        // The spawner runs what it kept; the pool books the release.
        spawner.resume();
        eventually(10, "the release booked", || pool.status().is_idle()).await;
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

#[test]
fn the_next_local_caller_of_a_key_finishes_its_release_itself() {
    let app = "releases_driven";
    let url = url(app);
    tokio(60, async move {
        let spawner = Stalling::new();
        let pool = spawner.pool(&url);
        let guard = pool.lock(7103).await.unwrap();
        let backend = guard.backend_pid();
        // The spawner runs nothing from here on: the release is finished
        // by the next caller of the key, which waits for it anyway.
        spawner.stall();
        drop(guard);
        let guard = with_timeout(Duration::from_secs(10), pool.lock(7103))
            .await
            .expect("the caller finished the release itself")
            .unwrap();
        assert_eq!(guard.backend_pid(), backend);
        assert_eq!(advisory_locks(app), 1);

        // A caller that gives up while the answer is late hands the rest
        // of the release to the spawner.
        let stopped = Stopped::new(backend);
        drop(guard);
        let err = pool
            .lock_timeout(7103, Duration::from_millis(300))
            .await
            .expect_err("the release is still in flight");
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop(stopped);
        spawner.resume();
        eventually(10, "the release booked", || pool.status().is_idle()).await;
        eventually(10, "nothing left in pg_locks", || advisory_locks(app) == 0).await;
        assert_eq!(pool.status().sessions, 1);
    });
}
