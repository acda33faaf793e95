//! Every kind of key a user reaches for, as the server sees it; and
//! futures that borrow the pool only, not the key.

mod common;

use std::time::Duration;

use common::{advisory_locks, psql, smol, url};
use turnlock_postgres::{LockId, LockKey, Pool};

/// `SELECT pg_try_advisory_lock(..)` from another connection, released at
/// once if it got the lock: whether the lock is free for other clients.
fn free_for_psql(args: &str) -> bool {
    psql(&format!(
        "SELECT pg_try_advisory_lock({args}) AND pg_advisory_unlock({args})"
    )) == "t"
}

#[test]
fn owned_strings_and_temporaries_are_keys() {
    smol(60, async {
        let pool = Pool::new(&url("keys_owned")).unwrap();
        let user = 42;
        let guard = pool.lock(format!("user:{user}")).await.unwrap();
        assert_eq!(guard.key(), LockKey::hash(None, b"user:42"));
        assert!(
            pool.try_lock(String::from("user:42"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(pool.is_locked_here(format!("user:{user}")));
        guard.release().await.unwrap();
        let guard = pool.lock(b"user:42".to_vec()).await.unwrap();
        assert_eq!(guard.key(), LockKey::hash(None, b"user:42"));
        guard.release().await.unwrap();
    });
}

#[test]
fn a_lock_future_does_not_borrow_its_key() {
    smol(60, async {
        let pool = Pool::new(&url("keys_borrow")).unwrap();
        let acquire = {
            let key = format!("job:{}", 7);
            pool.lock(&key) // `key` is dropped before the future runs
        };
        let guard = acquire.await.unwrap();
        let try_acquire = {
            let key = String::from("job:7");
            pool.try_lock(key.as_str())
        };
        assert!(try_acquire.await.unwrap().is_none());
        let timed = {
            let key = String::from("job:7");
            pool.lock_timeout(&key, Duration::ZERO)
        };
        assert!(timed.await.is_err());
        let until = {
            let key = String::from("job:7");
            pool.lock_until(&key, std::future::ready(()))
        };
        assert!(until.await.is_err());
        guard.release().await.unwrap();
    });
}

#[test]
fn unsigned_integers_keep_their_bits() {
    smol(60, async {
        let pool = Pool::new(&url("keys_unsigned")).unwrap();
        let guard = pool.lock(u64::MAX).await.unwrap();
        assert_eq!(guard.key(), -1);
        assert!(!free_for_psql("-1::bigint"), "u64::MAX is the bigint -1");
        guard.release().await.unwrap();
        let guard = pool.lock(7usize).await.unwrap();
        assert_eq!(guard.key(), 7);
        assert!(!free_for_psql("7::bigint"));
        guard.release().await.unwrap();
    });
}

#[test]
fn pairs_are_postgres_two_key_form() {
    let app = "keys_pairs";
    smol(60, async move {
        let pool = Pool::new(&url(app)).unwrap();
        let other = Pool::new(&url(app)).unwrap();
        let guard = pool.lock((12, -34)).await.unwrap();
        assert_eq!(guard.key(), LockId::Int4Pair(12, -34));
        // Other clients' two-key form is the same lock...
        assert!(!free_for_psql("12, -34"));
        // ... and the bigint of the same bits is another one.
        let bits = LockId::Int4Pair(12, -34).bits();
        assert!(free_for_psql(&format!("{bits}::bigint")));
        assert_eq!(
            psql(
                "SELECT classid::int, objid::bigint, objsubid FROM pg_locks \
                 WHERE locktype = 'advisory' AND objsubid = 2 AND mode = 'ExclusiveLock'"
            ),
            format!("12|{}|2", -34i32 as u32)
        );
        assert!(other.try_lock((12, -34)).await.unwrap().is_none());
        let int8 = other
            .try_lock(bits)
            .await
            .unwrap()
            .expect("a different lock");
        int8.release().await.unwrap();
        let mut guard = guard;
        assert!(guard.fencing_token().await.unwrap() > 0);
        guard.release().await.unwrap();
        let guard = other.lock(LockId::Int4Pair(12, -34)).await.unwrap();
        guard.release().await.unwrap();
        assert_eq!(advisory_locks(app), 0);
    });
}
