//! `POST /admin/v1/playground/chat`: the console's playground sends a chat completion
//! through the gateway listener with a consumer key, as any client would.
//!
//! Why a relay on the admin listener rather than the browser calling the gateway: the
//! gateway is another origin (another port, often another host name behind a proxy),
//! so the browser would need CORS on the gateway for the console's origin and a looser
//! Content-Security-Policy on the console; and a gateway that answers cross-origin
//! requests with keys is a wider door than this one endpoint, which only an operator
//! or admin may use. The relay calls the gateway's own listener over HTTP, so the
//! request goes through exactly what a client's would (key, limits, budgets, routing,
//! call record, explain); the gateway's answer (status, stream, `x-request-id`) is
//! passed back as it comes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::responses::{BadRequest, TooLarge};
use crate::error::{AdminError, ErrorEnvelope};
use crate::state::AdminState;

/// The gateway answer's headers worth passing on to the playground.
const PASSED_HEADERS: &[&str] = &[
    "content-type",
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-tollgate-cache",
];

/// One client for every playground request: connections to the gateway are reused.
/// No overall timeout: a stream lasts as long as the gateway's own timeouts let it.
static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_default()
});

/// `POST /admin/v1/playground/chat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundChat {
    /// A consumer's API key, as a client sends it (`Authorization: Bearer`).
    #[schema(min_length = 1, max_length = 512, pattern = "^[!-~]+$")]
    pub key: String,
    /// The request, as `POST /v1/chat/completions` on the gateway takes it (`model`,
    /// `messages`, `stream`, ...).
    #[schema(value_type = Object, example = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}))]
    pub request: Value,
}

/// Where the admin listener reaches the gateway: its bound address, with a wildcard
/// address (`0.0.0.0`, `::`) replaced by loopback.
fn gateway_addr(st: &AdminState) -> Option<SocketAddr> {
    let mut addr = st.gateway_url.listen?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Some(addr)
}

fn invalid(param: &str, message: &str) -> AdminError {
    AdminError::Invalid {
        message: message.to_string(),
        param: Some(param.to_string()),
    }
}

/// Sends a chat completion through the gateway with a consumer key and relays the
/// answer as it comes: the gateway's status, body (JSON, or the SSE stream with
/// `"stream": true`) and `x-request-id`, whose call record and explain trail are then
/// at `/admin/v1/calls/{request_id}` and `.../explain`.
#[utoipa::path(post, path = "/admin/v1/playground/chat", tag = "playground", request_body = PlaygroundChat,
    responses(
        (status = 200, description = "The gateway's answer: a chat completion, or its SSE stream with `\"stream\": true`; `x-request-id` names its call record",
            content((Object = "application/json"), (String = "text/event-stream")),
            headers(("x-request-id" = String, description = "The gateway's request id"))),
        (status = 400, response = BadRequest),
        (status = 413, response = TooLarge),
        (status = 502, description = "The gateway listener could not be reached", body = ErrorEnvelope),
        (status = "default", description = "The gateway's own error answer (401 for a refused key, 402, 404 for an unknown model, 429, ...), in the OpenAI envelope", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub(crate) async fn playground_chat(
    State(st): State<AdminState>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let req: PlaygroundChat = super::parse_body(&body)?;
    let key = req.key.trim();
    if key.is_empty() || key.len() > 512 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "key",
            "key: expected a consumer API key (1 to 512 visible ASCII characters)",
        ));
    }
    if !req.request.is_object() {
        return Err(invalid(
            "request",
            "request: expected a chat completion request object",
        ));
    }
    let addr = gateway_addr(&st).ok_or_else(|| {
        AdminError::GatewayUnreachable("this node runs no gateway listener".to_string())
    })?;
    let auth = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| invalid("key", "key: not a valid header value"))?;
    let upstream = CLIENT
        .post(format!("http://{addr}/v1/chat/completions"))
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "tollgate-console-playground")
        .body(req.request.to_string())
        .send()
        .await
        .map_err(|e| AdminError::GatewayUnreachable(format!("{addr}: {e}")))?;
    let status = upstream.status();
    let mut headers = HeaderMap::new();
    for name in PASSED_HEADERS {
        if let Some(v) = upstream.headers().get(*name) {
            headers.insert(*name, v.clone());
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = Body::from_stream(upstream.bytes_stream());
    Ok((status, headers, body).into_response())
}
