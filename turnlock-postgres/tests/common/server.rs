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
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=32MB",
            server.dir.display()
        );
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
        Ok(server)
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
        let out = Command::new(self.bindir.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                USER,
            ])
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
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

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}
