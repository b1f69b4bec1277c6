//! The part of answering that both formats share: directives, delays, scripted failures.

use crate::directives::Directives;
use crate::errors::{
    AnthropicError, Format, GeminiError, MistralError, OllamaError, OpenAiError,
    anthropic_for_status, gemini_for_status, ollama_for_status, openai_for_status,
};
use crate::state::MockState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

/// The request body as parsed by the recording middleware: `None` if empty or not JSON.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Arc<Option<Value>>);

impl JsonBody {
    pub fn value(&self) -> Option<&Value> {
        self.0.as_ref().as_ref()
    }
}

pub fn invalid_json(format: Format) -> Response {
    match format {
        Format::OpenAi => OpenAiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please make sure you are sending a JSON body.)",
        )
        .into_response(),
        Format::Anthropic => {
            AnthropicError::invalid("There was an error parsing the body of your request: invalid JSON")
                .into_response()
        }
        Format::Gemini => GeminiError::invalid(
            "Invalid JSON payload received. Unexpected token.",
        )
        .into_response(),
        Format::Ollama => OllamaError::invalid("invalid character looking for beginning of value").into_response(),
        Format::Mistral => MistralError::unprocessable(&["body"], "json_invalid", "JSON decode error").into_response(),
    }
}

fn error_for(format: Format, status: u16, d: &Directives) -> Response {
    let mut resp = error_body_for(format, status, d);
    // Misbehaving upstreams: the raw `retry-after` / `retry-after-ms` values asked for.
    for (name, raw) in [
        ("retry-after", &d.retry_after_raw),
        ("retry-after-ms", &d.retry_after_ms_raw),
    ] {
        if let Some(v) = raw.as_deref().and_then(|r| HeaderValue::from_str(r).ok()) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

fn error_body_for(format: Format, status: u16, d: &Directives) -> Response {
    match format {
        Format::OpenAi => openai_for_status(status, &d.model, d.retry_after_secs()).into_response(),
        Format::Anthropic => {
            anthropic_for_status(status, &d.model, d.retry_after_secs()).into_response()
        }
        Format::Gemini => {
            let mut e = gemini_for_status(status, &d.model, d.retry_after_secs());
            if let (Some(raw), Some(slot)) = (
                &d.retry_delay,
                e.details
                    .as_mut()
                    .and_then(|v| v.pointer_mut("/0/retryDelay")),
            ) {
                *slot = Value::String(raw.clone());
            }
            e.into_response()
        }
        Format::Ollama => ollama_for_status(status, &d.model).into_response(),
        Format::Mistral => {
            MistralError::from(openai_for_status(status, &d.model, d.retry_after_secs()))
                .into_response()
        }
    }
}

/// Parse the model's directives and play the scripted part: delay, hang, missing model,
/// `fail_first`, `status`. `Ok` means: go on and answer normally with these directives.
pub async fn gate(state: &MockState, model: &str, format: Format) -> Result<Directives, Response> {
    let d = match Directives::parse(model) {
        Ok(d) => d,
        Err(msg) => {
            return Err(match format {
                Format::OpenAi => OpenAiError::invalid(msg).param("model").into_response(),
                Format::Anthropic => {
                    AnthropicError::invalid(format!("model: {msg}")).into_response()
                }
                Format::Gemini => GeminiError::invalid(msg).into_response(),
                Format::Ollama => OllamaError::invalid(msg).into_response(),
                Format::Mistral => MistralError::new(StatusCode::BAD_REQUEST, msg).into_response(),
            });
        }
    };
    if let Some(delay) = d.delay {
        tokio::time::sleep(delay).await;
    }
    if d.hang {
        std::future::pending::<()>().await;
    }
    if let Some(mib) = d.endless_line {
        return Err(crate::stream::endless_line(format, mib));
    }
    if d.model.starts_with("missing") {
        return Err(match format {
            Format::OpenAi => openai_for_status(404, &d.model, 1).into_response(),
            Format::Anthropic => AnthropicError::new(
                StatusCode::NOT_FOUND,
                "not_found_error",
                format!("model: {}", d.model),
            )
            .into_response(),
            Format::Gemini => gemini_for_status(404, &d.model, 1).into_response(),
            Format::Ollama => ollama_for_status(404, &d.model).into_response(),
            Format::Mistral => {
                MistralError::new(StatusCode::NOT_FOUND, "Invalid model").into_response()
            }
        });
    }
    if let Some(n) = d.fail_first {
        if state.should_fail(model, n) {
            return Err(error_for(format, d.failure_status(), &d));
        }
        return Ok(d);
    }
    if let Some(status) = d.status
        && status >= 400
    {
        return Err(error_for(format, status, &d));
    }
    Ok(d)
}
