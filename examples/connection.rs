//! The use turnlock's TypeScript counterpart was made for: one operation at a
//! time on a database connection, in call order, and a timeout that turns
//! the classic self-deadlock (a query on the outer connection from inside
//! its own transaction) into an error instead of a silent hang.
//!
//! Run it with `cargo run --example connection`.

use std::time::Duration;

use futures_lite::future;
use turnlock::{Guard, Lock, TimedOut};

/// A pretend database session: it runs one statement at a time.
struct Session {
    log: Vec<String>,
}

impl Session {
    async fn execute(&mut self, sql: &str) -> usize {
        smol::Timer::after(Duration::from_millis(5)).await; // the round trip
        self.log.push(sql.to_string());
        println!("   executed: {sql}");
        self.log.len()
    }
}

/// A connection: every operation takes the connection's lock first, with a
/// timeout, as `@databases` does with `acquireLockTimeoutMilliseconds`.
struct Connection {
    session: Lock<Session>,
    timeout: Duration,
}

impl Connection {
    fn new(timeout: Duration) -> Self {
        Self {
            // FIFO: statements run in the order they were issued.
            session: Lock::new_fifo(Session { log: Vec::new() }),
            timeout,
        }
    }

    async fn query(&self, sql: &str) -> Result<usize, TimedOut> {
        let mut session = self.session.lock_timeout(self.timeout).await?;
        Ok(session.execute(sql).await)
    }

    /// Runs `body` in a transaction. The connection stays locked until the
    /// transaction ends; queries inside go through the transaction.
    async fn tx<R>(&self, body: impl AsyncFnOnce(&Transaction<'_>) -> R) -> Result<R, TimedOut> {
        let mut session = self.session.lock_timeout(self.timeout).await?;
        session.execute("BEGIN").await;
        let tx = Transaction {
            session: Lock::new_fifo(session),
            timeout: self.timeout,
        };
        let result = body(&tx).await;
        tx.session.into_inner().execute("COMMIT").await;
        Ok(result)
    }
}

/// A transaction owns the connection's guard and has its own lock, so its
/// statements also run one at a time.
struct Transaction<'c> {
    session: Lock<Guard<'c, Session>>,
    timeout: Duration,
}

impl Transaction<'_> {
    async fn query(&self, sql: &str) -> Result<usize, TimedOut> {
        let mut session = self.session.lock_timeout(self.timeout).await?;
        Ok(session.execute(sql).await)
    }
}

fn main() {
    let connection = Connection::new(Duration::from_millis(100));
    future::block_on(async {
        println!("1. Three queries issued at once run one at a time, in order");
        let (a, (b, c)) = future::zip(
            connection.query("SELECT 1"),
            future::zip(connection.query("SELECT 2"), connection.query("SELECT 3")),
        )
        .await;
        println!("   results: {a:?} {b:?} {c:?}");

        println!("\n2. A transaction holds the connection until it commits");
        let outcome = connection
            .tx(async |tx| {
                tx.query("INSERT INTO users VALUES ('ada')").await?;
                // The classic mistake: querying the outer connection from
                // inside its own transaction. Without a timeout this waits
                // forever for the transaction that is waiting for it.
                match connection.query("SELECT count(*) FROM users").await {
                    Ok(_) => unreachable!("the transaction holds the connection"),
                    Err(err) => println!("   nested query on the connection: {err}"),
                }
                tx.query("INSERT INTO users VALUES ('grace')").await
            })
            .await;
        println!("   transaction finished: {outcome:?}");

        println!("\n3. The connection is usable again");
        let count = connection.query("SELECT count(*) FROM users").await;
        println!("   statements so far: {count:?}");
    });
}
