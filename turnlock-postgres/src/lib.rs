//! Keyed async locks across processes and machines, on PostgreSQL's
//! advisory locks.
//!
//! [`turnlock::KeyedLocks`] serialises work per key (per user, per account,
//! per file) inside one process. As soon as a service runs two replicas,
//! that protects nothing: each process has its own map. `turnlock-postgres`
//! gives the same keyed API with mutual exclusion across every process that
//! talks to one PostgreSQL database, using the database's session-level
//! advisory locks (`pg_advisory_lock`, `pg_try_advisory_lock`,
//! `pg_advisory_unlock`). PostgreSQL is the lock server; nothing else runs.
//!
//! ```no_run
//! use std::time::Duration;
//! use turnlock_postgres::Pool;
//!
//! # futures_lite::future::block_on(async {
//! let pool = Pool::builder("postgresql://app@db.internal/app")
//!     .namespace("billing")
//!     .build()?;
//!
//! // Exclusive across every replica, for as long as `guard` lives.
//! let mut guard = pool.lock_timeout("invoice:2024-17", Duration::from_secs(5)).await?;
//! let token = guard.fencing_token().await?; // for storage that refuses stale writers
//! // ... read, compute, write (passing `token`) ...
//! guard.release().await?; // Err if the lock was lost on the way
//! # let _ = token;
//! # Ok::<(), turnlock_postgres::Error>(())
//! # }).unwrap();
//! ```
//!
//! # `KeyedLocks` or `turnlock-postgres`?
//!
//! | | [`turnlock::KeyedLocks`] | `turnlock-postgres` |
//! |---|---|---|
//! | excludes | tasks and threads of one process | every process on the database, on any machine |
//! | cost of an uncontended lock + unlock | tens of nanoseconds, no allocation | two database round trips (one statement each way) |
//! | needs | nothing (`no_std` + `alloc`) | a PostgreSQL server, one connection per concurrently waiting key |
//! | can a held lock be lost? | no | yes: if the session dies, PostgreSQL frees the lock ([`Guard::lost`], fencing) |
//! | use it for | state inside one process | jobs, migrations, per-entity work in a service with replicas |
//!
//! Use `KeyedLocks` whenever one process is the only one touching the
//! resource, even inside a replicated service (a per-process cache, a
//! connection). Use `turnlock-postgres` when the resource is shared by
//! processes (rows, files on shared storage, an external API account) and
//! the processes already share a PostgreSQL database. If they do not,
//! a lock service is not worth adding for this alone.
//!
//! # How it works
//!
//! * **Local coalescing.** Every caller of a key in this process queues on
//!   the pool's [`KeyedRwLocks<LockId>`](turnlock::KeyedRwLocks) first,
//!   with the policy you choose ([`Builder::fifo`] or the default
//!   throughput policy): writers (exclusive holders) one at a time, readers
//!   (shared holders) together. Only the local holder talks to PostgreSQL.
//!   So a thousand local waiters on one key cost a session or two, not a
//!   thousand. When a writer lets go while another local caller waits for
//!   the key, the advisory lock is passed straight to it without a round
//!   trip, at most [`max_local_handoffs`](Builder::max_local_handoffs)
//!   times in a row (16 by default), then released so that other processes
//!   get their turn. A dropped guard's release goes out when the session's
//!   connection task next runs (on a shared executor thread, as soon as
//!   the dropping task yields); a local caller that asks for the key before
//!   then (often the same task, taking the key again at once) takes the
//!   lock over instead, counted as one of those hand-offs.
//!   [`Guard::release`] always sends the release at once. Local readers
//!   share one remote shared lock: the first takes it, up to
//!   `max_local_handoffs` more join it with no round trip, and it is given
//!   back when no local caller of the key is left to join it (see
//!   [`Pool::lock_shared`]).
//! * **Sessions.** A bounded pool ([`max_sessions`](Builder::max_sessions),
//!   10 by default) opened on demand. A lock lives in the session that took
//!   it, for as long as it is held. Sessions that hold locks are shared by
//!   any number of keys for short statements (try, release, fencing), which
//!   run pipelined. A key that must wait for another process's holder runs
//!   a blocking `pg_advisory_lock` on a session of its own that holds
//!   nothing, so no release ever queues behind a wait. One session always
//!   stays out of waits, so a key whose holder is in another process never
//!   holds up other keys; waiters beyond that poll with
//!   `pg_try_advisory_lock` (backing off to 100 ms).
//! * **Keys.** Integer keys are the advisory lock ids themselves, and
//!   `(i32, i32)` is PostgreSQL's two-key form ([`LockId`]), so other code
//!   can take the same locks by hand; string and byte keys (owned or
//!   borrowed) are hashed by a fixed, documented hash with an optional
//!   namespace ([`LockKey`], with test vectors and collision notes). A key
//!   is turned into its id when a method is called: the futures borrow the
//!   pool only.
//!
//! # Semantics
//!
//! * **Exclusion across processes**: never two holders of one key among all
//!   processes using the same database and key (and namespace); or, for
//!   [shared](Pool::lock_shared) holders, never a shared holder beside an
//!   exclusive one, while shared holders in any process hold the key
//!   together. A stream of readers in one process never starves a writer
//!   in another: once a remote shared lock has been joined
//!   `max_local_handoffs` times, the pool asks the server whether anyone
//!   waits for the key; if a writer does, new readers take another shared
//!   lock, which PostgreSQL queues behind that writer, and otherwise they
//!   keep joining the same one (one session a process for its readers).
//! * **Timeouts and cancellation leave nothing behind.** Every acquisition
//!   future can be dropped at any point; [`Pool::lock_timeout`] and
//!   [`Pool::lock_until`] are such drops on a schedule, and return at the
//!   deadline without waiting for the database. A server-side wait that is
//!   abandoned is cancelled in the background (a PostgreSQL cancel request,
//!   repeated until the statement ends), and if the lock was granted in the
//!   race it is released before the session is used again. The server
//!   acts on a cancel request before it closes the request's connection,
//!   and the crate waits for that close, so a request never lands on a later
//!   statement; a session whose request could not be seen through is closed
//!   instead of reused (closing a session releases all it held).
//! * **Losing a lock.** A session-level advisory lock lasts as long as its
//!   session. If the server terminates the session (`pg_terminate_backend`,
//!   a restart, an idle timeout) or the connection breaks, PostgreSQL
//!   releases the lock and another process may take it. The holder learns it
//!   from [`Guard::lost`] (a future) or [`Guard::is_lost`], and
//!   [`Guard::release`] reports [`ErrorKind::SessionLost`]. Later
//!   acquisitions open fresh sessions.
//! * **Loss is known in bounded time.** A connection can also go silent
//!   without closing: the server's machine or the network path vanishes,
//!   and TCP alone notices only after its keepalive (two hours by
//!   default). Every session beats ([`Builder::heartbeat`], every 5 s by
//!   default) and is declared lost when it stops answering, within three
//!   intervals; its server process is then ended with
//!   `pg_terminate_backend` from another session, so that its locks are
//!   free for others at once. A wait on the server is sent again every
//!   interval (`lock_timeout`), so waiters move to fresh sessions too.
//!
//!   The TCP settings of the connection string apply to the default
//!   connector's sockets as well: `keepalives` (`0` turns keepalives off),
//!   `keepalives_idle`, `keepalives_interval` (seconds), `keepalives_count`
//!   (libpq's name; tokio-postgres' `keepalives_retries` is taken too) and,
//!   on Linux, Android and Fuchsia, `tcp_user_timeout` (milliseconds, as in
//!   libpq). As in libpq, a key given twice counts once, with its last
//!   value.
//! * **A holder process that dies** frees its keys as soon as PostgreSQL
//!   sees its connection close: at once for a killed process on a live
//!   machine; for a vanished machine, when the server's own keepalive
//!   notices (set `tcp_keepalives_idle` or `client_connection_check_interval`
//!   on the server to bound that).
//! * **Fencing.** Because a lock can be lost while its holder is still
//!   working (a pause, a partition), writes it protects should carry a
//!   fencing token ([`Guard::fencing_token`]): a number that grows with
//!   every acquisition of the key, across all processes, so that storage
//!   can refuse a write from a holder that has been superseded (Martin
//!   Kleppmann, "How to do distributed locking", 2016).
//!
//!   ```no_run
//!   use std::collections::HashMap;
//!   use std::sync::Mutex;
//!
//!   /// Storage that remembers the highest token it has seen per record and
//!   /// refuses anything older: a holder that lost its lock (and whose
//!   /// successor has written since) cannot overwrite the successor's work.
//!   /// In SQL: `UPDATE reports SET body = $1, token = $2 WHERE id = $3 AND token < $2`.
//!   struct Storage(Mutex<HashMap<&'static str, (i64, String)>>);
//!
//!   impl Storage {
//!       fn write(&self, id: &'static str, token: i64, body: String) -> Result<(), &'static str> {
//!           let mut records = self.0.lock().unwrap();
//!           match records.get(id) {
//!               Some((seen, _)) if *seen >= token => Err("stale fencing token: the lock was lost"),
//!               _ => {
//!                   records.insert(id, (token, body));
//!                   Ok(())
//!               }
//!           }
//!       }
//!   }
//!
//!   # futures_lite::future::block_on(async {
//!   let pool = turnlock_postgres::Pool::new("host=localhost user=app")?;
//!   let storage = Storage(Mutex::new(HashMap::new()));
//!   let mut guard = pool.lock("report:7").await?;
//!   let token = guard.fencing_token().await?; // 1, 2, 3, ... per acquisition of the key
//!   let body = String::from("..."); // slow work; the lock may be lost meanwhile
//!   storage.write("report:7", token, body).expect("nobody wrote after us");
//!   guard.release().await?;
//!   # Ok::<(), turnlock_postgres::Error>(())
//!   # }).unwrap();
//!   ```
//!
//! * **Deadlines.** [`Pool::lock_timeout`] and [`Pool::lock_until`] never
//!   hold a caller past the deadline. `Duration::ZERO`, or a deadline that
//!   has passed by the first poll, means "only if it is free right now": one
//!   try. Until the deadline, a transient failure to open a session (the
//!   server restarting, refusing connections for a moment, or full) is
//!   tried again with a growing pause; the [`ErrorKind::TimedOut`] error
//!   then says what the caller was still waiting for ("no session could be
//!   opened: ...", "it is held elsewhere", ...).
//! * **Bad input** gives a clear [`Error`] of the right [`ErrorKind`], never
//!   a hang past the caller's deadline: a connection string that does not
//!   parse ([`ErrorKind::Config`], at [`Pool::new`]), an unreachable server
//!   or wrong credentials ([`ErrorKind::Connect`], within the connect
//!   timeout; at once for a caller without a deadline, and at
//!   [`Pool::connect`], which checks the settings at start-up).
//!
//! Limits: `max_sessions - 1` bounds how many keys wait on the server at
//! once (the rest poll, and are served in no particular order); the locks
//! of one session are lost together when it dies; PostgreSQL does not see
//! a deadlock between two sessions of one pool, so a caller that needs
//! several keys takes them with [`Pool::lock_many`] (all or none, in a
//! fixed order that every process shares) rather than one by one.
//!
//! # TLS
//!
//! The `tls` feature (off by default) adds TLS on rustls, with its `ring`
//! provider and no runtime:
//!
//! ```toml
//! turnlock-postgres = { version = "0.1", features = ["tls"] }
//! ```
//!
//! The connection string's `sslmode` then has libpq's meaning, in both
//! forms (`host=db sslmode=verify-full` and
//! `postgresql://db/app?sslmode=verify-full`):
//!
//! | `sslmode` | with the `tls` feature | without it |
//! |---|---|---|
//! | `disable` | plain text | plain text |
//! | `allow` | plain text; if the server refuses the session, again over TLS | plain text |
//! | `prefer` (the default) | TLS if the server offers it; plain text if it does not, or if the handshake or the session over TLS fails | plain text |
//! | `require` | TLS, the certificate not checked, unless a root file is present (`sslrootcert=<file>` or `~/.postgresql/root.crt`): then as `verify-ca` | [`ErrorKind::Config`] |
//! | `verify-ca` | TLS, the certificate chain checked against `sslrootcert=<file>` or `~/.postgresql/root.crt` (one is needed) | [`ErrorKind::Config`] |
//! | `verify-full` | as `verify-ca`, and the certificate must name the host; with no root file, the platform's trusted roots | [`ErrorKind::Config`] |
//!
//! Without the feature, the crate is a libpq built without SSL support:
//! `prefer` and `allow` connect in plain text, and a connection string that
//! asks for TLS (`require` or stronger, or a TLS file with any mode but
//! `disable`) fails at [`Pool::new`] or [`Builder::build`] with an error
//! that names the feature, never with a silent plain-text session.
//!
//! ```
//! use turnlock_postgres::{ErrorKind, Pool};
//!
//! match Pool::new("postgresql://app@db.internal/app?sslmode=require") {
//!     // Built with the `tls` feature: sessions go over TLS.
//!     Ok(pool) => drop(pool),
//!     // Without it: refused before anything is sent.
//!     Err(err) => {
//!         assert_eq!(err.kind(), ErrorKind::Config);
//!         assert!(err.to_string().contains("`tls` feature"), "{err}");
//!     }
//! }
//! ```
//!
//! * **The host name** checked by `verify-full` is the one of `host=`, also
//!   when `hostaddr=` gives the address (`verify-full` with `hostaddr=`
//!   alone is a configuration error, as in libpq); an IP address as the
//!   host is checked against the certificate's IP addresses.
//! * **Trusted roots**: `sslrootcert=<file>` (PEM), else
//!   `~/.postgresql/root.crt` when it exists, as libpq.
//!   `sslrootcert=system` is the platform's store, with `verify-full` only
//!   (libpq's rule: any public authority certifies *some* name, so only the
//!   name check makes it safe).
//! * **`verify-full` with no root file at all** uses the platform's trusted
//!   roots (read with `rustls-native-certs`: the system's certificate
//!   store), where libpq fails. The platform's store rather than a list
//!   bundled into the binary, because it follows the system's updates and
//!   the authorities an administrator adds (a company CA), and is what
//!   libpq's `sslrootcert=system` means. A server whose certificate comes
//!   from a private authority (Amazon RDS, many self-hosted servers) needs
//!   that authority's bundle in `sslrootcert`, as with libpq.
//!   `verify-ca` with no root file is a configuration error, as in libpq.
//! * **Client certificates**: `sslcert` and `sslkey` (PEM; the key
//!   unencrypted, readable by its owner only, as libpq requires), else
//!   `~/.postgresql/postgresql.crt` and `postgresql.key` when they exist.
//!   `sslpassword` is not supported.
//! * **Channel binding**: `channel_binding=require` works over TLS
//!   (`tls-server-end-point`), for server certificates signed with RSA or
//!   ECDSA over SHA-1 or SHA-2.
//! * Files are read once, when the pool is built; an unreadable one is an
//!   [`ErrorKind::Config`] error then. A file named in the connection
//!   string that does not exist is an error too (libpq would silently
//!   skip the check). Environment variables (`PGSSLMODE`, ...) are not
//!   read, as in tokio-postgres; `sslcrl`, `sslsni` and the other TLS keys
//!   of libpq are refused as unknown.
//! * Unix sockets never use TLS (libpq's rule). Cancel requests go the way
//!   their session went, TLS or not. A [custom connector](Builder::connector)
//!   still gets TLS: it runs over the stream the connector returns.
//! * A handshake that fails verification is an [`ErrorKind::Connect`] error
//!   that says what was wrong ("not signed by a trusted certificate
//!   authority", "not valid for the host name") and what was checked.
//!
//! # Runtimes: why tokio-postgres without a runtime, and a spawner
//!
//! The crate runs under smol, tokio, async-std or a plain `block_on`, like
//! `turnlock` itself. It uses `tokio-postgres`, the established async
//! client, **without its `runtime` feature**: `Config::connect_raw` speaks
//! the protocol over any stream, and the crate supplies one from `async-net`
//! (TCP or Unix socket, on `async-io`'s reactor, which runs beside any
//! executor; cancel requests open their socket the same way). Only tokio's
//! I/O *traits* are involved, never its runtime.
//!
//! A tokio-postgres connection is a future that must be polled all the
//! time, not only while a statement is awaited: it is what notices that the
//! server ended the session (for [`Guard::lost`]) while the holder is busy
//! elsewhere. Polling it from the guard's own futures would stop whenever
//! the holder is not awaiting one of them, and the work left behind by a
//! dropped future (cancelling a wait, releasing a lock on drop) needs a
//! task too. So the crate spawns: by default on one background thread of
//! its own (named `turnlock-postgres`, started on first use and shared by
//! all pools), which needs nothing from the application; or on your runtime
//! with [`Builder::spawner`] (a captured `tokio::runtime::Handle`,
//! `smol::spawn(..).detach()`), which saves that thread. A future your
//! spawner does not finish (it panicked, dropped it, or its runtime shut
//! down) is finished on the crate's thread instead.
//!
//! # Behind a connection pooler
//!
//! Session-level advisory locks belong to a server session. A pooler in
//! **session mode** (PgBouncer's `pool_mode = session`, the default) gives
//! each client connection a server session of its own for as long as it
//! is connected, and resets it afterwards (`server_reset_query = DISCARD
//! ALL`, which releases advisory locks): the pool works there exactly as
//! on a direct connection, cancellation included. A pooler in
//! **transaction or statement mode** hands each transaction to whichever
//! server session is free, so a lock taken by one client may be held by
//! the server session another client's next statement runs on, and
//! advisory locks exclude nothing. The pool refuses that setup with an
//! [`ErrorKind::Config`] error that says what to do: connect the pool to
//! the server directly (for example, a second connection string beside the
//! application's pooled one) or through a pool in session mode.
//!
//! How it knows: when a session opens, its server process takes a mark, a
//! shared advisory lock `(1953854062, n)` (the two-key form; the first key
//! is "turn" in ASCII, `n` random and unique among live sessions), in the
//! same transaction as a count of the advisory locks that process holds,
//! which must be just the mark; a second transaction checks that the
//! process still holds it. Every statement of the pool then runs only if
//! it lands on the process that holds its session's mark (an exclusive try
//! on the mark, which only that process passes), and otherwise does
//! nothing and fails; the heartbeat checks the mark too. So a statement
//! the pooler moves is never executed elsewhere, two sessions on one
//! server process are noticed when the second one opens, and a pooler that
//! resets server sessions after every transaction (PgBouncer's
//! `server_reset_query_always = 1`) is noticed at once: never a wrong
//! answer. A pool alone behind a transaction pooler that happens to keep
//! giving it the same server session works correctly until the pooler
//! moves one of its statements, and then fails with the error.
//!
//! Cancel requests go through the pooler like any connection; the crate
//! keeps its side of a cancel connection open until the other side closes
//! it, which PgBouncer needs to forward the request (PgBouncer 1.18, the
//! one Debian 12 ships, even exits when a client closes first). A process
//! that exits while a cancel request is in flight closes it first too, so
//! behind PgBouncer 1.18 await [`Pool::idle`] before exiting: it returns
//! once the cancels of timed-out or dropped waits (and the releases of
//! dropped guards) have gone through. A cancel the pooler drops is
//! harmless: a wait on the server ends by itself within one heartbeat
//! interval, and a session whose wait ended in an unknown state is closed,
//! which frees whatever it held.
//!
//! # Observing
//!
//! [`Pool::status`] counts sessions, waits and held locks. In the database,
//! the pool's locks are the rows of `pg_locks` with `locktype = 'advisory'`
//! whose `pid` is one of its sessions ([`Pool::backend_pids`];
//! `application_name` is `turnlock-postgres` unless the connection string
//! or [`Builder::application_name`] sets one); [`Pool::key_id`] gives a
//! key's id. Each session also holds its mark (see above): a `ShareLock`
//! with `objsubid = 2` and `classid = 1953854062`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod error;
mod guard;
mod key;
mod many;
mod pool;

pub use crate::conn::{Endpoint, Stream};
pub use crate::error::{Error, ErrorKind};
pub use crate::guard::{Guard, Lost};
pub use crate::key::{LockId, LockKey};
pub use crate::many::ManyGuard;
pub use crate::pool::{Builder, LockFuture, LockUntil, Pool, Status};
