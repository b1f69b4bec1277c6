//! Azure OpenAI endpoints: `POST /openai/deployments/{deployment}/chat/completions` and
//! `.../embeddings`, both requiring `?api-version=` (without it Azure answers 404
//! "Resource not found") and an `api-key` header. The deployment name is the model
//! (directives included); the body's `model`, if any, is ignored as Azure does. Answers
//! carry Azure's content-filter annotations, and streams start with Azure's
//! `choices: []` chunk of `prompt_filter_results`.

use crate::content::{Output, plan};
use crate::errors::{Format, OpenAiError};
use crate::flow::{JsonBody, gate, invalid_json};
use crate::openai::Flavor;
use crate::state::MockState;
use crate::validate;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn azure_error(status: StatusCode, message: &str) -> OpenAiError {
    let mut e = OpenAiError::new(status, "invalid_request_error", message);
    e.code = Some(status.as_u16().to_string());
    e
}

fn check(headers: &HeaderMap, uri: &Uri) -> Result<(), OpenAiError> {
    let has_version = uri.query().is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.strip_prefix("api-version=")
                .is_some_and(|v| !v.is_empty())
        })
    });
    if !has_version {
        return Err(azure_error(StatusCode::NOT_FOUND, "Resource not found"));
    }
    let key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    const DENIED: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
    match key {
        None => Err(azure_error(StatusCode::UNAUTHORIZED, DENIED)),
        Some(k) if k.starts_with("bad") => Err(azure_error(StatusCode::UNAUTHORIZED, DENIED)),
        Some(k) if k.starts_with("unpaid") || k.starts_with("forbidden") => Err(azure_error(
            StatusCode::FORBIDDEN,
            "The subscription is disabled or the resource is not accessible.",
        )),
        Some(k) if k.starts_with("limited") => {
            let mut e = azure_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 1 second.",
            );
            e.retry_after = Some(1);
            Err(e)
        }
        Some(_) => Ok(()),
    }
}

/// The body with the deployment as its model.
fn with_model(body: &Value, deployment: &str) -> Value {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert("model".into(), Value::String(deployment.to_owned()));
    }
    body
}

pub async fn chat(
    State(state): State<MockState>,
    Path(deployment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Err(e) = check(&headers, &uri) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::OpenAi);
    };
    let req = match validate::openai::chat(&with_model(body, &deployment)) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(&state, &req.model, Format::OpenAi).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let plan = plan(&req.conversation, &d);
    let tool_id = match plan.output {
        Output::ToolCall { .. } => format!("call_{}", state.next_tool_id()),
        Output::Text(_) => String::new(),
    };
    crate::openai::answer(
        &d,
        &plan,
        &tool_id,
        req.stream,
        req.include_usage,
        Flavor::Azure,
    )
}

pub async fn embeddings(
    State(state): State<MockState>,
    Path(deployment): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Err(e) = check(&headers, &uri) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::OpenAi);
    };
    crate::embeddings::respond(&state, &with_model(body, &deployment)).await
}
