//! Admin API errors, in the OpenAI envelope as PRODUCT.md requires.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use tollgate_store::StoreError;
use utoipa::{ToResponse, ToSchema};

/// The OpenAI error envelope every admin error answers with: this type is both what
/// is serialized and what the OpenAPI document shows, so the two cannot differ.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// For people; not stable.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error` or `api_error`.
    #[serde(rename = "type")]
    #[schema(
        pattern = "^(invalid_request_error|authentication_error|permission_error|api_error)$"
    )]
    pub kind: String,
    /// For programs: `invalid_request`, `not_found`, `conflict`, `invalid_admin_token`,
    /// `forbidden` or `internal_error`.
    pub code: String,
    /// The offending field (`targets[0].provider`), when one is to blame.
    pub param: Option<String>,
}

/// The reusable error responses of the OpenAPI document (`#/components/responses/...`).
/// An operation lists the ones it can answer, e.g. `(status = 404, response = NotFound)`;
/// 401 and 403 are added to every authenticated operation by [`crate::openapi`].
pub mod responses {
    // The newtypes exist for their `ToResponse` derive only.
    #![allow(dead_code)]
    use super::*;

    /// The body does not parse or breaks a rule (the field is in `error.param`).
    #[derive(ToResponse)]
    #[response(
        description = "Invalid request: `invalid_request_error` / `invalid_request`, the field in `param`"
    )]
    pub struct BadRequest(ErrorEnvelope);

    /// No (valid) admin token or session.
    #[derive(ToResponse)]
    #[response(description = "Missing or invalid admin token or session: `authentication_error`")]
    pub struct Unauthorized(ErrorEnvelope);

    /// The caller's role may not make this request.
    #[derive(ToResponse)]
    #[response(description = "The caller's role may not make this request: `permission_error`")]
    pub struct Forbidden(ErrorEnvelope);

    /// What the path names does not exist.
    #[derive(ToResponse)]
    #[response(description = "Nothing by that name or id: `invalid_request_error` / `not_found`")]
    pub struct NotFound(ErrorEnvelope);

    /// The name is taken, or the resource is still in use.
    #[derive(ToResponse)]
    #[response(
        description = "Conflicts with the current state (name taken, still in use): `invalid_request_error` / `conflict`"
    )]
    pub struct Conflict(ErrorEnvelope);

    /// The body is larger than the admin API takes.
    #[derive(ToResponse)]
    #[response(
        description = "The body is over the size limit: `invalid_request_error` / `request_too_large`"
    )]
    pub struct TooLarge(ErrorEnvelope);
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Missing or invalid admin token or session")]
    Unauthorized,
    /// Authenticated, but the caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A write authenticated by the session cookie without the session's CSRF token
    /// (see [`crate::auth::check_csrf`]).
    #[error(
        "A write made with the session cookie must carry the session's CSRF token in the `x-csrf-token` header (from the login answer or GET /admin/v1/session)"
    )]
    Csrf,
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The body is over the limit (`server.max_body_bytes`, or the import's own).
    #[error("{0}")]
    TooLarge(String),
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// The playground could not reach this node's gateway listener.
    #[error("The gateway listener could not be reached: {0}")]
    GatewayUnreachable(String),
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
            AdminError::Csrf => (StatusCode::FORBIDDEN, "permission_error", "csrf_failed"),
            AdminError::Invalid { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request",
            ),
            AdminError::NotFound(_) => {
                (StatusCode::NOT_FOUND, "invalid_request_error", "not_found")
            }
            AdminError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
            ),
            AdminError::Conflict(_) | AdminError::Store(StoreError::Conflict(_)) => {
                (StatusCode::CONFLICT, "invalid_request_error", "conflict")
            }
            AdminError::GatewayUnreachable(_) => {
                (StatusCode::BAD_GATEWAY, "api_error", "gateway_unreachable")
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
        let body = ErrorEnvelope {
            error: ErrorBody {
                message,
                kind: kind.to_string(),
                code: code.to_string(),
                param,
            },
        };
        (status, Json(body)).into_response()
    }
}
