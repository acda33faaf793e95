//! Cancel requests: how a wait on the server is interrupted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::AsyncReadExt;

use super::{Compat, Dialer, Session};
use crate::error::{Error, ErrorKind};

impl Session {
    /// Asks the server to cancel the statement this session runs, over a
    /// new connection to the same endpoint, and waits until the server has
    /// acted on it: the server signals the backend before it closes the
    /// cancel connection, so a statement sent after this returns is never
    /// the one cancelled. The request goes in TLS when the session does.
    ///
    /// The crate's side of the connection stays open until the other side
    /// closes it. tokio-postgres shuts its side down right after writing
    /// the request, and a pooler may then drop the request (PgBouncer does)
    /// or even fail on it (PgBouncer 1.18 exits with "bad client state"):
    /// so the stream the request is written to only flushes on shutdown.
    pub(crate) async fn cancel(&self, dialer: &Dialer) -> Result<(), Error> {
        let failed = |err: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorKind::Connect, "could not send a cancel request").with_source(err)
        };
        let mut stream = KeepOpen(Compat::new(
            (dialer.connector)(self.endpoint.clone())
                .await
                .map_err(|e| failed(e.into()))?,
        ));
        self.cancel
            .cancel_query_raw(&mut stream, dialer.transport.connector(&self.endpoint))
            .await
            .map_err(|e| failed(e.into()))?;
        let mut buf = [0u8; 64];
        loop {
            match stream.0.stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }
}

/// A stream whose shutdown only flushes: the connection stays open until
/// the other side closes it.
struct KeepOpen(Compat);

impl tokio::io::AsyncRead for KeepOpen {
    read_through!();
}

impl tokio::io::AsyncWrite for KeepOpen {
    write_through!();

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
}
