//! Fencing tokens when several processes create the fencing table at once.

mod common;

use common::{smol, url};
use turnlock_postgres::Pool;

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
