//! Provider-shaped error responses.
//!
//! OpenAI: `{"error":{"message","type","param","code"}}`.
//! Anthropic: `{"type":"error","error":{"type","message"}}`.
//! Gemini: `{"error":{"code","message","status"}}`. Ollama: `{"error":"..."}`.
//! Mistral: `{"object":"error","message",...}` (422: pydantic's `detail` in `message`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which wire format an endpoint speaks; decides the error body shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenAi,
    Anthropic,
    Gemini,
    Ollama,
    Mistral,
}

/// An error in OpenAI's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
    pub retry_after: Option<u64>,
}

impl OpenAiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        OpenAiError {
            status,
            message: message.into(),
            kind: kind.to_string(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn body(&self) -> Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp.headers_mut().insert(
            "x-request-id",
            crate::ids::header_value(&crate::ids::request_id()),
        );
        resp
    }
}

/// An error in Anthropic's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicError {
    pub status: StatusCode,
    pub kind: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AnthropicError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        AnthropicError {
            status,
            kind: kind.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn body(&self) -> Value {
        json!({
            "type": "error",
            "error": {"type": self.kind, "message": self.message},
        })
    }
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp.headers_mut().insert(
            "request-id",
            crate::ids::header_value(&crate::ids::request_id()),
        );
        resp
    }
}

/// The error a `status=N` directive (or a `fail_first` failure) produces, in OpenAI's shape.
pub fn openai_for_status(status: u16, model: &str, retry_after: u64) -> OpenAiError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut err = match status {
        400 => OpenAiError::invalid(format!("mock: requested status 400 for model '{model}'")),
        401 => OpenAiError::new(
            code,
            "invalid_request_error",
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        )
        .code("invalid_api_key"),
        402 => OpenAiError::new(
            code,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        )
        .code("insufficient_quota"),
        403 => OpenAiError::new(
            code,
            "permission_error",
            "You are not allowed to access this resource.",
        )
        .code("permission_denied"),
        404 => OpenAiError::new(
            code,
            "invalid_request_error",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .code("model_not_found"),
        408 => OpenAiError::new(code, "timeout", "Request timed out."),
        409 => OpenAiError::new(code, "conflict", "mock: requested status 409"),
        413 => OpenAiError::new(code, "invalid_request_error", "Request too large."),
        422 => OpenAiError::new(
            code,
            "invalid_request_error",
            format!("mock: requested status 422 for model '{model}'"),
        ),
        429 => {
            let mut e = OpenAiError::new(
                code,
                "requests",
                format!(
                    "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_after}s."
                ),
            )
            .code("rate_limit_exceeded");
            e.retry_after = Some(retry_after);
            e
        }
        500 => OpenAiError::new(
            code,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        ),
        502 => OpenAiError::new(code, "server_error", "Bad gateway."),
        503 => OpenAiError::new(
            code,
            "server_error",
            "The engine is currently overloaded, please try again later.",
        ),
        504 => OpenAiError::new(code, "server_error", "Gateway timeout."),
        s if s >= 500 => OpenAiError::new(code, "server_error", format!("mock: requested status {s}")),
        s => OpenAiError::new(
            code,
            "invalid_request_error",
            format!("mock: requested status {s}"),
        ),
    };
    err.status = code;
    err
}

/// The error a `status=N` directive (or a `fail_first` failure) produces, in Anthropic's shape.
pub fn anthropic_for_status(status: u16, model: &str, retry_after: u64) -> AnthropicError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (kind, message) = match status {
        400 => (
            "invalid_request_error",
            format!("mock: requested status 400 for model '{model}'"),
        ),
        401 => ("authentication_error", "invalid x-api-key".to_string()),
        402 => (
            "billing_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.".to_string(),
        ),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.".to_string(),
        ),
        404 => ("not_found_error", format!("model: {model}")),
        413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes.".to_string()),
        429 => (
            "rate_limit_error",
            "This request would exceed the rate limit for your organization. Please try again later.".to_string(),
        ),
        500 => ("api_error", "Internal server error".to_string()),
        504 => ("timeout_error", "Request timed out".to_string()),
        529 => ("overloaded_error", "Overloaded".to_string()),
        s if s >= 500 => ("api_error", format!("mock: requested status {s}")),
        s => ("invalid_request_error", format!("mock: requested status {s}")),
    };
    let mut err = AnthropicError::new(code, kind, message);
    if status == 429 {
        err.retry_after = Some(retry_after);
    }
    err
}

/// Describe a JSON value's type the way OpenAI's validation messages do.
pub fn openai_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An error in Gemini's shape: `{"error": {"code", "message", "status"[, "details"]}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Option<Value>,
}

/// The gRPC status name Google writes for an HTTP status.
pub fn google_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "UNKNOWN",
        _ => "FAILED_PRECONDITION",
    }
}

impl GeminiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        GeminiError {
            status,
            message: message.into(),
            details: None,
        }
    }

    /// A 400 `INVALID_ARGUMENT`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn body(&self) -> Value {
        let mut e = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "status": google_status(self.status.as_u16()),
        });
        if let (Some(d), Some(o)) = (&self.details, e.as_object_mut()) {
            o.insert("details".into(), d.clone());
        }
        json!({ "error": e })
    }
}

impl IntoResponse for GeminiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

pub fn gemini_for_status(status: u16, model: &str, retry_after: u64) -> GeminiError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut e = match status {
        404 => GeminiError::new(
            code,
            format!(
                "models/{model} is not found for API version v1beta, or is not supported for generateContent."
            ),
        ),
        429 => GeminiError::new(
            code,
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        500 => GeminiError::new(
            code,
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        503 => GeminiError::new(code, "The model is overloaded. Please try again later."),
        s => GeminiError::new(
            code,
            format!("mock: requested status {s} for model '{model}'"),
        ),
    };
    if status == 429 {
        e.details = Some(json!([{
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{retry_after}s"),
        }]));
    }
    e
}

/// An error in Ollama's shape: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OllamaError {
    pub status: StatusCode,
    pub message: String,
}

impl OllamaError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        OllamaError {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for OllamaError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

pub fn ollama_for_status(status: u16, model: &str) -> OllamaError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        404 => OllamaError::new(
            code,
            format!("model \"{model}\" not found, try pulling it first"),
        ),
        s => OllamaError::new(
            code,
            format!("mock: requested status {s} for model '{model}'"),
        ),
    }
}

/// An error in Mistral's shapes: 422 validation errors carry pydantic's `detail` list in
/// `message`; other errors a string `message`.
#[derive(Debug, Clone, PartialEq)]
pub struct MistralError {
    pub status: StatusCode,
    pub message: Value,
    pub retry_after: Option<u64>,
}

impl MistralError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        MistralError {
            status,
            message: Value::String(message.into()),
            retry_after: None,
        }
    }

    /// 422 for a field pydantic rejects: `kind` like `extra_forbidden`.
    pub fn unprocessable(loc: &[&str], kind: &str, msg: &str) -> Self {
        MistralError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: json!({"detail": [{"type": kind, "loc": loc, "msg": msg}]}),
            retry_after: None,
        }
    }
}

impl From<OpenAiError> for MistralError {
    fn from(e: OpenAiError) -> Self {
        MistralError {
            status: e.status,
            message: Value::String(e.message),
            retry_after: e.retry_after,
        }
    }
}

impl IntoResponse for MistralError {
    fn into_response(self) -> Response {
        let body = json!({
            "object": "error",
            "message": self.message,
            "type": "invalid_request_error",
            "param": null,
            "code": null,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
