//! Hostile upstreams and hostile clients (issue 8, items 8, 9, 10, 12): the real binary
//! against a misbehaving mock, and raw sockets that misbehave. No test asserts a time:
//! the waits below only keep a broken gateway from hanging the suite.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test waits for the gateway to do something (a failure guard, not a
/// measurement).
const GUARD: Duration = Duration::from_secs(120);

/// Short client timeouts, so the slow-client tests finish quickly.
const FAST_LIMITS: &[(&str, &str)] = &[
    ("TOLLGATE_HEADER_TIMEOUT_MS", "500"),
    ("TOLLGATE_BODY_IDLE_TIMEOUT_MS", "500"),
    ("TOLLGATE_BODY_TIMEOUT_MS", "1500"),
];

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// The gateway's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn chat(
    gw: &Gateway,
    model: &str,
    stream: bool,
) -> (u16, reqwest::header::HeaderMap, String) {
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .send()
        .await
        .expect("the gateway answers (not an empty reply)");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap_or_default();
    (status, headers, body)
}

// -------------------------------------------------------------------------------
// Item 8: retry-after values that used to panic the task

#[tokio::test]
async fn absurd_retry_after_values_get_an_envelope_and_the_gateway_keeps_serving() {
    let mock = MockProvider::start().await.unwrap();
    let variants: &[(&str, &str)] = &[
        ("openai", "retry_after_raw=1e20"),
        ("openai", "retry_after_raw=inf"),
        ("openai", "retry_after_raw=-1"),
        ("openai", "retry_after_raw=NaN"),
        ("openai", "retry_after_raw=1e400"),
        ("openai", "retry_after_raw=Wed%2C_21_Oct_2015_07:28:00_GMT"),
        ("openai", "retry_after_ms_raw=1e300"),
        ("openai", "retry_after_ms_raw=-5"),
        ("gemini", "retry_delay=1e20s"),
        ("gemini", "retry_delay=infs"),
        ("gemini", "retry_delay=-3s"),
        ("gemini", "retry_delay=NaNs"),
    ];
    // One provider per variant: a throttled key cools down, and the next variant must
    // reach the upstream to exercise its own header.
    let mut providers = String::new();
    let mut models = String::new();
    for (i, (kind, directive)) in variants.iter().enumerate() {
        let base = if *kind == "gemini" {
            mock.gemini_base_url()
        } else {
            mock.openai_base_url()
        };
        providers.push_str(&format!(
            "  - name: throttled-{i}\n    kind: {kind}\n    base_url: {base}\n    api_keys: [\"k-{i}\"]\n"
        ));
        models.push_str(&format!(
            "  - name: throttled-{i}\n    targets: [{{provider: throttled-{i}, model: \"m@status=429,{directive}\"}}]\n"
        ));
    }
    let config = config_for(&mock, &models).replace("models:\n", &format!("{providers}models:\n"));
    let gw = Gateway::start(&config);
    for (i, (_, directive)) in variants.iter().enumerate() {
        let (status, headers, body) = chat(&gw, &format!("throttled-{i}"), false).await;
        assert!(
            status == 429 || status == 503,
            "{directive}: status {status}, body {body}"
        );
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{directive}: not JSON ({e}): {body:?}"));
        assert!(v["error"]["code"].is_string(), "{directive}: {v}");
        assert!(v["error"]["message"].is_string(), "{directive}: {v}");
        assert!(headers.contains_key("x-request-id"), "{directive}");
        if let Some(ra) = headers.get("retry-after") {
            let secs: u64 = ra.to_str().unwrap().parse().expect("whole seconds");
            assert!(secs <= 3600, "{directive}: retry-after {secs} is clamped");
        }
    }
    // Still serving.
    let (status, _, body) = chat(&gw, "gpt-mock", false).await;
    assert_eq!(status, 200, "{body}");
}

// -------------------------------------------------------------------------------
// Item 9: an upstream line without a line break

#[tokio::test]
async fn an_endless_stream_line_ends_the_stream_and_memory_stays_bounded() {
    let mock = MockProvider::start().await.unwrap();
    let extra = r#"  - name: endless-openai
    targets: [{provider: mock-openai, model: "gpt@endless_line=300"}]
  - name: endless-anthropic
    targets: [{provider: mock-anthropic, model: "claude@endless_line=64"}]
  - name: endless-gemini
    targets: [{provider: mock-gemini, model: "gemini@endless_line=64"}]
  - name: endless-ollama
    targets: [{provider: mock-ollama, model: "llama@endless_line=64"}]
"#;
    let config = config_for(&mock, extra).replace(
        "models:\n",
        &format!(
            "  - name: mock-gemini\n    kind: gemini\n    base_url: {}\n    api_keys: [\"gem-key\"]\n  - name: mock-ollama\n    kind: ollama\n    base_url: {}\nmodels:\n",
            mock.gemini_base_url(),
            mock.ollama_base_url()
        ),
    );
    let gw = Gateway::start(&config);
    // Warm up (allocator arenas, TLS, tokenizer) before the baseline.
    let (status, _, body) = chat(&gw, "gpt-mock", true).await;
    assert_eq!(status, 200, "{body}");
    let before = rss_kib(gw.pid());

    let (status, _, body) = tokio::time::timeout(GUARD, chat(&gw, "endless-openai", true))
        .await
        .expect("the stream ends");
    assert_eq!(status, 200);
    let data = sse_data(&body);
    let last: Value = serde_json::from_str(data.last().expect("an event")).expect("JSON");
    assert_eq!(last["error"]["code"], "upstream_stream_broken", "{last}");
    assert!(!body.contains("[DONE]"));

    let after = rss_kib(gw.pid());
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 100,
        "a 300 MiB line grew the gateway by {grown_mib} MiB ({before} KiB -> {after} KiB)"
    );

    // The same cap on the native stream parsers (Gemini SSE, Ollama NDJSON).
    for model in ["endless-gemini", "endless-ollama"] {
        let (status, _, body) = tokio::time::timeout(GUARD, chat(&gw, model, true))
            .await
            .expect("the stream ends");
        assert_eq!(status, 200, "{model}");
        let data = sse_data(&body);
        let last: Value = serde_json::from_str(data.last().expect("an event")).expect("JSON");
        assert_eq!(
            last["error"]["code"], "upstream_stream_broken",
            "{model}: {last}"
        );
    }

    // The Anthropic door: an `event: error`.
    let res = client()
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": "endless-anthropic", "max_tokens": 10, "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(GUARD, res.text())
        .await
        .expect("ends")
        .unwrap();
    let events = sse_events(&body);
    let (name, data) = events.last().expect("an event");
    assert_eq!(name, "error", "{body:.300}");
    assert!(data.contains("longer than"), "{data}");

    let (status, _, body) = chat(&gw, "gpt-mock", true).await;
    assert_eq!(status, 200, "still serving: {body}");
}

// -------------------------------------------------------------------------------
// Item 10: slow clients

/// Reads until the peer closes (or resets) the connection; returns what arrived.
async fn read_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Writes `bytes` one at a time with `gap` between them; stops at the first error.
async fn drip(mut w: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, gap: Duration) {
    for b in bytes {
        if w.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(gap).await;
    }
    // Keep the connection open: only the server may end it.
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn slow_and_silent_request_heads_are_disconnected() {
    let mock = MockProvider::start().await.unwrap();
    let gw = Gateway::start_with_env(&config_for(&mock, ""), FAST_LIMITS);
    let addr = host_port(&gw.url);

    // A head dripped at 10 bytes per second that would take a minute to complete.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut r, w) = stream.into_split();
    let mut head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n".to_vec();
    head.extend(std::iter::repeat_n(b'a', 600));
    let writer = tokio::spawn(drip(w, head, Duration::from_millis(100)));
    let got = tokio::time::timeout(GUARD, read_until_closed(&mut r))
        .await
        .expect("the gateway closes a connection whose head never completes");
    writer.abort();
    // hyper answers nothing on a head timeout; if anything came, it is a whole answer.
    if !got.is_empty() {
        assert!(String::from_utf8_lossy(&got).contains("x-request-id"));
    }

    // A connection that never sends a byte.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut r, _w) = stream.into_split();
    tokio::time::timeout(GUARD, read_until_closed(&mut r))
        .await
        .expect("the gateway closes a silent connection");

    // A normal request still works.
    let (status, _, body) = chat(&gw, "gpt-mock", false).await;
    assert_eq!(status, 200, "{body}");
}

/// A parsed raw HTTP/1 answer.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

fn parse_answer(bytes: &[u8]) -> RawAnswer {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    let body =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body not JSON ({e}): {text:?}"));
    RawAnswer {
        status,
        head: head.to_ascii_lowercase(),
        body,
    }
}

/// Reads one answer with a `content-length` body (or up to the close).
async fn read_answer(r: &mut tokio::net::tcp::OwnedReadHalf) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(len) = len
                && got.len() >= end + 4 + len
            {
                got.truncate(end + 4 + len);
                return got;
            }
        }
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn slow_body_head(len: usize) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY_A}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    )
    .into_bytes()
}

fn assert_request_timeout(a: &RawAnswer) {
    assert_eq!(a.status, 408, "{}", a.head);
    assert!(a.head.contains("x-request-id: req_"), "{}", a.head);
    assert_eq!(a.body["error"]["code"], "request_timeout", "{}", a.body);
    assert_eq!(a.body["error"]["type"], "invalid_request_error");
    assert!(a.body["error"]["message"].is_string());
}

#[tokio::test]
async fn slow_and_stalled_request_bodies_get_408() {
    let mock = MockProvider::start().await.unwrap();
    let gw = Gateway::start_with_env(&config_for(&mock, ""), FAST_LIMITS);
    let addr = host_port(&gw.url);

    // Dripped: a byte every 100 ms (never idle for long), 1000 bytes to send.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    w.write_all(&slow_body_head(1000)).await.unwrap();
    let writer = tokio::spawn(drip(w, vec![b' '; 1000], Duration::from_millis(100)));
    let got = tokio::time::timeout(GUARD, read_answer(&mut r))
        .await
        .expect("an answer to a dripped body");
    writer.abort();
    assert_request_timeout(&parse_answer(&got));

    // Stalled: part of the body, then nothing.
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    w.write_all(&slow_body_head(100)).await.unwrap();
    w.write_all(b"{\"model\":").await.unwrap();
    let got = tokio::time::timeout(GUARD, read_answer(&mut r))
        .await
        .expect("an answer to a stalled body");
    drop(w);
    assert_request_timeout(&parse_answer(&got));

    let (status, _, body) = chat(&gw, "gpt-mock", false).await;
    assert_eq!(status, 200, "{body}");
}

// -------------------------------------------------------------------------------
// Item 12: hyper's own protocol errors

async fn raw_exchange(addr: &str, request: &[u8]) -> RawAnswer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = stream.into_split();
    w.write_all(request).await.unwrap();
    let got = tokio::time::timeout(GUARD, read_answer(&mut r))
        .await
        .expect("an answer");
    parse_answer(&got)
}

#[tokio::test]
async fn protocol_errors_carry_the_envelope_and_a_request_id() {
    let mock = MockProvider::start().await.unwrap();
    let gw = Gateway::start(&config_for(&mock, ""));
    for addr in [host_port(&gw.url), host_port(&gw.admin_url)] {
        // Too many headers: 431.
        let mut req = b"GET /v1/models HTTP/1.1\r\nhost: x\r\n".to_vec();
        for i in 0..150 {
            req.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        let a = raw_exchange(&addr, &req).await;
        assert_eq!(a.status, 431, "{}", a.head);
        assert!(a.head.contains("x-request-id: req_"), "{}", a.head);
        assert_eq!(a.body["error"]["code"], "headers_too_large");
        assert_eq!(a.body["error"]["type"], "invalid_request_error");
        assert!(a.body["error"]["message"].is_string());
        assert!(a.body["error"].get("param").is_some());

        // A Content-Length that is not a number: 400.
        let a = raw_exchange(
            &addr,
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n{}",
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.head);
        assert!(a.head.contains("x-request-id: req_"), "{}", a.head);
        assert_eq!(a.body["error"]["code"], "invalid_request");
        assert_eq!(a.body["error"]["type"], "invalid_request_error");

        // Two different Content-Lengths: 400 too.
        let a = raw_exchange(
            &addr,
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.head);
        assert!(a.head.contains("x-request-id: req_"), "{}", a.head);
    }
    // The router's own answers are left alone (a 401 keeps its usual shape).
    let addr = host_port(&gw.url);
    let a = raw_exchange(
        &addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.head);
    assert_eq!(a.body["error"]["code"], "invalid_api_key");
}
