//! Streamable HTTP for MCP on `/mcp`: the order of checks, sessions, answer formats
//! and which requests leave call records.
//!
//! Every method first authenticates the consumer key like the LLM doors (401 in the
//! OpenAI envelope). A POST then: a body over the gateway's limit is 413 (OpenAI
//! envelope); a body that is not JSON answers HTTP 400 with a JSON-RPC -32700, one
//! that is not a JSON-RPC message 400 with -32600. `initialize` opens a session
//! (`Mcp-Session-Id` on its answer); every other message needs that header (400
//! without it) naming a live session of the same key (404 otherwise, as for one that
//! ended). Requests are answered as one JSON document, or as an SSE stream of
//! `message` events when the client's `Accept` takes `text/event-stream` and not
//! JSON (406 when it takes neither); a body of only notifications is 202.
//!
//! Tool calls are recorded by [`super::call`]; a refusal here (any HTTP error) is
//! recorded with door `mcp`; the protocol's housekeeping (initialize, lists, pings,
//! streams) is not, as `/v1/models` is not.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rmcp::model::{
    CallToolRequestParams, ErrorCode, ErrorData, ListToolsResult, PaginatedRequestParams, RequestId,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_core::snapshot::{Caller, Snapshot};
use tollgate_core::{Door, GatewayError, keys};

use super::call::{self, Origin};
use super::protocol::{self, Fault, Incoming, Version};
use super::session::Session;
use crate::lifecycle::{Call, request_span};
use crate::reply::ApiError;
use crate::request_id::RequestId as HttpRequestId;
use crate::state::GatewayState;
use crate::{auth, body};

pub const SESSION_HEADER: &str = "mcp-session-id";
/// The most messages one batch may hold (each tool call in it runs in turn).
pub const MAX_BATCH: usize = 32;
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// Why a request to `/mcp` is refused at the HTTP level.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The gateway's own errors (401, 413, ...), in the OpenAI envelope.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("Not Acceptable: the client must accept {0}")]
    NotAcceptable(&'static str),
    #[error("Bad Request: the Mcp-Session-Id header is required (send `initialize` first)")]
    SessionRequired,
    #[error("Session not found: it ended or never existed; send `initialize` for a new one")]
    SessionNotFound,
    #[error(
        "Bad Request: unsupported MCP-Protocol-Version `{0}` (supported: 2025-03-26, 2025-06-18, 2025-11-25)"
    )]
    UnsupportedVersion(String),
    #[error("Conflict: this session's stream is already open")]
    StreamOpen,
    /// The body is not JSON-RPC the server can answer per message.
    #[error("{}", .0.error.message)]
    Protocol(Box<Fault>),
}

/// A body that is not JSON-RPC the server can answer.
fn invalid(id: Option<RequestId>, error: ErrorData) -> Refusal {
    Refusal::Protocol(Box::new(Fault { id, error }))
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Gateway(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Refusal::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Refusal::SessionRequired | Refusal::UnsupportedVersion(_) | Refusal::Protocol(_) => {
                StatusCode::BAD_REQUEST
            }
            Refusal::SessionNotFound => StatusCode::NOT_FOUND,
            Refusal::StreamOpen => StatusCode::CONFLICT,
        }
    }

    /// The call record's `error_code`.
    fn code(&self) -> &'static str {
        match self {
            Refusal::Gateway(e) => e.classify().code,
            Refusal::NotAcceptable(_) => "not_acceptable",
            Refusal::SessionRequired => "session_required",
            Refusal::SessionNotFound => "session_not_found",
            Refusal::UnsupportedVersion(_) => "unsupported_protocol_version",
            Refusal::StreamOpen => "stream_already_open",
            Refusal::Protocol(f) if f.error.code == ErrorCode::PARSE_ERROR => "parse_error",
            Refusal::Protocol(_) => "invalid_request",
        }
    }

    fn into_response(self) -> Response {
        let status = self.status();
        let (id, error) = match self {
            Refusal::Gateway(e) => return ApiError::new(Door::OpenAi, e).into_response(),
            Refusal::Protocol(f) => (f.id, f.error),
            // The code the MCP SDKs use for a session that is not there.
            Refusal::SessionNotFound => (
                None,
                ErrorData::new(ErrorCode(-32001), self.to_string(), None),
            ),
            other => (None, ErrorData::invalid_request(other.to_string(), None)),
        };
        (status, axum::Json(protocol::error(id, error))).into_response()
    }
}

/// The request's id and origin, for the calls it makes and the refusals it gets.
struct Ctx {
    request_id: String,
    origin: Origin,
}

impl Ctx {
    fn of(req: &Request) -> Ctx {
        Ctx {
            request_id: req
                .extensions()
                .get::<HttpRequestId>()
                .map_or_else(|| HttpRequestId::generate().0, |r| r.0.clone()),
            origin: Origin {
                headers: req.headers().clone(),
                client: req.extensions().get::<ConnectInfo<SocketAddr>>().cloned(),
            },
        }
    }

    /// Records `refusal` (door `mcp`) and answers it.
    async fn refuse(
        &self,
        st: &GatewayState,
        caller: Option<&Caller>,
        refusal: Refusal,
    ) -> Response {
        let call = Call::with_span(
            &self.request_id,
            "mcp",
            st.metering.clone(),
            request_span(&self.request_id, "mcp", None),
        );
        {
            let mut s = call.state();
            s.client_ip = self.origin.client.as_ref().map(|c| c.0.ip().to_string());
            s.user_agent = self
                .origin
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect());
        }
        match caller {
            Some(c) => call.set_caller(c),
            // The refusal is the key's: its `auth` step says why.
            None => {
                let snapshot = st.live.snapshot.load();
                let _ = auth::authenticate_call(&snapshot, &self.origin.headers, &call);
            }
        }
        call.set_outcome(refusal.status().as_u16(), Some(refusal.code()));
        call.finish().await;
        refusal.into_response()
    }
}

/// How the client takes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Json,
    Sse,
}

/// The media types `Accept` takes (without parameters; `q=0` ones left out).
fn accepted(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let essence = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!essence.is_empty() && !refused).then_some(essence)
        })
        .collect()
}

/// A POST's answer format: JSON whenever the client takes it (no `Accept` at all
/// included), else SSE if it takes that.
pub fn post_reply(headers: &HeaderMap) -> Option<Reply> {
    let types = accepted(headers);
    if types.is_empty() {
        return Some(Reply::Json);
    }
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("application/json") || has("application/*") || has("*/*") {
        Some(Reply::Json)
    } else if has("text/event-stream") || has("text/*") {
        Some(Reply::Sse)
    } else {
        None
    }
}

/// Whether a GET's client takes an event stream.
pub fn takes_stream(headers: &HeaderMap) -> bool {
    let types = accepted(headers);
    types.is_empty()
        || types
            .iter()
            .any(|t| t == "text/event-stream" || t == "text/*" || t == "*/*")
}

/// Messages as the client takes them.
fn answer(reply: Reply, body: Value, session: Option<&str>) -> Response {
    let mut res = match reply {
        Reply::Json => axum::Json(body).into_response(),
        Reply::Sse => {
            let items = match body {
                Value::Array(items) => items,
                one => vec![one],
            };
            let mut out = Vec::new();
            for m in items {
                out.extend_from_slice(b"event: message\ndata: ");
                out.extend_from_slice(m.to_string().as_bytes());
                out.extend_from_slice(b"\n\n");
            }
            let mut res = Response::new(Body::from(out));
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res
        }
    };
    if let Some(id) = session
        && let Ok(v) = HeaderValue::from_str(id)
    {
        res.headers_mut().insert(SESSION_HEADER, v);
    }
    res
}

/// The caller, or the 401 to answer (recorded).
async fn authenticate(
    st: &GatewayState,
    ctx: &Ctx,
    snapshot: &Snapshot,
) -> Result<Caller, Response> {
    match auth::authenticate(snapshot, &ctx.origin.headers) {
        Ok(c) => Ok(c),
        Err(e) => Err(ctx.refuse(st, None, e.into()).await),
    }
}

/// The SHA-256 of the presented key (the caller is authenticated: there is one).
fn key_hash(headers: &HeaderMap) -> String {
    auth::presented_key(headers)
        .map(keys::hash)
        .unwrap_or_default()
}

/// The session the request names, if it is live and this key's.
fn session_of(st: &GatewayState, headers: &HeaderMap) -> Result<std::sync::Arc<Session>, Refusal> {
    let id = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::SessionRequired)?;
    let session = st.mcp.sessions.get(id).ok_or(Refusal::SessionNotFound)?;
    // Another key's session is not told apart from one that does not exist.
    if session.key_hash != key_hash(headers) {
        return Err(Refusal::SessionNotFound);
    }
    Ok(session)
}

/// `POST /mcp`.
pub async fn post(State(st): State<GatewayState>, req: Request) -> Response {
    let ctx = Ctx::of(&req);
    let snapshot = st.live.snapshot.load_full();
    let caller = match authenticate(&st, &ctx, &snapshot).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let headers = &ctx.origin.headers;
    let Some(reply) = post_reply(headers) else {
        let refusal = Refusal::NotAcceptable("application/json or text/event-stream");
        return ctx.refuse(&st, Some(&caller), refusal).await;
    };
    let bytes = match body::read_limited(req.into_body(), headers, st.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return ctx.refuse(&st, Some(&caller), e.into()).await,
    };
    let parsed = match protocol::parse_body(&bytes) {
        Ok(p) => p,
        Err(e) => {
            return ctx.refuse(&st, Some(&caller), invalid(None, e)).await;
        }
    };
    drop(bytes);
    let (messages, batch) = match parsed {
        protocol::Body::One(v) if v.get("method").and_then(Value::as_str) == Some("initialize") => {
            return initialize(&st, &ctx, &caller, v, reply).await;
        }
        protocol::Body::One(v) => (vec![v], false),
        protocol::Body::Batch(items) => (items, true),
    };
    let session = match session_of(&st, headers) {
        Ok(s) => s,
        Err(r) => return ctx.refuse(&st, Some(&caller), r).await,
    };
    if let Some(v) = headers.get(VERSION_HEADER) {
        let v = v.to_str().unwrap_or_default().trim().to_string();
        if Version::parse(&v).is_none() {
            return ctx
                .refuse(&st, Some(&caller), Refusal::UnsupportedVersion(v))
                .await;
        }
    }
    if messages.len() > MAX_BATCH {
        let e = ErrorData::invalid_request(
            format!("Invalid Request: a batch holds at most {MAX_BATCH} messages"),
            None,
        );
        return ctx.refuse(&st, Some(&caller), invalid(None, e)).await;
    }
    if batch && !session.version.allows_batches() {
        let e = ErrorData::invalid_request(
            format!(
                "Invalid Request: JSON-RPC batches are not part of protocol version {}",
                session.version.as_str()
            ),
            None,
        );
        return ctx.refuse(&st, Some(&caller), invalid(None, e)).await;
    }

    let mut answers = Vec::new();
    let mut calls = 0usize;
    for m in messages {
        match protocol::read_message(m) {
            Err(f) if !batch => {
                return ctx.refuse(&st, Some(&caller), Refusal::Protocol(f)).await;
            }
            Err(f) => answers.push(protocol::error(f.id, f.error)),
            Ok(Incoming::Request { id, method, params }) => {
                // The first tool call of a request takes its `x-request-id`.
                let request_id = if method == "tools/call" && calls == 0 {
                    calls += 1;
                    ctx.request_id.clone()
                } else {
                    calls += usize::from(method == "tools/call");
                    HttpRequestId::generate().0
                };
                let done = handle(
                    &st,
                    &ctx,
                    &snapshot,
                    &caller,
                    &session,
                    &request_id,
                    &method,
                    params,
                )
                .await;
                answers.push(match done {
                    Ok(result) => protocol::response(id, result),
                    Err(e) => protocol::error(Some(id), e),
                });
            }
            Ok(Incoming::Notification { .. } | Incoming::Response) => {}
        }
    }
    if answers.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    let body = if batch {
        Value::Array(answers)
    } else {
        answers.pop().unwrap_or_default()
    };
    answer(reply, body, None)
}

/// The part of `initialize`'s params this server reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    protocol_version: String,
}

/// `initialize`: a new session at the negotiated version.
async fn initialize(
    st: &GatewayState,
    ctx: &Ctx,
    caller: &Caller,
    message: Value,
    reply: Reply,
) -> Response {
    let (id, params) = match protocol::read_message(message) {
        Ok(Incoming::Request { id, params, .. }) => (id, params),
        Ok(_) => {
            let e = ErrorData::invalid_request("Invalid Request: `initialize` is a request", None);
            return ctx.refuse(st, Some(caller), invalid(None, e)).await;
        }
        Err(f) => return ctx.refuse(st, Some(caller), Refusal::Protocol(f)).await,
    };
    let p: InitializeParams = match protocol::params("initialize", params) {
        Ok(p) => p,
        Err(e) => return answer(reply, protocol::error(Some(id), e), None),
    };
    let version = Version::negotiate(&p.protocol_version);
    let session = st.mcp.sessions.create(
        &caller.consumer.name,
        &key_hash(&ctx.origin.headers),
        version,
    );
    let body = protocol::response(id, protocol::initialize_result(version));
    answer(reply, body, Some(&session.id))
}

/// One request within a session.
#[allow(clippy::too_many_arguments)]
async fn handle(
    st: &GatewayState,
    ctx: &Ctx,
    snapshot: &std::sync::Arc<Snapshot>,
    caller: &Caller,
    session: &Session,
    request_id: &str,
    method: &str,
    params: Option<Value>,
) -> Result<Value, ErrorData> {
    match method {
        "ping" => Ok(json!({})),
        "initialize" => Err(ErrorData::invalid_request(
            "Invalid Request: this session is initialized; send `initialize` without Mcp-Session-Id for a new one",
            None,
        )),
        "tools/list" => {
            protocol::params::<PaginatedRequestParams>(method, params)?;
            let catalogue = st.mcp.catalogue(snapshot);
            let tools = catalogue
                .visible(snapshot, caller)
                .map(|e| e.tool.clone())
                .collect();
            session.set_known_tools(catalogue.fingerprint(snapshot, caller));
            let result = ListToolsResult {
                result_type: None,
                meta: None,
                next_cursor: None,
                ttl_ms: None,
                cache_scope: None,
                tools,
            };
            serde_json::to_value(result).map_err(|e| ErrorData::internal_error(e.to_string(), None))
        }
        "tools/call" => {
            let p: CallToolRequestParams = protocol::params(method, params)?;
            let catalogue = st.mcp.catalogue(snapshot);
            let Some(entry) = catalogue.find(snapshot, caller, &p.name) else {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {}", p.name),
                    Some(json!({"tool": p.name})),
                ));
            };
            let result = call::run(st, &ctx.origin, request_id, entry, p.arguments).await?;
            serde_json::to_value(result).map_err(|e| ErrorData::internal_error(e.to_string(), None))
        }
        other => Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {other}"),
            None,
        )),
    }
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(State(st): State<GatewayState>, req: Request) -> Response {
    let ctx = Ctx::of(&req);
    let snapshot = st.live.snapshot.load_full();
    let caller = match authenticate(&st, &ctx, &snapshot).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match session_of(&st, &ctx.origin.headers) {
        Ok(s) => {
            st.mcp.sessions.remove(&s.id);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => ctx.refuse(&st, Some(&caller), r).await,
    }
}

/// `GET /mcp`: the session's stream of server messages ([`super::notify`]).
pub async fn get(State(st): State<GatewayState>, req: Request) -> Response {
    let ctx = Ctx::of(&req);
    let snapshot = st.live.snapshot.load_full();
    let caller = match authenticate(&st, &ctx, &snapshot).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if !takes_stream(&ctx.origin.headers) {
        let refusal = Refusal::NotAcceptable("text/event-stream");
        return ctx.refuse(&st, Some(&caller), refusal).await;
    }
    let session = match session_of(&st, &ctx.origin.headers) {
        Ok(s) => s,
        Err(r) => return ctx.refuse(&st, Some(&caller), r).await,
    };
    let Some(guard) = session.open_stream() else {
        return ctx.refuse(&st, Some(&caller), Refusal::StreamOpen).await;
    };
    let mut res = Response::new(Body::from_stream(super::notify::stream(
        st.clone(),
        session,
        guard,
    )));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// An SSE `message` event.
pub fn event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn accept_decides_json_or_sse() {
        assert_eq!(post_reply(&HeaderMap::new()), Some(Reply::Json));
        assert_eq!(
            post_reply(&accept("application/json, text/event-stream")),
            Some(Reply::Json)
        );
        assert_eq!(post_reply(&accept("text/event-stream")), Some(Reply::Sse));
        assert_eq!(
            post_reply(&accept("application/json;q=0, text/event-stream")),
            Some(Reply::Sse)
        );
        assert_eq!(post_reply(&accept("*/*")), Some(Reply::Json));
        assert_eq!(post_reply(&accept("text/html")), None);
        assert!(takes_stream(&accept("text/event-stream")));
        assert!(!takes_stream(&accept("application/json")));
    }

    #[test]
    fn refusals_have_their_status_and_code() {
        let r = Refusal::SessionNotFound;
        assert_eq!(
            (r.status(), r.code()),
            (StatusCode::NOT_FOUND, "session_not_found")
        );
        let r = invalid(None, ErrorData::parse_error("x", None));
        assert_eq!(
            (r.status(), r.code()),
            (StatusCode::BAD_REQUEST, "parse_error")
        );
        let r = Refusal::from(GatewayError::RequestTooLarge { limit: 1 });
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
