//! The portal's operations. Each acts on the session's consumer ([`Developer`]); the
//! key and usage operations are the admin API's, called with that consumer.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_core::spec::ServiceLifecycle;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::{Developer, developer_of};
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized};
use crate::routes::{
    self, CreatedKey, KeyView, LoginRequest, open_session, session_ttl_seconds, with_session_cookie,
};
use crate::state::AdminState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate developer portal API", description = "What a developer does for their own consumer: read the catalogue, manage their keys, read their usage. Log in with `POST /portal/v1/login` as a console user with the `developer` role; send the token as `Authorization: Bearer` (or keep the session cookie). Every operation acts on the developer's own consumer only. Errors are in the OpenAI envelope."),
    paths(login, logout, catalog, list_subscriptions, subscribe, list_keys, create_key, revoke_key, usage, usage_timeseries),
    components(
        schemas(crate::error::ErrorEnvelope),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge),
    ),
    modifiers(&PortalAuth),
)]
pub struct PortalApi;

/// The session as a bearer token; 401 and 403 on every operation that needs one.
struct PortalAuth;

impl Modify for PortalAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        crate::openapi::add_auth_errors(openapi);
    }
}

/// The portal's OpenAPI document.
pub(crate) async fn document() -> Json<Value> {
    Json(crate::openapi::served(PortalApi::openapi()))
}

/// A portal session's answer to a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalLogin {
    /// Session token: send as `Authorization: Bearer` or keep the cookie.
    pub token: String,
    pub username: String,
    /// The consumer the portal acts on.
    pub consumer: String,
    pub expires_in_seconds: u64,
    /// Send as `x-csrf-token` on every write made with the session cookie.
    pub csrf_token: String,
}

/// Opens a portal session: developer users only (another role gets 403).
#[utoipa::path(post, path = "/portal/v1/login", tag = "portal", request_body = LoginRequest,
    responses((status = 200, body = PortalLogin, description = "The session, also set as the `tollgate_session` cookie"),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge)))]
pub(crate) async fn login(
    State(st): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminError> {
    crate::auth::check_login_origin(&headers)?;
    let mut consumer = None;
    let (user, token) = open_session(&st, &body, |user| {
        let role = user.role.parse().unwrap_or(crate::roles::Role::Viewer);
        let developer = developer_of(crate::auth::Caller {
            user: Some(user.username.clone()),
            role,
            consumer: user.consumer.clone(),
        })?;
        consumer = Some(developer.consumer);
        Ok(())
    })
    .await?;
    let answer = PortalLogin {
        token: token.clone(),
        username: user.username,
        consumer: consumer.unwrap_or_default(),
        expires_in_seconds: session_ttl_seconds(),
        csrf_token: crate::auth::csrf_token(&token),
    };
    Ok(with_session_cookie(Json(answer).into_response(), &token))
}

/// Ends the session (the bearer token or the cookie, whichever was sent).
#[utoipa::path(post, path = "/portal/v1/logout", tag = "portal",
    responses((status = 204, description = "The session is over")), security(("bearer" = [])))]
pub(crate) async fn logout(
    state: State<AdminState>,
    headers: HeaderMap,
) -> Result<StatusCode, AdminError> {
    routes::logout(state, headers).await
}

/// A service or prompt-API of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogService {
    pub name: String,
    pub description: Option<String>,
    /// `published` or `deprecated`.
    pub lifecycle: String,
    /// When a deprecated service stops answering, if set.
    pub sunset_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Where it is on the gateway listener.
    pub path_prefix: String,
    /// `auto` or `manual` when calling it needs an approved subscription; null when
    /// any key of the consumer may call it.
    #[schema(pattern = "^(auto|manual)$")]
    pub subscription: Option<String>,
    /// Its routes as an OpenAPI 3.1 document whose `servers` is the gateway.
    #[schema(value_type = Object)]
    pub openapi: Value,
}

/// A model the developer's consumer may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogModel {
    pub name: String,
}

/// A prompt-API of the catalogue: `POST {path}` with `{"variables": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogPromptApi {
    pub name: String,
    pub description: Option<String>,
    /// `published` or `deprecated`.
    pub lifecycle: String,
    pub sunset_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Where to POST on the gateway listener.
    pub path: String,
    /// The model it runs on.
    pub model: String,
    /// Its variables: name, whether required, default.
    #[schema(value_type = Vec<Object>)]
    pub variables: Vec<tollgate_core::spec::PromptVariable>,
    /// As a service's.
    #[schema(pattern = "^(auto|manual)$")]
    pub subscription: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Catalog {
    /// The gateway's base URL (`server.public_url`, else the gateway listener's port
    /// on the host this request was sent to): where the keys, models and services
    /// are called.
    #[schema(example = "http://127.0.0.1:8080")]
    pub gateway_url: String,
    /// Published and deprecated services, by name.
    pub services: Vec<CatalogService>,
    /// Published and deprecated prompt-APIs, by name.
    pub prompt_apis: Vec<CatalogPromptApi>,
    /// The models the consumer may use, by name.
    pub models: Vec<CatalogModel>,
}

/// Whether a developer may see (and subscribe to) something in this state.
fn listed(lifecycle: ServiceLifecycle) -> bool {
    matches!(
        lifecycle,
        ServiceLifecycle::Published | ServiceLifecycle::Deprecated
    )
}

fn approval(s: Option<tollgate_core::spec::SubscriptionSpec>) -> Option<String> {
    s.map(|s| match s.approval {
        tollgate_core::spec::Approval::Auto => "auto".to_string(),
        tollgate_core::spec::Approval::Manual => "manual".to_string(),
    })
}

/// What the developer can call: published and deprecated services with their docs, and
/// the models their consumer may use.
#[utoipa::path(get, path = "/portal/v1/catalog", tag = "portal",
    responses((status = 200, body = Catalog)), security(("bearer" = [])))]
pub(crate) async fn catalog(
    State(st): State<AdminState>,
    Extension(dev): Extension<Developer>,
    headers: HeaderMap,
) -> Result<Json<Catalog>, AdminError> {
    let server = st.gateway_url.for_request(&headers);
    let mut services: Vec<CatalogService> = st
        .store
        .list_services()
        .await?
        .into_iter()
        .filter(|s| listed(s.spec.lifecycle))
        .map(|stored| {
            let version = stored
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let spec = stored.spec;
            CatalogService {
                openapi: crate::oas::document(&spec, &server, &version),
                name: spec.name,
                description: spec.description,
                lifecycle: spec.lifecycle.as_str().to_string(),
                sunset_at: spec.sunset_at,
                path_prefix: spec.path_prefix,
                subscription: approval(spec.subscription),
            }
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut prompt_apis: Vec<CatalogPromptApi> = st
        .store
        .list_prompt_apis()
        .await?
        .into_iter()
        .filter(|p| listed(p.spec.lifecycle))
        .map(|p| {
            let spec = p.spec;
            CatalogPromptApi {
                name: spec.name,
                description: spec.description,
                lifecycle: spec.lifecycle.as_str().to_string(),
                sunset_at: spec.sunset_at,
                path: spec.path,
                model: spec.model,
                variables: spec.variables,
                subscription: approval(spec.subscription),
            }
        })
        .collect();
    prompt_apis.sort_by(|a, b| a.name.cmp(&b.name));
    let snapshot = st.live.snapshot.load_full();
    let allowed = snapshot
        .consumers
        .get(&dev.consumer)
        .and_then(|c| c.models.clone());
    let mut models: Vec<CatalogModel> = snapshot
        .models
        .keys()
        .filter(|m| allowed.as_ref().is_none_or(|a| a.contains(m)))
        .map(|m| CatalogModel { name: m.clone() })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(Catalog {
        gateway_url: server,
        services,
        prompt_apis,
        models,
    }))
}

/// `POST /portal/v1/subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// A service's or prompt-API's name, as the catalogue lists it.
    #[schema(min_length = 1, example = "weather")]
    pub service: String,
}

/// The filters of the developer's subscription list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalSubscriptionQuery {
    /// `pending`, `approved`, `rejected` or `revoked`.
    #[param(pattern = "^(pending|approved|rejected|revoked)$", nullable = false)]
    pub status: Option<String>,
    /// Rows per page (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,15}\..*$", nullable = false)]
    pub cursor: Option<String>,
}

/// The developer's consumer's subscriptions, newest first.
#[utoipa::path(get, path = "/portal/v1/subscriptions", tag = "portal", params(PortalSubscriptionQuery),
    responses((status = 200, body = routes::SubscriptionList), (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn list_subscriptions(
    state: State<AdminState>,
    Extension(dev): Extension<Developer>,
    query: Result<Query<PortalSubscriptionQuery>, QueryRejection>,
) -> Result<Json<routes::SubscriptionList>, AdminError> {
    let Query(q) = query.map_err(routes::bad_query)?;
    let raw = routes::RawSubscriptionQuery {
        status: q.status,
        consumer: Some(dev.consumer),
        service: None,
        limit: q.limit,
        cursor: q.cursor,
    };
    routes::list_subscriptions(state, Ok(Query(raw))).await
}

/// Subscribes the developer's consumer to a service or prompt-API of the catalogue:
/// `approved` at once when it takes subscriptions automatically, `pending` until an
/// admin or operator approves it when by hand. A name the catalogue does not list
/// (unknown, a draft, retired) is refused as unknown.
#[utoipa::path(post, path = "/portal/v1/subscriptions", tag = "portal", request_body = Subscribe,
    responses((status = 201, body = routes::SubscriptionView),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn subscribe(
    State(st): State<AdminState>,
    Extension(dev): Extension<Developer>,
    body: Bytes,
) -> Result<(StatusCode, Json<routes::SubscriptionView>), AdminError> {
    let req: Subscribe = routes::parse_body(&body)?;
    let lifecycle = match st.store.get_service(&req.service).await? {
        Some(s) => Some(s.spec.lifecycle),
        None => st
            .store
            .get_prompt_api(&req.service)
            .await?
            .map(|p| p.spec.lifecycle),
    };
    if !lifecycle.is_some_and(listed) {
        return Err(AdminError::Invalid {
            message: format!("No service or prompt-API named `{}`", req.service),
            param: Some("service".into()),
        });
    }
    let admin_body = serde_json::json!({"consumer": dev.consumer, "service": req.service});
    routes::create_subscription(State(st), Bytes::from(admin_body.to_string())).await
}

/// The developer's consumer's keys (never their secrets).
#[utoipa::path(get, path = "/portal/v1/keys", tag = "portal",
    responses((status = 200, body = Vec<KeyView>, description = "The keys; the links follow the first", links(
            ("revoke" = (operation_id = "portal_revoke_key", parameters(("id" = "$response.body#/0/id"))))
        ))), security(("bearer" = [])))]
pub(crate) async fn list_keys(
    state: State<AdminState>,
    Extension(dev): Extension<Developer>,
) -> Result<Json<Vec<KeyView>>, AdminError> {
    routes::list_keys(state, Path(dev.consumer)).await
}

/// A new key for the developer's consumer, shown this once.
#[utoipa::path(post, path = "/portal/v1/keys", tag = "portal",
    request_body(content = Option<routes::CreateKey>, description = "May be empty: a key with no name, expiry or limits of its own"),
    responses((status = 201, body = CreatedKey, description = "The key is in `key`, shown this once", links(
            ("revoke" = (operation_id = "portal_revoke_key", parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn create_key(
    state: State<AdminState>,
    Extension(dev): Extension<Developer>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKey>), AdminError> {
    routes::create_key(state, Path(dev.consumer), body).await
}

/// Revokes one of the developer's consumer's keys; another consumer's key is 404, as
/// an unknown one is (the portal does not tell which ids exist).
#[utoipa::path(delete, path = "/portal/v1/keys/{id}", tag = "portal", operation_id = "portal_revoke_key",
    params(("id" = String, Path)),
    responses((status = 200, body = KeyView, description = "The key, revoked"), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn revoke_key(
    State(st): State<AdminState>,
    Extension(dev): Extension<Developer>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let owned = st
        .store
        .get_key(&id)
        .await?
        .is_some_and(|k| k.consumer == dev.consumer);
    if !owned {
        return Err(AdminError::NotFound(format!("No key with id `{id}`")));
    }
    routes::revoke_key(State(st), Path(id)).await
}

/// The developer's consumer's usage (the usage document of the admin API and of
/// `GET /tollgate/v1/usage`).
#[utoipa::path(get, path = "/portal/v1/usage", tag = "portal",
    responses((status = 200, body = routes::UsageDocument)), security(("bearer" = [])))]
pub(crate) async fn usage(
    state: State<AdminState>,
    Extension(dev): Extension<Developer>,
) -> Result<Json<Value>, AdminError> {
    routes::consumer_usage(state, Path(dev.consumer)).await
}

/// The filters of the developer's usage over time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalUsageQuery {
    /// The value of each point (default `requests`).
    #[param(
        pattern = "^(requests|errors|error_rate|tokens_input|tokens_output|cost_usd|latency_p50_ms|latency_p95_ms|latency_p99_ms|ttft_p50_ms|overhead_ms)$",
        nullable = false
    )]
    pub metric: Option<String>,
    /// Bucket width (default `hour`).
    #[param(pattern = "^(minute|hour|day)$", nullable = false)]
    pub interval: Option<String>,
    /// Buckets starting at or after this instant (RFC 3339; default `to` minus 24 hours).
    #[param(format = DateTime, nullable = false)]
    pub from: Option<String>,
    /// Buckets starting before this instant (RFC 3339; default now).
    #[param(format = DateTime, nullable = false)]
    pub to: Option<String>,
}

/// The developer's consumer's traffic over time, from the analytics rollups: one series
/// (keyed by the consumer's name) or none when it made no call in the range. The shape
/// and parameters are those of `GET /admin/v1/analytics/timeseries`, for this consumer
/// only.
#[utoipa::path(get, path = "/portal/v1/usage/timeseries", tag = "portal", params(PortalUsageQuery),
    responses((status = 200, body = routes::Timeseries), (status = 400, response = BadRequest)),
    security(("bearer" = [])))]
pub(crate) async fn usage_timeseries(
    state: State<AdminState>,
    Extension(dev): Extension<Developer>,
    query: Result<Query<PortalUsageQuery>, QueryRejection>,
) -> Result<Json<routes::Timeseries>, AdminError> {
    let Query(q) = query.map_err(routes::bad_query)?;
    let raw = routes::RawAnalyticsQuery {
        metric: q.metric,
        by: Some("consumer".into()),
        interval: q.interval,
        from: q.from,
        to: q.to,
        limit: None,
    };
    let Json(mut ts) = routes::analytics_timeseries(state, Ok(Query(raw))).await?;
    ts.series.retain(|s| s.key == dev.consumer);
    Ok(Json(ts))
}
