//! Classifying a failed upstream answer before anything is retried.
//!
//! The classification decides what happens next: a request fault goes back to the
//! client (replaying it elsewhere only multiplies cost), a dead or unpaid key is taken
//! out, a throttled key cools down, a transient failure may be retried elsewhere.

use std::time::Duration;

use http::HeaderMap;

/// Why an upstream attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 400/404/422: the request itself is wrong; not retried.
    RequestFault { status: u16, message: String },
    /// 401/402/403: this key is dead or unpaid.
    KeyDead { status: u16, message: String },
    /// 429: this key is throttled for `retry_after`.
    Throttled {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx, resets, connection errors.
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// No answer within the timeout.
    Timeout { message: String },
}

impl Failure {
    /// A short label for metrics and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            Failure::RequestFault { .. } => "request_fault",
            Failure::KeyDead { .. } => "key_dead",
            Failure::Throttled { .. } => "throttled",
            Failure::Transient { .. } => "transient",
            Failure::Timeout { .. } => "timeout",
        }
    }
}

/// Classifies an upstream error answer by status, reading the provider's message
/// from its body (never passing the raw body on).
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> Failure {
    let message = error_message(body).unwrap_or_else(|| format!("upstream answered HTTP {status}"));
    match status {
        400 | 404 | 409 | 413 | 422 => Failure::RequestFault { status, message },
        401..=403 => Failure::KeyDead { status, message },
        429 => Failure::Throttled {
            retry_after: retry_after(headers),
            message,
        },
        _ => Failure::Transient {
            status: Some(status),
            message,
        },
    }
}

/// The provider's human message: `error.message` (OpenAI, Anthropic), `message`,
/// or a string `error`; at most 1000 characters.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msg = v
        .pointer("/error/message")
        .or_else(|| v.get("message"))
        .or_else(|| v.get("error").filter(|e| e.is_string()))?
        .as_str()?;
    Some(msg.chars().take(1000).collect())
}

/// `retry-after-ms` or `retry-after` (seconds; an HTTP date is not worth parsing here).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(ms) = get("retry-after-ms").filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(Duration::from_millis(ms as u64));
    }
    get("retry-after")
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let h = HeaderMap::new();
        let body = br#"{"error":{"message":"bad thing","type":"x"}}"#;
        assert!(
            matches!(classify(400, &h, body), Failure::RequestFault { status: 400, ref message } if message == "bad thing")
        );
        assert!(matches!(
            classify(422, &h, b""),
            Failure::RequestFault { .. }
        ));
        assert!(matches!(classify(401, &h, b""), Failure::KeyDead { .. }));
        assert!(matches!(classify(402, &h, b""), Failure::KeyDead { .. }));
        assert!(matches!(classify(403, &h, b""), Failure::KeyDead { .. }));
        assert!(matches!(
            classify(500, &h, b"oops"),
            Failure::Transient {
                status: Some(500),
                ..
            }
        ));
        assert!(matches!(classify(529, &h, b""), Failure::Transient { .. }));
    }

    #[test]
    fn throttle_reads_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            classify(429, &h, b""),
            Failure::Throttled {
                retry_after: Some(Duration::from_secs(7)),
                message: "upstream answered HTTP 429".into()
            }
        );
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn anthropic_and_plain_messages() {
        assert_eq!(
            error_message(br#"{"type":"error","error":{"type":"x","message":"m1"}}"#).as_deref(),
            Some("m1")
        );
        assert_eq!(error_message(br#"{"error":"m2"}"#).as_deref(), Some("m2"));
        assert_eq!(error_message(b"<html>"), None);
    }
}
