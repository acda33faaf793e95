//! The TCP settings of a connection string (`keepalives`,
//! `keepalives_idle`, `keepalives_interval`, `keepalives_count`,
//! `tcp_user_timeout`) are set on the default connector's sockets: read
//! back with `getsockopt` from the socket of a session that holds a lock.
#![cfg(target_os = "linux")]

mod common;

use std::mem::size_of;

use common::{psql, smol, url};
use turnlock_postgres::Pool;

/// The keepalive and user-timeout options of one TCP socket, as
/// `getsockopt` reads them back.
#[derive(Debug, PartialEq)]
struct Options {
    keepalive: i32,
    idle: i32,
    interval: i32,
    count: i32,
    user_timeout_ms: i32,
}

fn get(fd: i32, level: i32, name: i32) -> i32 {
    let mut value: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes of an `i32` and a
    // `socklen_t`, and `len` says how large `value` is.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
    assert_eq!(rc, 0, "getsockopt({level}, {name}) on fd {fd}");
    value
}

fn local_port(fd: i32) -> Option<u16> {
    // SAFETY: an all-zero `sockaddr_in` is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is valid for writes of `len` bytes; the kernel writes
    // at most that many and says how many in `len`.
    let rc = unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &mut len) };
    (rc == 0 && i32::from(addr.sin_family) == libc::AF_INET).then(|| u16::from_be(addr.sin_port))
}

fn socket_options(port: u16) -> Options {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap();
    for entry in fds.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket || local_port(fd) != Some(port) {
            continue;
        }
        return Options {
            keepalive: get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            idle: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            interval: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
            count: get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
            user_timeout_ms: get(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
        };
    }
    panic!("no socket of this process has local port {port}");
}

/// The options of the socket behind the session that holds key `key`,
/// for a pool on `url` (TCP to 127.0.0.1).
fn options_of_a_session(url: String, key: i64) -> Options {
    smol(60, async move {
        let pool = Pool::new(&url).unwrap();
        let guard = pool.lock(key).await.unwrap();
        let pid = guard.backend_pid();
        let port: u16 = psql(&format!(
            "SELECT client_port FROM pg_stat_activity WHERE pid = {pid}"
        ))
        .parse()
        .expect("a TCP session has a client port");
        let options = socket_options(port);
        guard.release().await.unwrap();
        options
    })
}

#[test]
fn keepalive_and_user_timeout_from_the_connection_string_are_set_on_the_socket() {
    let url = format!(
        "{} keepalives_idle=7 keepalives_interval=3 keepalives_count=4 tcp_user_timeout=9000",
        url("tcp_settings_set")
    );
    assert_eq!(
        options_of_a_session(url, 9101),
        Options {
            keepalive: 1,
            idle: 7,
            interval: 3,
            count: 4,
            user_timeout_ms: 9000,
        }
    );
}

#[test]
fn keepalives_zero_turns_keepalives_off() {
    let url = format!("{} keepalives=0", url("tcp_settings_off"));
    let options = options_of_a_session(url, 9102);
    assert_eq!(options.keepalive, 0, "{options:?}");
    assert_eq!(options.user_timeout_ms, 0, "not asked for: {options:?}");
}
