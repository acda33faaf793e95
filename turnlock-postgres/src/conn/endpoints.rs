//! libpq's rules for where a connection string points: hosts, host
//! addresses and ports, paired up in order, with libpq's defaults.

use tokio_postgres::config::Host;

use super::Endpoint;

/// PostgreSQL's default port.
const DEFAULT_PORT: u16 = 5432;

/// Where libpq looks for the server's socket when no host is given.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// The endpoints of a connection string, in libpq's order.
///
/// * `hostaddr` overrides `host` position by position (the host name then
///   only serves TLS verification).
/// * One port applies to every host; otherwise the `i`-th port goes with
///   the `i`-th host.
/// * No host at all: the local socket directories that exist, then
///   `localhost`.
pub(crate) fn endpoints(config: &tokio_postgres::Config) -> Vec<Endpoint> {
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
        let mut endpoints: Vec<Endpoint> = DEFAULT_SOCKET_DIRS
            .iter()
            .map(|dir| std::path::Path::new(dir).join(format!(".s.PGSQL.{}", port(0))))
            .filter(|path| path.exists())
            .map(|path| Endpoint::Unix { path })
            .collect();
        endpoints.push(Endpoint::Tcp {
            host: "localhost".into(),
            port: port(0),
        });
        return endpoints;
    }
    (0..count)
        .map(|i| {
            if let Some(addr) = addrs.get(i) {
                return Endpoint::Tcp {
                    host: addr.to_string(),
                    port: port(i),
                };
            }
            match &hosts[i] {
                Host::Tcp(host) => Endpoint::Tcp {
                    host: host.clone(),
                    port: port(i),
                },
                #[cfg(unix)]
                Host::Unix(dir) => Endpoint::Unix {
                    path: dir.join(format!(".s.PGSQL.{}", port(i))),
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
    fn no_host_ends_with_localhost() {
        assert_eq!(of("user=app").last().unwrap(), "localhost:5432");
    }
}
