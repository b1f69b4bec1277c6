//! Admin API errors, in the OpenAI envelope as PRODUCT.md requires.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use tollgate_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Missing or invalid admin token or session")]
    Unauthorized,
    /// Authenticated, but the caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// Something other than storage failed; details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(message: impl Into<String>) -> Self {
        AdminError::Invalid {
            message: message.into(),
            param: None,
        }
    }
}

impl From<Vec<tollgate_config::Issue>> for AdminError {
    /// Validation issues: the first one's path is the `param`, all are in the message.
    fn from(issues: Vec<tollgate_config::Issue>) -> Self {
        let message = issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
            .join("; ");
        AdminError::Invalid {
            message,
            param: issues.first().map(|i| i.path.clone()),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, kind, code) = match &self {
            AdminError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid_admin_token",
            ),
            AdminError::Forbidden(_) => (StatusCode::FORBIDDEN, "permission_error", "forbidden"),
            AdminError::Invalid { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
            ),
            AdminError::NotFound(_) => {
                (StatusCode::NOT_FOUND, "invalid_request_error", "not_found")
            }
            AdminError::Conflict(_) | AdminError::Store(StoreError::Conflict(_)) => {
                (StatusCode::CONFLICT, "invalid_request_error", "conflict")
            }
            AdminError::Store(_) | AdminError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
            ),
        };
        let message = match &self {
            AdminError::Store(StoreError::Conflict(m)) => format!("Already exists: {m}"),
            AdminError::Store(e) => {
                tracing::error!(error = %e, "admin storage error");
                "The admin API hit a storage error".to_string()
            }
            AdminError::Internal(e) => {
                tracing::error!(error = %e, "admin internal error");
                "The admin API hit an internal error".to_string()
            }
            other => other.to_string(),
        };
        let param = match &self {
            AdminError::Invalid { param, .. } => param.clone(),
            _ => None,
        };
        (
            status,
            Json(
                json!({"error": {"message": message, "type": kind, "code": code, "param": param}}),
            ),
        )
            .into_response()
    }
}
