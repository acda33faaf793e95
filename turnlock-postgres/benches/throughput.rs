//! Time per acquisition and database sessions used: turnlock-postgres
//! (with its default sockets, and with tokio's through `Builder::connector`)
//! against what users pick instead: sqlx's `PgAdvisoryLock` on a `PgPool`,
//! and one connection per waiter running `pg_advisory_lock` /
//! `pg_advisory_unlock` (plain tokio-postgres on tokio's sockets).
//!
//! ```sh
//! cargo bench -p turnlock-postgres --bench throughput
//! TURNLOCK_BENCH_QUICK=1 cargo bench -p turnlock-postgres --bench throughput
//! ```
//!
//! Starts a throwaway PostgreSQL (see `tests/common/server.rs`). Two
//! "processes" contend for the keys: two pools (or two sets of connections)
//! in this one process, each with its own sessions and its own local queue,
//! as two replicas would have. Each runs 1 or 64 tasks that lock a key, and
//! release it at once, in a loop: on one hot key, or on a key drawn from
//! 1024. Criterion reports the time per acquisition (over both processes).
//! The approaches take turns, `TURNLOCK_BENCH_ROUNDS` rounds (default 3),
//! so that a change in the machine's load hits all of them alike. The
//! table printed at the end gives, per approach, the median of all rounds'
//! samples of the time per acquisition, half their interquartile range (as
//! a share of the median), the sessions it opened (as counted by the
//! server), and how many times longer each peer took than turnlock-postgres,
//! with the lowest and highest ratio of a single round.
//!
//! With one task a process on the hot key, the task takes the key again as
//! soon as it dropped its guard, before the release has gone out, and by
//! default turnlock-postgres hands the lock over locally (at most
//! `max_local_handoffs` times in a row, as to a waiting local caller). The
//! scenario "no local hand-offs" runs the same loop with
//! `max_local_handoffs(0)`: every release goes to the server and the
//! processes alternate strictly, as with the other approaches.
//!
//! A last scenario has only readers: 64 tasks a process taking the hot
//! key shared (`lock_shared`), against one connection per reader running
//! `pg_advisory_lock_shared` / `pg_advisory_unlock_shared` (sqlx's
//! `PgAdvisoryLock` has no shared form).
//!
//! The sqlx peer is used as its documentation suggests: one
//! `PgAdvisoryLock` per key, `acquire` on a connection taken from a
//! `PgPool` with sqlx's default options (at most 10 connections, like
//! turnlock-postgres' default `max_sessions`), `release_now` to release
//! eagerly, and the connection given back to the pool.

#[path = "../tests/common/server.rs"]
mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sqlx::postgres::{PgAdvisoryLock, PgAdvisoryLockKey, PgConnectOptions, PgPool, PgPoolOptions};
use tokio_postgres::{Client, NoTls};
use tokio_util::compat::TokioAsyncReadCompatExt;
use turnlock_postgres::{Endpoint, Pool};

const MANY_KEYS: u64 = 1024;
const HOT_KEY: i64 = 7;
const FIRST_KEY: i64 = 1000;
const PROCESSES: usize = 2;

/// The approaches, in the order of the table's columns.
const APPROACHES: [&str; 4] = [
    "turnlock-postgres",
    "turnlock-postgres-tokio-sockets",
    "sqlx-PgAdvisoryLock",
    "connection-per-waiter",
];

/// One approach in one scenario: the time per acquisition of each measured
/// sample, round by round, and the sessions the server saw.
struct Measured {
    rounds: Vec<Vec<Duration>>,
    sessions: usize,
}

impl Measured {
    fn all(&self) -> Vec<Duration> {
        self.rounds.concat()
    }
}

/// Scenario name and its approaches' figures, in `APPROACHES` order.
static RESULTS: Mutex<Vec<(String, Vec<Measured>)>> = Mutex::new(Vec::new());

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

async fn naive_client(server: &server::TestServer, app: &str) -> Client {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let config: tokio_postgres::Config = format!("{} application_name={app}", server.url())
        .parse()
        .unwrap();
    let (client, connection) = config.connect_raw(stream, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The `n`-th acquisition's key, as an index: 0 is the hot key, `1 + i`
/// the `i`-th of the many keys.
fn key_index(hot: bool, n: u64) -> usize {
    if hot {
        0
    } else {
        1 + ((n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) % MANY_KEYS) as usize
    }
}

fn key_at(index: usize) -> i64 {
    match index {
        0 => HOT_KEY,
        i => FIRST_KEY + i as i64 - 1,
    }
}

/// turnlock-postgres' local hand-offs in a scenario: the default, or none
/// (`max_local_handoffs(0)`: every release goes to the server, and the
/// processes alternate strictly, as the other approaches do).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handoffs {
    Default,
    None,
}

/// How the tasks of a scenario take their keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Exclusive,
    Shared,
}

/// Runs `iters` acquisitions in all, spread over the tasks; returns the
/// time taken.
async fn run_ours(pools: &[Pool], tasks: usize, hot: bool, access: Access, iters: u64) -> Duration {
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
                    let key = key_at(key_index(hot, n));
                    let guard = match access {
                        Access::Exclusive => pool.lock(key).await.unwrap(),
                        Access::Shared => pool.lock_shared(key).await.unwrap(),
                    };
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

/// sqlx: a connection from the process's `PgPool`, the key's
/// `PgAdvisoryLock` acquired on it, released with `release_now`, the
/// connection given back.
async fn run_sqlx(
    pools: &[PgPool],
    locks: &Arc<Vec<PgAdvisoryLock>>,
    tasks: usize,
    hot: bool,
    iters: u64,
) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..PROCESSES * tasks)
        .map(|i| {
            let pool = pools[i % PROCESSES].clone();
            let (locks, next) = (locks.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= iters {
                        break;
                    }
                    let lock = &locks[key_index(hot, n)];
                    let conn = pool.acquire().await.unwrap();
                    let guard = lock.acquire(conn).await.unwrap();
                    let conn = guard.release_now().await.unwrap();
                    drop(conn);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

async fn run_naive(clients: &[Arc<Client>], hot: bool, access: Access, iters: u64) -> Duration {
    let (lock, unlock) = match access {
        Access::Exclusive => (
            "SELECT pg_advisory_lock($1::int8)",
            "SELECT pg_advisory_unlock($1::int8)",
        ),
        Access::Shared => (
            "SELECT pg_advisory_lock_shared($1::int8)",
            "SELECT pg_advisory_unlock_shared($1::int8)",
        ),
    };
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let lock = client.prepare(lock).await.unwrap();
                let unlock = client.prepare(unlock).await.unwrap();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= iters {
                        break;
                    }
                    let key = key_at(key_index(hot, n));
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

/// Advisory locks on `key` held (`granted`) or awaited by sessions of `app`.
fn advisory_locks(server: &server::TestServer, app: &str, key: i64, granted: bool) -> usize {
    server
        .psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted = {granted} \
             AND l.classid = {} AND l.objid = {} AND a.application_name = '{app}'",
            (key >> 32) as u32,
            key as u32,
        ))
        .parse()
        .unwrap()
}

fn sqlx_pools(server: &server::TestServer, app: &str) -> Vec<PgPool> {
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(server.port)
        .username(server::USER)
        .password(server::PASSWORD)
        .database("postgres")
        .application_name(app);
    runtime().block_on(async {
        let mut pools = Vec::new();
        for _ in 0..PROCESSES {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect_with(options.clone())
                .await
                .unwrap();
            pools.push(pool);
        }
        pools
    })
}

/// The sqlx peer really excludes: while one process holds the hot key,
/// `pg_locks` shows it granted and the other process cannot take it; after
/// `release_now` nothing is left.
fn check_sqlx_excludes(server: &server::TestServer, pools: &[PgPool], lock: &PgAdvisoryLock) {
    let app = "bench_sqlx_check";
    let held = runtime().block_on(async {
        let conn = pools[0].acquire().await.unwrap();
        lock.acquire(conn).await.unwrap()
    });
    assert_eq!(advisory_locks(server, app, HOT_KEY, true), 1);
    let other = runtime().block_on(async {
        let conn = pools[1].acquire().await.unwrap();
        lock.try_acquire(conn).await.unwrap()
    });
    assert!(other.is_right(), "two sqlx holders of one key");
    runtime().block_on(async {
        // Inside the runtime: a connection given back to its pool spawns.
        drop(other);
        drop(held.release_now().await.unwrap());
    });
    assert_eq!(advisory_locks(server, app, HOT_KEY, true), 0);
}

/// Runs one approach under criterion and keeps its figures.
fn measure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    approach: &str,
    round: usize,
    mut routine: impl FnMut(u64) -> Duration,
) -> Vec<Duration> {
    let mut per_acquisition = Vec::new();
    let id = criterion::BenchmarkId::new(approach, format!("round {round}"));
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let elapsed = routine(iters);
            per_acquisition.push(elapsed / u32::try_from(iters.max(1)).unwrap_or(u32::MAX));
            elapsed
        })
    });
    per_acquisition
}

/// One turnlock-postgres pool per process, on the runtime's spawner, with
/// the crate's default sockets or (`tokio_sockets`) tokio's own, as the
/// docs of `Builder::connector` show.
fn our_pools(
    server: &server::TestServer,
    app: &str,
    tokio_sockets: bool,
    handoffs: Handoffs,
) -> Vec<Pool> {
    (0..PROCESSES)
        .map(|_| {
            let runtime = runtime().handle().clone();
            let builder = Pool::builder(&format!("{} application_name={app}", server.url()));
            let builder = match handoffs {
                Handoffs::Default => builder,
                Handoffs::None => builder.max_local_handoffs(0),
            };
            let builder = builder.spawner(move |future| {
                runtime.spawn(future);
            });
            let builder = if tokio_sockets {
                builder.connector(|endpoint| async move {
                    let Endpoint::Tcp { host, port } = endpoint else {
                        return Err(std::io::Error::other("TCP only"));
                    };
                    let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    Ok(stream.compat())
                })
            } else {
                builder
            };
            builder.build().unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion, server: &server::TestServer, samples: usize, rounds: usize) {
    let rt = runtime();
    let last = |mut all: Vec<Duration>| all.split_off(all.len().saturating_sub(samples));
    let all_keys: Vec<i64> = (0..=MANY_KEYS as usize).map(key_at).collect();
    let locks: Arc<Vec<PgAdvisoryLock>> = Arc::new(
        all_keys
            .iter()
            .map(|&key| PgAdvisoryLock::with_key(PgAdvisoryLockKey::BigInt(key)))
            .collect(),
    );
    let check = sqlx_pools(server, "bench_sqlx_check");
    check_sqlx_excludes(server, &check, &locks[0]);
    rt.block_on(async {
        for pool in check {
            pool.close().await;
        }
    });

    let scenarios = [
        (
            true,
            "1 hot key",
            1usize,
            Access::Exclusive,
            Handoffs::Default,
        ),
        (
            true,
            "1 hot key, no local hand-offs",
            1,
            Access::Exclusive,
            Handoffs::None,
        ),
        (true, "1 hot key", 64, Access::Exclusive, Handoffs::Default),
        (false, "1024 keys", 1, Access::Exclusive, Handoffs::Default),
        (false, "1024 keys", 64, Access::Exclusive, Handoffs::Default),
        (
            true,
            "1 hot key, read",
            64,
            Access::Shared,
            Handoffs::Default,
        ),
    ];
    for (hot, keys, tasks, access, handoffs) in scenarios {
        let scenario = format!("{keys}, {tasks} task(s) per process, {PROCESSES} processes");
        let label = format!(
            "{keys}, {tasks} task{} each",
            if tasks == 1 { "" } else { "s" }
        );
        let mut group = c.benchmark_group(&scenario);
        group.throughput(Throughput::Elements(1));

        // turnlock-postgres: one pool per process.
        let kind = if access == Access::Shared { "r" } else { "w" };
        let strict = if handoffs == Handoffs::None {
            "_strict"
        } else {
            ""
        };
        let ours_app = format!("bench_ours_{}_{tasks}_{kind}{strict}", u8::from(hot));
        let pools = our_pools(server, &ours_app, false, handoffs);
        // The same on tokio's own sockets.
        let tokio_app = format!("bench_tokio_{}_{tasks}_{kind}{strict}", u8::from(hot));
        let tokio_pools = our_pools(server, &tokio_app, true, handoffs);
        // sqlx: one `PgPool` per process.
        let sqlx_app = format!("bench_sqlx_{}_{tasks}{strict}", u8::from(hot));
        let sqlx = sqlx_pools(server, &sqlx_app);
        // A connection per waiter, every one of them in the lock queue.
        let naive_app = format!("bench_naive_{}_{tasks}_{kind}{strict}", u8::from(hot));
        let clients: Vec<Arc<Client>> = rt.block_on(async {
            let mut clients = Vec::new();
            for _ in 0..PROCESSES * tasks {
                clients.push(Arc::new(naive_client(server, &naive_app).await));
            }
            clients
        });

        // The approaches take turns, round after round, so that a
        // change in the machine's load hits all of them alike.
        let mut times: [Vec<Vec<Duration>>; 4] = Default::default();
        for round in 1..=rounds {
            let round = [
                measure(&mut group, APPROACHES[0], round, |iters| {
                    rt.block_on(run_ours(&pools, tasks, hot, access, iters))
                }),
                measure(&mut group, APPROACHES[1], round, |iters| {
                    rt.block_on(run_ours(&tokio_pools, tasks, hot, access, iters))
                }),
                // sqlx's `PgAdvisoryLock` has no shared form.
                if access == Access::Exclusive {
                    measure(&mut group, APPROACHES[2], round, |iters| {
                        rt.block_on(run_sqlx(&sqlx, &locks, tasks, hot, iters))
                    })
                } else {
                    Vec::new()
                },
                measure(&mut group, APPROACHES[3], round, |iters| {
                    rt.block_on(run_naive(&clients, hot, access, iters))
                }),
            ];
            for (all, measured) in times.iter_mut().zip(round) {
                all.push(last(measured));
            }
        }
        let sessions = [
            backends(server, &ours_app),
            backends(server, &tokio_app),
            backends(server, &sqlx_app),
            backends(server, &naive_app),
        ];
        let measured = times
            .into_iter()
            .zip(sessions)
            .map(|(rounds, sessions)| Measured { rounds, sessions })
            .collect();
        drop((pools, tokio_pools));
        rt.block_on(async {
            for pool in sqlx {
                pool.close().await;
            }
        });
        drop(clients);
        group.finish();
        RESULTS.lock().unwrap().push((label, measured));
    }
}

/// The median of `times` and half their interquartile range as a share of
/// the median.
fn median_and_spread(times: &[Duration]) -> (Duration, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let median = at(0.5);
    let spread = (at(0.75) - at(0.25)).as_secs_f64() / 2.0 / median.as_secs_f64();
    (median, spread)
}

fn format_time(time: Duration) -> String {
    let us = time.as_secs_f64() * 1e6;
    if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

fn print_table(results: &[(String, Vec<Measured>)]) {
    println!(
        "\n| scenario ({PROCESSES} processes) | turnlock-postgres | turnlock-postgres, tokio \
         sockets | sqlx `PgAdvisoryLock` | connection per waiter | sqlx / turnlock | per waiter \
         / turnlock | per waiter / turnlock on tokio sockets |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (scenario, measured) in results {
        if measured[0].all().is_empty() {
            continue; // left out by a filter on the command line
        }
        let cells: Vec<String> = measured
            .iter()
            .map(|m| {
                if m.all().is_empty() {
                    return "—".to_owned(); // no such approach here
                }
                let (median, spread) = median_and_spread(&m.all());
                format!(
                    "{} ±{:.0}%, {} sessions",
                    format_time(median),
                    spread * 100.0,
                    m.sessions
                )
            })
            .collect();
        // The ratio of all samples' medians, and its range over the rounds.
        let ratio = |peer: usize, base: usize| {
            if measured[peer].all().is_empty() {
                return "—".to_owned();
            }
            let of = |a: &[Duration], b: &[Duration]| {
                median_and_spread(a).0.as_secs_f64() / median_and_spread(b).0.as_secs_f64()
            };
            let overall = of(&measured[peer].all(), &measured[base].all());
            let per_round: Vec<f64> = measured[peer]
                .rounds
                .iter()
                .zip(&measured[base].rounds)
                .filter(|(p, o)| !p.is_empty() && !o.is_empty())
                .map(|(p, o)| of(p, o))
                .collect();
            let low = per_round.iter().copied().fold(f64::INFINITY, f64::min);
            let high = per_round.iter().copied().fold(0.0, f64::max);
            if per_round.len() < 2 {
                format_ratio(overall)
            } else {
                format!(
                    "{} ({}–{})",
                    format_ratio(overall),
                    format_ratio(low),
                    format_ratio(high)
                )
            }
        };
        println!(
            "| {scenario} | {} | {} | {} | {} | {} | {} | {} |",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            ratio(2, 0),
            ratio(3, 0),
            ratio(3, 1)
        );
    }
}

fn format_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.2}x")
    }
}

fn main() {
    let server = server::TestServer::start().expect("start a throwaway PostgreSQL");
    let quick = std::env::var_os("TURNLOCK_BENCH_QUICK").is_some();
    let samples = if quick { 10 } else { 20 };
    let rounds = std::env::var("TURNLOCK_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(3);
    let mut criterion = Criterion::default().configure_from_args();
    criterion = if quick {
        criterion
            .sample_size(samples)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
    } else {
        criterion
            .sample_size(samples)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    };
    bench(&mut criterion, &server, samples, rounds);
    criterion.final_summary();
    print_table(&RESULTS.lock().unwrap());
    drop(server);
}
