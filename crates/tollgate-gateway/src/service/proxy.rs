//! Forwarding one request to a service's nodes and its answer back, both bodies
//! streamed (neither is ever held whole: memory per request is a few buffers whatever
//! the body size, and the gateway's `max_body_bytes` does not apply here).
//!
//! A node that refuses the connection or answers 5xx is put in a short cooldown; the
//! request is tried once more on another node when its method is idempotent and it
//! has no body (a streamed body cannot be sent twice). Otherwise the node's answer,
//! whatever its status, goes back as it is, minus hop-by-hop headers.
//!
//! The call is finished when the answer's body ends rather than when its headers go
//! out, so its latency covers the transfer. When the consumer logs bodies
//! (`log_bodies`), the first bytes of both bodies are copied as they pass
//! ([`crate::body_log`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tollgate_core::spec::ServiceSpec;
use tollgate_core::{Door, GatewayError, UpstreamCode};
use tollgate_store::CallAttempt;

use futures::StreamExt;

use super::table::Compiled;
use crate::body_log::Capture;
use crate::lifecycle::Call;
use crate::reply::ApiError;
use crate::state::GatewayState;

/// Hop-by-hop headers (RFC 9110 7.6.1), never forwarded either way.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        h.remove(n);
    }
    for n in HOP_BY_HOP {
        h.remove(n);
    }
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

fn has_body(h: &HeaderMap) -> bool {
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// The node URL's authority (`host:port`).
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The headers sent upstream.
fn upstream_headers(
    incoming: &HeaderMap,
    spec: &ServiceSpec,
    node_url: &str,
    client_ip: Option<String>,
    request_id: &str,
) -> HeaderMap {
    let mut h = incoming.clone();
    strip_hop_by_hop(&mut h);
    // The consumer's gateway credential (key, Basic, JWT, HMAC) is the gateway's
    // business, not the upstream's.
    if h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            ["bearer ", "basic ", "hmac "]
                .iter()
                .any(|s| v.starts_with(s))
        })
    {
        h.remove(header::AUTHORIZATION);
    }
    if crate::auth::presented_key(incoming).is_some() {
        h.remove("x-api-key");
        h.remove("api-key");
    }
    let original_host = incoming.get(header::HOST).cloned();
    let host = match spec.upstream.pass_host.as_deref() {
        None | Some("pass") => original_host.clone(),
        Some("node") => HeaderValue::from_str(authority(node_url)).ok(),
        Some(fixed) => HeaderValue::from_str(fixed).ok(),
    };
    h.remove(header::HOST);
    if let Some(host) = host {
        h.insert(header::HOST, host);
    }
    if let Some(ip) = client_ip {
        let value = match incoming
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prior) if !prior.trim().is_empty() => format!("{prior}, {ip}"),
            _ => ip,
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert("x-forwarded-for", v);
        }
    }
    h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Some(host) = original_host {
        h.insert("x-forwarded-host", host);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    h
}

/// Sends the request to the service's nodes and streams the answer back.
pub async fn forward(
    st: &GatewayState,
    call: &Call,
    svc: &Compiled,
    route: &str,
    path: &str,
    req: Request,
) -> Response {
    let spec = &svc.spec;
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (mut parts, body) = req.into_parts();
    // The masking filter: the rules naming this service, both ways.
    let masks = crate::masking::Masks::select(&st.live.snapshot.load(), None, Some(&spec.name));
    call.set_masks(masks.clone());
    let body = match &masks.request {
        None => body,
        Some(masker) => match masked_request(st, masker, &mut parts.headers, body, call).await {
            Ok(body) => body,
            Err(e) => return ApiError::new(Door::OpenAi, e).into_response(),
        },
    };
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let retryable =
        is_idempotent(&parts.method) && !has_body(&parts.headers) && spec.upstream.nodes.len() > 1;
    let request_id = call.request_id();
    // With bodies logged, the request body is copied (up to the cap) as it is sent.
    let body_log = call.body_log();
    let request_capture = body_log
        .as_ref()
        .map(|log| Arc::new(Mutex::new(log.capture())));
    let mut body = Some(body);
    let mut tried: Vec<usize> = Vec::new();
    let started = Instant::now();
    let mut last_error = GatewayError::Upstream {
        code: UpstreamCode::Unavailable,
        message: format!("Service `{}` has no upstream node", spec.name),
    };
    let max_attempts = if retryable { 2 } else { 1 };
    while tried.len() < max_attempts {
        let Some(i) = svc.balancer.pick(&tried) else {
            break;
        };
        tried.push(i);
        let last_try = tried.len() == max_attempts || tried.len() == spec.upstream.nodes.len();
        let Some(node) = spec.upstream.nodes.get(i) else {
            break;
        };
        let base = node.url.trim_end_matches('/');
        let url = format!("{base}{path}{query}");
        let headers = upstream_headers(
            &parts.headers,
            spec,
            &node.url,
            client_ip.clone(),
            &request_id,
        );
        let mut builder = st
            .services
            .client
            .request(parts.method.clone(), &url)
            .headers(headers);
        if !retryable && let Some(b) = body.take() {
            let data = b.into_data_stream();
            builder = builder.body(match request_capture.clone() {
                Some(capture) => reqwest::Body::wrap_stream(data.inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        lock(&capture).push(bytes);
                    }
                })),
                None => reqwest::Body::wrap_stream(data),
            });
        }
        let attempt_started = Instant::now();
        let sent = tokio::time::timeout(spec.upstream.timeout(), builder.send()).await;
        let latency_ms = attempt_started.elapsed().as_millis() as u64;
        let mut attempt = CallAttempt {
            provider: node.url.clone(),
            target_model: route.to_string(),
            status: None,
            error_code: None,
            reason: None,
            latency_ms,
        };
        match sent {
            Err(_) => {
                attempt.reason = Some("timeout".into());
                attempt.error_code = Some("upstream_timeout".into());
                call.attempt(attempt);
                if let Some(request) = &request_capture {
                    call.log_request_body(take(request));
                }
                return ApiError::new(
                    Door::OpenAi,
                    GatewayError::Upstream {
                        code: UpstreamCode::Timeout,
                        message: format!(
                            "Service `{}`: the upstream did not answer within {} ms",
                            spec.name,
                            spec.upstream.timeout().as_millis()
                        ),
                    },
                )
                .into_response();
            }
            Ok(Err(e)) => {
                svc.balancer.cool_down(i);
                attempt.reason = Some("transient".into());
                attempt.error_code = Some("upstream_unavailable".into());
                call.attempt(attempt);
                tracing::warn!(service = %spec.name, node = %node.url, error = %e, "service node failed");
                last_error = GatewayError::Upstream {
                    code: UpstreamCode::Unavailable,
                    message: format!(
                        "Service `{}`: the upstream could not be reached{}",
                        spec.name,
                        if e.is_connect() {
                            " (connection refused or failed)"
                        } else {
                            ""
                        }
                    ),
                };
                continue;
            }
            Ok(Ok(resp)) => {
                let status = resp.status();
                attempt.status = Some(status.as_u16());
                if status.is_server_error() {
                    svc.balancer.cool_down(i);
                    if !last_try {
                        attempt.reason = Some("transient".into());
                        call.attempt(attempt);
                        continue;
                    }
                }
                call.attempt(attempt);
                call.answered_by(&node.url, route, started.elapsed().as_millis() as u64);
                let bodies = body_log
                    .zip(request_capture)
                    .map(|(log, request)| (request, log.capture()));
                if let Some(masker) = masks.response {
                    return masked_answer(resp, &parts.method, call, bodies, masker).await;
                }
                return streamed_answer(resp, &parts.method, call, bodies, None);
            }
        }
    }
    if let Some(request) = request_capture {
        call.log_request_body(take(&request));
    }
    ApiError::new(Door::OpenAi, last_error).into_response()
}

fn lock(c: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What was captured of the request body so far (an empty capture is left).
fn take(c: &Mutex<Capture>) -> Capture {
    let mut guard = lock(c);
    let empty = Capture::like(&guard);
    std::mem::replace(&mut *guard, empty)
}

/// The end of a service call: what it still has to store (the bodies, when logged)
/// and the call to finish when the answer's body ends or the client goes.
struct AnswerTail {
    call: Call,
    /// The node's status, which the record keeps if the body breaks off.
    status: u16,
    /// The request's capture and the answer's, when bodies are logged.
    bodies: Option<(Arc<Mutex<Capture>>, Capture)>,
}

impl AnswerTail {
    fn store(&mut self) {
        if let Some((request, response)) = self.bodies.take() {
            self.call.log_request_body(take(&request));
            self.call.log_response_body(response);
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if let Some((_, response)) = self.bodies.as_mut() {
            response.push(chunk);
        }
    }
}

impl Drop for AnswerTail {
    fn drop(&mut self) {
        // The client went away mid-answer: what passed is stored; the call then
        // closes as `client_closed` when its last handle goes.
        self.store();
    }
}

/// The node's answer as the client's body. The call is finished when that body ends,
/// not when its headers go out: its latency covers the whole transfer, a node that
/// breaks off mid-body and a client that leaves are both in its record, and with
/// bodies logged, a copy of their first bytes is kept as they pass. An answer with no
/// body to send (HEAD, 204, 304, a zero length) is finished with its head.
fn streamed_answer(
    resp: reqwest::Response,
    method: &Method,
    call: &Call,
    bodies: Option<(Arc<Mutex<Capture>>, Capture)>,
    mask: Option<TextStream>,
) -> Response {
    let status = resp.status();
    let bodiless = *method == Method::HEAD
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
        || resp.content_length() == Some(0);
    let mut tail = AnswerTail {
        call: call.clone(),
        status: status.as_u16(),
        bodies,
    };
    if bodiless {
        // Not handed over: the lifecycle layer finishes it as it sends the head.
        tail.store();
        return answer_with(resp, |resp| Body::from_stream(resp.bytes_stream()));
    }
    call.hand_to_stream();
    let masked = mask.is_some();
    let mut res = answer_with(resp, move |resp| tail_body(resp, tail, mask));
    if masked {
        res.headers_mut().remove(header::CONTENT_LENGTH);
    }
    res
}

/// A service's request body, read whole (up to `max_body_bytes`) and masked; a
/// `block` match is the 400.
async fn masked_request(
    st: &GatewayState,
    masker: &tollgate_masking::Masker,
    headers: &mut http::HeaderMap,
    body: Body,
    call: &Call,
) -> Result<Body, GatewayError> {
    let bytes = crate::body::read_limited(body, headers, st.max_body_bytes).await?;
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match crate::masking::mask_body(masker, ct, &bytes) {
        Ok(None) => Ok(Body::from(bytes)),
        Ok(Some(masked)) => {
            // The length the node gets is the masked body's.
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(masked.len()),
            );
            Ok(Body::from(masked))
        }
        Err(b) => {
            if let Some(log) = call.body_log() {
                let mut c = log.capture();
                c.push(format!("[request blocked by the masking rule `{}`]", b.rule).as_bytes());
                call.log_request_body(c);
            }
            Err(crate::masking::blocked(b))
        }
    }
}

/// A service's answer through the masking filter: an event stream chunk by chunk
/// ([`TextStream`]), anything else read whole (up to the gateway's answer cap) and
/// masked as JSON or text; a `block` match is the 400 (or the stream's error event).
async fn masked_answer(
    resp: reqwest::Response,
    method: &Method,
    call: &Call,
    bodies: Option<(Arc<Mutex<Capture>>, Capture)>,
    masker: tollgate_masking::Masker,
) -> Response {
    let ct = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if ct
        .as_deref()
        .is_some_and(|c| c.contains("text/event-stream"))
    {
        let mask = TextStream::new(masker);
        return streamed_answer(resp, method, call, bodies, Some(mask));
    }
    let status = resp.status();
    let mut headers = resp.headers().clone();
    strip_hop_by_hop(&mut headers);
    let mut resp = resp;
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) if buf.len() + c.len() <= crate::MAX_ANSWER_BODY => {
                buf.extend_from_slice(&c)
            }
            Ok(None) => break,
            // Nothing has gone to the client yet: this is the 502 it gets (and the
            // record's status and code come from it).
            Ok(Some(_)) | Err(_) => {
                return ApiError::new(
                    Door::OpenAi,
                    GatewayError::Upstream {
                        code: UpstreamCode::Unavailable,
                        message: "The service's answer broke off or was too large to mask".into(),
                    },
                )
                .into_response();
            }
        }
    }
    let body = match crate::masking::mask_body(&masker, ct.as_deref(), &buf) {
        Ok(Some(masked)) => masked,
        Ok(None) => Bytes::from(buf),
        Err(b) => {
            if let Some((request, _)) = bodies {
                call.log_request_body(take(&request));
            }
            return ApiError::new(Door::OpenAi, crate::masking::blocked(b)).into_response();
        }
    };
    if let Some((request, mut response)) = bodies {
        response.push(&body);
        call.log_request_body(take(&request));
        call.log_response_body(response);
    }
    headers.remove(http::header::CONTENT_LENGTH);
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A service's event stream masked as one text: UTF-8 cut by the network is carried
/// to the next chunk; the masker holds back its window.
pub struct TextStream {
    masker: tollgate_masking::StreamMasker,
    carry: Vec<u8>,
}

impl TextStream {
    fn new(masker: tollgate_masking::Masker) -> TextStream {
        TextStream {
            masker: tollgate_masking::StreamMasker::new(masker),
            carry: Vec::new(),
        }
    }

    fn push(&mut self, chunk: &[u8]) -> Result<Bytes, tollgate_masking::Blocked> {
        self.carry.extend_from_slice(chunk);
        // A character cut by the network waits for the next chunk; invalid bytes
        // become U+FFFD and the text is masked all the same (never passed unmasked).
        let whole = match std::str::from_utf8(&self.carry) {
            Ok(_) => self.carry.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.carry.len(),
        };
        let rest = self.carry.split_off(whole);
        let text = match String::from_utf8(std::mem::replace(&mut self.carry, rest)) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let mut hits = Vec::new();
        let out = self.masker.push(&text, &mut hits);
        crate::masking::count(&hits);
        out.map(Bytes::from)
    }

    fn finish(&mut self) -> Result<Bytes, tollgate_masking::Blocked> {
        let mut hits = Vec::new();
        let mut out = self.masker.finish(&mut hits)?.into_bytes();
        crate::masking::count(&hits);
        out.append(&mut self.carry);
        Ok(Bytes::from(out))
    }
}

/// The node's answer, copied into `tail` as it passes; the call finishes with its end.
fn tail_body(resp: reqwest::Response, tail: AnswerTail, mask: Option<TextStream>) -> Body {
    if let Some(mask) = mask {
        return masked_tail_body(resp, tail, mask);
    }
    // With a length announced, the server stops polling the body once that many bytes
    // went out (the end is never asked for), so the call finishes with the last byte.
    let length = resp.content_length();
    let upstream = resp.bytes_stream().boxed();
    let stream = futures::stream::unfold(
        (upstream, Some(tail), 0u64),
        move |(mut upstream, tail, passed)| async move {
            let mut tail = tail?;
            match upstream.next().await {
                Some(Ok(chunk)) => {
                    tail.push(&chunk);
                    let passed = passed.saturating_add(chunk.len() as u64);
                    if length.is_some_and(|n| passed >= n) {
                        tail.store();
                        tail.call.finish().await;
                        return Some((Ok(chunk), (upstream, None, passed)));
                    }
                    Some((Ok(chunk), (upstream, Some(tail), passed)))
                }
                end => {
                    if end.is_some() {
                        // Cut off mid-body by the node: not the client's doing.
                        tail.call
                            .set_outcome(tail.status, Some("upstream_stream_broken"));
                    }
                    tail.store();
                    tail.call.finish().await;
                    // An upstream error still ends the client's body as an error.
                    end.map(|e| (e, (upstream, None, passed)))
                }
            }
        },
    );
    Body::from_stream(stream)
}

/// [`tail_body`] through a [`TextStream`]: a `block` match ends the stream with the
/// OpenAI stream error event, code `content_blocked`.
fn masked_tail_body(resp: reqwest::Response, tail: AnswerTail, mask: TextStream) -> Body {
    let upstream = resp.bytes_stream().boxed();
    let stream = futures::stream::unfold(
        (upstream, Some((tail, mask))),
        move |(mut upstream, state)| async move {
            let (mut tail, mut mask) = state?;
            let ended = |e: tollgate_masking::Blocked| {
                Bytes::from(crate::masking::blocked(e).stream_event(Door::OpenAi))
            };
            match upstream.next().await {
                Some(Ok(chunk)) => match mask.push(&chunk) {
                    Ok(out) => {
                        tail.push(&out);
                        Some((
                            Ok::<Bytes, reqwest::Error>(out),
                            (upstream, Some((tail, mask))),
                        ))
                    }
                    Err(b) => {
                        let out = ended(b);
                        tail.push(&out);
                        tail.call.set_outcome(tail.status, Some("content_blocked"));
                        tail.store();
                        tail.call.finish().await;
                        Some((Ok(out), (upstream, None)))
                    }
                },
                Some(Err(e)) => {
                    // Cut off mid-body by the node: the client's body ends as an error,
                    // as an unmasked one does (the held-back tail is dropped).
                    tail.call
                        .set_outcome(tail.status, Some("upstream_stream_broken"));
                    tail.store();
                    tail.call.finish().await;
                    Some((Err(e), (upstream, None)))
                }
                None => {
                    let out = match mask.finish() {
                        Ok(out) => out,
                        Err(b) => {
                            tail.call.set_outcome(tail.status, Some("content_blocked"));
                            ended(b)
                        }
                    };
                    tail.push(&out);
                    tail.store();
                    tail.call.finish().await;
                    Some((Ok(out), (upstream, None)))
                }
            }
        },
    );
    Body::from_stream(stream)
}

/// The node's status and headers, minus hop-by-hop ones, with the body `body` makes of
/// the node's answer.
fn answer_with(resp: reqwest::Response, body: impl FnOnce(reqwest::Response) -> Body) -> Response {
    let status = resp.status();
    let mut headers = resp.headers().clone();
    strip_hop_by_hop(&mut headers);
    let mut res = Response::new(body(resp));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_including_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, x-private".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn authority_of_node_urls() {
        assert_eq!(authority("http://10.0.0.5:8000/base"), "10.0.0.5:8000");
        assert_eq!(authority("https://api.example.com"), "api.example.com");
    }
}
