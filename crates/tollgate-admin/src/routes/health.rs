use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::state::AdminState;

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is up")))]
pub(crate) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Database reachable and configuration loaded"),
    (status = 503, description = "Not ready")))]
pub(crate) async fn readyz(State(st): State<AdminState>) -> Response {
    if st.live.is_ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready"})),
        )
            .into_response()
    }
}

#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics(State(st): State<AdminState>) -> Response {
    // Breaker states are read when scraped, so the gauge is never stale.
    for b in st.routing.breakers.snapshot() {
        metrics::gauge!(tollgate_telemetry::names::CIRCUIT_STATE, "target" => b.target)
            .set(b.state.as_gauge());
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        tollgate_telemetry::render(&st.metrics),
    )
        .into_response()
}
