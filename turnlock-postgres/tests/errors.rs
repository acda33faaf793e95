//! Bad input gets a clear error, never a hang past the caller's deadline.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{backends, eventually, port, psql, smol, socket_dir, url};
use turnlock_postgres::{ErrorKind, Pool};

#[test]
fn an_unparsable_connection_string_is_a_config_error() {
    for bad in [
        "host=db port=nope",
        "postgresql://db:99999/x",
        "host='db",
        "nonsense",
        "sslmode=sometimes",
    ] {
        let err = Pool::new(bad).expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        let text = err.to_string();
        assert!(text.starts_with("invalid connection string: "), "{text}");
        assert_eq!(
            text.matches("invalid connection string").count(),
            1,
            "{text}"
        );
    }
    let err = Pool::new("host=db port=nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid connection string: invalid value for option `port`"
    );
    let err = Pool::builder("host=db")
        .max_sessions(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_refused_connection_is_a_connect_error_at_once_without_a_deadline() {
    let free = free_port(); // nobody listens there
    smol(30, async move {
        let pool = Pool::new(&format!("host=127.0.0.1 port={free} user=x")).unwrap();
        let started = Instant::now();
        let err = pool.lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{free}")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(pool.status().sessions + pool.status().connecting, 0);
        // `connect` says the same, at start-up.
        let err = pool.connect().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    });
}

#[test]
fn a_refused_connection_is_retried_until_the_deadline_which_says_why() {
    let free = free_port();
    smol(30, async move {
        let pool = Pool::new(&format!("host=127.0.0.1 port={free} user=x")).unwrap();
        let started = Instant::now();
        let err = pool
            .lock_timeout(1, Duration::from_millis(400))
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "timed out waiting for lock 1 after 400ms: no session could be opened: \
                 could not connect to 127.0.0.1:{free}: "
            )),
            "{text}"
        );
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    });
}

#[test]
fn a_deadline_rides_out_a_server_that_is_down_for_a_moment() {
    // A port that refuses connections at first, then forwards to the
    // server: as a restart looks from the client.
    let free = free_port();
    let server = port();
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let listener = TcpListener::bind(("127.0.0.1", free)).unwrap();
        opened_tx.send(()).unwrap();
        for client in listener.incoming() {
            let client = client.unwrap();
            let upstream = std::net::TcpStream::connect(("127.0.0.1", server)).unwrap();
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    let url = url("errors_restart").replace(&format!("port={server}"), &format!("port={free}"));
    smol(30, async move {
        let pool = Pool::new(&url).unwrap();
        let started = Instant::now();
        let guard = pool
            .lock_timeout(2, Duration::from_secs(20))
            .await
            .expect("the server came back within the deadline");
        // Connected only through the forwarder, which opened after 500 ms:
        // the attempts before were refused and tried again.
        assert!(opened_rx.try_recv().is_ok());
        assert!(started.elapsed() >= Duration::from_millis(500));
        guard.release().await.unwrap();
    });
}

/// The server's log from byte `from` on.
fn server_log_from(from: usize) -> String {
    let log = std::fs::read(socket_dir().join("log")).expect("the server's log");
    String::from_utf8_lossy(&log[from.min(log.len())..]).into_owned()
}

/// A role the server refuses at start-up with SQLSTATE 53300 ("too many
/// connections for role") until it is given connections: a transient
/// refusal, tried again until the deadline, which the acquisition rides
/// out once the role may connect.
#[test]
fn a_deadline_rides_out_a_role_that_has_too_many_connections() {
    const ROLE: &str = "errors_limited";
    let app = "errors_limited";
    psql(&format!(
        "CREATE ROLE {ROLE} LOGIN PASSWORD 'limited' CONNECTION LIMIT 0"
    ));
    let url = url(app).replace(
        "user=postgres password=turnlock",
        &format!("user={ROLE} password=limited"),
    );
    assert!(url.contains(ROLE), "{url}");
    let logged_before = std::fs::read(socket_dir().join("log"))
        .expect("the server's log")
        .len();
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let deadline = Duration::from_secs(20);
        let started = Instant::now();
        let acquire = smol::spawn({
            let pool = pool.clone();
            async move { pool.lock_timeout(3, deadline).await }
        });
        let refusal = format!("too many connections for role \"{ROLE}\"");
        eventually(15, "the server refused the role twice", || {
            server_log_from(logged_before).matches(&refusal).count() >= 2
        })
        .await;
        assert!(!acquire.is_finished(), "gave up after a transient refusal");
        assert_eq!(pool.status().sessions, 0);
        psql(&format!("ALTER ROLE {ROLE} CONNECTION LIMIT -1"));
        let allowed = Instant::now();
        let guard = acquire
            .await
            .expect("the role was let in within the deadline");
        // The pause between attempts grows to 1 s at most.
        assert!(
            allowed.elapsed() < Duration::from_secs(4),
            "locked {:?} after the role was let in",
            allowed.elapsed()
        );
        assert!(started.elapsed() < deadline);
        assert_eq!(
            psql(&format!(
                "SELECT usename FROM pg_stat_activity WHERE pid = {}",
                guard.backend_pid()
            )),
            ROLE
        );
        guard.release().await.unwrap();
        drop(pool);
        eventually(10, "the role's sessions closed", || backends(app) == 0).await;
    });
    psql(&format!("DROP ROLE {ROLE}"));
}

/// Start-up errors that will not go away by themselves end an acquisition
/// at once, whatever its deadline.
#[test]
fn a_lasting_start_up_error_fails_at_once_despite_a_deadline() {
    let wrong_password = url("errors_lasting").replace("password=turnlock", "password=wrong");
    let unknown_database = url("errors_lasting").replace("dbname=postgres", "dbname=no_such_db");
    smol(60, async move {
        let deadline = Duration::from_secs(20);
        for (url, state) in [(wrong_password, "28P01"), (unknown_database, "3D000")] {
            let pool = Pool::new(&url).unwrap();
            let started = Instant::now();
            let err = pool.lock_timeout(4, deadline).await.unwrap_err();
            let failed = started.elapsed();
            assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
            assert_eq!(err.sql_state(), Some(state), "{err}");
            assert!(
                failed < Duration::from_secs(3),
                "{state}: failed after {failed:?} of a {deadline:?} deadline"
            );
        }
    });
}

#[test]
fn a_missing_password_is_a_connect_error_that_says_so() {
    let url = url("errors_no_password").replace(" password=turnlock", "");
    smol(30, async move {
        let pool = Pool::new(&url).unwrap();
        let err = pool.connect().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(
            err.to_string()
                .ends_with(": the server asks for a password and the connection string gives none"),
            "{err}"
        );
        assert!(!err.to_string().contains("invalid configuration"), "{err}");
    });
}

#[test]
fn a_silent_server_never_holds_a_caller_past_its_deadline() {
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        for stream in listener.incoming() {
            kept.push(stream);
        }
    });
    smol(30, async move {
        let pool = Pool::new(&format!("host=127.0.0.1 port={silent} user=x")).unwrap();
        let started = Instant::now();
        let err = pool
            .lock_timeout(1, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Without a deadline of its own, the caller gets the connect timeout.
        let pool = Pool::builder(&format!("host=127.0.0.1 port={silent} user=x"))
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let started = Instant::now();
        let err = pool.lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("within 300ms"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // try_lock too.
        let err = pool.try_lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    });
}

#[test]
fn wrong_credentials_are_a_connect_error_with_the_servers_reason() {
    let port = port();
    smol(30, async move {
        let pool = Pool::new(&format!(
            "host=127.0.0.1 port={port} user=postgres password=wrong dbname=postgres"
        ))
        .unwrap();
        let err = pool
            .lock_timeout(1, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert_eq!(err.sql_state(), Some("28P01"), "{err}");
        assert!(
            err.to_string().contains("password authentication failed"),
            "{err}"
        );

        let pool = Pool::new(&format!(
            "host=127.0.0.1 port={port} user=nobody_here password=x dbname=postgres"
        ))
        .unwrap();
        let err = pool.lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    });
}

#[test]
fn an_unknown_database_is_a_connect_error() {
    let url = url("errors_db").replace("dbname=postgres", "dbname=no_such_db");
    smol(30, async move {
        let err = Pool::new(&url).unwrap().lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert_eq!(err.sql_state(), Some("3D000"), "{err}");
    });
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_the_tls_feature_a_connection_string_asking_for_tls_is_a_config_error() {
    for (conn, asked) in [
        ("host=db sslmode=require", "sslmode=require"),
        ("host=db sslmode=verify-ca", "sslmode=verify-ca"),
        (
            "postgresql://db/app?sslmode=verify-full",
            "sslmode=verify-full",
        ),
        ("host=db sslrootcert=/etc/ca.pem", "sslrootcert"),
        ("host=db sslcert=/c.pem sslkey=/k.pem", "sslcert, sslkey"),
    ] {
        let err = Pool::new(conn).expect_err(conn);
        assert_eq!(err.kind(), ErrorKind::Config, "{conn}");
        let text = err.to_string();
        assert!(text.contains("`tls` feature"), "{conn}: {text}");
        assert!(text.contains(asked), "{conn}: {text}");
        let err = Pool::builder(conn).build().expect_err(conn);
        assert_eq!(err.kind(), ErrorKind::Config, "{conn}");
    }
    // Plain text will do for these, as with a libpq built without SSL.
    for conn in [
        "host=db sslmode=prefer",
        "host=db sslmode=allow",
        "host=db sslmode=disable sslrootcert=/etc/ca.pem",
    ] {
        assert!(Pool::new(conn).is_ok(), "{conn}");
    }
    // A configuration made in code asking for TLS too.
    let mut config = tokio_postgres::Config::new();
    config
        .host("db")
        .ssl_mode(tokio_postgres::config::SslMode::Require);
    let err = Pool::with_config(config).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("`tls` feature"), "{err}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_the_tls_feature_prefer_connects_in_plain_text() {
    let url = format!("{} sslmode=prefer", url("errors_prefer"));
    smol(30, async move {
        let pool = Pool::new(&url).unwrap();
        let guard = pool.lock(1).await.unwrap();
        let ssl = common::psql(&format!(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = {}",
            guard.backend_pid()
        ));
        assert_eq!(ssl, "f");
        guard.release().await.unwrap();
    });
}

#[cfg(feature = "tls")]
#[test]
fn tls_required_by_a_server_without_tls_is_refused_clearly() {
    let url = format!("{} sslmode=require", url("errors_tls"));
    smol(30, async move {
        let err = Pool::new(&url).unwrap().lock(1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("does not support TLS"), "{err}");
    });
}
