//! Acquisitions per second and database sessions used: turnlock-postgres
//! against the straightforward approach, one pooled connection per waiter
//! running `pg_advisory_lock` / `pg_advisory_unlock`.
//!
//! ```sh
//! cargo bench -p turnlock-postgres --bench throughput
//! TURNLOCK_BENCH_QUICK=1 cargo bench -p turnlock-postgres --bench throughput
//! ```
//!
//! Starts a throwaway PostgreSQL (see `tests/common/server.rs`). Two
//! "processes" contend for the keys: two pools (or two sets of naive
//! connections) in this one process, each with its own sessions and its own
//! local queue, as two replicas would have. Each runs 1 or 64 tasks that
//! lock a key, and release it at once, in a loop: on one hot key, or on a
//! key drawn from 1024. Criterion reports the time per acquisition (over
//! both processes); the table printed at the end gives acquisitions per
//! second and the sessions each approach opened (as counted by the server).

#[path = "../tests/common/server.rs"]
mod server;

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_io::{AsyncRead, AsyncWrite};
use tokio_postgres::{Client, NoTls};
use turnlock_postgres::Pool;

const MANY_KEYS: u64 = 1024;
const PROCESSES: usize = 2;

struct Results {
    rows: Vec<(String, f64, usize)>,
}

static RESULTS: Mutex<Results> = Mutex::new(Results { rows: Vec::new() });

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// A futures-io stream seen through tokio's I/O traits (for the naive
/// approach's plain tokio-postgres clients).
struct Compat(async_net::TcpStream);

impl tokio::io::AsyncRead for Compat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Compat {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

async fn naive_client(server: &server::TestServer, app: &str) -> Client {
    let stream = async_net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let config: tokio_postgres::Config = format!("{} application_name={app}", server.url())
        .parse()
        .unwrap();
    let (client, connection) = config.connect_raw(Compat(stream), NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn key_of(hot: bool, n: u64) -> i64 {
    if hot {
        7
    } else {
        1000 + (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as i64 % MANY_KEYS as i64
    }
}

/// Runs `iters` acquisitions in all, spread over the tasks; returns the
/// time taken.
async fn run_ours(pools: &[Pool], tasks: usize, hot: bool, iters: u64) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..PROCESSES * tasks)
        .map(|i| {
            let pool = pools[i % PROCESSES].clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= iters {
                        break;
                    }
                    let guard = pool.lock(key_of(hot, n)).await.unwrap();
                    drop(guard);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

async fn run_naive(clients: &[Arc<Client>], hot: bool, iters: u64) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let lock = client
                    .prepare("SELECT pg_advisory_lock($1::int8)")
                    .await
                    .unwrap();
                let unlock = client
                    .prepare("SELECT pg_advisory_unlock($1::int8)")
                    .await
                    .unwrap();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= iters {
                        break;
                    }
                    let key = key_of(hot, n);
                    client.execute(&lock, &[&key]).await.unwrap();
                    client.execute(&unlock, &[&key]).await.unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn backends(server: &server::TestServer, app: &str) -> usize {
    server
        .psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .parse()
        .unwrap()
}

fn bench(c: &mut Criterion, server: &server::TestServer) {
    let rt = runtime();
    for (hot, keys) in [(true, "1 hot key"), (false, "1024 keys")] {
        for tasks in [1usize, 64] {
            let name = format!("{keys}, {tasks} task(s) per process, {PROCESSES} processes");
            let mut group = c.benchmark_group(&name);
            group.throughput(Throughput::Elements(1));

            // turnlock-postgres: one pool per process.
            let app = format!("bench_ours_{}_{tasks}", u8::from(hot));
            let pools: Vec<Pool> = (0..PROCESSES)
                .map(|_| {
                    let runtime = runtime().handle().clone();
                    Pool::builder(&format!("{} application_name={app}", server.url()))
                        .spawner(move |future| {
                            runtime.spawn(future);
                        })
                        .build()
                        .unwrap()
                })
                .collect();
            let totals = Arc::new(Mutex::new((0u64, Duration::ZERO)));
            group.bench_function("turnlock-postgres", |b| {
                b.iter_custom(|iters| {
                    let elapsed = rt.block_on(run_ours(&pools, tasks, hot, iters));
                    let mut t = totals.lock().unwrap();
                    t.0 += iters;
                    t.1 += elapsed;
                    elapsed
                })
            });
            let (n, time) = *totals.lock().unwrap();
            let sessions = backends(server, &app);
            RESULTS.lock().unwrap().rows.push((
                format!("{name}: turnlock-postgres"),
                n as f64 / time.as_secs_f64(),
                sessions,
            ));
            drop(pools);

            // Naive: a connection per waiter, every one of them in the lock queue.
            let app = format!("bench_naive_{}_{tasks}", u8::from(hot));
            let clients: Vec<Arc<Client>> = rt.block_on(async {
                let mut clients = Vec::new();
                for _ in 0..PROCESSES * tasks {
                    clients.push(Arc::new(naive_client(server, &app).await));
                }
                clients
            });
            let totals = Arc::new(Mutex::new((0u64, Duration::ZERO)));
            group.bench_function("connection-per-waiter", |b| {
                b.iter_custom(|iters| {
                    let elapsed = rt.block_on(run_naive(&clients, hot, iters));
                    let mut t = totals.lock().unwrap();
                    t.0 += iters;
                    t.1 += elapsed;
                    elapsed
                })
            });
            let (n, time) = *totals.lock().unwrap();
            let sessions = backends(server, &app);
            RESULTS.lock().unwrap().rows.push((
                format!("{name}: connection-per-waiter"),
                n as f64 / time.as_secs_f64(),
                sessions,
            ));
            drop(clients);
            group.finish();
        }
    }
}

fn main() {
    let server = server::TestServer::start().expect("start a throwaway PostgreSQL");
    let quick = std::env::var_os("TURNLOCK_BENCH_QUICK").is_some();
    let mut criterion = Criterion::default().configure_from_args();
    criterion = if quick {
        criterion
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
    } else {
        criterion
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
    };
    bench(&mut criterion, &server);
    criterion.final_summary();

    let rows = &RESULTS.lock().unwrap().rows;
    println!("\n| scenario | approach | acquisitions/s | sessions | ratio (ours / naive) |");
    println!("|---|---|---|---|---|");
    for pair in rows.chunks(2) {
        let [
            (ours_name, ours, ours_sessions),
            (naive_name, naive, naive_sessions),
        ] = pair
        else {
            continue;
        };
        let scenario = ours_name.trim_end_matches(": turnlock-postgres");
        println!(
            "| {scenario} | turnlock-postgres | {ours:.0} | {ours_sessions} | {:.2}x |",
            ours / naive
        );
        let _ = naive_name;
        println!("| {scenario} | connection per waiter | {naive:.0} | {naive_sessions} | |");
    }
    drop(server);
}
