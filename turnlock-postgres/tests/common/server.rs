//! A throwaway PostgreSQL server: `initdb` into a temporary directory,
//! `pg_ctl start` on a free loopback port, stopped and removed on drop.
//!
//! Shared by the tests, the example and the benchmark (`#[path]`-included),
//! so it depends on `std` only.
//!
//! * Binaries: `$PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`,
//!   else `pg_config --bindir`, else `PATH`.
//! * As root, PostgreSQL refuses to run: the server then runs as the
//!   unprivileged user `nobody` (`runuser -u nobody`), and owns the
//!   temporary directory.
//! * The superuser is `postgres` with password `turnlock`, required over TCP
//!   (scram-sha-256), so wrong credentials can be tested.
//! * A reaper process (`sh`, in its own session) watches the process that
//!   started the server and stops the server if that process dies without
//!   doing so (a crash, `kill -9`, a watchdog abort): no server outlives
//!   its test run.
//! * [`TestServer::start_with`] can turn TLS on (`ssl = on`, with a CA, a
//!   server certificate for `localhost` and `127.0.0.1`, another CA and a
//!   client certificate, all made at start with the `openssl` command; the
//!   server's files owned by the server's user, its key mode 0600), and
//!   can make `pg_hba.conf` accept TCP sessions over TLS only (`hostssl`).

#![allow(dead_code, reason = "each user needs a different subset")]

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const USER: &str = "postgres";
pub const PASSWORD: &str = "turnlock";

pub struct TestServer {
    dir: PathBuf,
    bindir: PathBuf,
    run_as: Option<&'static str>,
    pub port: u16,
    stopped: bool,
    certs: Option<Certs>,
}

/// How a server is set up; `Setup::default()` is what [`TestServer::start`]
/// starts: plain text, password over TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup {
    /// `ssl = on`, with certificates made at start ([`Certs`]).
    pub tls: bool,
    /// TCP sessions over TLS only: `pg_hba.conf` has `hostssl` lines and no
    /// `host` or `hostnossl` line, so a plain-text session is refused.
    pub hostssl_only: bool,
}

/// The role that logs in with the client certificate (`cert`
/// authentication over TLS, no password).
pub const CERT_USER: &str = "certuser";

/// A TLS server's certificates, as the client sees them (PEM files).
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA that signed the server's certificate (and the client's).
    pub ca: PathBuf,
    /// Another CA, which signed nothing the server shows.
    pub other_ca: PathBuf,
    /// A client certificate for [`CERT_USER`], signed by `ca`.
    pub client_cert: PathBuf,
    /// Its key, mode 0600.
    pub client_key: PathBuf,
}

fn bindir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return Ok(dir.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "PostgreSQL server binaries not found: install `postgresql` or set PG_BINDIR",
    ))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn check(what: &str, out: Output) -> io::Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl TestServer {
    /// Creates, starts and waits for a new server.
    pub fn start() -> io::Result<TestServer> {
        Self::start_with(Setup::default())
    }

    /// Creates, starts and waits for a new server set up as `setup` says.
    pub fn start_with(setup: Setup) -> io::Result<TestServer> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let bindir = bindir()?;
        let run_as = is_root().then_some("nobody");
        let dir = std::env::temp_dir().join(format!(
            "turnlock-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = TestServer {
            dir,
            bindir,
            run_as,
            port,
            stopped: false,
            certs: None,
        };
        if let Some(user) = run_as {
            check(
                "chown",
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&server.dir)
                    .output()?,
            )?;
        }
        server.spawn_reaper()?;
        let pwfile = server.dir.join("pwfile");
        std::fs::write(&pwfile, PASSWORD)?;
        if let Some(user) = run_as {
            check(
                "chown",
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&pwfile)
                    .output()?,
            )?;
        }
        let data = server.data();
        check(
            "initdb",
            server
                .command("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    USER,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .args(["-E", "UTF8", "--locale=C", "--no-sync"])
                .output()?,
        )
        .inspect_err(|_| server.stopped = true)?;
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=32MB",
            server.dir.display()
        );
        if setup.tls {
            options.push_str(&server.make_certs()?);
        }
        server.write_hba(setup)?;
        let started = server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(server.dir.join("log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .output()?;
        if let Err(err) = check("pg_ctl start", started) {
            let log = std::fs::read_to_string(server.dir.join("log")).unwrap_or_default();
            return Err(io::Error::other(format!("{err}\nserver log:\n{log}")));
        }
        if setup.tls {
            server.psql(&format!("CREATE ROLE {CERT_USER} LOGIN"));
        }
        Ok(server)
    }

    /// The certificates of a server started with TLS.
    pub fn certs(&self) -> Option<&Certs> {
        self.certs.as_ref()
    }

    /// Makes the CAs and certificates with `openssl`, the server's owned by
    /// the server's user; returns the server options that use them.
    fn make_certs(&mut self) -> io::Result<String> {
        let tls = self.dir.join("tls");
        std::fs::create_dir_all(&tls)?;
        let openssl = |args: &[&str]| -> io::Result<()> {
            check(
                &format!("openssl {}", args.first().copied().unwrap_or_default()),
                Command::new("openssl")
                    .args(args)
                    .current_dir(&tls)
                    .stdin(Stdio::null())
                    .output()?,
            )
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        for (name, subject) in [
            ("ca", "/CN=turnlock test CA"),
            ("other_ca", "/CN=unrelated CA"),
        ] {
            let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
            let mut args = vec!["req", "-x509", "-new", "-noenc"];
            args.extend(ec);
            args.extend([
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "3",
                "-subj",
                subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(&args)?;
        }
        let leaves = [
            (
                "server",
                "/CN=localhost",
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "/CN=certuser", "extendedKeyUsage=clientAuth\n"),
        ];
        for (serial, (name, subject, extensions)) in leaves.into_iter().enumerate() {
            let ext = format!("{name}.ext");
            std::fs::write(
                tls.join(&ext),
                format!(
                    "{extensions}basicConstraints=critical,CA:FALSE\n\
                     keyUsage=critical,digitalSignature\n"
                ),
            )?;
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            let mut args = vec!["req", "-new", "-noenc"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
            openssl(&args)?;
            let serial = (serial + 2).to_string();
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-days",
                "3",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ])?;
        }
        // The server's copies, owned by the server's user; keys 0600.
        let server_crt = self.dir.join("server.crt");
        let server_key = self.dir.join("server.key");
        std::fs::copy(tls.join("server.crt"), &server_crt)?;
        std::fs::copy(tls.join("server.key"), &server_key)?;
        for key in [&server_key, &tls.join("client.key")] {
            check("chmod", Command::new("chmod").arg("600").arg(key).output()?)?;
        }
        if let Some(user) = self.run_as {
            check(
                "chown",
                Command::new("chown")
                    .arg(format!("{user}:"))
                    .arg(&server_crt)
                    .arg(&server_key)
                    .output()?,
            )?;
        }
        self.certs = Some(Certs {
            ca: tls.join("ca.crt"),
            other_ca: tls.join("other_ca.crt"),
            client_cert: tls.join("client.crt"),
            client_key: tls.join("client.key"),
        });
        Ok(format!(
            " -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}' -c ssl_ca_file='{}'",
            server_crt.display(),
            server_key.display(),
            tls.join("ca.crt").display()
        ))
    }

    /// `pg_hba.conf` for `setup`: local sessions trusted; over TCP, a
    /// password (scram-sha-256), or the client certificate for
    /// [`CERT_USER`] over TLS; over TLS only when `hostssl_only`.
    fn write_hba(&self, setup: Setup) -> io::Result<()> {
        if !setup.tls && !setup.hostssl_only {
            return Ok(());
        }
        let mut hba = String::from("local all all trust\n");
        if setup.tls {
            hba.push_str(&format!("hostssl all {CERT_USER} 127.0.0.1/32 cert\n"));
        }
        if setup.hostssl_only {
            hba.push_str("hostssl all all 127.0.0.1/32 scram-sha-256\n");
        } else {
            hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
        }
        // initdb made the file, owned by the server's user: rewriting it
        // keeps its owner.
        std::fs::write(self.data().join("pg_hba.conf"), hba)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bindir.join(program);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Starts the reaper: it stops the server once this process is gone.
    fn spawn_reaper(&self) -> io::Result<()> {
        let stop = format!(
            "{run_as}{pg_ctl} -D '{data}' -m immediate stop",
            run_as = self
                .run_as
                .map(|u| format!("runuser -u {u} -- "))
                .unwrap_or_default(),
            pg_ctl = self.bindir.join("pg_ctl").display(),
            data = self.data().display(),
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             [ -d '{data}' ] && {stop}; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(())
    }

    /// A libpq connection string for the superuser over TCP.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=postgres",
            self.port
        )
    }

    /// Runs one SQL statement with `psql` and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        psql_socket(&self.dir, self.port, sql)
    }

    /// Stops the server (fast) and removes its directory. Idempotent.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Runs one SQL statement with `psql` over the Unix socket in `dir` of the
/// server on `port` (local sessions are trusted: no password, no TLS), and
/// returns its unaligned output.
pub fn psql_socket(dir: &Path, port: u16, sql: &str) -> String {
    let out = Command::new(bindir().expect("PostgreSQL binaries").join("psql"))
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", USER])
        .arg("-h")
        .arg(dir)
        .args(["-p", &port.to_string(), "-d", "postgres", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
