//! A client's socket as a stream of pgwire messages, and the start of every connection: SSL
//! negotiation (TLS when the server has a certificate, refused otherwise), then a
//! StartupMessage or a CancelRequest.

use bytes::BytesMut;
use pgwire::messages::response::{ErrorResponse, SslResponse};
use pgwire::messages::startup::{SecretKey, Startup};
use pgwire::messages::{
    DecodeContext, PgWireBackendMessage as B, PgWireFrontendMessage as F, ProtocolVersion,
    SslNegotiationMetaMessage,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::Stream;
use super::{CancelRegistry, Security};
use crate::error::SqlError;

pub(super) struct Wire {
    pub socket: Stream,
    pub rbuf: BytesMut,
    wbuf: BytesMut,
    ctx: DecodeContext,
}

impl Wire {
    pub fn new(socket: TcpStream) -> Wire {
        Wire {
            socket: Stream::Plain(socket),
            rbuf: BytesMut::with_capacity(8192),
            wbuf: BytesMut::with_capacity(8192),
            ctx: DecodeContext::default(),
        }
    }

    /// The next message, or `None` once the client has closed the connection.
    pub async fn read(&mut self) -> Result<Option<F>, SqlError> {
        loop {
            match F::decode(&mut self.rbuf, &self.ctx) {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(e) => {
                    return Err(SqlError::new(
                        "08P01",
                        format!("invalid frontend message: {e}"),
                    ))
                }
            }
            let n = self.socket.read_buf(&mut self.rbuf).await.map_err(io)?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    /// Queues a message; `flush` writes what is queued.
    pub fn send(&mut self, m: B) -> Result<(), SqlError> {
        m.encode(&mut self.wbuf)
            .map_err(|e| SqlError::internal(format!("encoding a message: {e}")))
    }

    pub async fn flush(&mut self) -> Result<(), SqlError> {
        if !self.wbuf.is_empty() {
            self.socket.write_all(&self.wbuf).await.map_err(io)?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Reads up to the client's StartupMessage, first switching to TLS if the client asks and
    /// `security` has a certificate. A CancelRequest is passed to `registry` (if there are
    /// sessions to cancel) and ends the connection, as does the client hanging up: both give
    /// `None`.
    pub async fn startup(
        &mut self,
        registry: Option<&CancelRegistry>,
        security: &Security,
    ) -> Result<Option<Startup>, SqlError> {
        loop {
            match self.read().await? {
                None => return Ok(None),
                Some(F::SslNegotiation(SslNegotiationMetaMessage::PostgresSsl(_))) => {
                    self.ctx.awaiting_frontend_ssl = false;
                    match &security.tls {
                        // The client must wait for our answer, so nothing of its can be
                        // buffered yet: anything there would be plaintext injected ahead of
                        // the handshake.
                        Some(config) if self.rbuf.is_empty() && !self.socket.is_tls() => {
                            self.send(B::SslResponse(SslResponse::Accept))?;
                            self.flush().await?;
                            self.socket.upgrade(config).await.map_err(io)?;
                        }
                        Some(_) => {
                            return Err(SqlError::new(
                                "08P01",
                                "unexpected data after the SSLRequest",
                            ))
                        }
                        None => {
                            self.send(B::SslResponse(SslResponse::Refuse))?;
                            self.flush().await?;
                        }
                    }
                }
                // GSSAPI encryption is refused; libpq then tries an SSLRequest, so the
                // decoder keeps expecting one.
                Some(F::SslNegotiation(SslNegotiationMetaMessage::PostgresGss(_))) => {
                    self.send(B::SslResponse(SslResponse::Refuse))?;
                    self.flush().await?;
                }
                Some(F::SslNegotiation(SslNegotiationMetaMessage::None)) => {
                    self.ctx.awaiting_frontend_ssl = false
                }
                Some(F::CancelRequest(c)) => {
                    // Protocol 3.2 allows longer keys; ours are the 4 bytes 3.0 clients send.
                    let secret = match &c.secret_key {
                        SecretKey::I32(s) => Some(*s),
                        SecretKey::Bytes(b) if b.len() == 4 => {
                            Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                        }
                        SecretKey::Bytes(_) => None,
                    };
                    if let (Some(registry), Some(secret)) = (registry, secret) {
                        registry.cancel(c.pid, secret);
                    }
                    return Ok(None);
                }
                Some(F::Startup(s)) => {
                    self.ctx.awaiting_frontend_startup = false;
                    self.ctx.protocol_version = ProtocolVersion::PROTOCOL3_0;
                    return Ok(Some(s));
                }
                Some(other) => {
                    return Err(SqlError::new(
                        "08P01",
                        format!("unexpected message during startup: {other:?}"),
                    ))
                }
            }
        }
    }

    /// Ends the session with a FATAL error, as Postgres does when it cannot accept one.
    pub async fn fatal(&mut self, e: &SqlError) -> Result<(), SqlError> {
        let mut fields = vec![
            (b'S', "FATAL".to_string()),
            (b'V', "FATAL".to_string()),
            (b'C', e.code.to_string()),
            (b'M', e.message.clone()),
        ];
        if let Some(h) = &e.hint {
            fields.push((b'H', h.clone()));
        }
        self.send(B::ErrorResponse(ErrorResponse::new(fields)))?;
        self.flush().await
    }
}

pub(super) fn io(e: std::io::Error) -> SqlError {
    SqlError::new("08006", format!("connection failure: {e}"))
}
