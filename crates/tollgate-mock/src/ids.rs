//! Identifiers and timestamps in the providers' styles.

use axum::http::HeaderValue;
use std::time::{SystemTime, UNIX_EPOCH};

fn hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn request_id() -> String {
    format!("req_{}", hex())
}

pub fn chat_completion_id() -> String {
    format!("chatcmpl-{}", hex())
}

pub fn message_id() -> String {
    format!("msg_{}", hex())
}

pub fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("req_mock"))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
