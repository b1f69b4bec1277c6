//! Ollama endpoints: `POST /api/chat` (NDJSON stream unless `stream: false`; the last
//! line has `done: true`, `done_reason` and the counts) and `POST /api/embed`. No key.

use crate::content::{Finish, Output, Plan, count_words, plan, word_pieces};
use crate::directives::Directives;
use crate::errors::Format;
use crate::flow::{JsonBody, gate, invalid_json};
use crate::state::MockState;
use crate::validate::embeddings::{DEFAULT_DIMENSIONS, EmbeddingInput};
use crate::{stream, validate};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

const CREATED_AT: &str = "2025-01-01T00:00:00.000000Z";

pub async fn chat(
    State(state): State<MockState>,
    Extension(body): Extension<JsonBody>,
) -> Response {
    let Some(body) = body.value() else {
        return invalid_json(Format::Ollama);
    };
    let req = match validate::ollama::chat(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(&state, &req.model, Format::Ollama).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let plan = plan(&req.conversation, &d);
    if req.stream {
        stream_response(&d, &plan)
    } else {
        let mut v = line(&d, message(&plan.output, true), true);
        add_final(&mut v, &plan, d.no_usage);
        with_headers(crate::openai::json_body(&d, &v), "application/json")
    }
}

fn message(output: &Output, whole: bool) -> Value {
    match output {
        Output::Text(t) if whole => json!({"role": "assistant", "content": t}),
        Output::Text(_) => json!({"role": "assistant", "content": ""}),
        Output::ToolCall { name, arguments } => {
            let args: Value = serde_json::from_str(arguments).unwrap_or_else(|_| json!({}));
            json!({"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": name, "arguments": args}}]})
        }
    }
}

fn line(d: &Directives, message: Value, done: bool) -> Value {
    json!({"model": d.model, "created_at": CREATED_AT, "message": message, "done": done})
}

fn add_final(v: &mut Value, plan: &Plan, no_usage: bool) {
    let reason = match plan.finish {
        Finish::Length => "length",
        _ => "stop",
    };
    v["done_reason"] = json!(reason);
    v["total_duration"] = json!(1_000_000);
    v["load_duration"] = json!(1000);
    if !no_usage {
        v["prompt_eval_count"] = json!(plan.input_tokens);
        v["prompt_eval_duration"] = json!(1000);
        v["eval_count"] = json!(plan.output_tokens);
        v["eval_duration"] = json!(1000);
    }
}

fn ndjson(v: &Value) -> Bytes {
    Bytes::from(format!("{v}\n"))
}

fn stream_response(d: &Directives, plan: &Plan) -> Response {
    let mut events = Vec::new();
    match &plan.output {
        Output::Text(t) => {
            for piece in word_pieces(t) {
                events.push(ndjson(&line(
                    d,
                    json!({"role": "assistant", "content": piece}),
                    false,
                )));
            }
        }
        Output::ToolCall { .. } => {
            events.push(ndjson(&line(d, message(&plan.output, true), false)))
        }
    }
    let mut last = line(d, json!({"role": "assistant", "content": ""}), true);
    add_final(&mut last, plan, d.no_usage);
    events.push(ndjson(&last));
    let resp = Response::new(stream::event_body(events, d.chunk_delay, d.cut_after));
    with_headers(resp, "application/x-ndjson")
}

fn with_headers(mut resp: Response, content_type: &'static str) -> Response {
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub async fn embed(
    State(state): State<MockState>,
    Extension(body): Extension<JsonBody>,
) -> Response {
    let Some(body) = body.value() else {
        return invalid_json(Format::Ollama);
    };
    let req = match validate::ollama::embed(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(&state, &req.model, Format::Ollama).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let dims = req.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
    let embeddings: Vec<Value> = req
        .texts
        .iter()
        .map(|t| {
            json!(crate::embeddings::vector(
                &EmbeddingInput::Text(t.clone()),
                dims
            ))
        })
        .collect();
    let words: u64 = req.texts.iter().map(|t| count_words(t)).sum();
    let v = json!({"model": d.model, "embeddings": embeddings, "total_duration": 1000,
        "load_duration": 100, "prompt_eval_count": words.max(1)});
    with_headers(crate::openai::json_body(&d, &v), "application/json")
}
