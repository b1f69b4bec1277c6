//! Mistral endpoints, served under `/mistral/v1/` (point a `mistral` provider's
//! `base_url` at `http://MOCK/mistral/v1`): `chat/completions` and `embeddings`.
//!
//! Mistral's API is OpenAI-like but validated by pydantic with extra fields forbidden:
//! any field it does not know (`stream_options`, `seed`, `user`, `max_completion_tokens`,
//! the `developer` role, ...) is a 422 with pydantic's `detail` list. Tool-call ids must
//! be 9 letters or digits. Streams carry usage on the finish chunk, always.

use crate::content::{Output, plan};
use crate::errors::{Format, MistralError};
use crate::flow::{JsonBody, gate, invalid_json};
use crate::openai::Flavor;
use crate::state::MockState;
use crate::{auth, validate};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "prediction",
    "parallel_tool_calls",
    "prompt_mode",
    "safe_prompt",
];
const EMBED_FIELDS: &[&str] = &[
    "model",
    "input",
    "output_dimension",
    "output_dtype",
    "encoding_format",
];

fn extra_forbidden(loc: &[&str]) -> MistralError {
    MistralError::unprocessable(loc, "extra_forbidden", "Extra inputs are not permitted")
}

fn check_fields(o: &Map<String, Value>, known: &[&str], at: &[&str]) -> Result<(), MistralError> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            let mut loc = at.to_vec();
            loc.push(k);
            Err(extra_forbidden(&loc))
        }
        None => Ok(()),
    }
}

fn valid_tool_id(id: &str) -> bool {
    id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn bad_tool_id(id: &str) -> MistralError {
    MistralError::new(
        StatusCode::BAD_REQUEST,
        format!("Tool call id was {id} but must be a-z, A-Z, 0-9, with a length of 9."),
    )
}

/// Mistral's own checks, then the body rewritten in OpenAI's terms for the shared
/// validator.
fn to_openai(body: &Value) -> Result<Value, MistralError> {
    let Some(obj) = body.as_object() else {
        return Err(MistralError::unprocessable(
            &["body"],
            "model_attributes_type",
            "Input should be a valid dictionary",
        ));
    };
    check_fields(obj, CHAT_FIELDS, &["body"])?;
    let mut out = obj.clone();
    if let Some(Value::Array(messages)) = out.get_mut("messages") {
        for (i, m) in messages.iter_mut().enumerate() {
            let Some(mo) = m.as_object_mut() else {
                continue;
            };
            let idx = i.to_string();
            let role = mo
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let allowed: &[&str] = match role.as_str() {
                "system" | "user" => &["role", "content"],
                "assistant" => &["role", "content", "tool_calls", "prefix"],
                "tool" => &["role", "content", "tool_call_id", "name"],
                other => {
                    return Err(MistralError::unprocessable(
                        &["body", "messages", &idx],
                        "union_tag_invalid",
                        &format!(
                            "Input tag '{other}' found using 'role' does not match any of the expected tags: 'assistant', 'system', 'tool', 'user'"
                        ),
                    ));
                }
            };
            check_fields(mo, allowed, &["body", "messages", &idx])?;
            for c in mo
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = c.get("id").and_then(Value::as_str).unwrap_or("");
                if !valid_tool_id(id) {
                    return Err(bad_tool_id(id));
                }
            }
            if let Some(id) = mo.get("tool_call_id").and_then(Value::as_str)
                && !valid_tool_id(id)
            {
                return Err(bad_tool_id(id));
            }
            mo.remove("prefix");
            if role == "tool" {
                mo.remove("name");
            }
        }
    }
    if let Some(seed) = out.remove("random_seed") {
        out.insert("seed".into(), seed);
    }
    if out.get("tool_choice").and_then(Value::as_str) == Some("any") {
        out.insert("tool_choice".into(), Value::String("required".into()));
    }
    out.remove("prompt_mode");
    out.remove("safe_prompt");
    Ok(Value::Object(out))
}

fn auth_error(headers: &HeaderMap) -> Option<Response> {
    auth::openai(headers).err().map(|e| {
        let status = e.status;
        let mut m = if status == StatusCode::UNAUTHORIZED {
            MistralError::new(status, "Unauthorized")
        } else {
            MistralError::from(e)
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            m.retry_after = Some(1);
        }
        m.into_response()
    })
}

pub async fn chat(
    State(state): State<MockState>,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Some(r) = auth_error(&headers) {
        return r;
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::Mistral);
    };
    let openai_body = match to_openai(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let req = match validate::openai::chat(&openai_body) {
        Ok(r) => r,
        Err(e) => return MistralError::from(e).into_response(),
    };
    let d = match gate(&state, &req.model, Format::Mistral).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let plan = plan(&req.conversation, &d);
    let tool_id = match plan.output {
        Output::ToolCall { .. } => format!("T{:08}", state.next_tool_id() % 100_000_000),
        Output::Text(_) => String::new(),
    };
    crate::openai::answer(&d, &plan, &tool_id, req.stream, false, Flavor::Mistral)
}

pub async fn embeddings(
    State(state): State<MockState>,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Some(r) = auth_error(&headers) {
        return r;
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::Mistral);
    };
    let Some(obj) = body.as_object() else {
        return MistralError::unprocessable(
            &["body"],
            "model_attributes_type",
            "Input should be a valid dictionary",
        )
        .into_response();
    };
    if let Err(e) = check_fields(obj, EMBED_FIELDS, &["body"]) {
        return e.into_response();
    }
    let mut out = obj.clone();
    if let Some(d) = out.remove("output_dimension") {
        out.insert("dimensions".into(), d);
    }
    match out.remove("output_dtype") {
        None => {}
        Some(Value::String(s)) if s == "float" => {}
        Some(_) => {
            return MistralError::new(
                StatusCode::BAD_REQUEST,
                "tollgate-mock supports only output_dtype float",
            )
            .into_response();
        }
    }
    crate::embeddings::respond(&state, &Value::Object(out)).await
}
