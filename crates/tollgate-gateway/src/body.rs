//! Reading the request body within `max_body_bytes`.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use tollgate_core::GatewayError;

/// The whole body, or 413 if it is (or announces it is) larger than `limit`.
pub async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::RequestTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            GatewayError::RequestTooLarge { limit }
        } else if timed_out(&e) {
            // The listener's body deadline (crates/tollgate/src/listener.rs) fired.
            GatewayError::RequestTimeout("The request body did not arrive in time".into())
        } else {
            GatewayError::invalid(format!("Could not read the request body: {e}"))
        }
    })
}

/// Whether a body error is a read timeout (an `io::Error` of kind `TimedOut` anywhere
/// in its source chain).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Parses JSON, mapping syntax and shape errors to 400 with the serde message.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    if bytes.is_empty() {
        return Err(GatewayError::invalid(
            "The request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| GatewayError::invalid(format!("Invalid JSON body: {e}")))
}
