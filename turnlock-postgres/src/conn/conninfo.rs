//! The connection string, read as libpq reads it.
//!
//! tokio-postgres parses both forms of a connection string (`key=value`
//! pairs and `postgresql://` URLs) but knows only part of libpq's keys:
//! it refuses `sslmode=verify-ca` and `verify-full`, does not know
//! `sslrootcert`, `sslcert`, `sslkey` or `keepalives_count`, reads
//! `tcp_user_timeout` in seconds where libpq means milliseconds, and
//! appends repeated keys (`host=a host=b` is two hosts) where libpq keeps
//! the last. So the string is split here first: the keys that need libpq's
//! meaning are taken out and read here, the rest goes to
//! `tokio_postgres::Config::from_str` with the same values, once each.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// libpq's `sslmode`: how much TLS a connection insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text; TLS if the server refuses a plain-text session.
    Allow,
    /// TLS if the server offers it, else plain text (libpq's default).
    Prefer,
    /// TLS, without checking the server's certificate (unless a root
    /// certificate file is present: then as `VerifyCa`).
    Require,
    /// TLS, the certificate chain checked against the trusted roots.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    const NAMES: [(&'static str, SslMode); 6] = [
        ("disable", SslMode::Disable),
        ("allow", SslMode::Allow),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ];

    fn parse(value: &str) -> Option<SslMode> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, mode)| *mode)
    }

    /// The mode's name in a connection string.
    pub(crate) fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, mode)| *mode == self)
            .map(|(name, _)| *name)
            .unwrap_or("prefer")
    }
}

/// `sslrootcert`: where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the platform's trusted roots.
    System,
}

/// The TLS settings of a connection string, as libpq means them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) mode: SslMode,
    /// `sslrootcert`, when given.
    pub(crate) root_cert: Option<RootCert>,
    /// `sslcert`, when given.
    pub(crate) cert: Option<PathBuf>,
    /// `sslkey`, when given.
    pub(crate) key: Option<PathBuf>,
}

impl TlsOptions {
    /// The TLS settings of a configuration made in code: its `ssl_mode`,
    /// nothing else given.
    pub(crate) fn of_config(config: &tokio_postgres::Config) -> TlsOptions {
        let mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        };
        TlsOptions {
            mode,
            root_cert: None,
            cert: None,
            key: None,
        }
    }

    /// What in these settings asks for TLS, in words: a mode that does
    /// not go ahead in plain text, or a TLS file named (with any mode but
    /// `disable`). `None` when plain text will do.
    #[cfg(not(feature = "tls"))]
    pub(crate) fn asks_for_tls(&self) -> Option<String> {
        match self.mode {
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                Some(format!("sslmode={}", self.mode.name()))
            }
            SslMode::Disable => None,
            SslMode::Allow | SslMode::Prefer => {
                let named: Vec<&str> = [
                    ("sslrootcert", self.root_cert.is_some()),
                    ("sslcert", self.cert.is_some()),
                    ("sslkey", self.key.is_some()),
                ]
                .into_iter()
                .filter(|(_, given)| *given)
                .map(|(key, _)| key)
                .collect();
                (!named.is_empty()).then(|| named.join(", "))
            }
        }
    }
}

/// A parsed connection string: tokio-postgres' configuration with libpq's
/// meaning applied, and the TLS settings.
#[derive(Debug)]
pub(crate) struct ConnInfo {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: TlsOptions,
}

/// The keys read here rather than by tokio-postgres.
const SSLMODE: &str = "sslmode";
const SSLROOTCERT: &str = "sslrootcert";
const SSLCERT: &str = "sslcert";
const SSLKEY: &str = "sslkey";
/// libpq's name, and tokio-postgres' name of the same setting.
const KEEPALIVES_COUNT: &str = "keepalives_count";
const KEEPALIVES_RETRIES: &str = "keepalives_retries";
const TCP_USER_TIMEOUT: &str = "tcp_user_timeout";

fn read_here(key: &str) -> bool {
    matches!(
        key,
        SSLMODE
            | SSLROOTCERT
            | SSLCERT
            | SSLKEY
            | KEEPALIVES_COUNT
            | KEEPALIVES_RETRIES
            | TCP_USER_TIMEOUT
    )
}

fn bad(reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, "invalid connection string").with_source(reason.into())
}

/// Parses `s`, in either form, with libpq's meaning.
pub(crate) fn parse(s: &str) -> Result<ConnInfo, Error> {
    let split = if is_url(s) {
        split_url(s)?
    } else {
        match split_pairs(s) {
            Some(split) => split,
            // Malformed: tokio-postgres says where and why.
            None => {
                return Err(match tokio_postgres::Config::from_str(s) {
                    Err(err) => bad_string(err),
                    Ok(_) => bad("malformed key=value pairs"),
                });
            }
        }
    };
    let mut config = tokio_postgres::Config::from_str(&split.rest).map_err(bad_string)?;
    let mut tls = TlsOptions {
        mode: SslMode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    for (key, value) in &split.ours {
        match key.as_str() {
            SSLMODE => {
                tls.mode = SslMode::parse(value).ok_or_else(|| {
                    bad(format!(
                        "invalid value for option `sslmode`: {value:?} (expected disable, allow, \
                         prefer, require, verify-ca or verify-full)"
                    ))
                })?;
            }
            // Empty means "not given", as in libpq.
            SSLROOTCERT => {
                tls.root_cert = match value.as_str() {
                    "" => None,
                    "system" => Some(RootCert::System),
                    path => Some(RootCert::File(path.into())),
                }
            }
            SSLCERT => tls.cert = (!value.is_empty()).then(|| value.into()),
            SSLKEY => tls.key = (!value.is_empty()).then(|| value.into()),
            KEEPALIVES_COUNT | KEEPALIVES_RETRIES => {
                let count = value.parse::<u32>().map_err(|_| {
                    bad(format!(
                        "invalid value for option `{key}`: {value:?} (expected a number of probes)"
                    ))
                })?;
                config.keepalives_retries(count);
            }
            TCP_USER_TIMEOUT => {
                let millis = value.parse::<i64>().map_err(|_| {
                    bad(format!(
                        "invalid value for option `tcp_user_timeout`: {value:?} (expected milliseconds)"
                    ))
                })?;
                // 0 (or less) leaves the system's default, as in libpq.
                if millis > 0 {
                    config.tcp_user_timeout(Duration::from_millis(millis as u64));
                }
            }
            _ => unreachable!("only keys read here are collected"),
        }
    }
    config.ssl_mode(match tls.mode {
        SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    Ok(ConnInfo { config, tls })
}

fn bad_string(err: tokio_postgres::Error) -> Error {
    // tokio-postgres' own text begins "invalid connection string" too: the
    // error's `Display` says it once.
    Error::new(ErrorKind::Config, "invalid connection string").with_source(err)
}

/// A connection string taken apart: the keys read here (last value of
/// each, in the order of their last appearance) and the rest, for
/// tokio-postgres.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    ours: Vec<(String, String)>,
    rest: String,
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// Keeps the last of each key: `(key, item)` pairs, in the order of each
/// key's last appearance. Aliases count as one key.
fn last_of_each<T>(items: Vec<(String, T)>) -> Vec<(String, T)> {
    let canonical = |key: &str| {
        if key == KEEPALIVES_COUNT {
            KEEPALIVES_RETRIES.to_owned()
        } else {
            key.to_owned()
        }
    };
    let mut kept: Vec<(String, T)> = Vec::with_capacity(items.len());
    for (key, item) in items {
        kept.retain(|(seen, _)| canonical(seen) != canonical(&key));
        kept.push((key, item));
    }
    kept
}

/// The URL form: `postgresql://user:password@host:port,.../dbname?key=value&...`.
/// Only the query's parameters are looked at; they stay percent-encoded for
/// tokio-postgres, and are decoded here for the keys read here.
fn split_url(s: &str) -> Result<Split, Error> {
    // Where tokio-postgres' URL parser finds the query: the first `?`
    // after the credentials, which end at the first `@`.
    let after_prefix = s.find("://").map_or(0, |i| i + 3);
    let from = s[after_prefix..]
        .find('@')
        .map_or(after_prefix, |i| after_prefix + i);
    let Some(q) = s[from..].find('?').map(|i| from + i) else {
        return Ok(Split {
            ours: Vec::new(),
            rest: s.to_owned(),
        });
    };
    let (head, query) = (&s[..q], &s[q + 1..]);
    let mut params = Vec::new();
    let mut unparsable = Vec::new();
    for segment in query.split('&').filter(|segment| !segment.is_empty()) {
        match segment.split_once('=') {
            Some((key, value)) => params.push((decode(key)?, (key, value))),
            // "unterminated parameter": tokio-postgres reports it.
            None => unparsable.push(segment),
        }
    }
    let mut ours = Vec::new();
    let mut kept = Vec::new();
    for (key, (raw_key, raw_value)) in last_of_each(params) {
        if read_here(&key) {
            ours.push((key, decode(raw_value)?));
        } else {
            kept.push(format!("{raw_key}={raw_value}"));
        }
    }
    kept.extend(unparsable.into_iter().map(str::to_owned));
    let rest = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    Ok(Split { ours, rest })
}

/// Percent-decoding, as libpq and tokio-postgres do it (`+` stays `+`).
fn decode(s: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| bad(format!("{s:?} is not UTF-8 once percent-decoded")))
}

/// The `key=value` form, with libpq's (and tokio-postgres') grammar:
/// pairs separated by white space, white space allowed around `=`, a value
/// either plain (up to the next white space) or in single quotes, with `\`
/// escaping the next character in both. `None` when malformed.
fn split_pairs(s: &str) -> Option<Split> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|&c| !c.is_whitespace() && c != '=') {
            key.push(c);
        }
        if key.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\'' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
            if value.is_empty() {
                return None;
            }
        }
        pairs.push((key, value));
    }
    if chars.peek().is_some() {
        // A stray `=` where a key should start.
        return None;
    }
    let mut ours = Vec::new();
    let mut rest = String::new();
    for (key, value) in last_of_each(pairs) {
        if read_here(&key) {
            ours.push((key, value));
        } else {
            if !rest.is_empty() {
                rest.push(' ');
            }
            rest.push_str(&key);
            rest.push_str("='");
            for c in value.chars() {
                if c == '\'' || c == '\\' {
                    rest.push('\\');
                }
                rest.push(c);
            }
            rest.push('\'');
        }
    }
    Some(Split { ours, rest })
}

#[cfg(test)]
mod tests;
