//! Per-kind URLs, authentication and body quirks, as PRODUCT.md's provider table lays
//! them out.
//!
//! | kind | chat | embeddings | key |
//! |---|---|---|---|
//! | openai, openai_compatible, mistral | `{base}/chat/completions` | `{base}/embeddings` | `Authorization: Bearer` |
//! | anthropic | `{base}/v1/messages` | — | `x-api-key` |
//! | gemini | `{base}/v1beta/models/{m}:generateContent`, `:streamGenerateContent?alt=sse` | `:batchEmbedContents` | `x-goog-api-key` |
//! | ollama | `{base}/api/chat` | `{base}/api/embed` | none (Bearer if one is configured) |
//! | azure_openai | `{base}/openai/deployments/{m}/chat/completions?api-version=V` | `.../embeddings?api-version=V` | `api-key` |
//!
//! Mistral and Azure speak OpenAI's format; what they do differently lives here
//! ([`prepare_openai_body`], [`prepare_openai_embeddings`]) so that the gateway only
//! knows formats, not vendors.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tollgate_core::spec::{ProviderKind, ProviderSpec};
use tollgate_protocol::openai::{ChatRequest, EmbeddingsRequest, MessageContent, Role};

/// The Anthropic API version the gateway speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The chat wire format a provider kind speaks natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// OpenAI Chat Completions (also Mistral, Azure OpenAI and compatible servers).
    OpenAiChat,
    /// Anthropic Messages.
    AnthropicMessages,
    /// Google Gemini `generateContent` (streams: SSE of whole partial answers).
    Gemini,
    /// Ollama `/api/chat` (streams: NDJSON).
    Ollama,
}

/// The chat format of a provider kind (every kind has one; `Option` for kinds a later
/// version may add without a chat API).
pub fn native_format(kind: ProviderKind) -> Option<WireFormat> {
    Some(match kind {
        ProviderKind::Openai
        | ProviderKind::OpenaiCompatible
        | ProviderKind::Mistral
        | ProviderKind::AzureOpenai => WireFormat::OpenAiChat,
        ProviderKind::Anthropic => WireFormat::AnthropicMessages,
        ProviderKind::Gemini => WireFormat::Gemini,
        ProviderKind::Ollama => WireFormat::Ollama,
    })
}

/// The embeddings format of a provider kind; `None` where the vendor has no embeddings
/// API (Anthropic).
pub fn embeddings_format(kind: ProviderKind) -> Option<WireFormat> {
    match native_format(kind)? {
        WireFormat::AnthropicMessages => None,
        other => Some(other),
    }
}

/// One HTTP request to an upstream, ready to send.
#[derive(Debug, Clone)]
pub struct UpstreamCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The chat request for `provider`, authenticated with `api_key` (none for keyless
/// servers). `body` is already in the provider's native format (for OpenAI-format kinds,
/// the OpenAI request: vendor quirks are applied here). `upstream_model` and `stream`
/// matter to kinds whose URL names them (Gemini, Azure deployments).
pub fn chat_call(
    provider: &ProviderSpec,
    api_key: Option<&str>,
    upstream_model: &str,
    stream: bool,
    body: Bytes,
) -> UpstreamCall {
    let base = provider.effective_base_url().unwrap_or_default();
    let mut headers = json_headers();
    let mut body = body;
    let url = match provider.kind {
        ProviderKind::Anthropic => {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
            set_key(&mut headers, "x-api-key", api_key);
            format!("{base}/v1/messages")
        }
        ProviderKind::Gemini => {
            set_key(&mut headers, "x-goog-api-key", api_key);
            let path = gemini_model_path(upstream_model);
            if stream {
                format!("{base}/v1beta/{path}:streamGenerateContent?alt=sse")
            } else {
                format!("{base}/v1beta/{path}:generateContent")
            }
        }
        ProviderKind::Ollama => {
            set_bearer(&mut headers, api_key);
            format!("{base}/api/chat")
        }
        ProviderKind::AzureOpenai => {
            set_key(&mut headers, "api-key", api_key);
            azure_url(provider, &base, upstream_model, "chat/completions")
        }
        ProviderKind::Mistral => {
            set_bearer(&mut headers, api_key);
            body = prepare_openai_bytes(provider.kind, body);
            format!("{base}/chat/completions")
        }
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
            set_bearer(&mut headers, api_key);
            format!("{base}/chat/completions")
        }
    };
    UpstreamCall { url, headers, body }
}

/// The embeddings request for `provider`; `None` for kinds without embeddings. `body` is
/// in the format [`embeddings_format`] names (OpenAI's already prepared with
/// [`prepare_openai_embeddings`]).
pub fn embeddings_call(
    provider: &ProviderSpec,
    api_key: Option<&str>,
    upstream_model: &str,
    body: Bytes,
) -> Option<UpstreamCall> {
    let base = provider.effective_base_url().unwrap_or_default();
    let mut headers = json_headers();
    let url = match provider.kind {
        ProviderKind::Anthropic => return None,
        ProviderKind::Gemini => {
            set_key(&mut headers, "x-goog-api-key", api_key);
            format!(
                "{base}/v1beta/{}:batchEmbedContents",
                gemini_model_path(upstream_model)
            )
        }
        ProviderKind::Ollama => {
            set_bearer(&mut headers, api_key);
            format!("{base}/api/embed")
        }
        ProviderKind::AzureOpenai => {
            set_key(&mut headers, "api-key", api_key);
            azure_url(provider, &base, upstream_model, "embeddings")
        }
        ProviderKind::Openai | ProviderKind::OpenaiCompatible | ProviderKind::Mistral => {
            set_bearer(&mut headers, api_key);
            format!("{base}/embeddings")
        }
    };
    Some(UpstreamCall { url, headers, body })
}

/// Gemini's model path: `models/{model}`, or the target as written when it already is a
/// path (`tunedModels/...`).
pub fn gemini_model_path(model: &str) -> String {
    tollgate_protocol::translate::embeddings::gemini_model_path(model)
}

fn azure_url(provider: &ProviderSpec, base: &str, deployment: &str, op: &str) -> String {
    let version = provider.api_version.as_deref().unwrap_or_default();
    format!(
        "{base}/openai/deployments/{}/{op}?api-version={}",
        encode_segment(deployment),
        encode_segment(version)
    )
}

/// Percent-encodes what may not stand in a path segment or query value as is.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@' | b',' | b'=')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers
}

fn set_key(headers: &mut HeaderMap, name: &'static str, key: Option<&str>) {
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        headers.insert(HeaderName::from_static(name), sensitive(v));
    }
}

fn set_bearer(headers: &mut HeaderMap, key: Option<&str>) {
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok()) {
        headers.insert(http::header::AUTHORIZATION, sensitive(v));
    }
}

/// Marks a credential header so that it is never printed by `Debug`.
fn sensitive(mut v: HeaderValue) -> HeaderValue {
    v.set_sensitive(true);
    v
}

/// [`prepare_openai_body`] on a serialized request; a body that does not parse is sent
/// unchanged (the vendor will say what is wrong with it).
fn prepare_openai_bytes(kind: ProviderKind, body: Bytes) -> Bytes {
    let Ok(mut req) = serde_json::from_slice::<ChatRequest>(&body) else {
        return body;
    };
    prepare_openai_body(kind, &mut req);
    serde_json::to_vec(&req).map(Bytes::from).unwrap_or(body)
}

/// OpenAI-only fields that change nothing about the answer; vendors that reject unknown
/// fields (Mistral answers 422) are spared them.
const OPENAI_ONLY_HARMLESS: &[&str] = &[
    "user",
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
    "reasoning_effort",
    "verbosity",
];

/// Makes an OpenAI-format request acceptable to `kind`'s dialect. Mistral: no
/// `stream_options` (its streams always end with usage), `max_completion_tokens` →
/// `max_tokens`, `seed` → `random_seed`, developer messages → system, message `name`
/// only on tool messages, tool-call ids in its required shape (9 letters or digits;
/// others are mapped consistently, calls and results alike), harmless OpenAI-only
/// fields removed. Fields Mistral does not know and that do matter stay, so that Mistral
/// itself refuses them (422, passed to the client) rather than the gateway ignoring them.
pub fn prepare_openai_body(kind: ProviderKind, req: &mut ChatRequest) {
    if kind != ProviderKind::Mistral {
        return;
    }
    req.stream_options = None;
    if let Some(n) = req.max_completion_tokens.take() {
        req.max_tokens = Some(req.max_tokens.map_or(n, |m| m.min(n)));
    }
    if let Some(seed) = req.seed.take() {
        req.extra
            .insert("random_seed".to_owned(), Value::from(seed));
    }
    req.user = None;
    for key in OPENAI_ONLY_HARMLESS {
        req.extra.remove(*key);
    }
    if req
        .extra
        .get("logit_bias")
        .is_some_and(|b| b.as_object().is_some_and(|o| o.is_empty()))
    {
        req.extra.remove("logit_bias");
    }
    for m in &mut req.messages {
        if m.role == Role::Developer {
            m.role = Role::System;
        }
        if m.role != Role::Tool {
            m.name = None;
        }
        m.extra.remove("refusal");
        if m.role == Role::Assistant && m.content.is_none() {
            m.content = Some(MessageContent::Text(String::new()));
        }
        for call in m.tool_calls.iter_mut().flatten() {
            call.id = mistral_tool_id(&call.id);
        }
        if let Some(id) = &m.tool_call_id {
            m.tool_call_id = Some(mistral_tool_id(id));
        }
    }
}

/// Mistral's tool-call id rule: exactly 9 ASCII letters or digits. Other ids are mapped
/// to such an id by a hash, the same way every time.
pub fn mistral_tool_id(id: &str) -> String {
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_owned();
    }
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..9)
        .map(|_| {
            let c = ALPHABET.get((h % 62) as usize).copied().unwrap_or(b'0');
            h /= 62;
            char::from(c)
        })
        .collect()
}

/// Makes an OpenAI-format embeddings request acceptable to `kind`. Mistral takes
/// `output_dimension` instead of `dimensions` and no `encoding_format` or `user` (the
/// gateway encodes base64 itself, see
/// [`tollgate_protocol::translate::embeddings::set_encoding`]).
pub fn prepare_openai_embeddings(kind: ProviderKind, req: &mut EmbeddingsRequest) {
    if kind != ProviderKind::Mistral {
        return;
    }
    req.encoding_format = None;
    req.user = None;
    if let Some(d) = req.dimensions.take() {
        req.extra
            .insert("output_dimension".to_owned(), Value::from(d));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tollgate_protocol::openai::{Message, ToolCall};

    fn spec(kind: ProviderKind, base: &str) -> ProviderSpec {
        ProviderSpec {
            name: "p".into(),
            kind,
            base_url: Some(base.into()),
            api_keys: vec![],
            api_version: (kind == ProviderKind::AzureOpenai).then(|| "2024-10-21".into()),
        }
    }

    #[test]
    fn urls_and_auth_follow_the_provider_table() {
        let c = chat_call(
            &spec(ProviderKind::Openai, "http://h/v1/"),
            Some("sk"),
            "m",
            false,
            Bytes::new(),
        );
        assert_eq!(c.url, "http://h/v1/chat/completions");
        assert_eq!(c.headers["authorization"], "Bearer sk");
        let a = chat_call(
            &spec(ProviderKind::Anthropic, "http://h"),
            Some("ak"),
            "m",
            true,
            Bytes::new(),
        );
        assert_eq!(a.url, "http://h/v1/messages");
        assert_eq!(a.headers["x-api-key"], "ak");
        assert_eq!(a.headers["anthropic-version"], ANTHROPIC_VERSION);
        assert!(!format!("{:?}", a.headers).contains("ak\""));

        let g = spec(ProviderKind::Gemini, "http://g");
        let c = chat_call(&g, Some("gk"), "gemini-2.0-flash", false, Bytes::new());
        assert_eq!(
            c.url,
            "http://g/v1beta/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(c.headers["x-goog-api-key"], "gk");
        assert!(c.headers.get("authorization").is_none());
        let c = chat_call(&g, Some("gk"), "tunedModels/t1", true, Bytes::new());
        assert_eq!(
            c.url,
            "http://g/v1beta/tunedModels/t1:streamGenerateContent?alt=sse"
        );
        let e = embeddings_call(&g, Some("gk"), "text-embedding-004", Bytes::new()).unwrap();
        assert_eq!(
            e.url,
            "http://g/v1beta/models/text-embedding-004:batchEmbedContents"
        );

        let o = spec(ProviderKind::Ollama, "http://o:11434");
        let c = chat_call(&o, None, "llama3.2", true, Bytes::new());
        assert_eq!(c.url, "http://o:11434/api/chat");
        assert!(c.headers.get("authorization").is_none());
        let e = embeddings_call(&o, None, "nomic", Bytes::new()).unwrap();
        assert_eq!(e.url, "http://o:11434/api/embed");

        let z = spec(ProviderKind::AzureOpenai, "https://r.openai.azure.com/");
        let c = chat_call(&z, Some("zk"), "my-gpt4o", false, Bytes::new());
        assert_eq!(
            c.url,
            "https://r.openai.azure.com/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(c.headers["api-key"], "zk");
        let e = embeddings_call(&z, Some("zk"), "emb", Bytes::new()).unwrap();
        assert!(
            e.url
                .ends_with("/openai/deployments/emb/embeddings?api-version=2024-10-21")
        );

        let m = spec(ProviderKind::Mistral, "https://api.mistral.ai/v1");
        let c = chat_call(&m, Some("mk"), "mistral-small", false, Bytes::new());
        assert_eq!(c.url, "https://api.mistral.ai/v1/chat/completions");
        assert_eq!(c.headers["authorization"], "Bearer mk");
        assert!(
            embeddings_call(
                &spec(ProviderKind::Anthropic, "http://a"),
                None,
                "x",
                Bytes::new()
            )
            .is_none()
        );
    }

    #[test]
    fn every_kind_has_a_chat_format() {
        for kind in ProviderKind::ALL {
            assert!(native_format(kind).is_some(), "{kind}");
        }
        assert_eq!(embeddings_format(ProviderKind::Anthropic), None);
        assert_eq!(
            native_format(ProviderKind::Mistral),
            Some(WireFormat::OpenAiChat)
        );
    }

    #[test]
    fn mistral_quirks() {
        let mut req: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "seed": 7, "max_completion_tokens": 30, "user": "u", "store": true,
            "messages": [
                {"role": "developer", "content": "be nice", "name": "x"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_abcdefghijkl", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_abcdefghijkl", "content": "ok"}
            ]
        }))
        .unwrap();
        prepare_openai_body(ProviderKind::Mistral, &mut req);
        let v = serde_json::to_value(&req).unwrap();
        assert!(v.get("stream_options").is_none());
        assert!(v.get("seed").is_none() && v.get("user").is_none() && v.get("store").is_none());
        assert_eq!(v["random_seed"], 7);
        assert_eq!(v["max_tokens"], 30);
        assert_eq!(v["messages"][0]["role"], "system");
        assert!(v["messages"][0].get("name").is_none());
        let id = v["messages"][2]["tool_calls"][0]["id"].as_str().unwrap();
        assert_eq!(id.len(), 9);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(v["messages"][3]["tool_call_id"], id);
        assert_eq!(mistral_tool_id("abcDEF123"), "abcDEF123");
        // Other kinds are untouched.
        let before = req.clone();
        let mut other = before.clone();
        prepare_openai_body(ProviderKind::Openai, &mut other);
        assert_eq!(other, before);
        let _ = (Message::user("x"), ToolCall::function("a", "b", "c"));
    }
}
