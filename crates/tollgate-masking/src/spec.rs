//! The `masking:` rules as written in the config file and sent to
//! `/admin/v1/masking` (PRODUCT.md, "Data masking").

use serde::{Deserialize, Serialize};

/// One masking rule: what to look for, where, in which direction, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskingRuleSpec {
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub name: String,
    /// Which models and services (prompt-APIs included) the rule applies to.
    /// Omitted: every model and service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<AppliesTo>,
    /// `request` (prompts, before they leave the gateway), `response` (answers,
    /// before the client sees them) or `both` (default).
    #[serde(default)]
    pub direction: Direction,
    /// Built-in detectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<Detector>,
    /// Words or phrases, matched case-insensitively (ASCII case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["Project Falcon"]))]
    pub keywords: Vec<String>,
    /// Regular expressions (Rust `regex` syntax, matched in linear time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["EMP-[0-9]{6}"]))]
    pub regex: Vec<String>,
    /// JSONPath expressions over services' JSON request and response bodies; the
    /// selected values become `[MASKED]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["$.customer.ssn"]))]
    pub json_paths: Vec<String>,
    /// `mask` (default) replaces each match with a placeholder; `block` refuses the
    /// request (400 `content_blocked`) or ends the answer's stream.
    #[serde(default)]
    pub action: Action,
}

/// `applies_to`: `"*"` in a list means all; an omitted list means none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["*"]))]
    pub models: Option<Vec<String>>,
    /// Service and prompt-API names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["weather"]))]
    pub services: Option<Vec<String>>,
}

/// Which way the rule looks.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Request,
    Response,
    #[default]
    Both,
}

impl Direction {
    /// Whether a rule with this direction looks at traffic going `way`.
    pub fn covers(self, way: Way) -> bool {
        matches!(
            (self, way),
            (Direction::Both, _)
                | (Direction::Request, Way::Request)
                | (Direction::Response, Way::Response)
        )
    }
}

/// The way one piece of traffic goes: to the upstream, or back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Way {
    Request,
    Response,
}

/// What a rule does when it matches.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Mask,
    Block,
}

/// A built-in detector.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    Email,
    Phone,
    /// 13 to 19 digits (spaces or dashes allowed) passing the Luhn check.
    CreditCard,
    /// An IBAN passing its mod-97 check.
    Iban,
    /// IPv4 or IPv6.
    IpAddress,
    /// Secret-looking tokens: `sk-…`, `AKIA…`, `ghp_…`, bearer tokens, long
    /// high-entropy `key=value` secrets.
    ApiKey,
}

impl Detector {
    pub const ALL: [Detector; 6] = [
        Detector::Email,
        Detector::Phone,
        Detector::CreditCard,
        Detector::Iban,
        Detector::IpAddress,
        Detector::ApiKey,
    ];

    /// The name in config files and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::Phone => "phone",
            Detector::CreditCard => "credit_card",
            Detector::Iban => "iban",
            Detector::IpAddress => "ip_address",
            Detector::ApiKey => "api_key",
        }
    }

    /// What a match becomes.
    pub fn placeholder(self) -> &'static str {
        match self {
            Detector::Email => "[EMAIL]",
            Detector::Phone => "[PHONE]",
            Detector::CreditCard => "[CREDIT_CARD]",
            Detector::Iban => "[IBAN]",
            Detector::IpAddress => "[IP_ADDRESS]",
            Detector::ApiKey => "[API_KEY]",
        }
    }
}
