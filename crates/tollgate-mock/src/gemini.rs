//! Gemini endpoints under `/v1beta/`: `models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse` (events framed `data: ...\r\n\r\n`, no end marker:
//! the last event has `finishReason`) and `:batchEmbedContents`. The key comes in
//! `x-goog-api-key` (or `?key=`). The model part of the path is read raw, so directives
//! work as in the other formats (`models/gemini-2.0-flash@reply=hi:generateContent`).

use crate::content::{Finish, Output, Plan, plan, word_pieces};
use crate::directives::Directives;
use crate::errors::{Format, GeminiError};
use crate::flow::{JsonBody, gate, invalid_json};
use crate::state::MockState;
use crate::validate::embeddings::{DEFAULT_DIMENSIONS, EmbeddingInput};
use crate::{ids, stream, validate};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

/// Key prefixes play the same faults as for the other formats, in Google's shapes: an
/// invalid key is a 400 with reason `API_KEY_INVALID`, as Google answers it.
fn auth(headers: &HeaderMap, uri: &Uri) -> Result<(), GeminiError> {
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("key="))
            .map(str::to_owned)
    });
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .or(from_query)
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(GeminiError::new(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ));
    };
    let mut e = if key.starts_with("bad") {
        GeminiError::invalid("API key not valid. Please pass a valid API key.")
    } else if key.starts_with("unpaid") || key.starts_with("forbidden") {
        GeminiError::new(
            StatusCode::FORBIDDEN,
            "Your project has been denied access. Please contact support.",
        )
    } else if key.starts_with("limited") {
        GeminiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "You exceeded your current quota, please check your plan and billing details.",
        )
    } else {
        return Ok(());
    };
    e.details = Some(if key.starts_with("bad") {
        json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com"}])
    } else if key.starts_with("limited") {
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}])
    } else {
        json!([])
    });
    Err(e)
}

/// `POST /v1beta/{model path}:{action}`.
pub async fn handle(
    State(state): State<MockState>,
    uri: Uri,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    let path = uri.path().strip_prefix("/v1beta/").unwrap_or("");
    let Some((model_path, action)) = path.rsplit_once(':') else {
        return GeminiError::new(
            StatusCode::NOT_FOUND,
            format!("Unknown path {}", uri.path()),
        )
        .into_response();
    };
    let model = model_path
        .strip_prefix("models/")
        .or_else(|| model_path.strip_prefix("tunedModels/"))
        .unwrap_or("");
    if model.is_empty() {
        return GeminiError::new(
            StatusCode::NOT_FOUND,
            format!("Unknown model path '{model_path}'"),
        )
        .into_response();
    }
    if let Err(e) = auth(&headers, &uri) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::Gemini);
    };
    match action {
        "generateContent" => generate(&state, model, body, false).await,
        "streamGenerateContent" => {
            if !uri
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"))
            {
                return GeminiError::invalid(
                    "tollgate-mock streams only as server-sent events: add ?alt=sse",
                )
                .into_response();
            }
            generate(&state, model, body, true).await
        }
        "batchEmbedContents" => embed(&state, model, model_path, body).await,
        other => GeminiError::new(
            StatusCode::NOT_FOUND,
            format!("Method '{other}' is not found for models/{model}."),
        )
        .into_response(),
    }
}

async fn generate(state: &MockState, model: &str, body: &Value, streaming: bool) -> Response {
    let req = match validate::gemini::generate(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(state, model, Format::Gemini).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let plan = plan(&req.conversation, &d);
    if streaming {
        stream_response(&d, &plan)
    } else {
        let mut parts = Vec::new();
        match &plan.output {
            Output::Text(t) => parts.push(json!({"text": t})),
            Output::ToolCall { name, arguments } => parts.push(function_call(name, arguments)),
        }
        let body = json!({
            "candidates": [{
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_reason(&plan.finish),
                "index": 0,
            }],
            "usageMetadata": usage(&plan),
            "modelVersion": d.model,
            "responseId": ids::request_id(),
        });
        let mut body = body;
        if d.no_usage
            && let Some(o) = body.as_object_mut()
        {
            o.remove("usageMetadata");
        }
        with_headers(crate::openai::json_body(&d, &body), "application/json")
    }
}

fn function_call(name: &str, arguments: &str) -> Value {
    let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
    json!({"functionCall": {"name": name, "args": args}})
}

fn finish_reason(f: &Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::StopSequence(_) | Finish::ToolUse => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

fn usage(plan: &Plan) -> Value {
    json!({
        "promptTokenCount": plan.input_tokens,
        "candidatesTokenCount": plan.output_tokens,
        "totalTokenCount": plan.input_tokens + plan.output_tokens,
    })
}

fn with_headers(mut resp: Response, content_type: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-request-id", ids::header_value(&ids::request_id()));
    resp
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\r\n\r\n"))
}

fn stream_response(d: &Directives, plan: &Plan) -> Response {
    let partial_usage = json!({
        "promptTokenCount": plan.input_tokens,
        "totalTokenCount": plan.input_tokens,
    });
    let ev = |parts: Value, finish: Option<&str>, usage: &Value| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        let mut v = json!({"candidates": [c], "modelVersion": d.model});
        if !d.no_usage {
            v["usageMetadata"] = usage.clone();
        }
        event(&v)
    };
    let mut events = Vec::new();
    match &plan.output {
        Output::Text(t) => {
            for piece in word_pieces(t) {
                events.push(ev(json!([{"text": piece}]), None, &partial_usage));
            }
        }
        Output::ToolCall { name, arguments } => {
            events.push(ev(
                json!([function_call(name, arguments)]),
                None,
                &partial_usage,
            ));
        }
    }
    events.push(ev(
        json!([{"text": ""}]),
        Some(finish_reason(&plan.finish)),
        &usage(plan),
    ));
    let mut resp = Response::new(stream::event_body(events, d.chunk_delay, d.cut_after));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    with_headers(resp, "text/event-stream")
}

async fn embed(state: &MockState, model: &str, model_path: &str, body: &Value) -> Response {
    let req = match validate::gemini::batch_embed(body, model_path) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(state, model, Format::Gemini).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let dims = req.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
    let embeddings: Vec<Value> = req
        .texts
        .iter()
        .map(|t| {
            let v = crate::embeddings::vector(&EmbeddingInput::Text(t.clone()), dims);
            json!({"values": v})
        })
        .collect();
    with_headers(
        crate::openai::json_body(&d, &json!({"embeddings": embeddings})),
        "application/json",
    )
}
