//! A session that dies (`pg_terminate_backend`): the guard says so, the lock
//! is free for others, and later acquisitions work on a fresh session.

mod common;

use std::time::Duration;

use common::{advisory_locks, eventually, lock_pid, psql, smol, url};
use turnlock_postgres::{ErrorKind, Pool};

fn terminate(pid: i32) {
    assert_eq!(psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
}

#[test]
fn a_terminated_holder_learns_it_and_the_key_moves_on() {
    let app = "loss_holder";
    let url_main = url(app);
    let url_other = url("loss_holder_other");
    smol(60, async move {
        let pool = Pool::new(&url_main).unwrap();
        let other = Pool::new(&url_other).unwrap();
        let mut guard = pool.lock(3001).await.unwrap();
        let token = guard.fencing_token().await.unwrap();
        let lost = guard.lost();
        assert!(!guard.is_lost());
        terminate(guard.backend_pid());
        // `lost` completes; the lock is gone from the server.
        common::with_timeout(Duration::from_secs(10), lost)
            .await
            .expect("lost() completes");
        assert!(guard.is_lost());
        let taken = other
            .lock_timeout(3001, Duration::from_secs(5))
            .await
            .unwrap();
        let mut taken = taken;
        assert!(
            taken.fencing_token().await.unwrap() > token,
            "the successor's token is larger"
        );
        // The old holder's release reports the loss, naming the lock and
        // the server process that had it.
        let pid = guard.backend_pid();
        let err = guard.release().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SessionLost);
        assert_eq!(
            err.to_string(),
            format!("the database session (backend {pid}) of lock 3001 was lost")
        );
        taken.release().await.unwrap();
        // The pool carries on with a fresh session.
        let again = pool
            .lock_timeout(3001, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!again.is_lost());
        again.release().await.unwrap();
        eventually(10, "all released", || {
            advisory_locks(app) == 0 && pool.status().is_idle()
        })
        .await;
    });
}

#[test]
fn a_lost_lock_refuses_a_fencing_token() {
    smol(60, async move {
        let pool = Pool::new(&url("loss_token")).unwrap();
        let mut guard = pool.lock(3002).await.unwrap();
        terminate(guard.backend_pid());
        guard.lost().await;
        let err = guard.fencing_token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SessionLost);
        drop(guard);
        let guard = pool
            .lock_timeout(3002, Duration::from_secs(5))
            .await
            .unwrap();
        guard.release().await.unwrap();
    });
}

#[test]
fn a_terminated_waiting_session_is_replaced() {
    let app = "loss_waiter";
    let url_main = url(app);
    let url_holder = url("loss_waiter_holder");
    smol(60, async move {
        let pool = Pool::new(&url_main).unwrap();
        let holder = Pool::new(&url_holder).unwrap();
        let held = holder.lock(3003).await.unwrap();
        let waiting = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock(3003).await }
        });
        eventually(10, "the waiter waits on the server", || {
            lock_pid(3003, false).is_some()
        })
        .await;
        let first = lock_pid(3003, false).unwrap();
        terminate(first);
        // The acquisition goes on, on another session.
        eventually(10, "a new session waits", || {
            lock_pid(3003, false).is_some_and(|pid| pid != first)
        })
        .await;
        held.release().await.unwrap();
        let guard = common::with_timeout(Duration::from_secs(10), waiting)
            .await
            .expect("granted after the release")
            .unwrap();
        assert_ne!(guard.backend_pid(), first);
        guard.release().await.unwrap();
        eventually(10, "all released", || advisory_locks(app) == 0).await;
    });
}

#[test]
fn every_session_terminated_at_once() {
    let app = "loss_all";
    let url_main = url(app);
    smol(60, async move {
        let pool = Pool::new(&url_main).unwrap();
        let mut guards = Vec::new();
        for key in 3010..3020 {
            guards.push(pool.lock(key).await.unwrap());
        }
        psql(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{app}'"
        ));
        for guard in guards {
            common::with_timeout(Duration::from_secs(10), guard.lost())
                .await
                .expect("lost");
            assert_eq!(
                guard.release().await.unwrap_err().kind(),
                ErrorKind::SessionLost
            );
        }
        eventually(10, "the dead sessions left the pool", || {
            pool.status().sessions == 0
        })
        .await;
        for key in 3010..3020 {
            let guard = pool
                .lock_timeout(key, Duration::from_secs(5))
                .await
                .unwrap();
            guard.release().await.unwrap();
        }
        eventually(10, "all released", || advisory_locks(app) == 0).await;
    });
}
