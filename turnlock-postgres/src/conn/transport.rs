//! Plain text or TLS: the [`Dialer`] (everything needed to open a
//! session) and how a stream from the connector becomes a session, as the
//! connection string's `sslmode` asks, and the TLS connector a cancel
//! request to the same endpoint uses.
//!
//! TLS is PostgreSQL's own (an `SSLRequest` at the start of the stream,
//! then the handshake), run by tokio-postgres over whatever stream the
//! connector returned, the default one or a custom one. Unix sockets never
//! use TLS, as in libpq.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::config::SslMode as WireMode;

use super::conninfo::{SslMode, TlsOptions};
use super::endpoints::Target;
use super::{BoxFuture, BoxStream, Compat, ConnectorFn, Endpoint};
use crate::error::Error;

/// Everything needed to open a session: the parsed connection string, its
/// endpoints in libpq's order, the connector, plain text or TLS, and the
/// connect timeout.
pub(crate) struct Dialer {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) connector: Arc<ConnectorFn>,
    pub(crate) transport: Transport,
    pub(crate) connect_timeout: Duration,
    /// How often a session shows it still answers (`Builder::heartbeat`).
    /// Also the longest a server-side wait runs before it ends with
    /// `lock_not_available` and is sent again (PostgreSQL's `lock_timeout`,
    /// set on every session), so that no beat waits behind it for longer.
    pub(crate) heartbeat: Duration,
}

/// The TLS connector handed to tokio-postgres.
#[cfg(feature = "tls")]
pub(crate) type Connector = super::tls::RustlsConnect;
/// The TLS connector handed to tokio-postgres: none without the `tls`
/// feature.
#[cfg(not(feature = "tls"))]
pub(crate) type Connector = tokio_postgres::NoTls;

/// A tokio-postgres connection, boxed: the future that must be driven for
/// the session to work.
pub(crate) type Connection = BoxFuture<Result<(), tokio_postgres::Error>>;

type BoxError = Box<dyn StdError + Send + Sync>;

/// A pool's choice of plain text or TLS, per endpoint.
pub(crate) struct Transport {
    mode: SslMode,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::Tls>,
}

impl Transport {
    /// Checks the TLS settings and, with the `tls` feature, reads the
    /// certificate files they name.
    pub(crate) fn new(options: &TlsOptions, targets: &[Target]) -> Result<Transport, Error> {
        #[cfg(not(feature = "tls"))]
        {
            let _ = targets;
            if let Some(asked) = options.asks_for_tls() {
                return Err(Error::new(
                    crate::error::ErrorKind::Config,
                    format!(
                        "the connection string asks for TLS ({asked}), and \
                         turnlock-postgres was built without its `tls` feature"
                    ),
                ));
            }
            Ok(Transport { mode: options.mode })
        }
        #[cfg(feature = "tls")]
        {
            Ok(Transport {
                mode: options.mode,
                tls: super::tls::Tls::new(options, targets)?,
            })
        }
    }

    /// The TLS connector for a stream to `endpoint`: for sessions, and for
    /// cancel requests, which must use the same kind of connection.
    pub(crate) fn connector(&self, endpoint: &Endpoint) -> Connector {
        #[cfg(feature = "tls")]
        {
            match &self.tls {
                Some(tls) => tls.connector(endpoint),
                None => super::tls::RustlsConnect::none(),
            }
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = endpoint;
            tokio_postgres::NoTls
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("sslmode", &self.mode.name())
            .finish_non_exhaustive()
    }
}

impl Dialer {
    /// Opens a session over `stream` (a fresh stream to `endpoint`), in
    /// plain text or TLS as the pool's `sslmode` says. `allow` and
    /// `prefer` may open a second stream to the same endpoint, as libpq
    /// does: `allow` retries with TLS when the server refuses the
    /// plain-text session, `prefer` retries in plain text when the TLS
    /// handshake fails or the server refuses the session over TLS.
    pub(crate) async fn handshake(
        &self,
        endpoint: &Endpoint,
        stream: BoxStream,
    ) -> Result<(Client, Connection), BoxError> {
        // As a libpq built without SSL support: `prefer` and `allow` are
        // plain text (the stronger modes were refused at build).
        #[cfg(not(feature = "tls"))]
        {
            let _ = endpoint;
            Ok(self
                .open(WireMode::Disable, stream, tokio_postgres::NoTls)
                .await?)
        }
        #[cfg(feature = "tls")]
        {
            let connector = self.transport.connector(endpoint);
            // libpq never asks for TLS over a Unix socket.
            let mode = match endpoint {
                Endpoint::Unix { .. } => SslMode::Disable,
                _ => self.transport.mode,
            };
            match mode {
                SslMode::Disable => Ok(self.open(WireMode::Disable, stream, connector).await?),
                SslMode::Allow => {
                    match self
                        .open(WireMode::Disable, stream, connector.clone())
                        .await
                    {
                        // The server refused the session (libpq retries on
                        // any error the server sends while starting up).
                        Err(err) if err.as_db_error().is_some() => {
                            let stream = (self.connector)(endpoint.clone()).await?;
                            Ok(self.open(WireMode::Require, stream, connector).await?)
                        }
                        other => Ok(other?),
                    }
                }
                SslMode::Prefer => {
                    let progress = connector.progress();
                    match self.open(WireMode::Prefer, stream, connector.clone()).await {
                        // The handshake failed, or the server refused the
                        // session over TLS: plain text next, as libpq.
                        Err(err)
                            if progress.failed()
                                || (progress.succeeded() && err.as_db_error().is_some()) =>
                        {
                            let stream = (self.connector)(endpoint.clone()).await?;
                            Ok(self.open(WireMode::Disable, stream, connector).await?)
                        }
                        other => Ok(other?),
                    }
                }
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    Ok(self.open(WireMode::Require, stream, connector).await?)
                }
            }
        }
    }

    /// One attempt: the startup and authentication over `stream`, with
    /// tokio-postgres' `mode`. The session's cancel token keeps `mode`, so
    /// its cancel requests go the same way.
    async fn open(
        &self,
        mode: WireMode,
        stream: BoxStream,
        connector: Connector,
    ) -> Result<(Client, Connection), tokio_postgres::Error> {
        let (client, connection) = if self.config.get_ssl_mode() == mode {
            self.config
                .connect_raw(Compat::new(stream), connector)
                .await?
        } else {
            let mut config = self.config.clone();
            config.ssl_mode(mode);
            config.connect_raw(Compat::new(stream), connector).await?
        };
        Ok((client, Box::pin(connection)))
    }
}
