//! The connector tokio-postgres runs the handshake with, and the stream
//! it gives.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use super::binding::server_end_point;
/// Runs the TLS handshake on a stream to one endpoint, for tokio-postgres
/// (sessions and cancel requests alike).
#[derive(Clone)]
pub(crate) struct RustlsConnect {
    /// `None` for an endpoint without TLS (a Unix socket).
    pub(super) setup: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    pub(super) checks: Arc<str>,
    pub(super) progress: Arc<Progress>,
}

/// How far the handshakes through one connector (and its clones) got.
#[derive(Default)]
pub(crate) struct Progress {
    tried: AtomicBool,
    done: AtomicBool,
}

impl Progress {
    /// A handshake was tried and did not succeed (for whatever reason:
    /// the certificate, the protocol, the connection).
    pub(crate) fn failed(&self) -> bool {
        self.tried.load(Ordering::Relaxed) && !self.done.load(Ordering::Relaxed)
    }

    /// A handshake succeeded.
    pub(crate) fn succeeded(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }
}

impl RustlsConnect {
    /// A connector for no TLS at all (`sslmode=disable`): tokio-postgres
    /// never calls it then.
    pub(crate) fn none() -> RustlsConnect {
        RustlsConnect {
            setup: None,
            checks: "sslmode=disable".into(),
            progress: Arc::default(),
        }
    }

    /// How far the handshakes through this connector (and its clones) got.
    pub(crate) fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    /// A [`HandshakeError`] when rustls refused (the certificate, the
    /// protocol); the I/O error itself when the connection failed, so that
    /// it counts as transient, as the same failure before TLS would.
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        self.progress.tried.store(true, Ordering::Relaxed);
        let connect = self
            .setup
            .map(|(config, name)| tokio_rustls::TlsConnector::from(config).connect(name, stream));
        Handshake {
            connect,
            checks: self.checks,
            progress: self.progress,
        }
    }
}

/// The handshake in progress.
pub(crate) struct Handshake<S> {
    connect: Option<tokio_rustls::Connect<S>>,
    checks: Arc<str>,
    progress: Arc<Progress>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Handshake<S> {
    type Output = Result<RustlsStream<S>, Box<dyn StdError + Send + Sync>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(connect) = &mut this.connect else {
            return Poll::Ready(Err(Box::new(HandshakeError {
                summary: "TLS is not used for this endpoint".into(),
                source: None,
            })));
        };
        match ready!(Pin::new(connect).poll(cx)) {
            Ok(stream) => {
                this.progress.done.store(true, Ordering::Relaxed);
                Poll::Ready(Ok(RustlsStream(stream)))
            }
            Err(err)
                if err
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
            {
                Poll::Ready(Err(Box::new(HandshakeError::new(err, &this.checks))))
            }
            Err(err) => Poll::Ready(Err(Box::new(err))),
        }
    }
}

/// A failed TLS handshake, said in words, with rustls' error as the source.
#[derive(Debug)]
pub(crate) struct HandshakeError {
    summary: String,
    source: Option<io::Error>,
}

impl HandshakeError {
    fn new(err: io::Error, checks: &str) -> HandshakeError {
        let rustls = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        let what = match rustls {
            Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                CertificateError::UnknownIssuer => {
                    "the server's certificate is not signed by a trusted certificate authority"
                        .to_owned()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate is not valid for the host name".to_owned()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired".to_owned()
                }
                _ => "the server's certificate was rejected".to_owned(),
            },
            _ => "the TLS handshake failed".to_owned(),
        };
        HandshakeError {
            summary: format!("{what} ({checks})"),
            source: Some(err),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl StdError for HandshakeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        // rustls' own error when there is one (the I/O error only wraps it).
        let err = self.source.as_ref()?;
        match err.get_ref() {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => Some(err),
        }
    }
}

/// A TLS connection to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    read_through!();
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    write_through!();

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, connection) = self.0.get_ref();
        connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| server_end_point(cert))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}
