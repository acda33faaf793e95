//! TLS (the `tls` feature) against real servers started here: one with
//! `ssl = on` that also takes plain-text sessions, one whose `pg_hba.conf`
//! takes TCP sessions over TLS only (`hostssl`). Each `sslmode` keeps
//! libpq's meaning; certificates are made at start (`tests/common/server.rs`);
//! every locking guarantee holds over TLS, cancel requests included.
//!
//! The cases that depend on libpq's default files (`~/.postgresql/root.crt`,
//! `postgresql.crt`, `postgresql.key`) or on their absence run in a child
//! process with a `HOME` of their own (the ignored test `home_case`).

#![cfg(feature = "tls")]

mod common;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use common::server::{CERT_USER, Certs, PASSWORD, Setup, TestServer, USER, psql_socket};
use common::{MARK, eventually, smol, with_timeout};
use turnlock_postgres::{Endpoint, Error, ErrorKind, Pool, Status};

/// A server of this binary: where it listens, where its socket and
/// certificates are.
#[derive(Debug, Clone)]
struct Server {
    port: u16,
    socket_dir: PathBuf,
    certs: Certs,
}

static SERVERS: OnceLock<Mutex<Vec<TestServer>>> = OnceLock::new();

extern "C" fn stop_servers() {
    if let Some(servers) = SERVERS.get() {
        for server in servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
        {
            server.stop();
        }
    }
}

fn start(setup: Setup) -> Server {
    let servers = SERVERS.get_or_init(|| {
        // SAFETY: `stop_servers` is a plain `extern "C" fn` with no arguments.
        assert_eq!(unsafe { libc::atexit(stop_servers) }, 0, "atexit");
        Mutex::new(Vec::new())
    });
    let server = TestServer::start_with(setup).expect("start a throwaway PostgreSQL server");
    let started = Server {
        port: server.port,
        socket_dir: server.dir().to_owned(),
        certs: server.certs().expect("a TLS server").clone(),
    };
    servers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(server);
    started
}

/// `ssl = on`; plain text accepted too.
fn tls_server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        start(Setup {
            tls: true,
            hostssl_only: false,
        })
    })
}

/// `ssl = on`; TCP sessions over TLS only.
fn hostssl_server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        start(Setup {
            tls: true,
            hostssl_only: true,
        })
    })
}

impl Server {
    /// The superuser over TCP to `localhost` at `127.0.0.1`, tagged with
    /// `application_name`; append `sslmode=...` and the rest.
    fn base(&self, app: &str) -> String {
        format!(
            "host=localhost hostaddr=127.0.0.1 port={} user={USER} password={PASSWORD} \
             dbname=postgres application_name={app}",
            self.port
        )
    }

    /// `verify-full` with the right CA.
    fn verified(&self, app: &str) -> String {
        format!(
            "{} sslmode=verify-full sslrootcert={}",
            self.base(app),
            self.certs.ca.display()
        )
    }

    fn psql(&self, sql: &str) -> String {
        psql_socket(&self.socket_dir, self.port, sql)
    }

    /// Whether backend `pid` runs over TLS.
    fn ssl(&self, pid: i32) -> bool {
        match self
            .psql(&format!("SELECT ssl FROM pg_stat_ssl WHERE pid = {pid}"))
            .as_str()
        {
            "t" => true,
            "f" => false,
            other => panic!("no backend {pid}: {other:?}"),
        }
    }

    /// Advisory locks held or awaited by sessions of `app`, not counting
    /// the mark every session of a pool holds.
    fn advisory_locks(&self, app: &str) -> usize {
        self.psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND a.application_name = '{app}' \
             AND NOT (l.objsubid = 2 AND l.classid = {MARK})"
        ))
        .parse()
        .expect("a count")
    }

    /// The pid of the backend waiting for advisory lock `key` (a small key).
    fn waiting_pid(&self, key: i64) -> Option<i32> {
        self.psql(&format!(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
             AND classid = 0 AND objid = {key} AND NOT granted"
        ))
        .lines()
        .next()
        .map(|pid| pid.parse().expect("a pid"))
    }

    fn state(&self, pid: i32) -> String {
        self.psql(&format!(
            "SELECT state FROM pg_stat_activity WHERE pid = {pid}"
        ))
    }
}

/// Takes and releases one key with `conn`; the backend's pid, or the error.
async fn lock_once(conn: &str, key: i64) -> Result<i32, Error> {
    let pool = Pool::builder(conn)
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let guard = pool.lock(key).await?;
    let pid = guard.backend_pid();
    guard.release().await?;
    Ok(pid)
}

/// Takes one key with `conn` and says whether the session runs over TLS.
async fn over_tls(server: &Server, conn: &str, key: i64) -> Result<bool, Error> {
    let pool = Pool::new(conn)?;
    let guard = pool.lock(key).await?;
    let tls = server.ssl(guard.backend_pid());
    guard.release().await?;
    Ok(tls)
}

fn assert_error(err: &Error, kind: ErrorKind, words: &[&str]) {
    assert_eq!(err.kind(), kind, "{err}");
    let text = err.to_string();
    for word in words {
        assert!(text.contains(word), "{word:?} not in: {text}");
    }
}

#[test]
fn verify_full_with_the_right_ca_and_host_name_succeeds() {
    let server = hostssl_server().clone();
    smol(60, async move {
        // The name from `host=`, the address from `hostaddr=`, and SCRAM
        // bound to the TLS channel (tls-server-end-point).
        let conn = format!("{} channel_binding=require", server.verified("tls_full"));
        assert!(over_tls(&server, &conn, 1).await.unwrap());
        // An address as the host: checked against the certificate's IP
        // address.
        let conn = format!(
            "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=postgres \
             sslmode=verify-full sslrootcert={}",
            server.port,
            server.certs.ca.display()
        );
        assert!(over_tls(&server, &conn, 2).await.unwrap());
        // The URL form, the root file's path percent-encoded.
        let url = format!(
            "postgresql://{USER}:{PASSWORD}@localhost:{}/postgres?hostaddr=127.0.0.1\
             &sslmode=verify-full&sslrootcert={}&channel_binding=require",
            server.port,
            server.certs.ca.display().to_string().replace('/', "%2F")
        );
        assert!(over_tls(&server, &url, 3).await.unwrap());
    });
}

#[test]
fn a_wrong_ca_fails_clearly() {
    let server = hostssl_server().clone();
    smol(60, async move {
        let other = server.certs.other_ca.display().to_string();
        for mode in ["verify-full", "verify-ca", "require", "prefer"] {
            let conn = format!(
                "{} sslmode={mode} sslrootcert={other}",
                server.base("tls_wrong_ca")
            );
            let err = lock_once(&conn, 1).await.unwrap_err();
            if mode == "prefer" {
                // TLS failed, so plain text was tried: this server refuses it.
                assert_error(&err, ErrorKind::Connect, &["no encryption"]);
                continue;
            }
            assert_error(
                &err,
                ErrorKind::Connect,
                &[
                    "could not open a session at 127.0.0.1",
                    "not signed by a trusted certificate authority",
                    &format!("sslmode={mode}"),
                    &other,
                ],
            );
        }
    });
}

#[test]
fn a_wrong_host_name_fails_under_verify_full_only() {
    let server = hostssl_server().clone();
    smol(60, async move {
        let conn = format!(
            "host=db.example hostaddr=127.0.0.1 port={} user={USER} password={PASSWORD} \
             dbname=postgres sslrootcert={}",
            server.port,
            server.certs.ca.display()
        );
        let err = lock_once(&format!("{conn} sslmode=verify-full"), 1)
            .await
            .unwrap_err();
        assert_error(
            &err,
            ErrorKind::Connect,
            &[
                "not valid for the host name",
                "db.example",
                "sslmode=verify-full",
            ],
        );
        // verify-ca checks the chain only.
        lock_once(&format!("{conn} sslmode=verify-ca"), 1)
            .await
            .unwrap();
    });
}

#[test]
fn a_hostssl_only_server_refuses_plain_text_and_the_other_modes_go_tls() {
    let server = hostssl_server().clone();
    smol(60, async move {
        let base = server.base("tls_hostssl");
        let err = lock_once(&format!("{base} sslmode=disable"), 1)
            .await
            .unwrap_err();
        assert_error(
            &err,
            ErrorKind::Connect,
            &["could not open a session", "pg_hba.conf", "no encryption"],
        );
        assert_eq!(err.sql_state(), Some("28000"), "{err}");
        let ca = server.certs.ca.display().to_string();
        // prefer: TLS offered and taken. allow: plain text refused, so TLS.
        for mode in ["prefer", "allow", "require", "verify-ca", "verify-full"] {
            let conn = format!("{base} sslmode={mode} sslrootcert={ca}");
            assert!(over_tls(&server, &conn, 1).await.unwrap(), "{mode}");
        }
    });
}

#[test]
fn a_server_that_takes_both_gets_what_each_mode_asks() {
    let server = tls_server().clone();
    smol(60, async move {
        let base = server.base("tls_both");
        let ca = server.certs.ca.display().to_string();
        let other = server.certs.other_ca.display().to_string();
        for (mode, root, tls) in [
            ("disable", &ca, false),
            // allow starts in plain text, and the server takes it.
            ("allow", &ca, false),
            ("prefer", &ca, true),
            // A certificate that fails the check: prefer goes on in plain
            // text, as libpq does.
            ("prefer", &other, false),
            ("require", &ca, true),
            ("verify-full", &ca, true),
        ] {
            let conn = format!("{base} sslmode={mode} sslrootcert={root}");
            assert_eq!(
                over_tls(&server, &conn, 1).await.unwrap(),
                tls,
                "{mode} {root}"
            );
        }
    });
}

#[test]
fn a_unix_socket_never_uses_tls_whatever_the_mode_asks() {
    // libpq's rule: TLS is for TCP only. Even on a server that takes TCP
    // sessions over TLS only, a session over its Unix socket is plain, and
    // `require` or `verify-full` does not refuse it.
    let server = hostssl_server().clone();
    smol(60, async move {
        let base = format!(
            "host={} port={} user={USER} dbname=postgres application_name=tls_unix",
            server.socket_dir.display(),
            server.port
        );
        for mode in ["require", "verify-full"] {
            let conn = format!(
                "{base} sslmode={mode} sslrootcert={}",
                server.certs.ca.display()
            );
            assert!(!over_tls(&server, &conn, 1).await.unwrap(), "{mode}");
        }
    });
}

#[test]
fn client_certificates() {
    let server = tls_server().clone();
    smol(60, async move {
        let certs = &server.certs;
        let conn = format!(
            "host=localhost hostaddr=127.0.0.1 port={} user={CERT_USER} dbname=postgres \
             sslmode=verify-full sslrootcert={}",
            server.port,
            certs.ca.display()
        );
        // `cert` authentication: no password, the certificate is the login.
        let with_cert = format!(
            "{conn} sslcert={} sslkey={}",
            certs.client_cert.display(),
            certs.client_key.display()
        );
        assert!(over_tls(&server, &with_cert, 1).await.unwrap());
        let err = lock_once(&conn, 1).await.unwrap_err();
        assert_error(&err, ErrorKind::Connect, &["certificate"]);
        // A key others may read is refused, as libpq refuses it.
        let dir = scratch("tls_client_key");
        let open_key = dir.join("open.key");
        std::fs::copy(&certs.client_key, &open_key).unwrap();
        chmod(&open_key, "644");
        let err = Pool::new(&format!(
            "{conn} sslcert={} sslkey={}",
            certs.client_cert.display(),
            open_key.display()
        ))
        .unwrap_err();
        assert_error(&err, ErrorKind::Config, &["may be read by others"]);
        // A key without its certificate, a certificate that is not there.
        let err = Pool::new(&format!("{conn} sslkey={}", certs.client_key.display())).unwrap_err();
        assert_error(&err, ErrorKind::Config, &["sslkey", "sslcert"]);
        let err = Pool::new(&format!("{conn} sslcert=/no/such.crt")).unwrap_err();
        assert_error(&err, ErrorKind::Config, &["/no/such.crt"]);
    });
}

#[test]
fn bad_tls_settings_are_config_errors_at_build() {
    let server = tls_server().clone();
    let base = server.base("tls_config");
    // libpq refuses the platform's roots with anything but verify-full.
    let err = Pool::new(&format!("{base} sslmode=require sslrootcert=system")).unwrap_err();
    assert_error(
        &err,
        ErrorKind::Config,
        &["sslrootcert=system", "verify-full"],
    );
    // Refused at build only by a platform without any trusted root.
    if let Err(err) = Pool::new(&format!("{base} sslmode=verify-full sslrootcert=system")) {
        assert_error(&err, ErrorKind::Config, &["platform"]);
    }
    // A root file that is not there, or holds no certificate.
    let err = Pool::new(&format!(
        "{base} sslmode=verify-full sslrootcert=/no/such.pem"
    ))
    .unwrap_err();
    assert_error(&err, ErrorKind::Config, &["/no/such.pem"]);
    let dir = scratch("tls_config");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = Pool::new(&format!(
        "{base} sslmode=require sslrootcert={}",
        empty.display()
    ))
    .unwrap_err();
    assert_error(&err, ErrorKind::Config, &["no certificate"]);
    // verify-full needs a name: `hostaddr=` alone gives none.
    let err = Pool::new(&format!(
        "hostaddr=127.0.0.1 port={} sslmode=verify-full sslrootcert={}",
        server.port,
        server.certs.ca.display()
    ))
    .unwrap_err();
    assert_error(&err, ErrorKind::Config, &["host name", "host="]);
    // tokio-postgres still refuses what it does not know.
    let err = Pool::new(&format!("{base} sslmode=require sslcrl=/crl.pem")).unwrap_err();
    assert_error(&err, ErrorKind::Config, &["unknown option"]);
}

/// A connector that records the first bytes each stream sends: what kind
/// of connection it opened, seen from outside TLS.
#[derive(Clone, Default)]
struct Recorder {
    heads: Arc<Mutex<Vec<Head>>>,
}

/// The first bytes one stream sent.
type Head = Arc<Mutex<Vec<u8>>>;

/// PostgreSQL's `SSLRequest` and `CancelRequest`: length, then code.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const PLAIN_CANCEL: [u8; 8] = [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e];

impl Recorder {
    fn install(&self, builder: turnlock_postgres::Builder) -> turnlock_postgres::Builder {
        let heads = self.heads.clone();
        builder.connector(move |endpoint| {
            let heads = heads.clone();
            async move {
                let Endpoint::Tcp { host, port } = endpoint else {
                    return Err(std::io::Error::other("TCP only"));
                };
                let stream = async_net::TcpStream::connect((host.as_str(), port)).await?;
                let head = Arc::new(Mutex::new(Vec::new()));
                heads.lock().unwrap().push(head.clone());
                Ok(Recorded { stream, head })
            }
        })
    }

    /// The first 8 bytes of every connection so far.
    fn heads(&self) -> Vec<Vec<u8>> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .map(|head| head.lock().unwrap().clone())
            .collect()
    }
}

struct Recorded {
    stream: async_net::TcpStream,
    head: Head,
}

impl futures_lite::AsyncRead for Recorded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl futures_lite::AsyncWrite for Recorded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            let mut head = self.head.lock().unwrap();
            let room = 8usize.saturating_sub(head.len());
            head.extend_from_slice(&buf[..n.min(room)]);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

#[test]
fn a_cancelled_wait_is_cancelled_over_tls() {
    let server = hostssl_server().clone();
    smol(60, async move {
        let recorder = Recorder::default();
        let app = "tls_cancel";
        let waiter = recorder
            .install(Pool::builder(&server.verified(app)).max_sessions(2))
            .build()
            .unwrap();
        let holder = Pool::new(&server.verified("tls_cancel_holder")).unwrap();
        let held = holder.lock(4101).await.unwrap();
        let wait = smol::spawn({
            let waiter = waiter.clone();
            async move { waiter.lock_timeout(4101, Duration::from_secs(30)).await }
        });
        eventually(10, "the waiter waits on the server", || {
            server.waiting_pid(4101).is_some()
        })
        .await;
        let pid = server.waiting_pid(4101).unwrap();
        drop(wait);
        // The cancel request reached the backend: its wait ended and the
        // session lives on, idle (a session whose cancel failed is closed
        // instead).
        eventually(10, "the wait is cancelled on the server", || {
            server.waiting_pid(4101).is_none()
        })
        .await;
        assert!(server.ssl(pid));
        eventually(10, "the session is idle again", || {
            server.state(pid) == "idle"
        })
        .await;
        eventually(10, "the pool is back to rest", || {
            let s = waiter.status();
            (s.waiting, s.busy, s.held, s.connecting) == (0, 0, 0, 0)
        })
        .await;
        // Every connection, sessions and cancel requests alike, began with
        // an SSLRequest; there was one more connection than sessions.
        let heads = recorder.heads();
        let sessions = waiter.status().sessions;
        assert!(
            heads.len() > sessions,
            "{} connections, {sessions} sessions",
            heads.len()
        );
        for head in &heads {
            assert_ne!(head.as_slice(), PLAIN_CANCEL, "a plain-text cancel request");
            assert_eq!(head.as_slice(), SSL_REQUEST, "{heads:?}");
        }
        held.release().await.unwrap();
        assert_eq!(server.advisory_locks(app), 0);
    });
}

#[test]
fn two_pools_exclude_each_other_over_tls() {
    let server = hostssl_server().clone();
    smol(120, async move {
        let a = Pool::builder(&server.verified("tls_excl_a"))
            .max_sessions(3)
            .build()
            .unwrap();
        let b = Pool::builder(&server.verified("tls_excl_b"))
            .max_sessions(3)
            .build()
            .unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let sections = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..12)
            .map(|task| {
                let pool = if task % 2 == 0 { a.clone() } else { b.clone() };
                let (inside, overlaps, sections) =
                    (inside.clone(), overlaps.clone(), sections.clone());
                smol::spawn(async move {
                    for _ in 0..10 {
                        let guard = pool.lock(4201).await.unwrap();
                        if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                            overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        for _ in 0..3 {
                            futures_lite::future::yield_now().await;
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                        sections.fetch_add(1, Ordering::SeqCst);
                        guard.release().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        assert_eq!(overlaps.load(Ordering::SeqCst), 0);
        assert_eq!(sections.load(Ordering::SeqCst), 120);
        eventually(10, "all released", || {
            server.advisory_locks("tls_excl_a") + server.advisory_locks("tls_excl_b") == 0
        })
        .await;
    });
}

#[test]
fn a_storm_of_cancellations_over_tls_leaves_nothing() {
    let server = hostssl_server().clone();
    let app = "tls_storm";
    smol(240, async move {
        let recorder = Recorder::default();
        let pool = recorder
            .install(Pool::builder(&server.verified(app)).max_sessions(5))
            .build()
            .unwrap();
        let holder = Pool::new(&server.verified("tls_storm_holder")).unwrap();
        // 4301 held throughout, 4302 comes and goes, 4303 is free.
        let held = holder.lock(4301).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flicker = smol::spawn({
            let holder = holder.clone();
            let stop = stop.clone();
            async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let guard = holder.lock(4302).await.unwrap();
                    async_io::Timer::after(Duration::from_micros(300 + n % 2000)).await;
                    guard.release().await.unwrap();
                    n += 977;
                }
            }
        });
        let tasks: Vec<_> = (0..10u64)
            .map(|task| {
                let pool = pool.clone();
                smol::spawn(async move {
                    let mut rng = task * 7919 + 1;
                    for _ in 0..15 {
                        rng = rng
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let key = 4301 + (rng >> 33) as i64 % 3;
                        let wait = Duration::from_micros((rng >> 20) % 15_000);
                        if rng % 2 == 0 {
                            match pool.lock_timeout(key, wait).await {
                                Ok(guard) => drop(guard),
                                Err(err) => assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}"),
                            }
                        } else {
                            let acquire = pool.lock(key);
                            let _ =
                                with_timeout(wait, async { acquire.await.ok().map(drop) }).await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
        stop.store(true, Ordering::SeqCst);
        flicker.await;
        held.release().await.unwrap();
        eventually(20, "every session back and idle", || {
            let s: Status = pool.status();
            (s.waiting, s.busy, s.held, s.keys, s.connecting) == (0, 0, 0, 0, 0)
        })
        .await;
        eventually(20, "no advisory lock of ours in pg_locks", || {
            server.advisory_locks(app) == 0
        })
        .await;
        for head in recorder.heads() {
            assert_eq!(head.as_slice(), SSL_REQUEST, "a connection outside TLS");
        }
        for key in 4301..=4303 {
            let guard = pool
                .lock_timeout(key, Duration::from_secs(5))
                .await
                .unwrap();
            guard.release().await.unwrap();
        }
    });
}

#[test]
fn a_terminated_session_over_tls_is_lost_and_replaced() {
    let server = hostssl_server().clone();
    smol(60, async move {
        let pool = Pool::new(&server.verified("tls_loss")).unwrap();
        let other = Pool::new(&server.verified("tls_loss_other")).unwrap();
        let guard = pool.lock(4401).await.unwrap();
        let lost = guard.lost();
        assert_eq!(
            server.psql(&format!(
                "SELECT pg_terminate_backend({})",
                guard.backend_pid()
            )),
            "t"
        );
        with_timeout(Duration::from_secs(10), lost)
            .await
            .expect("lost() completes");
        assert!(guard.is_lost());
        let taken = other
            .lock_timeout(4401, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            guard.release().await.unwrap_err().kind(),
            ErrorKind::SessionLost
        );
        taken.release().await.unwrap();
        let again = pool
            .lock_timeout(4401, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(server.ssl(again.backend_pid()));
        again.release().await.unwrap();
    });
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnlock-pg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chmod(path: &Path, mode: &str) {
    let status = Command::new("chmod").arg(mode).arg(path).status().unwrap();
    assert!(status.success());
}

/// Runs the child process for `case` with `home` as its `HOME`, and fails
/// with its output if it fails.
fn run_home_case(case: &str, home: &Path) {
    let tls = tls_server();
    let only = hostssl_server();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "home_case",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOME", home)
        .env("TURNLOCK_TLS_CASE", case)
        .env(
            "TURNLOCK_TLS_BOTH",
            format!("{}:{}", tls.port, tls.socket_dir.display()),
        )
        .env(
            "TURNLOCK_TLS_ONLY",
            format!("{}:{}", only.port, only.socket_dir.display()),
        )
        .env("TURNLOCK_TLS_CA", &tls.certs.ca)
        .env("TURNLOCK_TLS_OTHER_CA", &tls.certs.other_ca)
        .env(
            "TURNLOCK_TLS_CLIENT",
            format!(
                "{}:{}",
                tls.certs.client_cert.display(),
                tls.certs.client_key.display()
            ),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run the child process");
    let ran = String::from_utf8_lossy(&out.stdout).contains("1 passed");
    assert!(
        out.status.success() && ran,
        "case {case} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No `~/.postgresql` at all: `require` and `prefer` encrypt without
/// checking, `verify-full` checks against the platform's roots (which do
/// not know the test CA), `verify-ca` has nothing to check against.
#[test]
fn with_no_root_file() {
    let home = scratch("tls_home_none");
    run_home_case("none", &home);
}

/// `~/.postgresql/root.crt` of another CA: as in libpq, `require` then
/// checks the chain (and fails), and `prefer` goes on in plain text.
#[test]
fn with_a_default_root_file_of_another_ca() {
    let home = scratch("tls_home_other");
    let tls = tls_server();
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    std::fs::copy(&tls.certs.other_ca, home.join(".postgresql/root.crt")).unwrap();
    run_home_case("other", &home);
}

/// `~/.postgresql/root.crt` of the right CA, and a client certificate in
/// `postgresql.crt` / `postgresql.key`: `verify-ca` works with no
/// `sslrootcert`, and the certificate logs in with no `sslcert`.
#[test]
fn with_default_root_and_client_files() {
    let home = scratch("tls_home_right");
    let tls = tls_server();
    let dir = home.join(".postgresql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&tls.certs.ca, dir.join("root.crt")).unwrap();
    std::fs::copy(&tls.certs.client_cert, dir.join("postgresql.crt")).unwrap();
    std::fs::copy(&tls.certs.client_key, dir.join("postgresql.key")).unwrap();
    chmod(&dir.join("postgresql.key"), "600");
    run_home_case("right", &home);
}

/// The child side of the three tests above. Not a test of its own: it does
/// nothing unless started by one of them.
#[test]
#[ignore = "a child process started by the tests of default files"]
fn home_case() {
    let Ok(case) = std::env::var("TURNLOCK_TLS_CASE") else {
        return;
    };
    let server = |var: &str| {
        let value = std::env::var(var).unwrap();
        let (port, dir) = value.split_once(':').unwrap();
        let path = |var: &str| PathBuf::from(std::env::var(var).unwrap());
        let client = std::env::var("TURNLOCK_TLS_CLIENT").unwrap();
        let (cert, key) = client.split_once(':').unwrap();
        Server {
            port: port.parse().unwrap(),
            socket_dir: dir.into(),
            certs: Certs {
                ca: path("TURNLOCK_TLS_CA"),
                other_ca: path("TURNLOCK_TLS_OTHER_CA"),
                client_cert: cert.into(),
                client_key: key.into(),
            },
        }
    };
    let both = server("TURNLOCK_TLS_BOTH");
    let only = server("TURNLOCK_TLS_ONLY");
    smol(60, async move {
        match case.as_str() {
            "none" => {
                let base = only.base("tls_home_none");
                for mode in ["require", "prefer", "allow"] {
                    let conn = format!("{base} sslmode={mode}");
                    assert!(over_tls(&only, &conn, 1).await.unwrap(), "{mode}");
                }
                match lock_once(&format!("{base} sslmode=verify-full"), 1).await {
                    Ok(_) => panic!("the platform's roots trusted the test CA"),
                    // A platform store without any root is refused at build.
                    Err(err) if err.kind() == ErrorKind::Config => {
                        assert_error(&err, ErrorKind::Config, &["platform"]);
                    }
                    Err(err) => assert_error(
                        &err,
                        ErrorKind::Connect,
                        &["not signed by a trusted certificate authority", "platform"],
                    ),
                }
                let err = Pool::new(&format!("{base} sslmode=verify-ca")).unwrap_err();
                assert_error(&err, ErrorKind::Config, &["verify-ca", "sslrootcert"]);
            }
            "other" => {
                let err = lock_once(
                    &format!("{} sslmode=require", only.base("tls_home_other")),
                    1,
                )
                .await
                .unwrap_err();
                assert_error(
                    &err,
                    ErrorKind::Connect,
                    &["not signed by a trusted certificate authority", "root.crt"],
                );
                let conn = format!("{} sslmode=prefer", both.base("tls_home_other"));
                assert!(!over_tls(&both, &conn, 1).await.unwrap());
            }
            "right" => {
                // (The root file is the CA of `both`: each server has its own.)
                let conn = format!("{} sslmode=verify-ca", both.base("tls_home_right"));
                assert!(over_tls(&both, &conn, 1).await.unwrap());
                let conn = format!(
                    "host=localhost hostaddr=127.0.0.1 port={} user={CERT_USER} \
                     dbname=postgres sslmode=verify-full",
                    both.port
                );
                assert!(over_tls(&both, &conn, 1).await.unwrap());
            }
            other => panic!("unknown case {other}"),
        }
    });
}
