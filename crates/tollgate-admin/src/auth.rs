//! Admin authentication: the configured admin token, or a console session token
//! (as a bearer token or the `tollgate_session` cookie).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::AdminError;
use crate::state::AdminState;

pub const SESSION_COOKIE: &str = "tollgate_session";

fn bearer(req: &Request) -> Option<String> {
    let v = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let v = v.trim();
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim().to_string())
}

fn cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_string())
        })
}

/// Middleware guarding every admin resource.
pub async fn require_admin(State(st): State<AdminState>, req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req).or_else(|| cookie(&req)) else {
        return AdminError::Unauthorized.into_response();
    };
    if let Some(admin) = &st.admin_token
        && bool::from(admin.as_bytes().ct_eq(token.as_bytes()))
    {
        return next.run(req).await;
    }
    match st.store.session_user(&token).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => AdminError::Unauthorized.into_response(),
        Err(e) => AdminError::Store(e).into_response(),
    }
}
