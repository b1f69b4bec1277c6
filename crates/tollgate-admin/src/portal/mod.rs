//! The developer portal's API, `/portal/v1/` on the admin listener (PRODUCT.md,
//! "Subscriptions and the developer portal").
//!
//! A developer is a console user with the `developer` role, bound to one consumer.
//! Every portal operation acts on that consumer and nothing else: the consumer is
//! taken from the session, never from the request, so no path or body can name
//! another consumer's keys, usage or subscriptions. The portal's operations reuse the
//! admin API's handlers with the session's consumer filled in, so the two cannot
//! disagree on what a key or a usage document is.
//!
//! A developer's writes (keys made and revoked, logout) are in the audit log under
//! their username, as the admin API's are under theirs.
//!
//! The portal has its own OpenAPI document, `/portal/v1/openapi.json`: its callers
//! (developers' scripts, the portal pages) authenticate differently from the admin
//! API's.

mod routes;
mod ui;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::auth::{Caller, authenticate};
use crate::error::AdminError;
use crate::roles::Role;
use crate::state::AdminState;

pub use routes::PortalApi;

/// The developer whose session made the request, and their consumer.
#[derive(Debug, Clone)]
pub struct Developer {
    pub username: String,
    pub consumer: String,
}

/// The portal's routes (to merge into the admin listener's router).
pub fn router(state: AdminState) -> Router<AdminState> {
    let protected = Router::new()
        .route("/portal/v1/catalog", get(routes::catalog))
        .route(
            "/portal/v1/subscriptions",
            get(routes::list_subscriptions).post(routes::subscribe),
        )
        .route(
            "/portal/v1/keys",
            get(routes::list_keys).post(routes::create_key),
        )
        .route("/portal/v1/keys/{id}", delete(routes::revoke_key))
        .route("/portal/v1/usage", get(routes::usage))
        .route("/portal/v1/usage/timeseries", get(routes::usage_timeseries))
        .route("/portal/v1/logout", post(routes::logout))
        .route_layer(middleware::from_fn_with_state(state, require_developer));
    Router::new()
        .merge(protected)
        .route("/portal/v1/login", post(routes::login))
        .route("/portal/v1/openapi.json", get(routes::document))
        .route("/portal", get(ui::to_index))
        .route("/portal/", get(ui::index))
        .route("/portal/assets/{*path}", get(ui::asset))
}

/// What a portal caller is, from an authenticated admin caller: only a developer
/// bound to a consumer may use the portal.
fn developer_of(caller: Caller) -> Result<Developer, AdminError> {
    match (caller.role, caller.user, caller.consumer) {
        (Role::Developer, Some(username), Some(consumer)) => Ok(Developer { username, consumer }),
        (role, user, _) => Err(AdminError::Forbidden(format!(
            "{} has the {role} role: the developer portal is for developer users",
            user.as_deref().unwrap_or("the admin token")
        ))),
    }
}

/// Middleware guarding the portal: 401 without a valid session, 403 for a session
/// (or the admin token) that is not a developer's.
async fn require_developer(State(st): State<AdminState>, mut req: Request, next: Next) -> Response {
    let developer = match authenticate(&st, req.headers())
        .await
        .and_then(developer_of)
    {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = crate::auth::check_csrf(req.method(), req.headers()) {
        return e.into_response();
    }
    let actor = developer.username.clone();
    req.extensions_mut().insert(developer);
    crate::auth::acting_as(actor, next.run(req)).await
}
