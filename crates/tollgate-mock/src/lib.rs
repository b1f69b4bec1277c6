//! tollgate-mock: a strict mock of the OpenAI, Anthropic, Gemini, Mistral, Ollama and
//! Azure OpenAI APIs for Tollgate's tests and benchmarks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mock = tollgate_mock::MockProvider::start().await?;
//! // point a client at mock.openai_base_url() / mock.anthropic_base_url() ...
//! let seen = mock.requests();
//! # let _ = seen; Ok(()) }
//! ```
//!
//! Endpoints: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models` (OpenAI),
//! `POST /v1/messages` (Anthropic), `POST /v1beta/models/{m}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:batchEmbedContents` (Gemini), `POST /api/chat`,
//! `/api/embed` (Ollama), `POST /openai/deployments/{d}/chat/completions`, `/embeddings`
//! (Azure), `POST /mistral/v1/chat/completions`, `/mistral/v1/embeddings` (Mistral),
//! `GET|DELETE /_mock/requests` (the request log).
//!
//! Behaviour is scripted through the model name (`gpt-4o-mini@status=500,delay_ms=100`, see
//! [`directives`]) and the API key prefix (`bad…`, `unpaid…`, `forbidden…`, `limited…`, see
//! [`auth`]).

pub mod anthropic;
pub mod auth;
pub mod azure;
pub mod content;
pub mod directives;
pub mod embeddings;
pub mod errors;
mod flow;
pub mod gemini;
mod ids;
pub mod mistral;
pub mod ollama;
pub mod openai;
pub mod rest;
mod state;
pub mod stream;
pub mod validate;

pub use directives::Directives;
pub use state::{MockState, RecordedRequest};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use errors::OpenAiError;
use flow::JsonBody;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Largest request body the mock reads (larger ones get 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The mock's routes, with the request-recording middleware.
pub fn router(state: MockState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1beta/{*path}", post(gemini::handle))
        .route("/api/chat", post(ollama::chat))
        .route("/api/embed", post(ollama::embed))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure::chat),
        )
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(azure::embeddings),
        )
        .route("/mistral/v1/chat/completions", post(mistral::chat))
        .route("/mistral/v1/embeddings", post(mistral::embeddings))
        .route("/_mock/requests", get(list_requests).delete(clear_requests))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

async fn list_requests(State(state): State<MockState>) -> Response {
    axum::Json(state.requests()).into_response()
}

async fn clear_requests(State(state): State<MockState>) -> StatusCode {
    state.clear();
    StatusCode::NO_CONTENT
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    OpenAiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Invalid URL ({method} {})", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    OpenAiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("Not allowed to {method} on {}.", uri.path()),
    )
    .into_response()
}

/// Buffers the body, records the request, hands the parsed JSON to the handler and, once the
/// handler has answered, stores the status it answered with.
async fn record(State(state): State<MockState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_mock/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let (bytes, too_large) = match bytes {
        Ok(b) => (b, false),
        Err(_) => (bytes::Bytes::new(), true),
    };
    let json: Option<serde_json::Value> = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    tracing::debug!(method = %parts.method, path = parts.uri.path(), "mock request");
    let seq = state.recording().then(|| {
        let mut headers = BTreeMap::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_ascii_lowercase())
                .and_modify(|v: &mut String| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        state.record(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers,
            body: json.clone().unwrap_or(serde_json::Value::Null),
            status: 0,
        })
    });
    let resp = if too_large {
        OpenAiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("Request body too large: the mock reads at most {MAX_BODY_BYTES} bytes."),
        )
        .into_response()
    } else {
        parts.extensions.insert(JsonBody(Arc::new(json)));
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    };
    if let Some(seq) = seq {
        state.set_status(seq, resp.status().as_u16());
    }
    resp
}

/// Accept connections on `listener` and serve `app` on them (HTTP/1.1 and h2c) until the
/// returned future is dropped; dropping it also drops every open connection.
/// Accepted sockets get `TCP_NODELAY`.
pub async fn serve(listener: TcpListener, app: Router) {
    let mut conns = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // e.g. too many open files: back off instead of spinning.
                tracing::warn!(error = %e, "tollgate-mock: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "tollgate-mock: set_nodelay failed");
        }
        let svc = TowerToHyperService::new(app.clone());
        conns.spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "tollgate-mock: connection ended with an error");
            }
        });
        while conns.try_join_next().is_some() {}
    }
}

/// A running mock server. Dropping it shuts the server down (and drops open connections).
#[derive(Debug)]
pub struct MockProvider {
    addr: SocketAddr,
    state: MockState,
    task: JoinHandle<()>,
}

impl MockProvider {
    /// Start on `127.0.0.1:0` (a free port).
    pub async fn start() -> std::io::Result<MockProvider> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Start on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<MockProvider> {
        Self::start_with(addr, MockState::new()).await
    }

    /// Start on `addr` with the given state (e.g. [`MockState::with_record_limit`]).
    pub async fn start_with(addr: SocketAddr, state: MockState) -> std::io::Result<MockProvider> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, router(state.clone())));
        Ok(MockProvider { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` (Gemini's `/v1beta/models/...` routes).
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` (Ollama's `/api/chat`, `/api/embed`).
    pub fn ollama_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` (Azure's `/openai/deployments/...` routes).
    pub fn azure_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/mistral/v1`
    pub fn mistral_base_url(&self) -> String {
        format!("http://{}/mistral/v1", self.addr)
    }

    /// Every request received, in order (including rejected ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Forget the recorded requests and reset `fail_first` counters.
    pub fn clear(&self) {
        self.state.clear()
    }

    pub fn state(&self) -> &MockState {
        &self.state
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}
