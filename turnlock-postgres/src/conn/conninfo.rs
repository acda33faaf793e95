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
mod tests {
    use tokio_postgres::config::Host;

    use super::*;

    fn ok(s: &str) -> ConnInfo {
        parse(s).unwrap_or_else(|err| panic!("{s}: {err}"))
    }

    fn config_error(s: &str) -> String {
        let err = parse(s).expect_err(s);
        assert_eq!(err.kind(), ErrorKind::Config, "{s}");
        err.to_string()
    }

    fn hosts(info: &ConnInfo) -> Vec<String> {
        info.config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    }

    #[test]
    fn every_sslmode_in_both_forms() {
        for (name, mode) in SslMode::NAMES {
            assert_eq!(ok(&format!("host=db sslmode={name}")).tls.mode, mode);
            assert_eq!(
                ok(&format!("postgresql://db/app?sslmode={name}")).tls.mode,
                mode
            );
            assert_eq!(mode.name(), name);
        }
        // libpq's default.
        assert_eq!(ok("host=db").tls.mode, SslMode::Prefer);
        assert_eq!(ok("postgres://db").tls.mode, SslMode::Prefer);
    }

    #[test]
    fn the_verify_modes_ask_tokio_postgres_for_tls() {
        use tokio_postgres::config::SslMode as Tp;
        let tp = |s: &str| ok(s).config.get_ssl_mode();
        assert_eq!(tp("host=db sslmode=verify-full"), Tp::Require);
        assert_eq!(tp("host=db sslmode=verify-ca"), Tp::Require);
        assert_eq!(tp("host=db sslmode=require"), Tp::Require);
        assert_eq!(tp("host=db sslmode=prefer"), Tp::Prefer);
        // `allow` starts in plain text; the TLS retry is the crate's.
        assert_eq!(tp("host=db sslmode=allow"), Tp::Disable);
        assert_eq!(tp("host=db sslmode=disable"), Tp::Disable);
    }

    #[test]
    fn a_bad_sslmode_is_named() {
        let text = config_error("host=db sslmode=sometimes");
        assert!(text.contains("invalid connection string"), "{text}");
        assert!(text.contains("\"sometimes\""), "{text}");
        let text = config_error("postgresql://db?sslmode=VERIFY-FULL");
        assert!(text.contains("sslmode"), "{text}");
    }

    #[test]
    fn tls_files_in_both_forms() {
        let info = ok("host=db sslrootcert=/etc/ca.pem sslcert=/c.pem sslkey=/k.pem");
        assert_eq!(
            info.tls.root_cert,
            Some(RootCert::File("/etc/ca.pem".into()))
        );
        assert_eq!(info.tls.cert, Some("/c.pem".into()));
        assert_eq!(info.tls.key, Some("/k.pem".into()));
        let info = ok("postgresql://db/app?sslrootcert=system&sslmode=verify-full");
        assert_eq!(info.tls.root_cert, Some(RootCert::System));
        // Empty is "not given".
        assert_eq!(ok("host=db sslrootcert=''").tls.root_cert, None);
    }

    #[test]
    fn quoted_values_with_spaces_and_escapes() {
        let info = ok(r"host=db sslrootcert='/my certs/it\'s \\ here.pem' password='a b\'c'");
        assert_eq!(
            info.tls.root_cert,
            Some(RootCert::File(r"/my certs/it's \ here.pem".into()))
        );
        assert_eq!(info.config.get_password(), Some(&b"a b'c"[..]));
        // Unquoted escapes, and white space around `=`.
        let info = ok(r"host = db  sslcert=/a\ b.pem   application_name =  x\\y");
        assert_eq!(info.tls.cert, Some("/a b.pem".into()));
        assert_eq!(info.config.get_application_name(), Some(r"x\y"));
        assert_eq!(hosts(&info), ["db"]);
        // An empty quoted value passes through.
        let info = ok("host=db password=''");
        assert_eq!(info.config.get_password(), Some(&b""[..]));
    }

    #[test]
    fn percent_encoded_url_parameters() {
        let info = ok(
            "postgresql://app:p%40ss@db:6000/app?sslrootcert=%2Fmy%20certs%2Fca.pem\
             &application_name=a%26b&sslmode=verify-ca",
        );
        assert_eq!(
            info.tls.root_cert,
            Some(RootCert::File("/my certs/ca.pem".into()))
        );
        assert_eq!(info.tls.mode, SslMode::VerifyCa);
        assert_eq!(info.config.get_application_name(), Some("a&b"));
        assert_eq!(info.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(info.config.get_ports(), [6000]);
        // `+` is not a space (libpq decodes only `%XX`).
        let info = ok("postgresql://db?sslcert=/a+b.pem");
        assert_eq!(info.tls.cert, Some("/a+b.pem".into()));
        // A `?` in the password is not the start of the query.
        let info = ok("postgresql://app:a?b@db/app?sslmode=require");
        assert_eq!(info.config.get_password(), Some(&b"a?b"[..]));
        assert_eq!(info.tls.mode, SslMode::Require);
        // A URL whose query had only our keys.
        let info = ok("postgresql://db/app?sslmode=disable");
        assert_eq!(info.config.get_dbname(), Some("app"));
    }

    #[test]
    fn unknown_keys_are_still_refused_by_tokio_postgres() {
        for s in [
            "host=db sslmode=require no_such_key=1",
            "postgresql://db/app?sslmode=require&no_such_key=1",
            "host=db sslcrl=/crl.pem",
        ] {
            let text = config_error(s);
            assert!(text.contains("unknown option"), "{s}: {text}");
        }
    }

    #[test]
    fn malformed_strings_are_reported_by_tokio_postgres() {
        for s in [
            "host='db",
            "host",
            "host=",
            "=db",
            "postgresql://db?sslmode",
            "host=db port=nope",
        ] {
            let text = config_error(s);
            assert!(text.contains("invalid connection string"), "{s}: {text}");
        }
    }

    #[test]
    fn duplicated_keys_take_the_last() {
        let info = ok("host=a host=b sslmode=disable sslmode=verify-full port=1 port=2");
        assert_eq!(hosts(&info), ["b"]);
        assert_eq!(info.config.get_ports(), [2]);
        assert_eq!(info.tls.mode, SslMode::VerifyFull);
        let info = ok("postgresql://db/app?application_name=a&sslmode=require\
                       &application_name=b&sslmode=prefer");
        assert_eq!(info.config.get_application_name(), Some("b"));
        assert_eq!(info.tls.mode, SslMode::Prefer);
        // libpq's and tokio-postgres' names of one setting count as one key.
        let info = ok("host=db keepalives_retries=3 keepalives_count=7");
        assert_eq!(info.config.get_keepalives_retries(), Some(7));
        let info = ok("host=db keepalives_count=7 keepalives_retries=3");
        assert_eq!(info.config.get_keepalives_retries(), Some(3));
    }

    #[test]
    fn tcp_settings_with_libpqs_units() {
        let info = ok(
            "host=db keepalives_idle=30 keepalives_interval=5 keepalives_count=4 \
                       tcp_user_timeout=2500",
        );
        assert_eq!(info.config.get_keepalives_idle(), Duration::from_secs(30));
        assert_eq!(
            info.config.get_keepalives_interval(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(info.config.get_keepalives_retries(), Some(4));
        // Milliseconds, as in libpq (tokio-postgres would read seconds).
        assert_eq!(
            info.config.get_tcp_user_timeout(),
            Some(&Duration::from_millis(2500))
        );
        assert_eq!(
            ok("host=db tcp_user_timeout=0")
                .config
                .get_tcp_user_timeout(),
            None
        );
        let info = ok("postgresql://db?tcp_user_timeout=100&keepalives_count=2");
        assert_eq!(
            info.config.get_tcp_user_timeout(),
            Some(&Duration::from_millis(100))
        );
        assert_eq!(info.config.get_keepalives_retries(), Some(2));
        assert!(config_error("host=db keepalives_count=many").contains("keepalives_count"));
        assert!(config_error("host=db tcp_user_timeout=1s").contains("milliseconds"));
    }

    #[test]
    fn everything_else_reaches_tokio_postgres_unchanged() {
        let info = ok(
            "host=h1,h2 hostaddr=10.0.0.1,10.0.0.2 port=5,6 user=u dbname='my db' \
                       connect_timeout=3 channel_binding=require sslmode=verify-full",
        );
        assert_eq!(hosts(&info), ["h1", "h2"]);
        assert_eq!(info.config.get_hostaddrs().len(), 2);
        assert_eq!(info.config.get_user(), Some("u"));
        assert_eq!(info.config.get_dbname(), Some("my db"));
        assert_eq!(
            info.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(
            info.config.get_channel_binding(),
            tokio_postgres::config::ChannelBinding::Require
        );
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn what_asks_for_tls() {
        let asks = |s: &str| ok(s).tls.asks_for_tls();
        assert_eq!(asks("host=db"), None);
        assert_eq!(asks("host=db sslmode=allow"), None);
        assert_eq!(asks("host=db sslmode=disable sslrootcert=/ca.pem"), None);
        assert_eq!(
            asks("host=db sslmode=require").as_deref(),
            Some("sslmode=require")
        );
        assert_eq!(
            asks("postgresql://db?sslmode=verify-full").as_deref(),
            Some("sslmode=verify-full")
        );
        assert_eq!(
            asks("host=db sslrootcert=/ca.pem sslkey=/k.pem").as_deref(),
            Some("sslrootcert, sslkey")
        );
    }

    #[test]
    fn a_configuration_made_in_code_keeps_its_mode() {
        let mut config = tokio_postgres::Config::new();
        assert_eq!(TlsOptions::of_config(&config).mode, SslMode::Prefer);
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        assert_eq!(TlsOptions::of_config(&config).mode, SslMode::Require);
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        assert_eq!(TlsOptions::of_config(&config).mode, SslMode::Disable);
    }
}
