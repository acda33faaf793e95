//! A throwaway PgBouncer in front of the test server: the distribution's
//! `pgbouncer` binary, a configuration in a temporary directory, a free
//! loopback port; stopped on drop (and by a reaper process if the test
//! process dies first).

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{PASSWORD, USER};

pub struct Bouncer {
    dir: PathBuf,
    pub port: u16,
    child: Child,
}

fn binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PGBOUNCER") {
        return Ok(path.into());
    }
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join("pgbouncer");
        if path.exists() {
            return Ok(path);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "pgbouncer not found: install it (apt-get install pgbouncer) or set PGBOUNCER",
    ))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Bouncer {
    /// Starts PgBouncer with `pool_mode` (`session` or `transaction`) in
    /// front of the server on `server_port`, with at most `pool_size`
    /// server connections, and waits until it accepts connections.
    pub fn start(server_port: u16, pool_mode: &str, pool_size: usize) -> io::Result<Bouncer> {
        Bouncer::start_with(server_port, pool_mode, pool_size, "")
    }

    /// [`start`](Bouncer::start) with more `[pgbouncer]` settings (lines of
    /// `key = value`).
    pub fn start_with(
        server_port: u16,
        pool_mode: &str,
        pool_size: usize,
        settings: &str,
    ) -> io::Result<Bouncer> {
        let binary = binary()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir =
            std::env::temp_dir().join(format!("turnlock-pgbouncer-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("userlist.txt"),
            format!("\"{USER}\" \"{PASSWORD}\"\n"),
        )?;
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n\
                 postgres = host=127.0.0.1 port={server_port} dbname=postgres\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = plain\n\
                 auth_file = {dir}/userlist.txt\n\
                 pool_mode = {pool_mode}\n\
                 default_pool_size = {pool_size}\n\
                 max_client_conn = 500\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {dir}/pgbouncer.log\n\
                 pidfile = {dir}/pgbouncer.pid\n\
                 {settings}\n",
                dir = dir.display(),
            ),
        )?;
        let run_as = is_root().then_some("nobody");
        if let Some(user) = run_as {
            Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(&dir)
                .status()?;
        }
        let mut command = match run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        let child = command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut bouncer = Bouncer { dir, port, child };
        bouncer.spawn_reaper()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = bouncer.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "pgbouncer exited ({status}):\n{}",
                    bouncer.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "pgbouncer did not start:\n{}",
                    bouncer.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(bouncer)
    }

    /// Stops PgBouncer if the test process dies without doing so.
    fn spawn_reaper(&self) -> io::Result<()> {
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -9 {child} 2>/dev/null; \
             rm -rf '{dir}'",
            me = std::process::id(),
            child = self.child.id(),
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

    /// Whether the PgBouncer process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// A connection string through PgBouncer, tagged with `application_name`.
    pub fn url(&self, app: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={USER} password={PASSWORD} dbname=postgres \
             application_name={app}",
            self.port
        )
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
