//! Admin authentication and authorization: the configured admin token (which acts as
//! the `admin` role), or a console session token (as a bearer token or the
//! `tollgate_session` cookie) carrying its user's role. Every protected route goes
//! through [`require_admin`], which also checks the role against the request.
//!
//! CSRF: a write authenticated by the cookie alone (which a browser attaches by
//! itself) must also carry the session's CSRF token in [`CSRF_HEADER`]; another site
//! cannot read that token, so it cannot forge the write. The token is derived from the
//! session token ([`csrf_token`]), so nothing more is stored, and it dies with the
//! session. A request with a bearer token is not exposed to CSRF and needs none.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AdminError;
use crate::roles::{Access, Role};
use crate::state::AdminState;

pub const SESSION_COOKIE: &str = "tollgate_session";

/// The header carrying the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: a hash of the session token under its own label, so
/// knowing it reveals nothing of the session token, and only whoever can read the
/// login answer or `GET /admin/v1/session` (this origin) learns it.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tollgate-csrf\0");
    h.update(session_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Who is calling, put in the request's extensions for handlers (e.g. `Extension<Caller>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The console user; `None` for the admin token.
    pub user: Option<String>,
    pub role: Role,
    /// A developer's consumer.
    pub consumer: Option<String>,
}

impl Caller {
    /// A name for logs and messages.
    pub fn name(&self) -> &str {
        self.user.as_deref().unwrap_or("admin token")
    }

    /// Who the audit log names: the console user, or [`ADMIN_TOKEN_USER`].
    pub fn audit_name(&self) -> &str {
        self.user.as_deref().unwrap_or(ADMIN_TOKEN_USER)
    }
}

/// The audit log's user for requests made with the configured admin token.
pub const ADMIN_TOKEN_USER: &str = "admin-token";

tokio::task_local! {
    /// The caller of the admin request being served, set by [`require_admin`] for the
    /// handler's whole run so that every write it makes can be audited under its name
    /// without each handler passing it along.
    static ACTOR: String;
}

/// Runs `f` with `actor` as the audit log's user of every write it makes (what
/// [`require_admin`] does for the admin API; the portal's guard does it for developers).
pub async fn acting_as<F: std::future::Future>(actor: String, f: F) -> F::Output {
    ACTOR.scope(actor, f).await
}

/// The audit name of the admin request being served (`system` outside one).
pub fn actor() -> String {
    ACTOR
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "system".to_string())
}

fn bearer(headers: &http::HeaderMap) -> Option<String> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let v = v.trim();
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim().to_string())
}

fn cookie(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_string())
        })
}

/// The token a request presents: the bearer token, else the session cookie.
pub(crate) fn presented_token(headers: &http::HeaderMap) -> Option<String> {
    bearer(headers).or_else(|| cookie(headers))
}

/// Refuses (403) a login posted from a page of another origin. A browser always sends
/// `Origin` on a cross-site POST, and a plain HTML form can carry a JSON-looking body
/// (`enctype="text/plain"`), so without this another site could sign a visitor's
/// browser in as a user of its choosing (login CSRF). Scripts send no `Origin` and are
/// not affected.
pub(crate) fn check_login_origin(headers: &http::HeaderMap) -> Result<(), AdminError> {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default();
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(AdminError::Forbidden(format!(
            "A login posted from another origin ({origin}) is refused"
        )))
    }
}

/// Refuses (403 `csrf_failed`) a write that is authenticated by the session cookie
/// alone and lacks the session's CSRF token. Reads (`GET`, `HEAD`, `OPTIONS`) change
/// nothing and are let through; so is any request with a bearer token, which a
/// browser never adds by itself.
pub(crate) fn check_csrf(
    method: &http::Method,
    headers: &http::HeaderMap,
) -> Result<(), AdminError> {
    if matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    ) || bearer(headers).is_some()
    {
        return Ok(());
    }
    let Some(session) = cookie(headers) else {
        return Ok(());
    };
    let expected = csrf_token(&session);
    let sent = headers
        .get(CSRF_HEADER)
        .map(http::HeaderValue::as_bytes)
        .unwrap_or_default();
    if bool::from(expected.as_bytes().ct_eq(sent)) {
        Ok(())
    } else {
        Err(AdminError::Csrf)
    }
}

/// Resolves the token to a caller. A session whose stored role this build does not
/// know gets no rights (403), rather than some default.
pub(crate) async fn authenticate(
    st: &AdminState,
    headers: &http::HeaderMap,
) -> Result<Caller, AdminError> {
    let token = presented_token(headers).ok_or(AdminError::Unauthorized)?;
    if let Some(admin) = &st.admin_token
        && bool::from(admin.as_bytes().ct_eq(token.as_bytes()))
    {
        return Ok(Caller {
            user: None,
            role: Role::Admin,
            consumer: None,
        });
    }
    let user = st
        .store
        .session_user(&token)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    let role = user
        .role
        .parse::<Role>()
        .map_err(|e| AdminError::Forbidden(format!("User `{}` has an {e}", user.username)))?;
    Ok(Caller {
        user: Some(user.username),
        role,
        consumer: user.consumer,
    })
}

/// Middleware guarding every admin resource: 401 without a valid token or session,
/// 403 when the caller's role may not make this request (see [`Access`]).
pub async fn require_admin(State(st): State<AdminState>, mut req: Request, next: Next) -> Response {
    let caller = match authenticate(&st, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_csrf(req.method(), req.headers()) {
        return e.into_response();
    }
    let access = {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path(), MatchedPath::as_str);
        Access::of(req.method(), route)
    };
    if !caller.role.may(access) {
        return AdminError::Forbidden(format!(
            "{} has the {} role; this request needs {}",
            caller.name(),
            caller.role,
            access.needs()
        ))
        .into_response();
    }
    let actor = caller.audit_name().to_string();
    req.extensions_mut().insert(caller);
    ACTOR.scope(actor, next.run(req)).await
}
