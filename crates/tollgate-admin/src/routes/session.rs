//! Console sessions: a username and password give a session token, usable as the
//! `tollgate_session` cookie or as a bearer token.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, SESSION_COOKIE, presented_token};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Forbidden, Unauthorized};
use crate::state::AdminState;

const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Session token: send as `Authorization: Bearer` or keep the cookie.
    pub token: String,
    pub username: String,
    pub role: String,
    pub expires_in_seconds: u64,
    /// Send as `x-csrf-token` on every write made with the session cookie (writes
    /// with `Authorization: Bearer` need none).
    pub csrf_token: String,
}

/// Who the request's credentials belong to (`GET /admin/v1/session`): what the console
/// reads at start to know whether it is signed in, as whom, and its CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The console user; null for the admin token.
    pub username: Option<String>,
    pub role: crate::roles::Role,
    /// A developer's consumer.
    pub consumer: Option<String>,
    /// Send as `x-csrf-token` on every write made with the session cookie.
    pub csrf_token: String,
    /// Where consumers reach the gateway (for examples: curl, SDK base URLs).
    pub gateway_url: String,
}

#[utoipa::path(post, path = "/admin/v1/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
pub(crate) async fn login(
    State(st): State<AdminState>,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AdminError> {
    crate::auth::check_login_origin(&headers)?;
    let (user, token) = open_session(&st, &body, |_| Ok(())).await?;
    let answer = LoginResponse {
        token: token.clone(),
        username: user.username,
        role: user.role,
        expires_in_seconds: SESSION_TTL.as_secs(),
        csrf_token: crate::auth::csrf_token(&token),
    };
    Ok(with_session_cookie(Json(answer).into_response(), &token))
}

/// Checks a login body's username and password and, if `admit` lets that user in,
/// opens a session: the user and the session token.
pub(crate) async fn open_session(
    st: &AdminState,
    body: &[u8],
    admit: impl FnOnce(&tollgate_store::User) -> Result<(), AdminError>,
) -> Result<(tollgate_store::User, String), AdminError> {
    let req: LoginRequest = super::parse_body(body)?;
    let user = st
        .store
        .verify_user(&req.username, &req.password)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    admit(&user)?;
    // Logging in is a write (a session) and is audited under the user who logs in.
    let token = st
        .store
        .audited(tollgate_store::AuditEntry {
            user: user.username.clone(),
            action: "login".into(),
            resource: "session".into(),
            name: Some(user.username.clone()),
            before: None,
            after: None,
        })
        .create_session(&user.username, SESSION_TTL)
        .await?;
    Ok((user, token))
}

/// How long a session lasts, in seconds.
pub(crate) fn session_ttl_seconds() -> u64 {
    SESSION_TTL.as_secs()
}

/// `res` with the session cookie set (HttpOnly, SameSite=Strict).
pub(crate) fn with_session_cookie(mut res: Response, token: &str) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    res
}

/// The caller's identity and the session's CSRF token. Any signed-in user may ask; a
/// missing or expired session is a 401 (the console then shows its login).
#[utoipa::path(get, path = "/admin/v1/session", tag = "session",
    responses((status = 200, body = SessionView)), security(("bearer" = [])))]
pub(crate) async fn session_info(
    State(st): State<AdminState>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: http::HeaderMap,
) -> Result<Json<SessionView>, AdminError> {
    let token = presented_token(&headers).ok_or(AdminError::Unauthorized)?;
    Ok(Json(SessionView {
        username: caller.user,
        role: caller.role,
        consumer: caller.consumer,
        csrf_token: crate::auth::csrf_token(&token),
        gateway_url: st.gateway_url.for_request(&headers),
    }))
}

#[utoipa::path(post, path = "/admin/v1/logout", tag = "session", responses((status = 204, description = "The session is over")), security(("bearer" = [])))]
pub(crate) async fn logout(
    State(st): State<AdminState>,
    headers: http::HeaderMap,
) -> Result<http::StatusCode, AdminError> {
    // The bearer token or the cookie, whichever authenticated the call.
    if let Some(token) = presented_token(&headers) {
        let actor = crate::auth::actor();
        st.audited("logout", "session", &actor, None, None)
            .delete_session(&token)
            .await?;
    }
    Ok(http::StatusCode::NO_CONTENT)
}
