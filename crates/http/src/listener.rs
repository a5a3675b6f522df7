//! The TCP listener the server accepts on. Its one job beyond `TcpListener`: requests that hyper
//! refuses while parsing (a request line longer than 64 KiB, a header block past hyper's limits,
//! a malformed request line) never reach axum, and hyper answers them itself with a bare status
//! and an empty body. Those answers are rewritten here into the `/v1` error envelope
//! (`URI_TOO_LONG`, `HEADERS_TOO_LARGE`, `BAD_REQUEST`), so every non-2xx a client reads has
//! the same shape.
//!
//! Hyper writes such an answer as a single buffer, `HTTP/1.1 431 …\r\ncontent-length: 0…\r\n\r\n`,
//! then closes the connection. An answer of ours never has an empty error body (the guard always
//! writes the envelope), so the rewrite cannot touch a response that went through the router.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::serve::{IncomingStream, Listener};
use figur_engine::{ApiError, ErrorCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

use crate::error::{for_status, ErrorEnvelope};
use crate::tls::Conn;

/// A bound listener whose connections carry [`Enveloped`] IO: plain TCP, or TLS once each
/// connection's handshake has finished (see [`crate::tls`]).
#[derive(Debug)]
pub struct EnvelopeListener {
    inner: Accepting,
    addr: SocketAddr,
}

#[derive(Debug)]
enum Accepting {
    Plain(TcpListener),
    Tls(tokio::sync::mpsc::Receiver<(Conn, SocketAddr)>),
}

impl EnvelopeListener {
    pub fn plain(listener: TcpListener) -> io::Result<Self> {
        Ok(EnvelopeListener { addr: listener.local_addr()?, inner: Accepting::Plain(listener) })
    }

    pub fn tls(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        Ok(EnvelopeListener { addr, inner: Accepting::Tls(crate::tls::incoming(listener, acceptor)) })
    }
}

impl Listener for EnvelopeListener {
    type Io = Enveloped<Conn>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = match &mut self.inner {
            Accepting::Plain(listener) => {
                let (io, addr) = Listener::accept(listener).await;
                // Small JSON answers and long-poll wake-ups should not wait for Nagle.
                let _ = io.set_nodelay(true);
                (Conn::Plain(io), addr)
            }
            Accepting::Tls(handshaken) => match handshaken.recv().await {
                Some(accepted) => accepted,
                // The accept loop only ends when this listener is gone.
                None => std::future::pending().await,
            },
        };
        (Enveloped { io, pending: Vec::new(), sent: 0 }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// The client's address, for the per-address rate limit of unauthenticated requests.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, EnvelopeListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, EnvelopeListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// A connection whose bare parse-error answers are replaced by enveloped ones.
#[derive(Debug)]
pub struct Enveloped<IO> {
    io: IO,
    /// The replacement answer still to be written, and how much of it is.
    pending: Vec<u8>,
    sent: usize,
}

impl<IO: AsyncWrite + Unpin> Enveloped<IO> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Enveloped<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Enveloped<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(status) = bare_parse_error(buf) {
            self.pending = enveloped_answer(status);
            self.sent = 0;
            // Hyper's bytes are taken as written; ours go out now or on the next flush.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The status of a buffer that is exactly one of hyper's automatic answers to a parse error.
fn bare_parse_error(buf: &[u8]) -> Option<StatusCode> {
    // Every write passes here: answer the common case from the first bytes, allocating nothing.
    let status = match buf.get(..13)? {
        b"HTTP/1.1 431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        b"HTTP/1.1 414 " => StatusCode::URI_TOO_LONG,
        b"HTTP/1.1 400 " => StatusCode::BAD_REQUEST,
        _ => return None,
    };
    let head = std::str::from_utf8(buf).ok()?;
    // The whole buffer is a head with no body.
    let head = head.strip_suffix("\r\n\r\n").filter(|h| !h.contains("\r\n\r\n"))?;
    head.split("\r\n").any(|line| line.eq_ignore_ascii_case("content-length: 0")).then_some(status)
}

/// The same answer in the envelope, with the code and words the guard gives these statuses.
fn enveloped_answer(status: StatusCode) -> Vec<u8> {
    let error = if status == StatusCode::BAD_REQUEST {
        ApiError::new(ErrorCode::BadRequest, "the request could not be parsed as HTTP/1.1")
    } else {
        for_status(status)
    };
    let request_id = figur_engine::ids::new_id();
    let body = serde_json::to_vec(&ErrorEnvelope::new(&error, &request_id)).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-request-id: {request_id}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_bare_answers_are_rewritten() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(bare_parse_error(bare), Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        let uri = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_parse_error(uri), Some(StatusCode::URI_TOO_LONG));
        // An answer of ours has a body; a 200 is never touched.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 20\r\n\r\n{\"error\":{}}        ";
        assert_eq!(bare_parse_error(ours), None);
        assert_eq!(bare_parse_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        let answer = String::from_utf8(enveloped_answer(StatusCode::URI_TOO_LONG)).unwrap();
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(answer.contains("\"code\":\"URI_TOO_LONG\""), "{answer}");
    }
}
