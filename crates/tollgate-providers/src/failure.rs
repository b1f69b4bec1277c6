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
        // Gemini answers an invalid key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID:
        // the key is dead, the request is fine.
        400 if gemini_reason(body) == Some("API_KEY_INVALID") => {
            Failure::KeyDead { status, message }
        }
        400 | 404 | 409 | 413 | 422 => Failure::RequestFault { status, message },
        401..=403 => Failure::KeyDead { status, message },
        429 => Failure::Throttled {
            retry_after: retry_after(headers).or_else(|| gemini_retry_delay(body)),
            message,
        },
        _ => Failure::Transient {
            status: Some(status),
            message,
        },
    }
}

/// The provider's human message, at most 1000 characters: `error.message` (OpenAI,
/// Anthropic, Gemini, Azure; Gemini's array-wrapped form too), a string `error`
/// (Ollama), a string `message` (Mistral), or the field errors of a validation answer
/// (Mistral's and FastAPI's 422: `message.detail` / `detail`).
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let v = match v {
        serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    };
    let msg = v
        .pointer("/error/message")
        .or_else(|| v.get("message"))
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("detail"))?;
    let text = match msg {
        serde_json::Value::String(s) => s.clone(),
        other => validation_detail(other.get("detail").unwrap_or(other))?,
    };
    Some(text.chars().take(1000).collect())
}

/// `[{"loc": ["body", "x"], "msg": "..."}]` as `body.x: ...; ...`.
fn validation_detail(detail: &serde_json::Value) -> Option<String> {
    if let Some(s) = detail.as_str() {
        return Some(s.to_owned());
    }
    let items: Vec<String> = detail
        .as_array()?
        .iter()
        .map(|d| {
            let loc: Vec<String> = d
                .get("loc")
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten()
                .map(|p| match p {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let msg = d.get("msg").and_then(|m| m.as_str()).unwrap_or("invalid");
            if loc.is_empty() {
                msg.to_owned()
            } else {
                format!("{}: {msg}", loc.join("."))
            }
        })
        .collect();
    (!items.is_empty()).then(|| items.join("; "))
}

/// The `reason` of a Gemini error's `ErrorInfo` detail.
fn gemini_reason(body: &[u8]) -> Option<&'static str> {
    // Only one reason matters here; a substring test avoids parsing twice.
    let text = std::str::from_utf8(body).ok()?;
    text.contains("\"API_KEY_INVALID\"")
        .then_some("API_KEY_INVALID")
}

/// The longest wait an upstream can ask for. A larger (or absurd: `1e20`, `inf`) value
/// is read as this: the key cools down for an hour rather than the task panicking on a
/// `Duration` overflow or a key being parked for centuries.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Gemini's `RetryInfo.retryDelay` (`"7s"`, `"1.5s"`) of a 429.
fn gemini_retry_delay(body: &[u8]) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let details = v.pointer("/error/details")?.as_array()?;
    details.iter().find_map(|d| {
        let secs = d.get("retryDelay")?.as_str()?.trim().strip_suffix('s')?;
        clamped_secs(secs.trim().parse().ok()?)
    })
}

/// `retry-after-ms` or `retry-after` (seconds), clamped to [`MAX_RETRY_AFTER`]. Negative,
/// NaN and unparsable values are ignored; so is the HTTP-date form (the caller then
/// uses its default cool-down, which is what a date in the near future would mean).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(d) = get("retry-after-ms").and_then(|ms| clamped_secs(ms / 1000.0)) {
        return Some(d);
    }
    get("retry-after").and_then(clamped_secs)
}

/// Seconds as a `Duration` no longer than [`MAX_RETRY_AFTER`]; `None` for negative or
/// NaN values. Never panics (`Duration::from_secs_f64` does on overflow).
fn clamped_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    let max = MAX_RETRY_AFTER.as_secs_f64();
    Some(if secs >= max {
        MAX_RETRY_AFTER
    } else {
        Duration::try_from_secs_f64(secs).unwrap_or(MAX_RETRY_AFTER)
    })
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

    #[test]
    fn vendor_error_shapes() {
        let gemini = br#"{"error":{"code":400,"message":"Please use a valid role: user, model.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            error_message(gemini).as_deref(),
            Some("Please use a valid role: user, model.")
        );
        let wrapped =
            br#"[{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}]"#;
        assert_eq!(
            error_message(wrapped).as_deref(),
            Some("models/x is not found")
        );
        let mistral = br#"{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","stream_options"],"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_error"}"#;
        assert_eq!(
            error_message(mistral).as_deref(),
            Some("body.stream_options: Extra inputs are not permitted")
        );
        assert_eq!(
            error_message(br#"{"error":"model \"x\" not found, try pulling it first"}"#).as_deref(),
            Some("model \"x\" not found, try pulling it first")
        );
        assert_eq!(
            error_message(br#"{"detail":"Not Found"}"#).as_deref(),
            Some("Not Found")
        );
        let h = HeaderMap::new();
        let bad_key = br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#;
        assert!(matches!(
            classify(400, &h, bad_key),
            Failure::KeyDead { .. }
        ));
        assert!(matches!(
            classify(400, &h, gemini),
            Failure::RequestFault { .. }
        ));
        let quota = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        assert!(matches!(
            classify(429, &h, quota),
            Failure::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
    }

    fn header(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn absurd_retry_after_values_are_clamped_or_ignored() {
        let max = Some(MAX_RETRY_AFTER);
        for v in [
            "1e20",
            "inf",
            "+inf",
            "Infinity",
            "1e308",
            "18446744073709551616",
            "7200",
        ] {
            assert_eq!(retry_after(&header("retry-after", v)), max, "{v}");
        }
        for v in [
            "-1",
            "-inf",
            "NaN",
            "nan",
            "abc",
            "",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(retry_after(&header("retry-after", v)), None, "{v}");
        }
        assert_eq!(
            retry_after(&header("retry-after", " 2.5 ")),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(retry_after(&header("retry-after-ms", "1e20")), max);
        assert_eq!(retry_after(&header("retry-after-ms", "1e300")), max);
        assert_eq!(retry_after(&header("retry-after-ms", "-5")), None);
        assert_eq!(retry_after(&header("retry-after-ms", "NaN")), None);
        // A bad `retry-after-ms` does not hide a good `retry-after`.
        let mut h = header("retry-after-ms", "NaN");
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    }

    #[test]
    fn absurd_gemini_retry_delays_are_clamped_or_ignored() {
        let delay = |d: &str| {
            let body = format!(
                r#"{{"error":{{"code":429,"message":"q","details":[{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"{d}"}}]}}}}"#
            );
            match classify(429, &HeaderMap::new(), body.as_bytes()) {
                Failure::Throttled { retry_after, .. } => retry_after,
                other => panic!("not throttled: {other:?}"),
            }
        };
        assert_eq!(delay("1e20s"), Some(MAX_RETRY_AFTER));
        assert_eq!(delay("infs"), Some(MAX_RETRY_AFTER));
        assert_eq!(delay("1e400s"), Some(MAX_RETRY_AFTER));
        assert_eq!(delay("-3s"), None);
        assert_eq!(delay("NaNs"), None);
        assert_eq!(delay("7"), None);
        assert_eq!(delay("0.5s"), Some(Duration::from_millis(500)));
    }
}
