//! libpq's rules for where a connection string points: hosts, host
//! addresses and ports, paired up in order, with libpq's defaults.

use tokio_postgres::config::Host;

use super::Endpoint;

/// PostgreSQL's default port.
const DEFAULT_PORT: u16 = 5432;

/// Where libpq looks for the server's socket when no host is given.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// The endpoints alone (see [`targets`]).
#[cfg(test)]
pub(crate) fn endpoints(config: &tokio_postgres::Config) -> Vec<Endpoint> {
    targets(config)
        .into_iter()
        .map(|target| target.endpoint)
        .collect()
}

/// An endpoint and the name a TLS server certificate must carry for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    /// For TCP: the host name of `host=` (also when `hostaddr=` gives the
    /// address), `localhost` for the default host, or the address itself
    /// when only `hostaddr=` is given. `None` for Unix sockets.
    pub(crate) host_name: Option<String>,
    /// Whether `host_name` was named by `host=` (or is the default host),
    /// rather than taken from `hostaddr=`.
    pub(crate) named: bool,
}

/// The endpoints of a connection string with their TLS host names, in
/// libpq's order:
///
/// * `hostaddr` overrides `host` position by position (the host name then
///   only serves TLS verification).
/// * One port applies to every host; otherwise the `i`-th port goes with
///   the `i`-th host.
/// * No host at all: the local socket directories that exist, then
///   `localhost`.
pub(crate) fn targets(config: &tokio_postgres::Config) -> Vec<Target> {
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let ports = config.get_ports();
    let port = |i: usize| match ports {
        [] => DEFAULT_PORT,
        [port] => *port,
        ports => ports.get(i).copied().unwrap_or(DEFAULT_PORT),
    };
    let count = hosts.len().max(addrs.len());
    if count == 0 {
        let mut targets: Vec<Target> = DEFAULT_SOCKET_DIRS
            .iter()
            .map(|dir| std::path::Path::new(dir).join(format!(".s.PGSQL.{}", port(0))))
            .filter(|path| path.exists())
            .map(|path| Target {
                endpoint: Endpoint::Unix { path },
                host_name: None,
                named: false,
            })
            .collect();
        targets.push(Target {
            endpoint: Endpoint::Tcp {
                host: "localhost".into(),
                port: port(0),
            },
            host_name: Some("localhost".into()),
            named: true,
        });
        return targets;
    }
    (0..count)
        .map(|i| {
            let named = match hosts.get(i) {
                Some(Host::Tcp(host)) => Some(host.clone()),
                _ => None,
            };
            if let Some(addr) = addrs.get(i) {
                return Target {
                    endpoint: Endpoint::Tcp {
                        host: addr.to_string(),
                        port: port(i),
                    },
                    named: named.is_some(),
                    host_name: Some(named.unwrap_or_else(|| addr.to_string())),
                };
            }
            match &hosts[i] {
                Host::Tcp(host) => Target {
                    endpoint: Endpoint::Tcp {
                        host: host.clone(),
                        port: port(i),
                    },
                    host_name: Some(host.clone()),
                    named: true,
                },
                #[cfg(unix)]
                Host::Unix(dir) => Target {
                    endpoint: Endpoint::Unix {
                        path: dir.join(format!(".s.PGSQL.{}", port(i))),
                    },
                    host_name: None,
                    named: false,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn of(conn: &str) -> Vec<String> {
        endpoints(&tokio_postgres::Config::from_str(conn).unwrap())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn one_port_serves_every_host() {
        assert_eq!(of("host=a,b port=6000"), ["a:6000", "b:6000"]);
    }

    #[test]
    fn ports_pair_with_hosts_in_order() {
        assert_eq!(of("host=a,b port=6000,6001"), ["a:6000", "b:6001"]);
        assert_eq!(of("host=a,b"), ["a:5432", "b:5432"]);
    }

    #[test]
    fn hostaddr_overrides_host() {
        assert_eq!(
            of("host=db.internal hostaddr=10.0.0.7 port=6000"),
            ["10.0.0.7:6000"]
        );
        assert_eq!(of("hostaddr=::1"), ["[::1]:5432"]);
    }

    #[test]
    fn a_socket_directory_names_its_socket_file() {
        assert_eq!(of("host=/run/pg port=6000"), ["/run/pg/.s.PGSQL.6000"]);
    }

    #[test]
    fn tls_host_names_come_from_host_even_with_hostaddr() {
        let names = |conn: &str| -> Vec<(String, Option<String>, bool)> {
            targets(&tokio_postgres::Config::from_str(conn).unwrap())
                .into_iter()
                .map(|t| (t.endpoint.to_string(), t.host_name, t.named))
                .collect()
        };
        assert_eq!(
            names("host=db.internal hostaddr=10.0.0.7"),
            [("10.0.0.7:5432".into(), Some("db.internal".into()), true)]
        );
        assert_eq!(
            names("hostaddr=10.0.0.7"),
            [("10.0.0.7:5432".into(), Some("10.0.0.7".into()), false)]
        );
        assert_eq!(
            names("host=a,/run/pg"),
            [
                ("a:5432".into(), Some("a".into()), true),
                ("/run/pg/.s.PGSQL.5432".into(), None, false)
            ]
        );
        assert_eq!(
            names("user=app").last().unwrap().1.as_deref(),
            Some("localhost")
        );
    }

    #[test]
    fn no_host_ends_with_localhost() {
        assert_eq!(of("user=app").last().unwrap(), "localhost:5432");
    }
}
