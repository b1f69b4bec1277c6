//! Turning a [`GatewayError`] into an HTTP answer in the door's envelope: the single
//! place where the error contract meets HTTP.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use tollgate_core::{Door, GatewayError};

/// The error code of an answer, in its extensions: how the lifecycle learns which
/// error a route answered with, for the call record.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// A gateway error on its way out through `door`.
#[derive(Debug)]
pub struct ApiError {
    pub door: Door,
    pub error: GatewayError,
}

impl ApiError {
    pub fn new(door: Door, error: GatewayError) -> Self {
        ApiError { door, error }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let GatewayError::Internal(detail) = &self.error {
            tracing::error!(%detail, "internal error");
        }
        let status =
            StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(self.error.body(self.door))).into_response();
        res.extensions_mut()
            .insert(ErrorCode(self.error.classify().code));
        if let Some(secs) = self.error.retry_after_secs()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        res
    }
}
