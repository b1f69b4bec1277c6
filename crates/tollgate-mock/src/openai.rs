//! OpenAI endpoints: `POST /v1/chat/completions`, `GET /v1/models`.

use crate::content::{Finish, Output, Plan, plan, word_pieces};
use crate::directives::Directives;
use crate::errors::Format;
use crate::flow::{JsonBody, gate, invalid_json};
use crate::state::MockState;
use crate::{auth, ids, stream, validate};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

pub async fn chat_completions(
    State(state): State<MockState>,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Err(e) = auth::openai(&headers) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::OpenAi);
    };
    let req = match validate::openai::chat(body) {
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
    answer(
        &d,
        &plan,
        &tool_id,
        req.stream,
        req.include_usage,
        Flavor::OpenAi,
    )
}

/// Whose dialect of the OpenAI format an answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    /// Content-filter annotations; streams start with a `choices: []` chunk carrying
    /// `prompt_filter_results`.
    Azure,
    /// Streams carry usage on the finish chunk (always, no `stream_options`).
    Mistral,
}

/// The answer to a validated chat request, stream or not.
pub(crate) fn answer(
    d: &Directives,
    plan: &Plan,
    tool_id: &str,
    stream: bool,
    include_usage: bool,
    flavor: Flavor,
) -> Response {
    if stream {
        stream_response(d, plan, tool_id, include_usage && !d.no_usage, flavor)
    } else {
        json_response(d, plan, tool_id, flavor)
    }
}

fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": {
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"}}}])
}

fn finish_reason(f: &Finish) -> &'static str {
    match f {
        Finish::Stop | Finish::StopSequence(_) => "stop",
        Finish::Length => "length",
        Finish::ToolUse => "tool_calls",
    }
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
    })
}

/// Headers common to OpenAI success responses.
fn with_headers(mut resp: Response, content_type: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-request-id", ids::header_value(&ids::request_id()));
    h.insert("openai-processing-ms", HeaderValue::from_static("1"));
    resp
}

/// A JSON success body, cut in the middle when `cut_after` is set.
pub(crate) fn json_body(d: &Directives, value: &Value) -> Response {
    let bytes = Bytes::from(value.to_string());
    if d.cut_after.is_some() {
        let len = bytes.len();
        let mut resp = Response::new(stream::cut_body(bytes));
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        resp
    } else {
        Response::new(Body::from(bytes))
    }
}

fn json_response(d: &Directives, plan: &Plan, tool_id: &str, flavor: Flavor) -> Response {
    let message = match &plan.output {
        Output::Text(text) => json!({"role": "assistant", "content": text, "refusal": null}),
        Output::ToolCall { name, arguments } => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": tool_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }],
            "refusal": null,
        }),
    };
    let body = json!({
        "id": ids::chat_completion_id(),
        "object": "chat.completion",
        "created": ids::unix_now(),
        "model": d.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(&plan.finish),
        }],
        "usage": usage(plan),
    });
    let mut body = body;
    if d.no_usage
        && let Some(o) = body.as_object_mut()
    {
        o.remove("usage");
    }
    if flavor == Flavor::Azure {
        body["prompt_filter_results"] = prompt_filter_results();
        body["choices"][0]["content_filter_results"] = json!({});
    }
    if flavor == Flavor::Mistral
        && let Some(m) = body["choices"][0]["message"].as_object_mut()
    {
        m.remove("refusal");
    }
    with_headers(json_body(d, &body), "application/json")
}

fn stream_response(
    d: &Directives,
    plan: &Plan,
    tool_id: &str,
    include_usage: bool,
    flavor: Flavor,
) -> Response {
    // Mistral always reports usage, on the finish chunk.
    let mistral_usage = flavor == Flavor::Mistral && !d.no_usage;
    let include_usage = include_usage && flavor != Flavor::Mistral;
    let id = ids::chat_completion_id();
    let created = ids::unix_now();
    let chunk = |choices: Value, usage: Option<Value>| -> Bytes {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": d.model,
            "choices": choices,
        });
        if include_usage && let Some(o) = c.as_object_mut() {
            o.insert("usage".into(), usage.unwrap_or(Value::Null));
        }
        stream::openai_event(&c)
    };
    let delta = |delta: Value, finish: Option<&str>| -> Value {
        json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
    };

    let mut events = Vec::new();
    if flavor == Flavor::Azure {
        events.push(stream::openai_event(&json!({
            "id": "", "object": "", "created": 0, "model": "", "choices": [],
            "prompt_filter_results": prompt_filter_results(),
        })));
    }
    match &plan.output {
        Output::Text(text) => {
            events.push(chunk(
                delta(
                    json!({"role": "assistant", "content": "", "refusal": null}),
                    None,
                ),
                None,
            ));
            for piece in word_pieces(text) {
                events.push(chunk(delta(json!({"content": piece}), None), None));
            }
        }
        Output::ToolCall { name, arguments } => {
            events.push(chunk(
                delta(
                    json!({"role": "assistant", "content": null, "refusal": null}),
                    None,
                ),
                None,
            ));
            events.push(chunk(
                delta(
                    json!({"tool_calls": [{
                        "index": 0,
                        "id": tool_id,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }]}),
                    None,
                ),
                None,
            ));
            for piece in word_pieces(arguments) {
                events.push(chunk(
                    delta(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                        None,
                    ),
                    None,
                ));
            }
        }
    }
    if mistral_usage {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": d.model,
            "choices": delta(json!({}), Some(finish_reason(&plan.finish))),
            "usage": usage(plan),
        });
        if let Some(o) = c.as_object_mut() {
            o.remove("logprobs");
        }
        events.push(stream::openai_event(&c));
    } else {
        events.push(chunk(
            delta(json!({}), Some(finish_reason(&plan.finish))),
            None,
        ));
    }
    if include_usage {
        events.push(chunk(json!([]), Some(usage(plan))));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));

    let mut resp = Response::new(stream::event_body(events, d.chunk_delay, d.cut_after));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    with_headers(resp, "text/event-stream")
}

const OPENAI_MODELS: &[(&str, u64)] = &[
    ("gpt-4o", 1_715_367_049),
    ("gpt-4o-mini", 1_721_172_741),
    ("gpt-4.1", 1_744_316_542),
    ("gpt-4.1-mini", 1_744_318_173),
    ("text-embedding-3-small", 1_705_948_997),
    ("text-embedding-3-large", 1_705_953_180),
];

const ANTHROPIC_MODELS: &[(&str, &str, &str)] = &[
    (
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
    ),
    (
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        "2025-10-15T00:00:00Z",
    ),
    (
        "claude-3-5-haiku-latest",
        "Claude Haiku 3.5",
        "2024-10-22T00:00:00Z",
    ),
];

/// `GET /v1/models`: OpenAI's list, or Anthropic's when the request carries `x-api-key`
/// and no `Authorization` header.
pub async fn models(headers: HeaderMap) -> Response {
    if auth::looks_anthropic(&headers) {
        if let Err(e) = auth::anthropic(&headers) {
            return e.into_response();
        }
        let data: Vec<Value> = ANTHROPIC_MODELS
            .iter()
            .map(|(id, name, at)| {
                json!({"type": "model", "id": id, "display_name": name, "created_at": at})
            })
            .collect();
        let body = json!({
            "data": data,
            "has_more": false,
            "first_id": ANTHROPIC_MODELS.first().map(|m| m.0),
            "last_id": ANTHROPIC_MODELS.last().map(|m| m.0),
        });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    if let Err(e) = auth::openai(&headers) {
        return e.into_response();
    }
    let data: Vec<Value> = OPENAI_MODELS
        .iter()
        .map(|(id, created)| {
            json!({"id": id, "object": "model", "created": created, "owned_by": "system"})
        })
        .collect();
    (
        StatusCode::OK,
        axum::Json(json!({"object": "list", "data": data})),
    )
        .into_response()
}
