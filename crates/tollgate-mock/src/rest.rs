//! A plain REST upstream for the gateway's service tests and benchmarks: it echoes
//! what reached it, answers with a chosen status or after a delay, and streams large
//! downloads, without ever holding a whole body in memory.
//!
//! - `GET /download/{bytes}`: `bytes` bytes of a fixed pattern ([`pattern_byte`]),
//!   streamed in 64 KiB chunks (`?chunk_delay_ms=N` paces them, `?cut_after=N` breaks
//!   off after N bytes).
//! - `GET /json/{bytes}`: the same small JSON document every time, `bytes` long (see
//!   [`json_doc`]): a fixed-size answer for the benchmarks, whatever headers arrived.
//! - `/mirror`, any method: the request body answered back byte for byte as it streams
//!   in, with the request's `Content-Type` and `Content-Length`.
//! - anything else: a JSON echo `{"node", "method", "path", "query", "headers",
//!   "body_len", "body_checksum"}` (the checksum is [`Checksum`]'s, over the body as
//!   it streamed in). `?status=NNN` (or a path starting `/status/NNN`) answers with that status, `?delay_ms=N` waits
//!   first. Every answer carries `x-node: NAME`.
//!
//! A *down* node is a port nothing listens on: [`refused_port`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// FNV-1a (64 bit) over a byte stream, fed chunk by chunk.
#[derive(Debug, Clone, Copy)]
pub struct Checksum(u64);

impl Default for Checksum {
    fn default() -> Self {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
}

impl Checksum {
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The byte at `offset` of a download.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

const CHUNK: usize = 64 * 1024;

/// How a download is sent: `?chunk_delay_ms=N` waits before each chunk after the
/// first; `?cut_after=N` breaks the connection off after N bytes (the announced
/// length is still the whole).
#[derive(Debug, Default, serde::Deserialize)]
struct DownloadPace {
    chunk_delay_ms: Option<u64>,
    cut_after: Option<u64>,
}

async fn download(
    Path(total): Path<u64>,
    axum::extract::Query(pace): axum::extract::Query<DownloadPace>,
) -> Response {
    let delay = pace.chunk_delay_ms.map(Duration::from_millis);
    let stream = futures::stream::unfold(0u64, move |sent| async move {
        if sent >= total {
            return None;
        }
        if pace.cut_after.is_some_and(|cut| sent >= cut) {
            // A pause first, so the server flushes the head and what was sent before
            // the connection breaks (a cut before the head is a refused request).
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Some((Err(std::io::Error::other("cut off")), total));
        }
        if let Some(d) = delay.filter(|_| sent > 0) {
            tokio::time::sleep(d).await;
        }
        let n = (total - sent).min(CHUNK as u64);
        let chunk: Vec<u8> = (sent..sent + n).map(pattern_byte).collect();
        Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), sent + n))
    });
    let mut res = Response::new(Body::from_stream(stream));
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        res.headers_mut().insert(http::header::CONTENT_LENGTH, v);
    }
    res
}

/// Largest document `GET /json/{bytes}` makes (a larger ask gets this size).
pub const JSON_DOC_MAX: usize = 16 * 1024 * 1024;

/// A JSON document of exactly `bytes` bytes (`{"pad":"aaa..."}`), or of its 10-byte
/// minimum `{"pad":""}`, at most [`JSON_DOC_MAX`].
pub fn json_doc(bytes: usize) -> Vec<u8> {
    const SHELL: usize = r#"{"pad":""}"#.len();
    let pad = bytes.clamp(SHELL, JSON_DOC_MAX) - SHELL;
    let mut doc = Vec::with_capacity(SHELL + pad);
    doc.extend_from_slice(br#"{"pad":""#);
    doc.resize(doc.len() + pad, b'a');
    doc.extend_from_slice(br#""}"#);
    doc
}

async fn json(Path(bytes): Path<usize>) -> Response {
    let mut res = Response::new(Body::from(json_doc(bytes)));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Streams the request body back; nothing is held beyond the chunk in flight.
async fn mirror(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut res = Response::new(Body::from_stream(body.into_data_stream()));
    for name in [http::header::CONTENT_TYPE, http::header::CONTENT_LENGTH] {
        if let Some(v) = parts.headers.get(&name) {
            res.headers_mut().insert(name, v.clone());
        }
    }
    res
}

async fn echo(State(node): State<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let query = parts.uri.query().unwrap_or("").to_string();
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.parse::<u64>().ok()).flatten()
        })
    };
    if let Some(ms) = param("delay_ms") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut sum = Checksum::default();
    let mut len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                len += c.len() as u64;
                sum.update(&c);
            }
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // A node URL with a `/status/NNN` base path answers NNN to everything.
    let path_status = parts
        .uri
        .path()
        .strip_prefix("/status/")
        .and_then(|r| r.split('/').next())
        .and_then(|c| c.parse::<u64>().ok());
    let status = param("status")
        .or(path_status)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = serde_json::json!({
        "node": node, "method": parts.method.as_str(), "path": parts.uri.path(),
        "query": query, "headers": headers, "body_len": len, "body_checksum": sum.hex(),
    });
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert("x-upstream-custom", HeaderValue::from_static("kept"));
    res
}

async fn tag(State(node): State<String>, req: Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&node) {
        res.headers_mut().insert("x-node", v);
    }
    res
}

pub fn router(node: &str) -> Router {
    let node = node.to_string();
    Router::new()
        .route("/download/{bytes}", get(download))
        .route("/json/{bytes}", get(json))
        .route("/mirror", any(mirror))
        .fallback(echo)
        .layer(axum::middleware::from_fn_with_state(node.clone(), tag))
        .with_state(node)
}

/// A running REST upstream; dropping it stops it.
#[derive(Debug)]
pub struct RestUpstream {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RestUpstream {
    /// Starts on a free port of 127.0.0.1, answering as node `name`.
    pub async fn start(name: &str) -> std::io::Result<RestUpstream> {
        RestUpstream::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), name).await
    }

    /// Starts on `addr` (port 0: a free one), answering as node `name`.
    pub async fn start_on(addr: SocketAddr, name: &str) -> std::io::Result<RestUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(crate::serve(listener, router(name)));
        Ok(RestUpstream { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port of 127.0.0.1 that refuses connections (bound, then released).
pub fn refused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_doc_is_json_of_the_asked_length() {
        for n in [0, 9, 10, 11, 1024, 65_536] {
            let doc = json_doc(n);
            assert_eq!(doc.len(), n.max(10), "length for {n}");
            let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
            assert!(v["pad"].is_string());
        }
        assert_eq!(json_doc(usize::MAX).len(), JSON_DOC_MAX);
    }

    #[tokio::test]
    async fn json_and_mirror_answer_their_bytes() {
        let up = RestUpstream::start("n").await.unwrap();
        let client = reqwest::Client::new();
        let res = client
            .get(format!("{}/json/1024", up.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.bytes().await.unwrap(), Bytes::from(json_doc(1024)));

        let body: Vec<u8> = (0..65_536u64).map(pattern_byte).collect();
        let res = client
            .post(format!("{}/mirror", up.url()))
            .header("content-type", "application/octet-stream")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-length"], "65536");
        assert_eq!(res.headers()["content-type"], "application/octet-stream");
        assert_eq!(res.headers()["x-node"], "n");
        assert_eq!(res.bytes().await.unwrap(), Bytes::from(body));

        let res = client
            .get(format!("{}/json/not-a-number", up.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
    }
}
