//! `x-request-id` on every answer, errors included.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn generate() -> Self {
        RequestId(format!("req_{}", uuid::Uuid::now_v7().simple()))
    }
}

pub const HEADER: &str = "x-request-id";
pub const ANTHROPIC_HEADER: &str = "request-id";

/// Middleware: assigns an id and stamps it on the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = RequestId::generate();
    req.extensions_mut().insert(id.clone());
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        // Anthropic's SDK reads `request-id`, OpenAI's `x-request-id`.
        res.headers_mut().insert(ANTHROPIC_HEADER, v.clone());
        res.headers_mut().insert(HEADER, v);
    }
    res
}
