//! `Builder::spawner` as the docs show it, and spawners that fail: whatever
//! the spawner does, no background work is lost, so no key stays held.

mod common;

use std::time::Duration;

use common::{advisory_locks, eventually, url, with_watchdog};
use turnlock_postgres::{Pool, Status};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn idle(status: Status) -> bool {
    (status.waiting, status.busy, status.held, status.keys) == (0, 0, 0, 0)
}

/// The key is free again for another pool, and `pool`'s books are back to
/// idle, with nothing left in `pg_locks`.
async fn key_is_free(pool: &Pool, app: &str, key: i64) {
    let other = Pool::new(&url(&format!("{app}_other"))).unwrap();
    let guard = other
        .lock_timeout(key, Duration::from_secs(5))
        .await
        .expect("the key was released");
    guard.release().await.unwrap();
    eventually(10, "the pool's books back to idle", || idle(pool.status())).await;
    eventually(10, "no advisory lock left", || advisory_locks(app) == 0).await;
}

#[test]
fn the_documented_tokio_spawner_releases_a_guard_dropped_outside_the_runtime() {
    let app = "spawner_documented";
    let url = url(app);
    with_watchdog(60, move || {
        let runtime = runtime();
        let _context = runtime.enter();
        // As in `Builder::spawner`'s docs.
        let handle = tokio::runtime::Handle::current();
        let pool = Pool::builder(&url)
            .spawner(move |future| {
                handle.spawn(future);
            })
            .build()
            .unwrap();
        drop(_context);
        let guard = runtime.block_on(pool.lock(7001)).unwrap();
        // Synchronous code, outside the runtime's context.
        drop(guard);
        runtime.block_on(key_is_free(&pool, app, 7001));
    });
}

#[test]
fn a_spawner_that_panics_outside_the_runtime_never_leaves_a_key_held() {
    let app = "spawner_panics";
    let url = url(app);
    with_watchdog(60, move || {
        let runtime = runtime();
        // `tokio::spawn` panics outside a runtime's context ("there is no
        // reactor running").
        let pool = Pool::builder(&url)
            .spawner(|future| {
                tokio::spawn(future);
            })
            .build()
            .unwrap();
        let guard = runtime.block_on(pool.lock(7002)).unwrap();
        drop(guard); // no panic escapes
        runtime.block_on(key_is_free(&pool, app, 7002));
        // The same pool takes the key again.
        let guard = runtime.block_on(pool.lock(7002)).unwrap();
        runtime.block_on(guard.release()).unwrap();
    });
}

#[test]
fn a_spawner_that_drops_every_future_still_serves() {
    let app = "spawner_drops";
    let url = url(app);
    common::smol(60, async move {
        let pool = Pool::builder(&url).spawner(drop).build().unwrap();
        for key in [7003, 7003, 7004] {
            let guard = pool.lock(key).await.unwrap();
            assert!(!guard.is_lost(), "the connection is driven");
            drop(guard);
        }
        key_is_free(&pool, app, 7003).await;
        key_is_free(&pool, app, 7004).await;
    });
}

#[test]
fn a_pool_outlives_the_runtime_of_its_spawner() {
    let app = "spawner_shutdown";
    let url = url(app);
    with_watchdog(60, move || {
        let runtime = runtime();
        let handle = runtime.handle().clone();
        let pool = Pool::builder(&url)
            .spawner(move |future| {
                handle.spawn(future);
            })
            .build()
            .unwrap();
        let guard = runtime.block_on(pool.lock(7005)).unwrap();
        // The runtime goes away with the connection's task on it, and a
        // guard still held.
        drop(runtime);
        futures_lite::future::block_on(async {
            assert!(
                !guard.is_lost(),
                "the connection moved to the driver thread"
            );
            guard.release().await.unwrap();
            let guard = pool.lock(7005).await.unwrap();
            drop(guard);
            key_is_free(&pool, app, 7005).await;
        });
    });
}
