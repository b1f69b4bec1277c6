//! The gateway listener's routes.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, middleware};
use http::StatusCode;
use serde_json::json;
use tollgate_core::{Door, GatewayError};

use crate::lifecycle::{self, Call};
use crate::reply::ApiError;
use crate::state::GatewayState;
use crate::{auth, pipeline, request_id};

pub fn router(state: GatewayState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/embeddings", post(crate::embeddings::handler))
        .route("/v1/responses", post(crate::responses::create))
        .route(
            "/v1/responses/{id}",
            get(crate::responses::get).delete(crate::responses::delete),
        )
        .route("/v1/models", get(list_models))
        .route("/tollgate/v1/usage", get(own_usage))
        .route(
            "/mcp",
            post(crate::mcp::transport::post)
                .get(crate::mcp::transport::get)
                .delete(crate::mcp::transport::delete),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            lifecycle::layer,
        ))
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}

/// A handler that panicked answers 500 in the OpenAI envelope (the lifecycle still
/// records and settles the call); the process keeps serving.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(
        Door::OpenAi,
        GatewayError::Internal("a request handler panicked".into()),
    )
    .into_response()
}

async fn chat_completions(
    State(st): State<GatewayState>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    pipeline::run(&st, Door::OpenAi, &headers, body, &call).await
}

async fn messages(
    State(st): State<GatewayState>,
    Extension(call): Extension<Call>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    pipeline::run(&st, Door::Anthropic, &headers, body, &call).await
}

/// `POST /v1/messages/count_tokens`: Anthropic's token counter, answered from the
/// gateway's own tokenizer (an estimate for non-OpenAI models; no upstream call).
async fn count_tokens(State(st): State<GatewayState>, headers: HeaderMap, body: Body) -> Response {
    let door = Door::Anthropic;
    let result = async {
        let snapshot = st.live.snapshot.load_full();
        let caller = auth::authenticate(&snapshot, &headers)?;
        let bytes = crate::body::read_limited(body, &headers, st.max_body_bytes).await?;
        let mut value: serde_json::Value = crate::body::parse_json(&bytes)?;
        // The counter takes a Messages request without `max_tokens`.
        if let Some(o) = value.as_object_mut() {
            o.entry("max_tokens").or_insert(json!(1));
        }
        let request: tollgate_protocol::anthropic::MessagesRequest = serde_json::from_value(value)
            .map_err(|e| GatewayError::invalid(format!("Invalid request: {e}")))?;
        let model = request.model.clone();
        if !snapshot.models.contains_key(&model) {
            return Err(GatewayError::ModelNotFound(model));
        }
        if !caller.may_use(&model) {
            return Err(GatewayError::ModelNotAllowed(model));
        }
        // Tokenized off the executor when large; the body limit above bounds the work.
        let n = crate::tokens::estimate_anthropic_async(&request).await;
        Ok::<_, GatewayError>(Json(json!({"input_tokens": n})).into_response())
    }
    .await;
    result.unwrap_or_else(|e| ApiError::new(door, e).into_response())
}

/// `GET /tollgate/v1/usage`: the calling key's own usage, limits, remaining budget
/// and credit balance.
async fn own_usage(State(st): State<GatewayState>, headers: HeaderMap) -> Response {
    let snapshot = st.live.snapshot.load_full();
    let caller = match auth::authenticate(&snapshot, &headers) {
        Ok(c) => c,
        Err(e) => return ApiError::new(Door::OpenAi, e).into_response(),
    };
    let Some(m) = &st.metering else {
        return ApiError::new(
            Door::OpenAi,
            GatewayError::Internal("metering is not running".into()),
        )
        .into_response();
    };
    match m
        .usage_document(&snapshot, &caller.consumer.name, Some(&caller.key))
        .await
    {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => ApiError::new(Door::OpenAi, e).into_response(),
    }
}

/// `GET /v1/models`: the models this key may use, in OpenAI's list format, or in
/// Anthropic's when the client sends `anthropic-version` (the Anthropic SDK does).
async fn list_models(State(st): State<GatewayState>, headers: HeaderMap) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    let door = if anthropic {
        Door::Anthropic
    } else {
        Door::OpenAi
    };
    let snapshot = st.live.snapshot.load();
    let caller = match auth::authenticate(&snapshot, &headers) {
        Ok(c) => c,
        Err(e) => return ApiError::new(door, e).into_response(),
    };
    let names = snapshot.models_for(&caller);
    let created = 1_700_000_000;
    let body = if anthropic {
        json!({
            "data": names.iter().map(|n| json!({
                "type": "model", "id": n, "display_name": n,
                "created_at": "2023-11-14T22:13:20Z", "lifecycle": "active"
            })).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": names.first(),
            "last_id": names.last(),
        })
    } else {
        json!({
            "object": "list",
            "data": names.iter().map(|n| json!({
                "id": n, "object": "model", "created": created, "owned_by": "tollgate"
            })).collect::<Vec<_>>(),
        })
    };
    Json(body).into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(st): State<GatewayState>) -> Response {
    if st.live.is_ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready"})),
        )
            .into_response()
    }
}

/// Unknown paths (404) and known paths called with the wrong method (405, with the
/// `Allow` header axum adds), in the envelope of the API the path belongs to, after
/// the key check (401 comes first in PRODUCT.md's precedence order).
async fn unknown_path(
    State(st): State<GatewayState>,
    call: Option<Extension<Call>>,
    req: axum::extract::Request,
) -> Response {
    // A prompt-API's path is that prompt-API's.
    let req = match crate::prompt_api::dispatch(&st, call.as_ref().map(|c| &c.0), req).await {
        Ok(answer) => return answer,
        Err(req) => req,
    };
    // A path under a REST service's prefix is that service's.
    let req = match crate::service::dispatch(&st, call.as_ref().map(|c| &c.0), req).await {
        Ok(answer) => return answer,
        Err(req) => req,
    };
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    refuse(&st, call, &headers, &uri, |path| GatewayError::NotFound {
        method: method.to_string(),
        path,
    })
}

async fn wrong_method(
    State(st): State<GatewayState>,
    call: Option<Extension<Call>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    refuse(&st, call, &headers, &uri, |path| {
        GatewayError::MethodNotAllowed {
            method: method.to_string(),
            path,
        }
    })
}

fn refuse(
    st: &GatewayState,
    call: Option<Extension<Call>>,
    headers: &HeaderMap,
    uri: &Uri,
    error: impl FnOnce(String) -> GatewayError,
) -> Response {
    let (door, _) = lifecycle::door_of_path(uri.path());
    let snapshot = st.live.snapshot.load();
    let error = match auth::authenticate(&snapshot, headers) {
        Err(e) => e,
        Ok(caller) => {
            if let Some(Extension(call)) = call {
                call.set_caller(&caller);
            }
            error(uri.path().to_string())
        }
    };
    ApiError::new(door, error).into_response()
}
