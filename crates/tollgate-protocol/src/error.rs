//! Errors of this crate. Both carry an optional `param` (the JSON path of the offending
//! field, e.g. `messages[2].role`) because both door envelopes have a place for it and a
//! client fixes its request much faster when told where the problem is.

use thiserror::Error;

/// A request that no door accepts (the gateway answers 400 `invalid_request_error`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ProtocolError {
    /// One human sentence saying what is wrong and, where possible, what to do.
    pub message: String,
    /// JSON path of the offending field, when there is one.
    pub param: Option<String>,
}

impl ProtocolError {
    /// An error about the field at `param`.
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

/// Why a request, response or stream could not be translated to the other format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TranslateError {
    /// The request uses a feature the target format has no counterpart for, and dropping
    /// it would change the answer. The gateway answers 400 rather than silently ignoring
    /// what the client asked for.
    #[error("{message}")]
    Unsupported {
        param: Option<String>,
        message: String,
    },
    /// The request is malformed in a way only translation notices (e.g. tool call
    /// `arguments` that are not a JSON object). Also a 400.
    #[error("{message}")]
    Invalid {
        param: Option<String>,
        message: String,
    },
    /// The upstream stream carried an error event (Anthropic `event: error`); the gateway
    /// ends the client's stream with an error in the door's format.
    #[error("upstream error ({error_type}): {message}")]
    Upstream { error_type: String, message: String },
}

impl TranslateError {
    pub(crate) fn unsupported(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unsupported {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    /// JSON path of the offending request field, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::Unsupported { param, .. } | Self::Invalid { param, .. } => param.as_deref(),
            Self::Upstream { .. } => None,
        }
    }

    /// True when the client's request is at fault (answer 400), false for upstream errors.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Upstream { .. })
    }
}

impl From<ProtocolError> for TranslateError {
    fn from(e: ProtocolError) -> Self {
        Self::Invalid {
            param: e.param,
            message: e.message,
        }
    }
}
