//! Fencing tokens when several processes create the fencing table at once,
//! and when another transaction keeps a key's row locked.

mod common;

use std::time::Duration;

use common::{smol, url};
use turnlock_postgres::{ErrorKind, Pool};

/// Eight pools (eight sessions, as eight processes would have) ask for their
/// first fencing token at the same moment, on a table that does not exist
/// yet, so each one tries to create it. PostgreSQL reports the losers of that
/// race as "relation already exists", "type already exists" or a unique
/// violation of its catalog, depending on the interleaving; every one of
/// them must still get its token.
#[test]
fn pools_that_create_the_fencing_table_at_once_all_get_tokens() {
    smol(120, async {
        for round in 0..if cfg!(debug_assertions) { 6 } else { 12 } {
            let table = format!("fencing_race_{round}");
            let pools: Vec<Pool> = (0..8)
                .map(|_| {
                    Pool::builder(&url("fencing_race"))
                        .fencing_table(table.as_str())
                        .build()
                        .unwrap()
                })
                .collect();
            // One task per pool, all started before any is awaited.
            let tasks: Vec<_> = pools
                .iter()
                .enumerate()
                .map(|(i, pool)| {
                    let pool = pool.clone();
                    smol::spawn(async move {
                        let mut guard = pool.lock(7000 + i as i64).await?;
                        let token = guard.fencing_token().await;
                        guard.release().await?;
                        token
                    })
                })
                .collect();
            let mut tokens = Vec::new();
            for task in tasks {
                tokens.push(task.await);
            }
            for (i, token) in tokens.into_iter().enumerate() {
                let token = token.unwrap_or_else(|err| {
                    panic!("round {round}, pool {i}: no fencing token: {err}")
                });
                assert_eq!(
                    token, 1,
                    "round {round}, pool {i}: a fresh key's first token"
                );
            }
        }
    });
}

/// A fencing token waits for its row no longer than one heartbeat interval
/// (the session's `lock_timeout`): it fails with a `Query` error, and the
/// session, whose heartbeat was never late, still holds the key.
#[test]
fn a_token_whose_row_stays_locked_fails_after_one_heartbeat_interval() {
    let url = url("fencing_locked");
    common::tokio(60, async move {
        let pool = Pool::builder(&url)
            .fencing_table("fencing_locked")
            .heartbeat(Duration::from_millis(300))
            .build()
            .unwrap();
        let mut guard = pool.lock(7100).await.unwrap();
        assert!(guard.fencing_token().await.unwrap() > 0);
        guard.release().await.unwrap();

        // Another transaction keeps the key's row locked.
        let stream = ::tokio::net::TcpStream::connect(("127.0.0.1", common::port()))
            .await
            .unwrap();
        let config: tokio_postgres::Config = url.parse().unwrap();
        let (blocker, connection) = config
            .connect_raw(stream, tokio_postgres::NoTls)
            .await
            .unwrap();
        ::tokio::spawn(connection);
        blocker
            .batch_execute("BEGIN; SELECT FROM fencing_locked FOR UPDATE")
            .await
            .unwrap();

        let mut guard = pool.lock(7100).await.unwrap();
        let err = guard.fencing_token().await.expect_err("the row is locked");
        assert_eq!(err.kind(), ErrorKind::Query, "{err}");
        guard.release().await.expect("held to the end");

        blocker.batch_execute("ROLLBACK").await.unwrap();
        let mut guard = pool.lock(7100).await.unwrap();
        assert!(guard.fencing_token().await.unwrap() > 1);
        guard.release().await.unwrap();
    });
}
