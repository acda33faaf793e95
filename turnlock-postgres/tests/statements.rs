//! The advisory-lock statements: prepared once when a session opens, then
//! run by name, so the server does not parse and plan them on every call.
//!
//! The server of this test binary logs every statement it runs (with the
//! session's `application_name`); the test reads that log.

mod common;

use common::{eventually, psql, smol, socket_dir, url};
use turnlock_postgres::Pool;

#[test]
fn lock_statements_run_by_name_and_are_prepared_once_per_session() {
    psql("ALTER SYSTEM SET log_statement = 'all'");
    psql("ALTER SYSTEM SET log_line_prefix = '[%a] '");
    psql("SELECT pg_reload_conf()");
    let app = "statements_named";
    let url = url(app);
    smol(60, async move {
        eventually(10, "the new settings", || {
            psql("SHOW log_statement") == "all" && psql("SHOW log_line_prefix") == "[%a]"
        })
        .await;
        let pool = Pool::builder(&url).max_sessions(2).build().unwrap();
        for _ in 0..3 {
            pool.lock(7201).await.unwrap().release().await.unwrap();
            pool.lock((7, 7202)).await.unwrap().release().await.unwrap();
            let guard = pool.try_lock(7203).await.unwrap().expect("free");
            guard.release().await.unwrap();
        }
        assert_eq!(pool.status().sessions, 1);
    });
    let log = std::fs::read_to_string(socket_dir().join("log")).expect("the server's log");
    let ours: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with(&format!("[{app}] ")) && line.contains("pg_"))
        .filter(|line| line.contains("advisory"))
        // The checks of the session's mark (at open, and the heartbeat).
        .filter(|line| !line.contains("_shared("))
        .collect();
    let executed: Vec<&&str> = ours.iter().filter(|l| l.contains("execute ")).collect();
    // Each of the 3 rounds: lock + unlock of each form, try + unlock.
    assert_eq!(executed.len(), 18, "{ours:#?}");
    assert!(
        executed.iter().all(|line| !line.contains("<unnamed>")),
        "every call runs a prepared statement: {executed:#?}"
    );
    // The statements themselves: one name per function and form, each
    // used again and again.
    let mut names: Vec<&str> = executed
        .iter()
        .map(|line| {
            let after = &line[line.find("execute ").unwrap() + "execute ".len()..];
            &after[..after.find(':').unwrap()]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 5, "{names:?}");
}
