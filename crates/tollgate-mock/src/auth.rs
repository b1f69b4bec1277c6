//! API-key checks, done before anything else as the real APIs do.
//!
//! Key prefixes simulate dead or throttled keys: `bad…` → 401, `unpaid…` → 402,
//! `forbidden…` → 403, `limited…` → 429 with `retry-after: 1`.

use crate::errors::{AnthropicError, OpenAiError};
use axum::http::{HeaderMap, StatusCode, header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFault {
    Invalid,
    Unpaid,
    Forbidden,
    Limited,
}

fn key_fault(key: &str) -> Option<KeyFault> {
    if key.starts_with("bad") {
        Some(KeyFault::Invalid)
    } else if key.starts_with("unpaid") {
        Some(KeyFault::Unpaid)
    } else if key.starts_with("forbidden") {
        Some(KeyFault::Forbidden)
    } else if key.starts_with("limited") {
        Some(KeyFault::Limited)
    } else {
        None
    }
}

fn masked(key: &str) -> String {
    let head: String = key.chars().take(3).collect();
    format!("{head}*****")
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// OpenAI: `Authorization: Bearer <key>`.
pub fn openai(headers: &HeaderMap) -> Result<(), OpenAiError> {
    let key = header_str(headers, header::AUTHORIZATION)
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(OpenAiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
        )
        .code("invalid_api_key"));
    };
    match key_fault(key) {
        None => Ok(()),
        Some(KeyFault::Invalid) => Err(OpenAiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                masked(key)
            ),
        )
        .code("invalid_api_key")),
        Some(KeyFault::Unpaid) => Err(OpenAiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
        )
        .code("insufficient_quota")),
        Some(KeyFault::Forbidden) => Err(OpenAiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "You have insufficient permissions for this operation.",
        )
        .code("permission_denied")),
        Some(KeyFault::Limited) => {
            let mut e = OpenAiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
            )
            .code("rate_limit_exceeded");
            e.retry_after = Some(1);
            Err(e)
        }
    }
}

/// Anthropic: `x-api-key` and `anthropic-version`.
pub fn anthropic(headers: &HeaderMap) -> Result<(), AnthropicError> {
    let Some(key) = header_str(headers, "x-api-key").filter(|k| !k.is_empty()) else {
        return Err(AnthropicError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        ));
    };
    if key_fault(key) == Some(KeyFault::Invalid) {
        return Err(AnthropicError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        ));
    }
    if header_str(headers, "anthropic-version")
        .filter(|v| !v.is_empty())
        .is_none()
    {
        return Err(AnthropicError::invalid(
            "anthropic-version: header is required",
        ));
    }
    match key_fault(key) {
        None | Some(KeyFault::Invalid) => Ok(()),
        Some(KeyFault::Unpaid) => Err(AnthropicError::new(
            StatusCode::PAYMENT_REQUIRED,
            "billing_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
        )),
        Some(KeyFault::Forbidden) => Err(AnthropicError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        )),
        Some(KeyFault::Limited) => {
            let mut e = AnthropicError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization. Please try again later.",
            );
            e.retry_after = Some(1);
            Err(e)
        }
    }
}

/// Whether a request looks like it comes from an Anthropic client (for `GET /v1/models`).
pub fn looks_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key("x-api-key") && !headers.contains_key(header::AUTHORIZATION)
}
