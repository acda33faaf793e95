//! Connections without a runtime: where a session connects ([`Endpoint`],
//! and libpq's rules for the hosts of a connection string in
//! `endpoints.rs`), the connection string read as libpq reads it
//! (`conninfo.rs`), the stream it runs over ([`Stream`], the default
//! connector, the adapter to the I/O traits tokio-postgres speaks), plain
//! text or TLS over that stream (`transport.rs`, and `tls/` with the
//! `tls` feature), the spawner that drives connections (`spawn.rs`), one
//! session (`session.rs`) and the statements whose answers its
//! connection's task books (`riders.rs`), the mark that tells its server
//! process from others (`mark.rs`), its statements (`prepared.rs`,
//! `statements.rs`, `failure.rs`), cancel requests (`cancel.rs`) and
//! fencing tokens (`fencing.rs`).

/// The methods of `tokio::io::AsyncRead` for a wrapper whose field `0` is
/// the stream it reads from.
macro_rules! read_through {
    () => {
        fn poll_read(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &mut ::tokio::io::ReadBuf<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
        }
    };
}

/// The methods of `tokio::io::AsyncWrite` but `poll_shutdown` for a
/// wrapper whose field `0` is the stream it writes to.
macro_rules! write_through {
    () => {
        fn poll_write(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            ::std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.0.is_write_vectored()
        }

        fn poll_flush(
            mut self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            ::std::pin::Pin::new(&mut self.0).poll_flush(cx)
        }
    };
}

mod cancel;
mod conninfo;
mod endpoints;
mod failure;
mod fencing;
mod mark;
mod prepared;
mod riders;
mod session;
mod spawn;
mod statements;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub(crate) use conninfo::{ConnInfo, TlsOptions, parse as parse_conninfo};
pub(crate) use endpoints::targets;
pub(crate) use failure::Failure;
pub(crate) use fencing::Fencing;
pub(crate) use prepared::Access;
pub(crate) use session::{Liveness, Session};
pub(crate) use spawn::{SpawnFn, Spawner};
pub(crate) use transport::{Dialer, Transport};

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

/// Where a session connects: one host of the connection string.
///
/// A [custom connector](crate::Builder::connector) receives it, both for
/// sessions and for the cancel requests sent to the same server.
///
/// ```
/// use turnlock_postgres::Endpoint;
///
/// let endpoint = Endpoint::Tcp { host: "db.internal".into(), port: 5432 };
/// assert_eq!(endpoint.to_string(), "db.internal:5432");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A TCP host name or address and a port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix-domain socket: the socket file itself
    /// (`<directory>/.s.PGSQL.<port>`).
    Unix {
        /// Path of the socket file.
        path: PathBuf,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix { path } => write!(f, "{}", path.display()),
        }
    }
}

/// A byte stream to a PostgreSQL server, as a [custom
/// connector](crate::Builder::connector) returns it.
///
/// Implemented for every `futures-io` stream that is `Send`: the streams of
/// `async-net`, smol and async-std, and tokio's through
/// `tokio_util::compat`.
///
/// ```
/// fn accepted<S: turnlock_postgres::Stream>(_: &S) {}
///
/// # async fn connect() -> std::io::Result<()> {
/// let stream = async_net::TcpStream::connect("127.0.0.1:5432").await?;
/// accepted(&stream);
/// # Ok(())
/// # }
/// ```
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for S {}

pub(crate) type BoxStream = Box<dyn Stream>;
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type ConnectorFn = dyn Fn(Endpoint) -> BoxFuture<io::Result<BoxStream>> + Send + Sync;

/// The TCP settings of a connection string, which the default connector
/// applies to its sockets: `keepalives` (on unless `0`),
/// `keepalives_idle`, `keepalives_interval`, `keepalives_count` (or
/// `keepalives_retries`) and, on Linux, Android and Fuchsia,
/// `tcp_user_timeout`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TcpSettings {
    keepalive: Option<socket2::TcpKeepalive>,
    user_timeout: Option<Duration>,
}

impl TcpSettings {
    pub(crate) fn of(config: &tokio_postgres::Config) -> TcpSettings {
        let keepalive = config.get_keepalives().then(|| {
            let mut keepalive =
                socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            #[cfg(not(any(target_os = "windows", target_os = "openbsd")))]
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
            keepalive
        });
        TcpSettings {
            keepalive,
            user_timeout: config.get_tcp_user_timeout().copied(),
        }
    }

    fn apply(&self, stream: &async_net::TcpStream) -> io::Result<()> {
        let socket = socket2::SockRef::from(stream);
        if let Some(keepalive) = &self.keepalive {
            socket.set_tcp_keepalive(keepalive)?;
        }
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        if let Some(timeout) = self.user_timeout {
            socket.set_tcp_user_timeout(Some(timeout))?;
        }
        Ok(())
    }
}

/// The default connector: async-net's TCP and Unix sockets (async-io's
/// reactor, which runs beside any executor), with `TCP_NODELAY` and the
/// TCP settings of the connection string.
pub(crate) fn default_connector(tcp: TcpSettings) -> Arc<ConnectorFn> {
    Arc::new(move |endpoint| {
        let tcp = tcp.clone();
        Box::pin(async move {
            match endpoint {
                Endpoint::Tcp { host, port } => {
                    let stream = async_net::TcpStream::connect((host.as_str(), port)).await?;
                    stream.set_nodelay(true)?;
                    tcp.apply(&stream)?;
                    Ok(Box::new(stream) as BoxStream)
                }
                Endpoint::Unix { path } => {
                    let stream = async_net::unix::UnixStream::connect(path).await?;
                    Ok(Box::new(stream) as BoxStream)
                }
            }
        })
    })
}

/// A `futures-io` stream seen through tokio's `AsyncRead`/`AsyncWrite`, the
/// traits `tokio_postgres::Config::connect_raw` takes. The traits only;
/// no tokio runtime is involved.
///
/// A `futures-io` read needs initialized memory, and tokio-postgres hands
/// over its whole spare buffer, uninitialized, on every read: zeroing that
/// each time cost more instructions than the rest of an acquisition. Reads
/// go through a buffer zeroed once instead, and only the bytes read are
/// copied.
pub(crate) struct Compat {
    stream: BoxStream,
    scratch: Box<[u8]>,
}

/// The size of [`Compat`]'s read buffer: tokio-postgres' own read size.
const READ_SIZE: usize = 8 * 1024;

impl Compat {
    pub(crate) fn new(stream: BoxStream) -> Self {
        Compat {
            stream,
            scratch: vec![0; READ_SIZE].into_boxed_slice(),
        }
    }
}

impl tokio::io::AsyncRead for Compat {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Compat { stream, scratch } = &mut *self;
        let len = buf.remaining().min(scratch.len());
        let n = ready!(Pin::new(&mut **stream).poll_read(cx, &mut scratch[..len]))?;
        buf.put_slice(&scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Compat {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_close(cx)
    }
}

/// Runs `future`, or gives up with `None` once `timeout` has passed.
pub(crate) async fn timeout<T>(timeout: Duration, future: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        async_io::Timer::after(timeout).await;
        None
    })
    .await
}
