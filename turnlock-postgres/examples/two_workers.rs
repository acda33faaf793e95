//! Two worker processes update the same three accounts, each from eight
//! tasks at once, with a read-modify-write that loses updates unless only
//! one task in both processes touches an account at a time.
//!
//! ```sh
//! cargo run -p turnlock-postgres --example two_workers
//! DATABASE_URL="host=db user=app password=... dbname=app" \
//!     cargo run -p turnlock-postgres --example two_workers
//! ```
//!
//! Without `DATABASE_URL` it starts a throwaway PostgreSQL server of its own
//! (`initdb` + `pg_ctl`, needs the server binaries) and removes it at the
//! end. The workers are this program started again with `--worker`; one
//! runs on smol, the other on tokio. The balances live in files, so the
//! only thing keeping the updates apart is the advisory lock.

#[path = "../tests/common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use turnlock_postgres::{Error, Pool};

const ACCOUNTS: [&str; 3] = ["account:alice", "account:bob", "account:carol"];
const TASKS: usize = 8;
const UPDATES: usize = 6;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        let (name, url, dir) = (&args[2], &args[3], PathBuf::from(&args[4]));
        let result = if name == "worker-a" {
            smol::block_on(worker(name, url, &dir))
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(worker(name, url, &dir))
        };
        if let Err(err) = result {
            eprintln!("{name}: {err}");
            std::process::exit(1);
        }
        return;
    }

    // A server: the one named by DATABASE_URL, or a throwaway one.
    let mut own_server = None;
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let server = server::TestServer::start().expect("start a throwaway PostgreSQL");
            println!(
                "started a throwaway PostgreSQL on 127.0.0.1:{}",
                server.port
            );
            let url = server.url();
            own_server = Some(server);
            url
        }
    };
    let dir = std::env::temp_dir().join(format!("turnlock-two-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let exe = std::env::current_exe().unwrap();
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .iter()
        .map(|name| {
            Command::new(&exe)
                .args(["--worker", name, &url])
                .arg(&dir)
                .spawn()
                .expect("start a worker")
        })
        .collect();
    let mut ok = true;
    for mut worker in workers {
        ok &= worker.wait().unwrap().success();
    }

    let mut total = 0;
    for account in ACCOUNTS {
        let (balance, token) = read(&dir.join(account));
        println!("{account}: {balance} updates, last fencing token {token}");
        total += balance;
    }
    let expected = 2 * TASKS * UPDATES;
    println!("total: {total} of {expected} updates (none lost)");
    let _ = std::fs::remove_dir_all(&dir);
    drop(own_server);
    if !ok || total != expected {
        eprintln!("lost updates or a failed worker");
        std::process::exit(1);
    }
}

/// Eight tasks, each making `UPDATES` read-modify-write updates, spread
/// over the accounts.
async fn worker(name: &str, url: &str, dir: &Path) -> Result<(), Error> {
    let pool = Pool::builder(url)
        .namespace("two-workers-example")
        .build()?;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (pool, dir) = (pool.clone(), dir.to_owned());
            async move {
                for update in 0..UPDATES {
                    let account = ACCOUNTS[(task + update) % ACCOUNTS.len()];
                    let mut guard = pool.lock_timeout(account, Duration::from_secs(30)).await?;
                    let token = guard.fencing_token().await?;
                    // Read, pause (a network call, say), write.
                    let path = dir.join(account);
                    let (balance, last) = read(&path);
                    assert!(token > last, "a stale holder: token {token} after {last}");
                    async_io::Timer::after(Duration::from_millis(1)).await;
                    std::fs::write(&path, format!("{} {token}", balance + 1)).unwrap();
                    guard.release().await?;
                }
                Ok::<(), Error>(())
            }
        })
        .collect();
    for result in join_all(tasks).await {
        result?;
    }
    println!(
        "{name} (pid {}): {} updates from {TASKS} tasks, {} database session(s) open",
        std::process::id(),
        TASKS * UPDATES,
        pool.status().sessions
    );
    Ok(())
}

/// Runs the futures concurrently on the current task.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(&mut outputs) {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *future = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// `(balance, last fencing token)` of an account file; `(0, 0)` if new.
fn read(path: &Path) -> (usize, i64) {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut parts = text.split(' ');
            let balance = parts.next().unwrap().parse().unwrap();
            let token = parts.next().unwrap().parse().unwrap();
            (balance, token)
        }
        Err(_) => (0, 0),
    }
}
