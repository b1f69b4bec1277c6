//! The error contract of PRODUCT.md, in one place.
//!
//! Every failure a client can see is a [`GatewayError`]. Its status, OpenAI `type` /
//! `code` and Anthropic `type` come from [`GatewayError::classify`], so the table in
//! PRODUCT.md has exactly one implementation. The HTTP layer only chooses the door.

use serde_json::{Value, json};

/// Which API the client called: errors use that API's envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    OpenAi,
    Anthropic,
}

/// The most telling cause when every upstream target failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamCode {
    /// Every target answered 401/402/403: the operator's account is unpaid or its keys dead.
    PaymentRequired,
    RateLimited,
    Timeout,
    Unavailable,
}

impl UpstreamCode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamCode::PaymentRequired => "upstream_payment_required",
            UpstreamCode::RateLimited => "upstream_rate_limited",
            UpstreamCode::Timeout => "upstream_timeout",
            UpstreamCode::Unavailable => "upstream_unavailable",
        }
    }

    fn status(self) -> u16 {
        match self {
            UpstreamCode::Timeout => 504,
            UpstreamCode::RateLimited => 503,
            UpstreamCode::PaymentRequired | UpstreamCode::Unavailable => 502,
        }
    }
}

/// Which spent allowance a 402 is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    Budget,
    Credits,
    TokenQuota,
}

/// A client-visible failure. Variants are in PRODUCT.md's precedence order.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    InvalidApiKey(String),
    /// A failed Basic, JWT or HMAC credential (401 `invalid_credentials`).
    #[error("{0}")]
    InvalidCredentials(String),
    /// A known path called with a method it does not take (the answer's `Allow`
    /// header lists those it does).
    #[error(
        "Method {method} is not allowed on {path}; the `Allow` header lists the methods it takes"
    )]
    MethodNotAllowed { method: String, path: String },
    #[error("request body is larger than the {limit} byte limit")]
    RequestTooLarge { limit: usize },
    /// The client sent its request body too slowly (408; not in PRODUCT.md's table:
    /// `invalid_request_error` / `request_timeout`).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    #[error("The model `{0}` does not exist or is not served by this gateway")]
    ModelNotFound(String),
    #[error("Unknown path: {method} {path}")]
    NotFound { method: String, path: String },
    /// A stored object the caller asked for by id (a `/v1/responses` id) that does
    /// not exist or belongs to another consumer: the two are not told apart.
    #[error("{message}")]
    ResourceNotFound {
        message: String,
        param: Option<String>,
    },
    #[error("This API key is not allowed to use the model `{0}`")]
    ModelNotAllowed(String),
    /// The consumer has no approved subscription to the service (403).
    #[error("The consumer `{consumer}` has no approved subscription to `{service}`")]
    NotSubscribed { consumer: String, service: String },
    /// A REST service that its operator retired (410).
    #[error("The service `{0}` is retired")]
    ServiceRetired(String),
    /// A masking rule with `action: block` matched the request or the answer (400
    /// `content_blocked`). Names the rule, never the matched text.
    #[error("The request was blocked by the masking rule `{rule}`")]
    ContentBlocked { rule: String },
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// A consumer's own budget, credit or token quota is spent; `detail` is the
    /// `budget` / `credits` object PRODUCT.md requires inside the error.
    #[error("{message}")]
    QuotaExceeded {
        kind: QuotaKind,
        message: String,
        detail: Value,
    },
    /// The provider rejected the request itself (its 400/404/422).
    #[error("{message}")]
    UpstreamRejected { status: u16, message: String },
    /// Every upstream target failed.
    #[error("{message}")]
    Upstream { code: UpstreamCode, message: String },
    /// A service the gateway depends on (the shared limits backend under a
    /// fail-closed policy) is unreachable: 503, retry later.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The contract row for an error: status and the names each door uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub status: u16,
    pub openai_type: &'static str,
    pub code: &'static str,
    pub anthropic_type: &'static str,
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: None,
        }
    }

    pub fn invalid_param(message: impl Into<String>, param: impl Into<String>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// PRODUCT.md's error table.
    pub fn classify(&self) -> Classification {
        let c = |status, openai_type, code, anthropic_type| Classification {
            status,
            openai_type,
            code,
            anthropic_type,
        };
        match self {
            GatewayError::InvalidApiKey(_) => c(
                401,
                "authentication_error",
                "invalid_api_key",
                "authentication_error",
            ),
            GatewayError::InvalidCredentials(_) => c(
                401,
                "authentication_error",
                "invalid_credentials",
                "authentication_error",
            ),
            GatewayError::MethodNotAllowed { .. } => c(
                405,
                "invalid_request_error",
                "method_not_allowed",
                "invalid_request_error",
            ),
            GatewayError::RequestTooLarge { .. } => c(
                413,
                "invalid_request_error",
                "request_too_large",
                "request_too_large",
            ),
            GatewayError::RequestTimeout(_) => c(
                408,
                "invalid_request_error",
                "request_timeout",
                "invalid_request_error",
            ),
            GatewayError::InvalidRequest { .. } => c(
                400,
                "invalid_request_error",
                "invalid_request",
                "invalid_request_error",
            ),
            GatewayError::ModelNotFound(_) => c(
                404,
                "invalid_request_error",
                "model_not_found",
                "not_found_error",
            ),
            GatewayError::NotFound { .. } | GatewayError::ResourceNotFound { .. } => {
                c(404, "invalid_request_error", "not_found", "not_found_error")
            }
            GatewayError::ModelNotAllowed(_) => c(
                403,
                "permission_error",
                "model_not_allowed",
                "permission_error",
            ),
            GatewayError::NotSubscribed { .. } => c(
                403,
                "permission_error",
                "not_subscribed",
                "permission_error",
            ),
            GatewayError::ServiceRetired(_) => c(
                410,
                "invalid_request_error",
                "service_retired",
                "invalid_request_error",
            ),
            GatewayError::ContentBlocked { .. } => c(
                400,
                "invalid_request_error",
                "content_blocked",
                "invalid_request_error",
            ),
            GatewayError::RateLimited { .. } => c(
                429,
                "rate_limit_error",
                "rate_limit_exceeded",
                "rate_limit_error",
            ),
            GatewayError::QuotaExceeded { kind, .. } => c(
                402,
                "insufficient_quota",
                match kind {
                    QuotaKind::Budget => "budget_exceeded",
                    QuotaKind::Credits => "credits_exhausted",
                    QuotaKind::TokenQuota => "token_quota_exceeded",
                },
                "billing_error",
            ),
            GatewayError::UpstreamRejected { status, .. } => c(
                *status,
                "invalid_request_error",
                "upstream_rejected",
                "invalid_request_error",
            ),
            GatewayError::Upstream { code, .. } => c(
                code.status(),
                "upstream_error",
                code.as_str(),
                if *code == UpstreamCode::RateLimited {
                    "overloaded_error"
                } else {
                    "api_error"
                },
            ),
            GatewayError::Unavailable(_) => {
                c(503, "api_error", "service_unavailable", "overloaded_error")
            }
            GatewayError::Internal(_) => c(500, "api_error", "internal_error", "api_error"),
        }
    }

    pub fn status(&self) -> u16 {
        self.classify().status
    }

    /// `Retry-After` in whole seconds, where the contract requires one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            GatewayError::RateLimited {
                retry_after_secs, ..
            } => Some((*retry_after_secs).max(1)),
            _ => None,
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            GatewayError::InvalidRequest { param, .. }
            | GatewayError::ResourceNotFound { param, .. } => param.as_deref(),
            GatewayError::ModelNotFound(_) | GatewayError::ModelNotAllowed(_) => Some("model"),
            _ => None,
        }
    }

    fn message(&self) -> String {
        match self {
            // Internal details go to the log, not to the client.
            GatewayError::Internal(_) => "The gateway hit an internal error".to_string(),
            other => other.to_string(),
        }
    }

    /// The inner `error` object, before it is wrapped in a door's envelope.
    fn error_object(&self, door: Door) -> Value {
        let cls = self.classify();
        let mut obj = match door {
            Door::OpenAi => json!({
                "message": self.message(),
                "type": cls.openai_type,
                "code": cls.code,
                "param": self.param(),
            }),
            Door::Anthropic => json!({
                "type": cls.anthropic_type,
                "message": self.message(),
            }),
        };
        if let (GatewayError::QuotaExceeded { kind, detail, .. }, Some(map)) =
            (self, obj.as_object_mut())
        {
            let key = match kind {
                QuotaKind::Credits => "credits",
                QuotaKind::Budget | QuotaKind::TokenQuota => "budget",
            };
            map.insert(key.to_string(), detail.clone());
        }
        obj
    }

    /// The full JSON body in the door's envelope.
    pub fn body(&self, door: Door) -> Value {
        match door {
            Door::OpenAi => json!({ "error": self.error_object(door) }),
            Door::Anthropic => json!({ "type": "error", "error": self.error_object(door) }),
        }
    }

    /// The event that ends a stream that failed after it started: OpenAI routes get
    /// a `data:` event with the error object (and no `[DONE]`), the Anthropic route an
    /// `event: error`.
    pub fn stream_event(&self, door: Door) -> String {
        let body = self.body(door);
        match door {
            Door::OpenAi => format!("data: {body}\n\n"),
            Door::Anthropic => format!("event: error\ndata: {body}\n\n"),
        }
    }

    /// The error for a stream that broke mid-way (contract: `upstream_error` /
    /// `upstream_stream_broken` or `upstream_timeout`).
    pub fn stream_broken(timeout: bool, message: impl Into<String>) -> Self {
        GatewayError::Upstream {
            code: if timeout {
                UpstreamCode::Timeout
            } else {
                UpstreamCode::Unavailable
            },
            message: message.into(),
        }
    }
}

/// Like [`GatewayError::stream_event`] but with the stream-specific code
/// `upstream_stream_broken` for a cut (a timeout keeps `upstream_timeout`).
pub fn broken_stream_event(door: Door, timeout: bool, message: &str) -> String {
    let code = if timeout {
        "upstream_timeout"
    } else {
        "upstream_stream_broken"
    };
    let body = match door {
        Door::OpenAi => json!({"error": {
            "message": message, "type": "upstream_error", "code": code, "param": null
        }}),
        Door::Anthropic => json!({"type": "error", "error": {
            "type": "api_error", "message": message
        }}),
    };
    match door {
        Door::OpenAi => format!("data: {body}\n\n"),
        Door::Anthropic => format!("event: error\ndata: {body}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_table() {
        let rows: Vec<(GatewayError, u16, &str, &str, &str)> = vec![
            (
                GatewayError::ContentBlocked { rule: "pii".into() },
                400,
                "invalid_request_error",
                "content_blocked",
                "invalid_request_error",
            ),
            (
                GatewayError::InvalidApiKey("x".into()),
                401,
                "authentication_error",
                "invalid_api_key",
                "authentication_error",
            ),
            (
                GatewayError::MethodNotAllowed {
                    method: "GET".into(),
                    path: "/v1/chat/completions".into(),
                },
                405,
                "invalid_request_error",
                "method_not_allowed",
                "invalid_request_error",
            ),
            (
                GatewayError::ModelNotAllowed("m".into()),
                403,
                "permission_error",
                "model_not_allowed",
                "permission_error",
            ),
            (
                GatewayError::ModelNotFound("m".into()),
                404,
                "invalid_request_error",
                "model_not_found",
                "not_found_error",
            ),
            (
                GatewayError::NotFound {
                    method: "GET".into(),
                    path: "/x".into(),
                },
                404,
                "invalid_request_error",
                "not_found",
                "not_found_error",
            ),
            (
                GatewayError::RequestTimeout("slow".into()),
                408,
                "invalid_request_error",
                "request_timeout",
                "invalid_request_error",
            ),
            (
                GatewayError::invalid("bad"),
                400,
                "invalid_request_error",
                "invalid_request",
                "invalid_request_error",
            ),
            (
                GatewayError::RequestTooLarge { limit: 1 },
                413,
                "invalid_request_error",
                "request_too_large",
                "request_too_large",
            ),
            (
                GatewayError::RateLimited {
                    message: "slow".into(),
                    retry_after_secs: 3,
                },
                429,
                "rate_limit_error",
                "rate_limit_exceeded",
                "rate_limit_error",
            ),
            (
                GatewayError::QuotaExceeded {
                    kind: QuotaKind::Budget,
                    message: "b".into(),
                    detail: json!({}),
                },
                402,
                "insufficient_quota",
                "budget_exceeded",
                "billing_error",
            ),
            (
                GatewayError::QuotaExceeded {
                    kind: QuotaKind::Credits,
                    message: "c".into(),
                    detail: json!({}),
                },
                402,
                "insufficient_quota",
                "credits_exhausted",
                "billing_error",
            ),
            (
                GatewayError::QuotaExceeded {
                    kind: QuotaKind::TokenQuota,
                    message: "t".into(),
                    detail: json!({}),
                },
                402,
                "insufficient_quota",
                "token_quota_exceeded",
                "billing_error",
            ),
            (
                GatewayError::UpstreamRejected {
                    status: 422,
                    message: "no".into(),
                },
                422,
                "invalid_request_error",
                "upstream_rejected",
                "invalid_request_error",
            ),
            (
                GatewayError::Upstream {
                    code: UpstreamCode::PaymentRequired,
                    message: "p".into(),
                },
                502,
                "upstream_error",
                "upstream_payment_required",
                "api_error",
            ),
            (
                GatewayError::Upstream {
                    code: UpstreamCode::RateLimited,
                    message: "r".into(),
                },
                503,
                "upstream_error",
                "upstream_rate_limited",
                "overloaded_error",
            ),
            (
                GatewayError::Upstream {
                    code: UpstreamCode::Timeout,
                    message: "t".into(),
                },
                504,
                "upstream_error",
                "upstream_timeout",
                "api_error",
            ),
            (
                GatewayError::Upstream {
                    code: UpstreamCode::Unavailable,
                    message: "u".into(),
                },
                502,
                "upstream_error",
                "upstream_unavailable",
                "api_error",
            ),
            (
                GatewayError::Unavailable("limits backend down".into()),
                503,
                "api_error",
                "service_unavailable",
                "overloaded_error",
            ),
        ];
        for (err, status, otype, code, atype) in rows {
            assert_eq!(err.status(), status, "{err:?}");
            let o = err.body(Door::OpenAi);
            assert_eq!(o["error"]["type"], otype, "{err:?}");
            assert_eq!(o["error"]["code"], code, "{err:?}");
            assert!(o["error"]["message"].is_string());
            assert!(o["error"].get("param").is_some());
            let a = err.body(Door::Anthropic);
            assert_eq!(a["type"], "error");
            assert_eq!(a["error"]["type"], atype, "{err:?}");
            assert!(a["error"]["message"].is_string());
        }
    }

    #[test]
    fn quota_detail_is_inside_the_error_object_on_both_doors() {
        let e = GatewayError::QuotaExceeded {
            kind: QuotaKind::Budget,
            message: "spent".into(),
            detail: json!({"scope": "consumer:a", "limit_usd": 1.0}),
        };
        assert_eq!(
            e.body(Door::OpenAi)["error"]["budget"]["scope"],
            "consumer:a"
        );
        assert_eq!(e.body(Door::Anthropic)["error"]["budget"]["limit_usd"], 1.0);
        let c = GatewayError::QuotaExceeded {
            kind: QuotaKind::Credits,
            message: "spent".into(),
            detail: json!({"balance_usd": 0.0}),
        };
        assert!(c.body(Door::OpenAi)["error"]["credits"].is_object());
    }

    #[test]
    fn internal_details_are_not_leaked() {
        let e = GatewayError::Internal("db password wrong".into());
        assert!(!e.body(Door::OpenAi).to_string().contains("password"));
    }

    #[test]
    fn broken_stream_events_use_the_door_format() {
        let o = broken_stream_event(Door::OpenAi, false, "cut");
        assert!(o.starts_with("data: {"));
        assert!(o.contains("upstream_stream_broken"));
        let a = broken_stream_event(Door::Anthropic, true, "slow");
        assert!(a.starts_with("event: error\ndata: {"));
        assert!(a.contains("api_error"));
    }
}
