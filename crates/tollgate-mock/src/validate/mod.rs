//! Strict request validation, one module per wire format.
//!
//! Each validator checks a `serde_json::Value` the way the real API would, and on success
//! returns what the mock needs to answer (a [`crate::content::Conversation`] and flags).

pub mod anthropic;
pub mod embeddings;
pub mod gemini;
pub mod ollama;
pub mod openai;

use base64::Engine;
use serde_json::{Map, Value};

/// An optional field: absent and `null` both count as not given.
pub(crate) fn opt<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Tool names: `^[a-zA-Z0-9_-]{1,64}$`.
pub(crate) fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Strict standard base64 (padding allowed); what the providers accept for image data.
pub(crate) fn valid_base64(data: &str) -> bool {
    !data.is_empty()
        && (base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_ok()
            || base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(data)
                .is_ok())
}

/// `http(s)://…` or `data:image/<type>;base64,<data>`.
pub(crate) fn valid_image_url(url: &str) -> bool {
    if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        return !rest.is_empty();
    }
    if let Some(rest) = url.strip_prefix("data:") {
        let Some((meta, data)) = rest.split_once(',') else {
            return false;
        };
        let Some(media) = meta.strip_suffix(";base64") else {
            return false;
        };
        return media.starts_with("image/") && media.len() > "image/".len() && valid_base64(data);
    }
    false
}

/// Join a list of strings the way OpenAI lists supported values: `'a', 'b', and 'c'`.
pub(crate) fn quoted_list(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    match q.len() {
        0 => String::new(),
        1 => q[0].clone(),
        2 => format!("{} and {}", q[0], q[1]),
        n => format!("{}, and {}", q[..n - 1].join(", "), q[n - 1]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tool_names() {
        assert!(valid_tool_name("get_weather-2"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name("has space"));
        assert!(!valid_tool_name(&"a".repeat(65)));
    }

    #[test]
    fn image_urls() {
        assert!(valid_image_url("https://example.com/cat.png"));
        assert!(valid_image_url("data:image/png;base64,aGVsbG8="));
        assert!(!valid_image_url("data:text/plain;base64,aGVsbG8="));
        assert!(!valid_image_url("data:image/png;base64,***"));
        assert!(!valid_image_url("ftp://x"));
        assert!(!valid_image_url("https://"));
    }

    #[test]
    fn lists() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b', and 'c'");
    }
}
