//! Per-kind URLs and authentication, as PRODUCT.md's provider table lays them out.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_core::spec::{ProviderKind, ProviderSpec};

/// The Anthropic API version the gateway speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The chat wire format a provider kind speaks natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// OpenAI Chat Completions (also Mistral, Azure OpenAI and compatible servers).
    OpenAiChat,
    /// Anthropic Messages.
    AnthropicMessages,
}

/// `None` for kinds the gateway cannot call yet.
pub fn native_format(kind: ProviderKind) -> Option<WireFormat> {
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => Some(WireFormat::OpenAiChat),
        ProviderKind::Anthropic => Some(WireFormat::AnthropicMessages),
        ProviderKind::Mistral
        | ProviderKind::AzureOpenai
        | ProviderKind::Gemini
        | ProviderKind::Ollama => None,
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
/// servers). `body` is already in the provider's native format. `upstream_model` and
/// `stream` matter to kinds whose URL names them (Gemini, Azure deployments).
pub fn chat_call(
    provider: &ProviderSpec,
    api_key: Option<&str>,
    upstream_model: &str,
    stream: bool,
    body: Bytes,
) -> UpstreamCall {
    let _ = (upstream_model, stream);
    let base = provider.effective_base_url().unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let url = match provider.kind {
        ProviderKind::Anthropic => {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
            if let Some(v) = api_key.and_then(|k| HeaderValue::from_str(k).ok()) {
                headers.insert(HeaderName::from_static("x-api-key"), sensitive(v));
            }
            format!("{base}/v1/messages")
        }
        _ => {
            if let Some(v) =
                api_key.and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok())
            {
                headers.insert(http::header::AUTHORIZATION, sensitive(v));
            }
            format!("{base}/chat/completions")
        }
    };
    UpstreamCall { url, headers, body }
}

/// Marks a credential header so that it is never printed by `Debug`.
fn sensitive(mut v: HeaderValue) -> HeaderValue {
    v.set_sensitive(true);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ProviderKind, base: &str) -> ProviderSpec {
        ProviderSpec {
            name: "p".into(),
            kind,
            base_url: Some(base.into()),
            api_keys: vec![],
            api_version: None,
        }
    }

    #[test]
    fn urls_and_auth_follow_the_provider_table() {
        let c = chat_call(
            &spec(ProviderKind::Openai, "http://h/v1/"),
            Some("sk"),
            Bytes::new(),
        );
        assert_eq!(c.url, "http://h/v1/chat/completions");
        assert_eq!(c.headers["authorization"], "Bearer sk");
        let a = chat_call(
            &spec(ProviderKind::Anthropic, "http://h"),
            Some("ak"),
            Bytes::new(),
        );
        assert_eq!(a.url, "http://h/v1/messages");
        assert_eq!(a.headers["x-api-key"], "ak");
        assert_eq!(a.headers["anthropic-version"], ANTHROPIC_VERSION);
        assert!(!format!("{:?}", a.headers).contains("ak\""));
    }
}
