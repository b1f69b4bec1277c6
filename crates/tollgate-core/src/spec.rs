//! Resource specifications: the config contract of PRODUCT.md as Rust types.
//!
//! Unknown keys are rejected (`deny_unknown_fields`) because a misspelt limit that is
//! silently ignored is worse than a failed start.

use serde::{Deserialize, Serialize};

pub use tollgate_masking::spec::{
    Action as MaskingAction, AppliesTo, Detector, Direction as MaskingDirection, MaskingRuleSpec,
};

// OpenAPI patterns below (literals: `#[schema]` takes no constants) say what
// `tollgate-config`'s checks enforce. They spell characters out with escapes rather
// than `\s` or `\p{..}`, so that ECMA, Python and Rust regex engines read them alike:
// - a name: no control character (`\x00-\x1f`, `\x7f-\x9f`) and not only
//   whitespace (Rust's `trim()`: `\x09-\x0d`, space, `\x85`, `\xa0`, `\u1680`,
//   `\u2000-\u200a`, `\u2028`, `\u2029`, `\u202f`, `\u205f`, `\u3000`);
// - a secret: no whitespace or control character;
// - a non-blank value: one character that is not whitespace.

/// Which wire protocol and URL layout a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Gemini,
    Mistral,
    Ollama,
    AzureOpenai,
    OpenaiCompatible,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 7] = [
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Mistral,
        ProviderKind::Ollama,
        ProviderKind::AzureOpenai,
        ProviderKind::OpenaiCompatible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Mistral => "mistral",
            ProviderKind::Ollama => "ollama",
            ProviderKind::AzureOpenai => "azure_openai",
            ProviderKind::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The base URL the vendor's own SDK uses, for providers declared without one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
            ProviderKind::Mistral => Some("https://api.mistral.ai/v1"),
            ProviderKind::Ollama => Some("http://127.0.0.1:11434"),
            ProviderKind::AzureOpenai | ProviderKind::OpenaiCompatible => None,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upstream LLM provider account.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    #[schema(
        min_length = 1,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Secret. Stored encrypted, never returned by any API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(inline, value_type = Vec<SecretSchema>)]
    pub api_keys: Vec<String>,
    /// `azure_openai` only (and required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        pattern = "[^\\x09-\\x0d\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub api_version: Option<String>,
}

impl ProviderSpec {
    /// The configured base URL or the vendor default, without a trailing slash.
    pub fn effective_base_url(&self) -> Option<String> {
        self.base_url
            .as_deref()
            .or(self.kind.default_base_url())
            .map(|u| u.trim_end_matches('/').to_string())
    }
}

/// How a model picks among its targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    Weighted,
    Latency,
}

/// Per-phase upstream timeouts in milliseconds; a missing phase uses the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub connect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub first_byte_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub idle_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub total_ms: Option<u64>,
}

impl Timeouts {
    pub const DEFAULT_CONNECT_MS: u64 = 2_000;
    pub const DEFAULT_FIRST_BYTE_MS: u64 = 30_000;
    pub const DEFAULT_IDLE_MS: u64 = 30_000;
    pub const DEFAULT_TOTAL_MS: u64 = 600_000;

    /// `self` with every unset phase taken from `fallback`.
    pub fn or(self, fallback: Timeouts) -> Timeouts {
        Timeouts {
            connect_ms: self.connect_ms.or(fallback.connect_ms),
            first_byte_ms: self.first_byte_ms.or(fallback.first_byte_ms),
            idle_ms: self.idle_ms.or(fallback.idle_ms),
            total_ms: self.total_ms.or(fallback.total_ms),
        }
    }

    pub fn connect(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.connect_ms.unwrap_or(Self::DEFAULT_CONNECT_MS))
    }
    pub fn first_byte(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.first_byte_ms.unwrap_or(Self::DEFAULT_FIRST_BYTE_MS))
    }
    pub fn idle(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.idle_ms.unwrap_or(Self::DEFAULT_IDLE_MS))
    }
    pub fn total(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.total_ms.unwrap_or(Self::DEFAULT_TOTAL_MS))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    #[serde(default)]
    pub attempts: u32,
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

fn default_backoff_ms() -> u64 {
    100
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheScope {
    #[default]
    Consumer,
    Shared,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    #[schema(minimum = 1)]
    pub ttl_seconds: u64,
    #[serde(default)]
    pub scope: CacheScope,
    #[serde(default)]
    pub charge_hits: bool,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub input_per_mtok: f64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub output_per_mtok: f64,
    /// Input tokens read from the provider's prompt cache (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub cache_read_per_mtok: Option<f64>,
    /// Input tokens written to the provider's prompt cache (default: the input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub cache_write_per_mtok: Option<f64>,
}

/// One place a model's requests can go: a provider and the provider's model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[schema(min_length = 1)]
    pub provider: String,
    #[schema(
        pattern = "[^\\x09-\\x0d\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub model: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
}

fn default_weight() -> u32 {
    1
}

/// A model name clients send, and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    #[schema(
        min_length = 1,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    /// Where requests go; at least one target with a weight above 0.
    #[schema(min_items = 1)]
    pub targets: Vec<TargetSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// A cap on all traffic to this model, whoever sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// Keep request and response bodies in this model's call records (capped at
    /// `storage.log_bodies_max_bytes`, secrets redacted). Off by default: prompts are
    /// the consumers' data.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log_bodies: bool,
}

/// Serde's `skip_serializing_if` for flags that are off by default.
fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
    Total,
}

/// A spending cap in USD or in tokens (exactly one of the two), per calendar period (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(max_properties = 2)]
pub struct BudgetSpec {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 1000000000, nullable = false)]
    pub usd: Option<f64>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub tokens: Option<u64>,
    pub period: Period,
}

/// An optional field that, when given, must have a value: `null` is refused rather than
/// read as absent (a budget is exactly one of `usd` or `tokens`, and says which).
fn present<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(de).map(Some)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub requests_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub tokens_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub concurrent: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamSpec {
    #[schema(
        min_length = 1,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

/// An application team that calls the gateway with its keys.
#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    #[schema(
        min_length = 1,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub team: Option<String>,
    /// Keys declared in the config file (plain text there, hashed once loaded). Never
    /// stored with the consumer, so the admin API neither takes nor shows any: keys are
    /// made with `POST /admin/v1/consumers/{name}/keys`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 0)]
    pub api_keys: Vec<String>,
    /// Allowed model names; `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 1000000000)]
    pub credits_usd: Option<f64>,
    /// Keep request and response bodies in this consumer's call records, whatever
    /// the model (see [`ModelSpec::log_bodies`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub log_bodies: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    #[schema(
        min_length = 1,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub name: String,
    pub webhook: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

// The schema of one secret in a list (`items` of `api_keys`).
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = "^[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+$"
)]
#[allow(dead_code)]
struct SecretSchema(String);

/// Secrets are printed as their count, so a `{:?}` in a log line cannot leak them.
struct Redacted(usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

/// A URL with its userinfo password and query string hidden (a base URL may carry
/// `user:password@`; a webhook URL is itself a bearer secret past its host).
struct UrlShape<'a>(&'a str);

impl std::fmt::Debug for UrlShape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", self.0));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let hidden = if rest.len() > authority.len() {
            "/***"
        } else {
            ""
        };
        let userinfo = if authority.contains('@') { "***@" } else { "" };
        if scheme.is_empty() {
            write!(f, "\"{userinfo}{host}{hidden}\"")
        } else {
            write!(f, "\"{scheme}://{userinfo}{host}{hidden}\"")
        }
    }
}

impl std::fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url.as_deref().map(UrlShape))
            .field("api_keys", &Redacted(self.api_keys.len()))
            .field("api_version", &self.api_version)
            .finish()
    }
}

impl std::fmt::Debug for ConsumerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerSpec")
            .field("name", &self.name)
            .field("team", &self.team)
            .field("api_keys", &Redacted(self.api_keys.len()))
            .field("models", &self.models)
            .field("rate_limit", &self.rate_limit)
            .field("budget", &self.budget)
            .field("credits_usd", &self.credits_usd)
            .field("log_bodies", &self.log_bodies)
            .finish()
    }
}

impl std::fmt::Debug for AlertSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSpec")
            .field("name", &self.name)
            .field("webhook", &UrlShape(&self.webhook))
            .field("secret", &Redacted(usize::from(self.secret.is_some())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let p = ProviderSpec {
            name: "p".into(),
            kind: ProviderKind::Openai,
            base_url: Some("https://user:pw-secret@proxy.example.com/v1".into()),
            api_keys: vec!["sk-very-secret".into()],
            api_version: None,
        };
        let a = AlertSpec {
            name: "a".into(),
            webhook: "https://hooks.slack.com/services/T0/B0/hook-secret".into(),
            secret: Some("hmac-secret".into()),
        };
        let text = format!("{p:?} {a:?}");
        for secret in ["sk-very-secret", "hmac-secret", "pw-secret", "hook-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("proxy.example.com") && text.contains("hooks.slack.com"));
        assert!(text.contains("<1 redacted>"));
    }
}

/// Limits of one consumer key, on top of its consumer's and team's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
}

impl KeyLimits {
    pub fn is_empty(&self) -> bool {
        self.rate_limit.is_none() && self.budget.is_none()
    }
}

/// A published REST service's state (PRODUCT.md, "REST services and prompt-APIs").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLifecycle {
    /// Not served yet: its paths answer 404 `not_found`.
    Draft,
    #[default]
    Published,
    /// Served, with `Deprecation: true` (and `Sunset` when `sunset_at` is set).
    Deprecated,
    /// No longer served: 410 `service_retired`.
    Retired,
}

impl ServiceLifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceLifecycle::Draft => "draft",
            ServiceLifecycle::Published => "published",
            ServiceLifecycle::Deprecated => "deprecated",
            ServiceLifecycle::Retired => "retired",
        }
    }
}

/// A kind of consumer credential a service accepts (PRODUCT.md, "Consumer
/// credentials").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    Key,
    Basic,
    Jwt,
    Hmac,
}

/// How a service (or prompt-API) takes subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSpec {
    /// `auto` approves a new subscription at once; `manual` leaves it pending until an
    /// admin or operator approves or rejects it.
    #[serde(default)]
    pub approval: Approval,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    #[default]
    Auto,
    Manual,
}

/// One upstream node of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceNode {
    /// `http://` or `https://` URL of the node (a path, if any, is prefixed to every
    /// forwarded path).
    #[schema(min_length = 1, example = "http://10.0.0.5:8000")]
    pub url: String,
    /// Share of the traffic, relative to the other nodes' weights.
    #[serde(default = "default_weight")]
    #[schema(minimum = 1, default = 1)]
    pub weight: u32,
}

/// Where a service's requests go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceUpstream {
    #[schema(min_items = 1)]
    pub nodes: Vec<ServiceNode>,
    /// Time allowed for a node's answer to start (its status and headers), in ms; the
    /// bodies themselves stream without a total limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, default = 30000)]
    pub timeout_ms: Option<u64>,
    /// The `Host` sent upstream: `pass` (the client's, the default), `node` (the
    /// node URL's host), or a fixed host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, example = "pass")]
    pub pass_host: Option<String>,
}

impl ServiceUpstream {
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(Self::DEFAULT_TIMEOUT_MS))
    }
}

/// One route of a service: methods and a path under the service's prefix, where
/// `{param}` matches one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRoute {
    #[schema(min_length = 1, example = "forecast")]
    pub name: String,
    /// Allowed methods (upper case); empty means every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[schema(min_length = 1, example = "/forecast/{city}")]
    pub path: String,
    /// The upstream path, with the route's `{param}`s substituted; without it the
    /// path after the prefix is sent as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "/v2/forecast/{city}")]
    pub rewrite: Option<String>,
    /// What the route does and takes (summary, parameters, bodies), as an OpenAPI
    /// import found it; the export shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<crate::service_docs::RouteDocs>,
}

/// A REST API of the operator's, published under a path prefix of the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub name: String,
    /// On the gateway listener, e.g. `/svc/weather` (no trailing slash).
    #[schema(min_length = 2, pattern = "^/[^{}*]*[^/]$", example = "/svc/weather")]
    pub path_prefix: String,
    pub upstream: ServiceUpstream,
    /// Without routes, every path under the prefix is forwarded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<ServiceRoute>,
    /// Credential types accepted (default: `key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Vec<CredentialType>>,
    /// Per consumer, on this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
    /// Consumers need an approved subscription; omitted: any consumer may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionSpec>,
    #[serde(default)]
    pub lifecycle: ServiceLifecycle,
    /// Sent as `Sunset` while deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sunset_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One message of a prompt-API's template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptMessage {
    /// `system`, `user` or `assistant`.
    #[schema(example = "user")]
    pub role: PromptRole,
    /// A template: `{{variable}}` is replaced by the variable's value (minijinja syntax).
    #[schema(example = "Summarize in {{language}}: {{text}}")]
    pub content: String,
}

/// The role of a prompt-API's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptRole {
    System,
    User,
    Assistant,
}

impl PromptRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptRole::System => "system",
            PromptRole::User => "user",
            PromptRole::Assistant => "assistant",
        }
    }
}

/// A variable a prompt-API's messages use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptVariable {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z_][A-Za-z0-9_]*$",
        example = "text"
    )]
    pub name: String,
    /// A call without it is refused (400 naming it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// The value when the call does not give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A model and a message template published as a REST endpoint (PRODUCT.md, "REST
/// services and prompt-APIs").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptApiSpec {
    /// Unique across services and prompt-APIs.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub name: String,
    /// `POST` on the gateway listener, e.g. `/prompt/summarize`.
    #[schema(
        min_length = 2,
        pattern = "^/[^{}*?#]*[^/]$",
        example = "/prompt/summarize"
    )]
    pub path: String,
    /// A configured model: its limits, budgets, failover and cache apply.
    #[schema(min_length = 1, example = "gpt-4o-mini")]
    pub model: String,
    #[schema(min_items = 1)]
    pub messages: Vec<PromptMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<PromptVariable>,
    /// The answer's cap (and what budgets reserve).
    #[schema(minimum = 1, example = 300)]
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub lifecycle: ServiceLifecycle,
    /// Sent as `Sunset` while deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sunset_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Omitted: any consumer key allowed the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionSpec>,
}
