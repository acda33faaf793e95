//! The same pool under smol, tokio (multi-thread and current-thread) and a
//! plain `block_on`, with the crate's driver thread or the runtime's own
//! spawner.

mod common;

use std::time::Duration;

use common::{advisory_locks, eventually, url, with_watchdog};
use turnlock_postgres::{ErrorKind, Pool};

/// Exclusion, a timeout with a server-side wait, a dropped waiter, and
/// nothing left afterwards.
async fn exercise(pool: Pool, other: Pool, app: &'static str, key: i64) {
    let guard = pool.lock(key).await.unwrap();
    assert!(other.try_lock(key).await.unwrap().is_none());
    let err = other
        .lock_timeout(key, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    drop(other.lock(key)); // never polled
    guard.release().await.unwrap();
    let mut guard = other
        .lock_timeout(key, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(guard.fencing_token().await.unwrap() > 0);
    drop(guard);
    eventually(10, "nothing left", || advisory_locks(app) == 0).await;
}

#[test]
fn tokio_multi_thread_with_the_default_driver() {
    let app = "rt_tokio_default";
    let (a, b) = (url(app), url(app));
    common::tokio(60, async move {
        let task = tokio::spawn(exercise(
            Pool::new(&a).unwrap(),
            Pool::new(&b).unwrap(),
            app,
            4001,
        ));
        task.await.unwrap();
    });
}

#[test]
fn tokio_multi_thread_with_tokio_spawn() {
    let app = "rt_tokio_spawn";
    let (a, b) = (url(app), url(app));
    common::tokio(60, async move {
        let pool = |url: &str| {
            Pool::builder(url)
                .spawner(|future| {
                    tokio::spawn(future);
                })
                .build()
                .unwrap()
        };
        let task = tokio::spawn(exercise(pool(&a), pool(&b), app, 4002));
        // A timeout from tokio's own timer drops a waiter mid-wait.
        let (x, y) = (pool(&a), pool(&b));
        let held = x.lock(4003).await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(100), y.lock(4003))
                .await
                .is_err()
        );
        held.release().await.unwrap();
        let guard = tokio::time::timeout(Duration::from_secs(5), y.lock(4003))
            .await
            .unwrap()
            .unwrap();
        guard.release().await.unwrap();
        task.await.unwrap();
    });
}

/// On tokio, with tokio's own sockets through a connector (as the docs of
/// `Builder::connector` show): the sessions and the cancel request of the
/// timed-out wait go through it, and nothing is left.
#[test]
fn tokio_with_its_own_sockets() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio_util::compat::TokioAsyncReadCompatExt;
    use turnlock_postgres::Endpoint;

    let app = "rt_tokio_sockets";
    let (a, b) = (url(app), url(app));
    common::tokio(60, async move {
        let opened = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Handle::current();
        let pool = |url: &str| {
            let (opened, runtime) = (opened.clone(), runtime.clone());
            Pool::builder(url)
                .spawner(move |future| {
                    runtime.spawn(future);
                })
                .connector(move |endpoint| {
                    opened.fetch_add(1, Ordering::Relaxed);
                    async move {
                        let Endpoint::Tcp { host, port } = endpoint else {
                            return Err(std::io::Error::other("TCP only"));
                        };
                        let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                        stream.set_nodelay(true)?;
                        Ok(stream.compat())
                    }
                })
                .build()
                .unwrap()
        };
        let task = tokio::spawn(exercise(pool(&a), pool(&b), app, 4008));
        task.await.unwrap();
        // Two sessions at least, and the cancel request of the wait that
        // timed out.
        assert!(
            opened.load(Ordering::Relaxed) >= 3,
            "the connector was not used"
        );
    });
}

#[test]
fn tokio_current_thread_with_tokio_spawn() {
    let app = "rt_tokio_current";
    let (a, b) = (url(app), url(app));
    with_watchdog(60, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let pool = |url: &str| {
                Pool::builder(url)
                    .spawner(|future| {
                        tokio::spawn(future);
                    })
                    .build()
                    .unwrap()
            };
            exercise(pool(&a), pool(&b), app, 4004).await;
        });
    });
}

#[test]
fn smol_with_smol_spawn() {
    let app = "rt_smol_spawn";
    let (a, b) = (url(app), url(app));
    common::smol(60, async move {
        let pool = |url: &str| {
            Pool::builder(url)
                .spawner(|future| smol::spawn(future).detach())
                .build()
                .unwrap()
        };
        exercise(pool(&a), pool(&b), app, 4005).await;
    });
}

#[test]
fn plain_block_on_with_the_default_driver() {
    let app = "rt_block_on";
    let (a, b) = (url(app), url(app));
    with_watchdog(60, move || {
        futures_lite::future::block_on(exercise(
            Pool::new(&a).unwrap(),
            Pool::new(&b).unwrap(),
            app,
            4006,
        ));
    });
}

#[test]
fn a_unix_socket_connection() {
    let app = "rt_unix";
    // The server's socket directory is its temporary directory.
    let dir = common::socket_dir();
    let url = format!(
        "host={} port={} user=postgres dbname=postgres application_name={app}",
        dir.display(),
        common::port()
    );
    common::smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let guard = pool.lock(4007).await.unwrap();
        assert_eq!(advisory_locks(app), 1);
        guard.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
    });
}
