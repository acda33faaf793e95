//! Fencing tokens: a row per key in a table of the pool's, incremented on
//! the session that holds the key's lock.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::error::{Error, ErrorKind};
use crate::key::LockId;

/// What went wrong with a fencing token, and the server's error.
type TokenError = (&'static str, tokio_postgres::Error);

/// The fencing table of a pool and whether it is known to exist.
pub(crate) struct Fencing {
    /// The quoted name: `"name"` or `"schema"."name"`.
    table: String,
    /// Whether the table exists (set after the first token), so that later
    /// tokens never try to create it.
    ready: AtomicBool,
}

impl Fencing {
    /// Checks `name` (`name` or `schema.name`, ASCII letters, digits and
    /// `_`, not starting with a digit) and quotes it.
    pub(crate) fn new(name: &str) -> Result<Self, Error> {
        let parts: Vec<&str> = name.split('.').collect();
        let valid = |part: &str| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if parts.len() > 2 || !parts.iter().all(|part| valid(part)) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("invalid fencing table name {name:?}: use name or schema.name"),
            ));
        }
        let table = parts
            .iter()
            .map(|part| format!("\"{part}\""))
            .collect::<Vec<_>>()
            .join(".");
        Ok(Fencing {
            table,
            ready: AtomicBool::new(false),
        })
    }

    /// The next token of `key`, taken on `client` (the session that holds
    /// the key's lock). Creates the table on first use. Tokens are kept per
    /// [`LockId::bits`]: a pair key shares its sequence with the `bigint`
    /// of the same bits, which keeps each key's tokens increasing.
    pub(crate) async fn next_token(&self, client: &Client, key: LockId) -> Result<i64, TokenError> {
        let key = key.bits();
        let table = &self.table;
        let upsert = format!(
            "INSERT INTO {table} AS f (key, token) VALUES ($1, 1) \
             ON CONFLICT (key) DO UPDATE SET token = f.token + 1 RETURNING token"
        );
        // Acquire: pairs with the Release below; a relaxed read would do as
        // well (the flag only saves a CREATE), this one is simply clear.
        let mut created = self.ready.load(Ordering::Acquire);
        let token = loop {
            match client.query_one(upsert.as_str(), &[&key]).await {
                Ok(row) => break row.get::<_, i64>(0),
                Err(err) if !created && err.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                    let create = format!(
                        "CREATE TABLE IF NOT EXISTS {table} (key bigint PRIMARY KEY, token bigint NOT NULL)"
                    );
                    match client.batch_execute(&create).await {
                        Ok(()) => {}
                        // Another process created it at the same moment:
                        // PostgreSQL then reports the table, its row type
                        // ("type ... already exists") or a unique index of
                        // its catalog as already there.
                        Err(err)
                            if err.code() == Some(&SqlState::UNIQUE_VIOLATION)
                                || err.code() == Some(&SqlState::DUPLICATE_TABLE)
                                || err.code() == Some(&SqlState::DUPLICATE_OBJECT) => {}
                        Err(err) => return Err(("could not create the fencing table", err)),
                    }
                    created = true;
                }
                Err(err) => return Err(("could not take a fencing token", err)),
            }
        };
        self.ready.store(true, Ordering::Release);
        Ok(token)
    }

    /// The last token taken for `key` (0 if none was): what a reader's
    /// fencing token is. Read on `client`, the session of the reader's
    /// shared lock, so no writer takes a new one meanwhile.
    pub(crate) async fn last_token(&self, client: &Client, key: LockId) -> Result<i64, TokenError> {
        let key = key.bits();
        let table = &self.table;
        let select = format!("SELECT coalesce((SELECT token FROM {table} WHERE key = $1), 0)");
        match client.query_one(select.as_str(), &[&key]).await {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            // No writer took a token yet anywhere.
            Err(err) if err.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
            Err(err) => Err(("could not read the last fencing token", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fencing;

    #[test]
    fn names_are_checked_and_quoted() {
        assert_eq!(Fencing::new("fencing").unwrap().table, "\"fencing\"");
        assert_eq!(
            Fencing::new("locks.fencing_2").unwrap().table,
            "\"locks\".\"fencing_2\""
        );
        for bad in ["", "a.b.c", "1st", "x; DROP TABLE y", "a.", "na-me"] {
            assert!(Fencing::new(bad).is_err(), "{bad:?}");
        }
    }
}
