//! Helpers shared by the integration tests: one throwaway PostgreSQL server
//! per test binary (started on first use, stopped when the binary exits),
//! `psql` queries, a watchdog and the executors.

#![allow(
    dead_code,
    reason = "every test file uses its own subset of the helpers"
)]

pub mod forwarder;
pub mod pgbouncer;
pub mod server;

use std::sync::{Mutex, OnceLock, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use server::TestServer;

static SERVER: OnceLock<Mutex<TestServer>> = OnceLock::new();

extern "C" fn stop_server() {
    if let Some(server) = SERVER.get() {
        server.lock().unwrap_or_else(PoisonError::into_inner).stop();
    }
}

fn server() -> &'static Mutex<TestServer> {
    SERVER.get_or_init(|| {
        let server = TestServer::start().expect("start a throwaway PostgreSQL server");
        // The test harness leaves through `exit`, which runs this; the
        // server's reaper covers a harness that is killed.
        // SAFETY: `stop_server` is a plain `extern "C" fn` with no arguments.
        let registered = unsafe { libc::atexit(stop_server) };
        assert_eq!(registered, 0, "atexit");
        Mutex::new(server)
    })
}

/// A connection string for the shared server, tagged with
/// `application_name` so that a test finds its own sessions.
pub fn url(app: &str) -> String {
    let server = server().lock().unwrap_or_else(PoisonError::into_inner);
    format!("{} application_name={app}", server.url())
}

/// The shared server's port.
pub fn port() -> u16 {
    server().lock().unwrap_or_else(PoisonError::into_inner).port
}

/// The directory of the shared server's Unix socket.
pub fn socket_dir() -> std::path::PathBuf {
    server()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .dir()
        .to_owned()
}

/// One SQL statement through `psql`; its unaligned output.
pub fn psql(sql: &str) -> String {
    server()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .psql(sql)
}

/// The first key of the mark every session holds, `(MARK, n)` (see the
/// crate docs, "Observing").
pub const MARK: i32 = 0x7475_726e;

/// Advisory locks held or awaited by sessions of `app`, apart from the
/// mark each session holds.
pub fn advisory_locks(app: &str) -> usize {
    psql(&format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND a.application_name = '{app}' \
         AND NOT (l.objsubid = 2 AND l.classid = {MARK})"
    ))
    .parse()
    .expect("a count")
}

/// Backends of `app` (its open sessions, as the server sees them).
pub fn backends(app: &str) -> usize {
    psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
    .parse()
    .expect("a count")
}

/// The pid of the backend holding (`granted`) or awaiting advisory lock `id`.
pub fn lock_pid(id: i64, granted: bool) -> Option<i32> {
    let classid = (id >> 32) as u32;
    let objid = id as u32;
    let out = psql(&format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
         AND classid = {classid} AND objid = {objid} AND granted = {granted}"
    ));
    out.lines().next().map(|pid| pid.parse().expect("a pid"))
}

/// Polls `condition` every 10 ms until it holds or `secs` pass. Async, so
/// that the tasks it waits for can run on the same executor threads.
pub async fn eventually(secs: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {secs} s: {what}"
        );
        async_io::Timer::after(Duration::from_millis(10)).await;
    }
}

/// Runs `body` on a thread of its own and fails the test if it has not
/// finished within `secs` seconds.
pub fn with_watchdog<R: Send + 'static>(secs: u64, body: impl FnOnce() -> R + Send + 'static) -> R {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watched = thread::spawn(move || {
        let out = body();
        let _ = done_tx.send(());
        out
    });
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match watched.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: not finished within {secs} s"),
    }
}

/// `future` on smol's executor with two worker threads, under a watchdog.
pub fn smol<F, R>(secs: u64, future: F) -> R
where
    F: std::future::Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    with_watchdog(secs, move || {
        let ex = smol::Executor::new();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| smol::block_on(ex.run(stopped.recv())));
            }
            let out = smol::block_on(ex.run(future));
            drop(stop);
            out
        })
    })
}

/// `future` on a multi-thread tokio runtime, under a watchdog.
pub fn tokio<F, R>(secs: u64, future: F) -> R
where
    F: std::future::Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    with_watchdog(secs, move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    })
}

/// `future`, or `None` once `timeout` has passed.
pub async fn with_timeout<T>(
    timeout: Duration,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        async_io::Timer::after(timeout).await;
        None
    })
    .await
}

/// A connection string for the shared server through `port` (a forwarder),
/// tagged with `application_name`.
pub fn url_via(port: u16, app: &str) -> String {
    url(app).replace(&format!("port={}", self::port()), &format!("port={port}"))
}
