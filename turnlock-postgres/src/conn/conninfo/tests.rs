//! The connection string's reading, checked against libpq's rules.

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
