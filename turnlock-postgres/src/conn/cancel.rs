//! Cancel requests: how a wait on the server is interrupted.

use futures_lite::AsyncReadExt;

use super::{Compat, Dialer, Session};
use crate::error::{Error, ErrorKind};

impl Session {
    /// Asks the server to cancel the statement this session runs, over a
    /// new connection to the same endpoint, and waits until the server has
    /// acted on it: the server signals the backend before it closes the
    /// cancel connection, so a statement sent after this returns is never
    /// the one cancelled. The request goes in TLS when the session does.
    pub(crate) async fn cancel(&self, dialer: &Dialer) -> Result<(), Error> {
        let failed = |err: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorKind::Connect, "could not send a cancel request").with_source(err)
        };
        let mut stream = Compat(
            (dialer.connector)(self.endpoint.clone())
                .await
                .map_err(|e| failed(e.into()))?,
        );
        self.cancel
            .cancel_query_raw(&mut stream, dialer.transport.connector(&self.endpoint))
            .await
            .map_err(|e| failed(e.into()))?;
        let mut buf = [0u8; 64];
        loop {
            match stream.0.read(&mut buf).await {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }
}
