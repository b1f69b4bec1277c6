//! The OpenAPI 3 document of the admin API, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate admin API", description = "Manage providers, models, teams, consumers and keys. Authenticate with the admin token or a console session as `Authorization: Bearer`. Roles: `admin` (everything; the admin token acts as admin), `operator` (every resource but users), `viewer` (GET only), `developer` (nothing here: the developer portal). A role that may not make a request gets 403 `permission_error`."),
    paths(
        routes::healthz, routes::readyz, routes::metrics,
        routes::login, routes::logout,
        routes::list_providers, routes::create_provider, routes::get_provider, routes::put_provider, routes::delete_provider,
        routes::list_models, routes::create_model, routes::get_model, routes::put_model, routes::delete_model,
        routes::list_teams, routes::create_team, routes::get_team, routes::put_team, routes::delete_team,
        routes::list_consumers, routes::create_consumer, routes::get_consumer, routes::put_consumer, routes::delete_consumer,
        routes::list_keys, routes::create_key, routes::get_key, routes::revoke_key,
        routes::consumer_usage, routes::list_credits, routes::add_credits,
        routes::routing_state,
        routes::list_calls, routes::get_call, routes::export_calls,
        routes::analytics_timeseries, routes::analytics_top,
        routes::list_users, routes::create_user, routes::get_user, routes::put_user, routes::delete_user,
    ),
    modifiers(&BearerAuth),
)]
pub struct AdminApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(AdminApi::openapi())
}
