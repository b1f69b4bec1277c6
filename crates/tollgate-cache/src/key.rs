//! Cache keys: SHA-256 over a normalised request.
//!
//! Two requests share an entry exactly when their normalised forms are equal. The
//! normal form is the request body with:
//!
//! 1. these top-level fields removed, because they do not change the answer
//!    ([`IGNORED_FIELDS`]):
//!    - `stream`, `stream_options`: how the answer travels, not what it says (one entry
//!      serves stream and non-stream requests; see [`crate::CachedAnswer::stream`]);
//!    - `user`, `safety_identifier`, `prompt_cache_key`, `metadata`: who is asking, for
//!      the provider's abuse tracking, prompt caching and bookkeeping;
//!    - `service_tier`, `store`: the provider's latency tier and whether it keeps a copy;
//!    - `model`: replaced by the `model` argument (the gateway's model name);
//! 2. `n` removed when it is `1` (the default);
//! 3. top-level fields whose value is `null` removed (the same as absent);
//! 4. written as canonical JSON: object keys sorted (at every depth), no whitespace,
//!    numbers with an integral value written as integers (`1.0` is `1`).
//!
//! Array order is kept (messages, tools and content parts are ordered); everything
//! else (messages, tools, tool_choice, temperature, top_p, max_tokens, stop, seed,
//! response_format, ...) is part of the key.
//!
//! The hash also covers, each length-prefixed so that no two fields can run into one
//! another: a format version, the *door* (`"openai"` or `"anthropic"`: the same JSON on
//! the two doors is a different request with a differently shaped answer), the
//! *scope* ([`scope`]: `consumer:<name>` or `shared`) and the model name.

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tollgate_core::spec::CacheScope;

/// Top-level request fields that never change the answer.
pub const IGNORED_FIELDS: &[&str] = &[
    "stream",
    "stream_options",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "metadata",
    "service_tier",
    "store",
    "model",
];

/// Bumped when the normal form or the entry encoding changes: old entries are then
/// simply never found again.
const KEY_VERSION: &str = "tollgate-cache-v1";

/// The prefix of every key in a shared backend (Redis, Memcached).
pub const KEY_PREFIX: &str = "tollgate:cache:v1:";

/// A cache key: `tollgate:cache:v1:` and 64 hex digits (fits Memcached's 250 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(Arc<str>);

impl CacheKey {
    /// The key of `request` (the JSON body as the client sent it) on `door`
    /// (`"openai"` | `"anthropic"`), for `scope` (see [`scope`]) and gateway `model`.
    pub fn new(door: &str, scope: &str, model: &str, request: &Value) -> CacheKey {
        let mut h = Sha256::new();
        for part in [KEY_VERSION, door, scope, model] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.update(canonical(request).as_bytes());
        CacheKey(Arc::from(format!(
            "{KEY_PREFIX}{}",
            hex::encode(h.finalize())
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The scope string for a model's `cache.scope`: `consumer:<name>` or `shared`.
/// (Prefixed so that a consumer named "shared" cannot read the shared entries.)
pub fn scope(scope: CacheScope, consumer: &str) -> String {
    match scope {
        CacheScope::Consumer => format!("consumer:{consumer}"),
        CacheScope::Shared => "shared".to_string(),
    }
}

/// The normalised request (steps 1 to 3 above), for logs and tests.
pub fn normalise(request: &Value) -> Value {
    match request {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                if IGNORED_FIELDS.contains(&k.as_str()) || v.is_null() {
                    continue;
                }
                if k == "n" && v.as_f64() == Some(1.0) {
                    continue;
                }
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The canonical JSON text of the normalised request (step 4 above).
pub fn canonical(request: &Value) -> String {
    let mut out = String::new();
    write_canonical(&normalise(request), &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
    }
}

/// Largest integer an f64 holds exactly.
const MAX_EXACT_F64: f64 = 9_007_199_254_740_992.0;

fn write_number(n: &serde_json::Number, out: &mut String) {
    if n.is_i64() || n.is_u64() {
        out.push_str(&n.to_string());
        return;
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= MAX_EXACT_F64 => {
            // Integral and exact: `1.0` and `1` are the same parameter value.
            out.push_str(&format!("{}", f as i64));
        }
        Some(f) => out.push_str(&format!("{f:?}")),
        None => out.push_str(&n.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's escaping is canonical for a given string.
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_and_integral_numbers() {
        let a = json!({"b": 1.0, "a": {"y": [1, 2.5], "x": "s"}, "n": 1, "user": "u"});
        assert_eq!(canonical(&a), r#"{"a":{"x":"s","y":[1,2.5]},"b":1}"#);
    }

    #[test]
    fn n_other_than_one_is_kept() {
        let a = json!({"n": 2});
        assert_eq!(canonical(&a), r#"{"n":2}"#);
    }

    #[test]
    fn key_shape_fits_memcached() {
        let k = CacheKey::new("openai", "shared", "m", &json!({}));
        assert!(k.as_str().len() <= 250);
        assert!(k.as_str().bytes().all(|b| b.is_ascii_graphic()));
    }
}
