//! Several OS processes on the same keys: the test binary runs itself again
//! as workers (the ignored test `worker`, selected by environment
//! variables) and checks a record the workers share on disk.

mod common;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{advisory_locks, smol, url};
use turnlock_postgres::Pool;

const KEYS: i64 = 3;
const FENCED_KEY: i64 = 0;

/// A child process killed when dropped (also when the test fails).
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(mode: &str, url: &str, dir: &Path, stdout: Stdio) -> Worker {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "worker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TURNLOCK_PG_WORKER", mode)
        .env("TURNLOCK_PG_URL", url)
        .env("TURNLOCK_PG_DIR", dir)
        // A worker that holds until told reads its stdin to the end, which
        // comes when the test drops the worker or closes the pipe.
        .stdin(Stdio::piped())
        .stdout(stdout)
        .spawn()
        .expect("spawn a worker process");
    Worker(child)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnlock-pg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The worker side. Not a test of its own: it does nothing unless started
/// by one of the tests below.
#[test]
#[ignore = "a worker process started by the other tests"]
fn worker() {
    let Ok(mode) = std::env::var("TURNLOCK_PG_WORKER") else {
        return;
    };
    // A worker never outlives the test that started it (say, after its
    // watchdog fired): it exits once its parent is gone.
    // SAFETY: `getppid` has no preconditions.
    let parent = unsafe { libc::getppid() };
    std::thread::spawn(move || {
        loop {
            // SAFETY: as above.
            if unsafe { libc::getppid() } != parent {
                std::process::exit(3);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let url = std::env::var("TURNLOCK_PG_URL").unwrap();
    let dir = PathBuf::from(std::env::var("TURNLOCK_PG_DIR").unwrap());
    match mode.as_str() {
        "hammer" => smol::block_on(hammer(&url, &dir)),
        "many" => smol::block_on(many(&url, &dir)),
        "hold" => smol::block_on(hold(&url)),
        "read" => smol::block_on(read(&url)),
        "write" => smol::block_on(write(&url)),
        other => panic!("unknown worker mode {other}"),
    }
}

/// Four local tasks, forty acquisitions each, over three keys, in every
/// acquisition style. Under the lock: claim the key's marker file (which
/// must not exist), append to the shared log, give the marker back.
async fn hammer(url: &str, dir: &Path) {
    let pool = Pool::builder(url).max_sessions(3).build().unwrap();
    let tasks: Vec<_> = (0..4u64)
        .map(|task| {
            let pool = pool.clone();
            let dir = dir.to_owned();
            smol::spawn(async move {
                let mut rng = u64::from(std::process::id()) * 31 + task + 1;
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mut done = 0;
                while done < 40 {
                    let key = (next() % KEYS as u64) as i64;
                    let guard = match next() % 3 {
                        0 => pool.lock(key).await.unwrap(),
                        1 => match pool
                            .lock_timeout(key, Duration::from_millis(next() % 20))
                            .await
                        {
                            Ok(guard) => guard,
                            Err(_) => continue,
                        },
                        _ => match pool.try_lock(key).await.unwrap() {
                            Some(guard) => guard,
                            None => continue,
                        },
                    };
                    let mut guard = guard;
                    let marker = dir.join(format!("{key}.holder"));
                    if OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&marker)
                        .is_err()
                    {
                        let mut violations = OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(dir.join("violations"))
                            .unwrap();
                        writeln!(violations, "two holders of key {key}").unwrap();
                    }
                    let token = if key == FENCED_KEY {
                        guard.fencing_token().await.unwrap()
                    } else {
                        0
                    };
                    let line = format!("{} {key} {token}\n", std::process::id());
                    let mut log = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("log"))
                        .unwrap();
                    log.write_all(line.as_bytes()).unwrap();
                    drop(log);
                    if next() % 2 == 0 {
                        async_io::Timer::after(Duration::from_micros(next() % 2000)).await;
                    }
                    std::fs::remove_file(&marker).unwrap();
                    if next() % 2 == 0 {
                        guard.release().await.unwrap();
                    } else {
                        drop(guard);
                    }
                    done += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    // The cancels of timed-out waits and the releases of dropped guards
    // finish before the process exits (PgBouncer 1.18 exits if a cancel
    // request is cut off halfway).
    pool.idle().await;
}

/// Three local tasks, fifteen `lock_many` calls each, over overlapping
/// sets of four keys named in random orders. Under the locks: claim every
/// key's marker file, which must not exist.
async fn many(url: &str, dir: &Path) {
    let pool = Pool::builder(url).max_sessions(4).build().unwrap();
    let tasks: Vec<_> = (0..3u64)
        .map(|task| {
            let pool = pool.clone();
            let dir = dir.to_owned();
            smol::spawn(async move {
                let mut rng = u64::from(std::process::id()) * 131 + task + 1;
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                for _ in 0..15 {
                    let mut keys: Vec<i64> = (100..104).collect();
                    keys.rotate_left((next() % 4) as usize);
                    keys.truncate(2 + (next() % 2) as usize);
                    if next() % 2 == 0 {
                        keys.reverse();
                    }
                    let held = pool.lock_many(keys.clone()).await.unwrap();
                    let markers: Vec<PathBuf> = keys
                        .iter()
                        .map(|key| dir.join(format!("{key}.holder")))
                        .collect();
                    for (key, marker) in keys.iter().zip(&markers) {
                        if OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(marker)
                            .is_err()
                        {
                            let mut violations = OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(dir.join("violations"))
                                .unwrap();
                            writeln!(violations, "two holders of key {key}").unwrap();
                        }
                    }
                    async_io::Timer::after(Duration::from_micros(next() % 2000)).await;
                    for marker in &markers {
                        let _ = std::fs::remove_file(marker);
                    }
                    held.release().await.unwrap();
                }
                let mut log = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("log"))
                    .unwrap();
                writeln!(log, "{} done", std::process::id()).unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

/// Takes key 78 shared, says so on stdout, and waits to be killed.
async fn read(url: &str) {
    let pool = Pool::new(url).unwrap();
    let guard = pool.lock_shared(78).await.unwrap();
    println!("\nreading {}", guard.backend_pid());
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

/// Takes key 78 exclusively, says so on stdout, holds it until its stdin
/// ends, then releases it and ends.
async fn write(url: &str) {
    let pool = Pool::new(url).unwrap();
    println!("\nwaiting");
    std::io::stdout().flush().unwrap();
    let guard = pool.lock(78).await.unwrap();
    println!("\nwriting {}", guard.backend_pid());
    std::io::stdout().flush().unwrap();
    // The pool's connections run on the crate's own thread, so blocking
    // this one holds the key without stalling the session.
    std::io::copy(&mut std::io::stdin(), &mut std::io::sink()).unwrap();
    guard.release().await.unwrap();
}

/// Reads `worker`'s stdout until a line containing `what`; the line.
fn wait_for_line(stdout: &mut impl BufRead, what: &str) -> String {
    let mut line = String::new();
    // The harness prints "test worker ... " without a newline first.
    while !line.contains(what) {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "the worker ended early"
        );
    }
    line
}

/// Takes key 77, says so on stdout, and waits to be killed.
async fn hold(url: &str) {
    let pool = Pool::new(url).unwrap();
    let guard = pool.lock(77).await.unwrap();
    println!("\nheld {}", guard.backend_pid());
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

#[test]
fn processes_never_hold_a_key_together() {
    let app = "processes_hammer";
    hammer_in_processes(url(app), scratch("hammer"), Duration::ZERO, move || {
        advisory_locks(app)
    });
}

#[test]
fn processes_never_hold_a_key_together_behind_pgbouncer() {
    // The same four processes, each pool through Debian's PgBouncer in
    // session mode: exclusion, fencing and the cancel requests of timed-out
    // waits all go through the pooler.
    let app = "processes_hammer_bouncer";
    let mut bouncer =
        common::pgbouncer::Bouncer::start(common::port(), "session", 20).expect("start PgBouncer");
    let url = bouncer.url(app);
    let outcome = std::panic::catch_unwind(|| {
        // PgBouncer resets a server session (`DISCARD ALL`) after its
        // client leaves, which is when a worker's last session lets its
        // locks go: the check that none is left waits up to 10 s.
        hammer_in_processes(
            url,
            scratch("hammer_bouncer"),
            Duration::from_secs(10),
            move || advisory_locks(app),
        );
    });
    let running = bouncer.is_running();
    let log = bouncer.log();
    assert!(
        !log.contains("FATAL"),
        "PgBouncer reported a fatal error:\n{log}"
    );
    if let Err(panic) = outcome {
        eprintln!("PgBouncer running: {running}; its log:\n{log}");
        std::panic::resume_unwind(panic);
    }
    assert!(running, "PgBouncer stopped:\n{log}");
    drop(bouncer);
}

#[cfg(feature = "tls")]
#[test]
fn processes_never_hold_a_key_together_over_tls() {
    // The same four processes against a server that takes TCP sessions
    // over TLS only (a session that got in ran over TLS), each verifying
    // the server's certificate and host name.
    use common::server::{PASSWORD, Setup, TestServer, USER, psql_socket};
    let app = "processes_hammer_tls";
    let server = TestServer::start_with(Setup {
        tls: true,
        hostssl_only: true,
    })
    .expect("start a throwaway PostgreSQL server with TLS");
    let url = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user={USER} password={PASSWORD} \
         dbname=postgres application_name={app} sslmode=verify-full sslrootcert={}",
        server.port,
        server.certs().expect("a TLS server").ca.display()
    );
    let (socket_dir, port) = (server.dir().to_owned(), server.port);
    hammer_in_processes(url, scratch("hammer_tls"), Duration::ZERO, move || {
        psql_socket(
            &socket_dir,
            port,
            &format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND a.application_name = '{app}' \
                 AND NOT (l.objsubid = 2 AND l.classid = {})",
                common::MARK
            ),
        )
        .parse()
        .expect("a count")
    });
    drop(server);
}

/// Four `hammer` workers on `url`; then checks that no two held a key at
/// once, the log and the fencing tokens, and that `locks_left` (the
/// workers' advisory locks on the server) comes to 0 within `settle`.
fn hammer_in_processes(
    url: String,
    dir: PathBuf,
    settle: Duration,
    locks_left: impl Fn() -> usize + Send + 'static,
) {
    common::with_watchdog(180, move || {
        let workers: Vec<_> = (0..4)
            .map(|_| spawn_worker("hammer", &url, &dir, Stdio::null()))
            .collect();
        for mut worker in workers {
            let status = worker.0.wait().unwrap();
            assert!(status.success(), "a worker failed: {status}");
        }
        assert!(
            !dir.join("violations").exists(),
            "{}",
            std::fs::read_to_string(dir.join("violations")).unwrap()
        );
        let log = std::fs::read_to_string(dir.join("log")).unwrap();
        let lines: Vec<Vec<i64>> = log
            .lines()
            .map(|line| line.split(' ').map(|n| n.parse().unwrap()).collect())
            .collect();
        assert_eq!(lines.len(), 4 * 4 * 40, "every acquisition logged once");
        let pids: std::collections::HashSet<i64> = lines.iter().map(|l| l[0]).collect();
        assert_eq!(pids.len(), 4, "all four processes took part");
        // Fencing: every acquisition of the fenced key, in the order they
        // held it (the log is appended under the lock), has a larger token.
        let tokens: Vec<i64> = lines
            .iter()
            .filter(|l| l[1] == FENCED_KEY)
            .map(|l| l[2])
            .collect();
        assert!(
            tokens.len() > 10,
            "{} acquisitions of the fenced key",
            tokens.len()
        );
        assert!(
            tokens.windows(2).all(|w| w[0] < w[1]),
            "tokens not increasing: {tokens:?}"
        );
        let by_process = |pid: i64| {
            lines
                .iter()
                .filter(|l| l[0] == pid && l[1] == FENCED_KEY)
                .count()
        };
        assert!(
            pids.iter().filter(|&&pid| by_process(pid) > 0).count() >= 2,
            "the fenced key crossed processes"
        );
        let settled = Instant::now() + settle;
        while locks_left() != 0 && Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(locks_left(), 0, "the workers left no lock behind");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_killed_holder_process_frees_its_key() {
    let app = "processes_kill";
    let url = url(app);
    let dir = scratch("kill");
    smol(120, async move {
        let mut worker = spawn_worker("hold", &url, &dir, Stdio::piped());
        let mut stdout = BufReader::new(worker.0.stdout.take().unwrap());
        let mut line = String::new();
        // The harness prints "test worker ... " without a newline first.
        while !line.contains("held ") {
            line.clear();
            assert_ne!(
                stdout.read_line(&mut line).unwrap(),
                0,
                "the worker ended early"
            );
        }
        let pool = Pool::new(&url).unwrap();
        assert!(
            pool.try_lock(77).await.unwrap().is_none(),
            "held by the worker"
        );
        // SIGKILL: the worker gets no chance to release anything.
        worker.0.kill().unwrap();
        worker.0.wait().unwrap();
        let killed = Instant::now();
        let guard = pool
            .lock_timeout(77, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "freed after {:?}",
            killed.elapsed()
        );
        guard.release().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn processes_taking_overlapping_sets_never_deadlock_nor_overlap() {
    let app = "processes_many";
    let url = url(app);
    let dir = scratch("many");
    let workers: Vec<Worker> = (0..3)
        .map(|_| spawn_worker("many", &url, &dir, Stdio::null()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    for mut worker in workers {
        loop {
            if let Some(status) = worker.0.try_wait().unwrap() {
                assert!(status.success(), "a worker failed: {status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "deadlock: a worker did not finish"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let violations = std::fs::read_to_string(dir.join("violations")).unwrap_or_default();
    assert!(violations.is_empty(), "{violations}");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(
        log.lines().count(),
        9,
        "every task of every worker finished"
    );
    smol(30, async move {
        common::eventually(10, "nothing left", || advisory_locks(app) == 0).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readers_in_two_processes_share_a_key_and_a_writer_in_a_third_waits_for_both_then_excludes_readers()
 {
    let app = "processes_shared";
    let url = url(app);
    let dir = scratch("shared");
    let granted = |mode: &str| -> usize {
        common::psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.objid = 78 \
             AND a.application_name = '{app}' AND l.mode = '{mode}' AND l.granted"
        ))
        .parse()
        .unwrap()
    };
    let mut readers: Vec<Worker> = (0..2)
        .map(|_| spawn_worker("read", &url, &dir, Stdio::piped()))
        .collect();
    let mut pids = Vec::new();
    for reader in &mut readers {
        let mut stdout = BufReader::new(reader.0.stdout.take().unwrap());
        let line = wait_for_line(&mut stdout, "reading ");
        pids.push(line.trim().trim_start_matches("reading ").to_owned());
    }
    assert_ne!(pids[0], pids[1], "two processes, two sessions");
    assert_eq!(granted("ShareLock"), 2, "both readers hold it at once");
    let mut writer = spawn_worker("write", &url, &dir, Stdio::piped());
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let mut stdout = BufReader::new(writer.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        let _ = lines_tx.send(wait_for_line(&mut stdout, "waiting"));
        let _ = lines_tx.send(wait_for_line(&mut stdout, "writing "));
        // Read on to the end, so that the worker's last words find a reader.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    lines_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    smol(60, async move {
        common::eventually(20, "the writer waits on the server", || {
            common::psql(&format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.objid = 78 \
                 AND a.application_name = '{app}' AND NOT l.granted"
            )) == "1"
        })
        .await;
    });
    // One reader gone: the writer still waits for the other.
    readers.remove(0);
    assert!(
        lines_rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "a writer beside a reader"
    );
    assert_eq!(granted("ShareLock"), 1);
    assert_eq!(granted("ExclusiveLock"), 0);
    // Both gone: the writer goes.
    readers.clear();
    lines_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the writer got the key");
    assert_eq!(granted("ExclusiveLock"), 1, "the writer holds the key");
    // While it holds the key, a reader in a fourth process waits on the
    // server instead of joining it.
    let mut late = spawn_worker("read", &url, &dir, Stdio::piped());
    let (read_tx, read_rx) = std::sync::mpsc::channel();
    let mut late_out = BufReader::new(late.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        let _ = read_tx.send(wait_for_line(&mut late_out, "reading "));
    });
    smol(60, async move {
        common::eventually(20, "the late reader waits on the server", || {
            common::psql(&format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.objid = 78 AND l.mode = 'ShareLock' \
                 AND a.application_name = '{app}' AND NOT l.granted"
            )) == "1"
        })
        .await;
    });
    assert!(read_rx.try_recv().is_err(), "a reader beside a writer");
    assert_eq!(granted("ShareLock"), 0);
    // The writer lets go (its stdin ends) and exits; the reader goes.
    drop(writer.0.stdin.take());
    assert!(writer.0.wait().unwrap().success());
    read_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the late reader got the key");
    assert_eq!(granted("ShareLock"), 1);
    drop(late);
    let _ = std::fs::remove_dir_all(&dir);
}
