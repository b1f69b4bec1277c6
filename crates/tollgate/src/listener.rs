//! The HTTP listener: our own accept loop over hyper, because `axum::serve` offers no
//! way to time out slow clients or to shape hyper's own error answers.
//!
//! What it adds to a plain `axum::serve`:
//! - **Slow request heads** are cut: a connection that has not sent a complete request
//!   head within [`ListenLimits::header_timeout`] is closed (hyper's
//!   `header_read_timeout`). hyper also starts this clock when a keep-alive connection
//!   goes idle, so it doubles as the keep-alive idle timeout.
//! - **Slow request bodies** are cut: a body that pauses longer than
//!   [`ListenLimits::body_idle`] between two pieces, or is not complete within
//!   [`ListenLimits::body_total`] of the request head, fails with an `io::Error` of kind
//!   `TimedOut`; the gateway answers it 408 (`invalid_request_error` /
//!   `request_timeout`, see `tollgate_gateway::body::read_limited`).
//! - **hyper's own error answers** (431 for a head too large, 400 for an unparsable head
//!   such as a bad `Content-Length`, 414) would otherwise go out with an empty body and
//!   no request id. They are rewritten into complete answers with the OpenAI error
//!   envelope and an `x-request-id` ([`ErrorRewrite`]).
//!
//! The listener speaks HTTP/1.1 only. (`axum::serve` also accepted cleartext HTTP/2 with
//! prior knowledge, which no client of a gateway uses and which has no head timeout:
//! a connection could sit in protocol detection, or idle on HTTP/2, forever.)
//!
//! Accepted sockets get `TCP_NODELAY` (small SSE chunks must not wait for Nagle and
//! delayed ACKs, ~40 ms), HTTP/1 keep-alive stays on, and a stop signal drains the
//! open connections gracefully.
//!
//! The limits come from environment variables (milliseconds), so tests can shorten
//! them: `TOLLGATE_HEADER_TIMEOUT_MS` (default 10 000), `TOLLGATE_BODY_IDLE_TIMEOUT_MS`
//! (default 10 000), `TOLLGATE_BODY_TIMEOUT_MS` (default 30 000).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a client may take to send its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenLimits {
    /// The whole request head (request line and headers); also the idle time after
    /// which a keep-alive connection is closed.
    pub header_timeout: Duration,
    /// The longest pause between two pieces of a request body.
    pub body_idle: Duration,
    /// The whole request body, counted from the moment the head was read.
    pub body_total: Duration,
}

impl Default for ListenLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_idle: Duration::from_secs(10),
            body_total: Duration::from_secs(30),
        }
    }
}

impl ListenLimits {
    /// The defaults, overridden by `TOLLGATE_HEADER_TIMEOUT_MS`,
    /// `TOLLGATE_BODY_IDLE_TIMEOUT_MS` and `TOLLGATE_BODY_TIMEOUT_MS` where set to a
    /// positive number of milliseconds (anything else is ignored with a warning).
    pub fn from_env() -> Self {
        let d = Self::default();
        Self {
            header_timeout: env_ms("TOLLGATE_HEADER_TIMEOUT_MS").unwrap_or(d.header_timeout),
            body_idle: env_ms("TOLLGATE_BODY_IDLE_TIMEOUT_MS").unwrap_or(d.body_idle),
            body_total: env_ms("TOLLGATE_BODY_TIMEOUT_MS").unwrap_or(d.body_total),
        }
    }
}

fn env_ms(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            tracing::warn!(%name, value = %raw, "ignored: not a positive number of milliseconds");
            None
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then stops accepting and
/// waits for the open connections to finish their requests (the caller bounds that).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
    limits: ListenLimits,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            let mut req = req.map(|body| axum::body::Body::new(TimedBody::new(body, limits)));
            // The client's address, for call records and `X-Forwarded-For`.
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let mut app = app.clone();
            async move {
                let res = tower::Service::call(&mut app, req).await;
                Ok::<_, Infallible>(match res {
                    Ok(r) => r,
                    Err(never) => match never {},
                })
            }
        });
        let io = TokioIo::new(ErrorRewrite::new(tcp));
        let conn = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Connection-level errors (the peer gave up before we accepted) are nothing to wait
/// for; others (out of file descriptors) are: retrying at once would spin.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

// ---------------------------------------------------------------------------------
// Slow bodies

/// A request body with a read deadline: fails with `io::ErrorKind::TimedOut` when the
/// next piece takes longer than `idle`, or the body is not over by `deadline`.
///
/// The timer is created only when a read actually has to wait, so bodies that arrive
/// with their head (nearly all of them) cost no timer.
pub struct TimedBody<B> {
    inner: B,
    idle: Duration,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    /// A piece arrived since the timer was last set: the idle clock restarts.
    progressed: bool,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, limits: ListenLimits) -> Self {
        Self {
            inner,
            idle: limits.body_idle,
            deadline: Instant::now() + limits.body_total,
            timer: None,
            progressed: true,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.progressed = true;
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if this.progressed {
            this.progressed = false;
            let at = (Instant::now() + this.idle).min(this.deadline);
            match this.timer.as_mut() {
                Some(t) => t.as_mut().reset(at),
                None => this.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
        }
        match this.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Some(Err(Box::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            ))))),
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------------
// hyper's own error answers

/// A connection's socket, with hyper's own error answers rewritten on the way out.
///
/// hyper answers a request head it cannot parse by itself, before any of our code sees
/// a request: a bare head (`HTTP/1.1 431 Request Header Fields Too Large`,
/// `content-length: 0`, `date`) and then it closes the connection. hyper has no hook
/// for that answer, so it is recognised here, on the write side: a write that is
/// exactly such a head, with one of hyper's error statuses and no header besides
/// `content-length: 0`, `date` and `connection` (every answer of the gateway's router
/// carries at least `content-type` and `x-request-id`, so none can match). It is
/// replaced by a complete answer with the OpenAI envelope, a fresh `x-request-id`
/// and `connection: close`.
pub struct ErrorRewrite<T> {
    inner: T,
    /// A rewritten answer still to be written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ErrorRewrite<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> ErrorRewrite<T> {
    /// Writes out a pending rewritten answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.pending.as_mut() {
            let rest = bytes.get(*written..).unwrap_or_default();
            if rest.is_empty() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                self.pending = None;
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ErrorRewrite<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ErrorRewrite<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(answer) = rewrite_protocol_error(buf) {
            this.pending = Some((answer, 0));
            // Report the head as written; the answer goes out on the next drain.
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (nonempty.next(), nonempty.next())
            && let Some(answer) = rewrite_protocol_error(only)
        {
            this.pending = Some((answer, 0));
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// If `buf` is exactly one of hyper's bare error heads, the complete answer to send
/// instead.
fn rewrite_protocol_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head = buf.strip_prefix(b"HTTP/1.")?;
    let head = head.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.get(2..5)?.parse().ok()?;
    let (code, message) = match status {
        400 => (
            "invalid_request",
            "The request could not be parsed as HTTP (malformed request line or headers, e.g. an invalid Content-Length)",
        ),
        414 => ("uri_too_long", "The request URI is too long"),
        431 => (
            "headers_too_large",
            "The request headers are too large (too many headers or too many bytes)",
        ),
        _ => return None,
    };
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" if value == "0" => {}
            "connection" => {}
            "date" => date = Some(value),
            _ => return None,
        }
    }
    let id = tollgate_gateway::request_id::RequestId::generate().0;
    let body = serde_json::json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "code": code,
        "param": null,
    }})
    .to_string();
    let reason = match status {
        400 => "Bad Request",
        414 => "URI Too Long",
        _ => "Request Header Fields Too Large",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {id}\r\nrequest-id: {id}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(d) = date {
        out.push_str("date: ");
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(head: &str) -> Option<String> {
        rewrite_protocol_error(head.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn hyper_error_heads_become_enveloped_answers() {
        let out = rewrite(
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n",
        )
        .unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("\r\nx-request-id: req_"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let out = rewrite("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").unwrap();
        assert!(out.contains("\"code\":\"invalid_request\""));
    }

    #[test]
    fn other_writes_pass_untouched() {
        // Our router's answers carry other headers.
        assert!(
            rewrite("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n")
                .is_none()
        );
        assert!(rewrite("HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").is_none());
        // Statuses hyper does not produce by itself.
        assert!(rewrite("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        // A head followed by body bytes, or no complete head at all.
        assert!(rewrite("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nx").is_none());
        assert!(rewrite("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(rewrite("data: HTTP/1.1 400\r\n\r\n").is_none());
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let (_tx, rx) = tokio::io::duplex(64);
        let limits = ListenLimits {
            header_timeout: Duration::from_secs(1),
            body_idle: Duration::from_millis(50),
            body_total: Duration::from_secs(60),
        };
        // A body stream fed from `rx`; nothing is ever sent.
        let stream = tokio_util::io::ReaderStream::new(rx)
            .map(|r| r.map(Frame::data))
            .boxed();
        let body = TimedBody::new(http_body_util::StreamBody::new(stream), limits);
        let err = http_body_util::BodyExt::collect(body).await.err().unwrap();
        let io = err.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
    }

    use futures::StreamExt;
}
