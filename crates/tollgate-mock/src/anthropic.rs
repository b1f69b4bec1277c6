//! Anthropic endpoint: `POST /v1/messages`.

use crate::content::{Finish, Output, Plan, plan, word_pieces};
use crate::directives::Directives;
use crate::errors::Format;
use crate::flow::{JsonBody, gate, invalid_json};
use crate::state::MockState;
use crate::{auth, ids, stream, validate};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

pub async fn messages(
    State(state): State<MockState>,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Err(e) = auth::anthropic(&headers) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::Anthropic);
    };
    let req = match validate::anthropic::messages(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(&state, &req.model, Format::Anthropic).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let plan = plan(&req.conversation, &d);
    let tool_id = match plan.output {
        Output::ToolCall { .. } => format!("toolu_{}", state.next_tool_id()),
        Output::Text(_) => String::new(),
    };
    if req.stream {
        stream_response(&d, &plan, &tool_id)
    } else {
        json_response(&d, &plan, &tool_id)
    }
}

fn stop_reason(f: &Finish) -> (&'static str, Value) {
    match f {
        Finish::Stop => ("end_turn", Value::Null),
        Finish::Length => ("max_tokens", Value::Null),
        Finish::StopSequence(s) => ("stop_sequence", Value::String(s.clone())),
        Finish::ToolUse => ("tool_use", Value::Null),
    }
}

fn tool_input(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| json!({}))
}

fn with_headers(mut resp: Response, content_type: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("request-id", ids::header_value(&ids::request_id()));
    resp
}

fn json_response(d: &Directives, plan: &Plan, tool_id: &str) -> Response {
    let block = match &plan.output {
        Output::Text(text) => json!({"type": "text", "text": text}),
        Output::ToolCall { name, arguments } => json!({
            "type": "tool_use",
            "id": tool_id,
            "name": name,
            "input": tool_input(arguments),
        }),
    };
    let (reason, seq) = stop_reason(&plan.finish);
    let body = json!({
        "id": ids::message_id(),
        "type": "message",
        "role": "assistant",
        "model": d.model,
        "content": [block],
        "stop_reason": reason,
        "stop_sequence": seq,
        "usage": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens},
    });
    let mut body = body;
    if d.no_usage
        && let Some(o) = body.as_object_mut()
    {
        o.remove("usage");
    }
    with_headers(crate::openai::json_body(d, &body), "application/json")
}

fn stream_response(d: &Directives, plan: &Plan, tool_id: &str) -> Response {
    let ev = stream::anthropic_event;
    let mut events: Vec<Bytes> = Vec::new();
    events.push(ev(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": ids::message_id(),
                "type": "message",
                "role": "assistant",
                "model": d.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": plan.input_tokens, "output_tokens": 1},
            },
        }),
    ));
    events.push(ev("ping", &json!({"type": "ping"})));
    match &plan.output {
        Output::Text(text) => {
            events.push(ev(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}}),
            ));
            for piece in word_pieces(text) {
                events.push(ev(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": piece}}),
                ));
            }
        }
        Output::ToolCall { name, arguments } => {
            events.push(ev(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}}}),
            ));
            for piece in word_pieces(arguments) {
                events.push(ev(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": piece}}),
                ));
            }
        }
    }
    events.push(ev(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    let (reason, seq) = stop_reason(&plan.finish);
    events.push(ev(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": seq},
            "usage": {"output_tokens": plan.output_tokens},
        }),
    ));
    events.push(ev("message_stop", &json!({"type": "message_stop"})));

    let mut resp = Response::new(stream::event_body(events, d.chunk_delay, d.cut_after));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    with_headers(resp, "text/event-stream")
}
