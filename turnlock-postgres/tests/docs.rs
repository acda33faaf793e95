//! Every example of the crate's docs that needs a server (`no_run` there),
//! run here as written, against the test server: the only change is the
//! connection string. Each runs where the docs put it: in a plain
//! `block_on`, outside any runtime. The comment above each test names the
//! item whose docs show it.

mod common;

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use common::{url, with_watchdog};
use turnlock_postgres::{Error, ErrorKind, Pool};

/// Runs a doc example's body the way the docs do, one example at a time
/// (several use the same keys, and the short timeouts of some are meant
/// for a pool that is not competing with twenty others).
fn example<F>(body: impl FnOnce(String) -> F + Send + 'static)
where
    F: Future<Output = Result<(), Error>>,
{
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let url = url("doc_examples");
    with_watchdog(60, move || futures_lite::future::block_on(body(url))).unwrap();
}

// The crate docs: the first example.
#[test]
fn crate_example() {
    example(|url| async move {
        let pool = Pool::builder(&url).namespace("billing").build()?;

        // Exclusive across every replica, for as long as `guard` lives.
        let mut guard = pool
            .lock_timeout("invoice:2024-17", Duration::from_secs(5))
            .await?;
        let token = guard.fencing_token().await?; // for storage that refuses stale writers
        // ... read, compute, write (passing `token`) ...
        guard.release().await?; // Err if the lock was lost on the way
        let _ = token;
        Ok(())
    });
}

// The crate docs, "Fencing".
#[test]
fn crate_fencing_example() {
    use std::collections::HashMap;

    struct Storage(Mutex<HashMap<&'static str, (i64, String)>>);

    impl Storage {
        fn write(&self, id: &'static str, token: i64, body: String) -> Result<(), &'static str> {
            let mut records = self.0.lock().unwrap();
            match records.get(id) {
                Some((seen, _)) if *seen >= token => Err("stale fencing token: the lock was lost"),
                _ => {
                    records.insert(id, (token, body));
                    Ok(())
                }
            }
        }
    }

    example(|url| async move {
        let pool = Pool::new(&url)?;
        let storage = Storage(Mutex::new(HashMap::new()));
        let mut guard = pool.lock("report:7").await?;
        let token = guard.fencing_token().await?; // 1, 2, 3, ... per acquisition of the key
        let body = String::from("..."); // slow work; the lock may be lost meanwhile
        storage
            .write("report:7", token, body)
            .expect("nobody wrote after us");
        guard.release().await?;
        // And the promise behind it: a stale token is refused.
        assert!(storage.write("report:7", token, "late".into()).is_err());
        Ok(())
    });
}

// `Pool`.
#[test]
fn pool_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool
            .lock_timeout("invoice:2024-17", Duration::from_secs(5))
            .await?;
        // ... only one process in the whole deployment runs this at a time ...
        guard.release().await?;
        Ok(())
    });
}

// `Pool::lock`.
#[test]
fn pool_lock_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock("report:daily").await?;
        // ... exclusive across all processes ...
        drop(guard); // released in the background; `release().await` reports errors
        Ok(())
    });
}

// `Pool::try_lock`.
#[test]
fn pool_try_lock_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        match pool.try_lock("cron:cleanup").await? {
            Some(_guard) => { /* run the job */ }
            None => { /* another replica runs it */ }
        }
        Ok(())
    });
}

// `Pool::lock_until`.
#[test]
fn pool_lock_until_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let deadline = async_io::Timer::after(Duration::from_secs(2));
        let guard = pool.lock_until("account:7", deadline).await?;
        drop(guard);
        Ok(())
    });
}

// `Pool::lock_timeout`.
#[test]
fn pool_lock_timeout_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        match pool.lock_timeout(17, Duration::from_millis(250)).await {
            Ok(guard) => drop(guard),
            Err(err) if err.kind() == ErrorKind::TimedOut => { /* busy: try later */ }
            Err(err) => return Err(err),
        }
        Ok(())
    });
}

// `Pool::with_lock`.
#[test]
fn pool_with_lock_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let total = pool
            .with_lock("ledger:eu", async |guard| {
                let token = guard.fencing_token().await?;
                // write to storage that rejects tokens older than the last one seen
                Ok::<_, Error>(token)
            })
            .await??;
        assert!(total > 0);
        Ok(())
    });
}

// `Pool::connect`.
#[test]
fn pool_connect_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        pool.connect().await?; // fail fast at start-up
        assert_eq!(pool.status().sessions, 1);
        Ok(())
    });
}

// `Pool::idle`.
#[test]
fn pool_idle_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let _ = pool
            .lock_timeout("job", std::time::Duration::from_millis(10))
            .await;
        // The guard's release (dropped at once) or the timed-out wait's
        // cancel request has gone through:
        pool.idle().await;
        assert!(pool.status().is_idle());
        Ok(())
    });
}

// `Pool::backend_pids`.
#[test]
fn pool_backend_pids_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock("report").await?;
        let pids = pool.backend_pids();
        assert!(pids.contains(&guard.backend_pid()));
        Ok(())
    });
}

// `Pool::lock_many`.
#[test]
fn pool_lock_many_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        // Another process may name them as ["account:bob", "account:alice"].
        let both = pool.lock_many(["account:alice", "account:bob"]).await?;
        // ... move money between the two accounts ...
        both.release().await?;
        Ok(())
    });
}

// `Pool::lock_many_until`.
#[test]
fn pool_lock_many_until_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let deadline = async_io::Timer::after(Duration::from_secs(2));
        let held = pool.lock_many_until([1, 2, 3], deadline).await?;
        drop(held);
        Ok(())
    });
}

// `Pool::lock_many_timeout`.
#[test]
fn pool_lock_many_timeout_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let held = pool
            .lock_many_timeout(["a", "b"], Duration::from_secs(5))
            .await?;
        drop(held);
        Ok(())
    });
}

// `LockFuture`.
#[test]
fn lock_future_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let user = 42;
        let acquire: turnlock_postgres::LockFuture<'_> = pool.lock(format!("user:{user}"));
        let guard = acquire.await?;
        drop(guard);
        Ok(())
    });
}

// `LockUntil`.
#[test]
fn lock_until_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        // A deadline that has passed: only if the key is free right now.
        match pool.lock_until("report", std::future::ready(())).await {
            Ok(guard) => drop(guard),
            Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut),
        }
        Ok(())
    });
}

// `Guard`.
#[test]
fn guard_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock("user:42").await?;
        assert_eq!(guard.key(), pool.key_id("user:42"));
        guard.release().await?;
        Ok(())
    });
}

// `Guard::key`, `Guard::backend_pid`, `Guard::is_lost`, `Guard::lost`'s
// type (`Lost`): one guard each, as the docs show.
#[test]
fn guard_accessor_examples() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock(99).await?;
        assert_eq!(guard.key(), 99);
        println!("held by backend {}", guard.backend_pid());
        drop(guard);
        let guard = pool.lock(5).await?;
        assert!(!guard.is_lost());
        drop(guard);
        let guard = pool.lock(1).await?;
        let lost: turnlock_postgres::Lost = guard.lost();
        drop(lost);
        Ok(())
    });
}

// `Guard::lost`.
#[test]
fn guard_lost_example() {
    async fn long_job() {}
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock("migration").await?;
        let finished = futures_lite::future::or(
            async {
                long_job().await;
                true
            },
            async {
                guard.lost().await;
                false
            },
        )
        .await;
        if !finished {
            eprintln!("lost the lock: stopped the job");
        }
        assert!(finished);
        Ok(())
    });
}

// `Guard::fencing_token`.
#[test]
fn guard_fencing_token_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let mut guard = pool.lock("report:7").await?;
        let token = guard.fencing_token().await?;
        // UPDATE reports SET body = $1, token = $2 WHERE id = 7 AND token < $2
        // affects no row if a later holder has written already.
        assert_eq!(guard.fencing_token().await?, token, "the same per guard");
        Ok(())
    });
}

// `Guard::release`.
#[test]
fn guard_release_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let guard = pool.lock("nightly").await?;
        // ... work ...
        if let Err(err) = guard.release().await {
            eprintln!("the work ran without the lock: {err}");
            panic!("the lock was held to the end");
        }
        Ok(())
    });
}

// `ManyGuard`.
#[test]
fn many_guard_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let mut both = pool.lock_many(["account:alice", "account:bob"]).await?;
        for guard in both.guards_mut() {
            let token = guard.fencing_token().await?; // one per key
            assert!(token > 0);
        }
        both.release().await?;
        Ok(())
    });
}

// `ManyGuard::keys`, `guards`, `guards_mut`, `is_lost`, `release`.
#[test]
fn many_guard_accessor_examples() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let held = pool.lock_many([3, 1, 2, 1]).await?;
        assert_eq!(held.keys(), [1, 2, 3]);
        drop(held);
        let held = pool.lock_many([1, 2]).await?;
        assert!(held.guards().iter().all(|guard| !guard.is_lost()));
        drop(held);
        let mut held = pool.lock_many([1, 2]).await?;
        let first = held.guards_mut()[0].fencing_token().await?;
        assert!(first > 0);
        drop(held);
        let held = pool.lock_many([1, 2]).await?;
        assert!(!held.is_lost());
        drop(held);
        let held = pool.lock_many([1, 2]).await?;
        if let Err(err) = held.release().await {
            eprintln!("the work ran without one of its locks: {err}");
            panic!("the locks were held to the end");
        }
        Ok(())
    });
}

// `ManyGuard::lost`.
#[test]
fn many_guard_lost_example() {
    async fn transfer() {}
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let held = pool.lock_many(["a", "b"]).await?;
        let finished = futures_lite::future::or(
            async {
                transfer().await;
                true
            },
            async {
                held.lost().await;
                false
            },
        )
        .await;
        assert!(finished);
        Ok(())
    });
}

// `Pool::lock_shared`.
#[test]
fn pool_lock_shared_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let schema = pool.lock_shared("schema").await?; // beside other readers
        // ... read what a migration (holding "schema" exclusively) rewrites ...
        schema.release().await?;
        Ok(())
    });
}

// `Pool::try_lock_shared`.
#[test]
fn pool_try_lock_shared_example() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        if let Some(_cache) = pool.try_lock_shared("cache:eu").await? {
            // ... serve from the cache while nobody rebuilds it ...
        } else {
            panic!("nobody writes it");
        }
        Ok(())
    });
}

// `Pool::lock_shared_until`, `Pool::lock_shared_timeout`, `Guard::is_shared`.
#[test]
fn pool_shared_deadline_examples() {
    example(|url| async move {
        let pool = Pool::new(&url)?;
        let deadline = async_io::Timer::after(Duration::from_secs(2));
        let reading = pool.lock_shared_until("report:7", deadline).await?;
        drop(reading);
        let reading = pool
            .lock_shared_timeout(7, Duration::from_millis(250))
            .await?;
        drop(reading);
        assert!(pool.lock_shared(3).await?.is_shared());
        assert!(!pool.lock(4).await?.is_shared());
        Ok(())
    });
}
