//! The admin listener's routes.

mod consumers;
mod health;
mod keys;
mod models;
mod providers;
mod resource;
mod routing;
mod session;
mod teams;
mod usage;
mod users;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;
use tollgate_store::Stored;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use crate::auth::require_admin;
use crate::state::AdminState;

pub(crate) use consumers::*;
pub(crate) use health::*;
pub(crate) use keys::*;
pub(crate) use models::*;
pub(crate) use providers::*;
pub(crate) use routing::*;
pub(crate) use session::*;
pub(crate) use teams::*;
pub(crate) use usage::*;
pub(crate) use users::*;

pub fn router(state: AdminState) -> Router {
    let protected = Router::new()
        .route(
            "/admin/v1/providers",
            get(list_providers).post(create_provider),
        )
        .route(
            "/admin/v1/providers/{name}",
            get(get_provider).put(put_provider).delete(delete_provider),
        )
        .route("/admin/v1/models", get(list_models).post(create_model))
        .route(
            "/admin/v1/models/{name}",
            get(get_model).put(put_model).delete(delete_model),
        )
        .route("/admin/v1/teams", get(list_teams).post(create_team))
        .route(
            "/admin/v1/teams/{name}",
            get(get_team).put(put_team).delete(delete_team),
        )
        .route(
            "/admin/v1/consumers",
            get(list_consumers).post(create_consumer),
        )
        .route(
            "/admin/v1/consumers/{name}",
            get(get_consumer).put(put_consumer).delete(delete_consumer),
        )
        .route(
            "/admin/v1/consumers/{name}/keys",
            get(list_keys).post(create_key),
        )
        .route("/admin/v1/keys/{id}", get(get_key).delete(revoke_key))
        .route("/admin/v1/consumers/{name}/usage", get(consumer_usage))
        .route(
            "/admin/v1/consumers/{name}/credits",
            get(list_credits).post(add_credits),
        )
        .route("/admin/v1/routing", get(routing_state))
        .route("/admin/v1/users", get(list_users).post(create_user))
        .route(
            "/admin/v1/users/{username}",
            get(get_user).put(put_user).delete(delete_user),
        )
        .route("/admin/v1/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .merge(protected)
        .route("/", get(landing))
        .route("/admin/v1/login", post(login))
        .route("/admin/v1/openapi.json", get(crate::openapi::document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(tollgate_gateway_request_id))
        .with_state(state)
}

/// `x-request-id` on admin answers too.
async fn tollgate_gateway_request_id(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let id = format!("req_{}", uuid::Uuid::now_v7().simple());
    let mut res = next.run(req).await;
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// The admin listener's front page: where the admin API and its documentation are.
/// (The web console will be served here; until then this page says so plainly.)
async fn landing() -> axum::response::Html<&'static str> {
    axum::response::Html(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tollgate</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head><body>
<h1>Tollgate</h1>
<p>This is the admin listener. The web console is not part of this build yet; everything
it will do is available through the admin API.</p>
<ul>
<li>Admin API: <code>/admin/v1/</code> &mdash; authenticate with the admin token, or log in with
<code>POST /admin/v1/login</code> <code>{"username": "admin", "password": "..."}</code> and use the returned token
as <code>Authorization: Bearer</code>.</li>
<li>OpenAPI document: <a href="/admin/v1/openapi.json">/admin/v1/openapi.json</a></li>
<li>Metrics: <a href="/metrics">/metrics</a> &middot; health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a></li>
</ul></body></html>"#,
    )
}

async fn not_found(uri: axum::http::Uri) -> crate::error::AdminError {
    crate::error::AdminError::NotFound(format!("Unknown admin path: {}", uri.path()))
}

/// A stored resource with its bookkeeping, as the admin API shows it. Its schema (see
/// the `ToSchema` impl below) is the spec's with the bookkeeping fields added, named
/// `ModelView` for `View<ModelSpec>` and so on.
#[derive(Debug, Serialize)]
pub struct View<T> {
    #[serde(flatten)]
    pub spec: T,
    /// `config` (declared in the config file, re-applied at start) or `api`.
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields [`View`] adds to a spec, as a schema of their own to borrow from.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Bookkeeping {
    /// `config` (declared in the config file, re-applied at start) or `api`.
    #[schema(pattern = "^(config|api)$")]
    source: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<T: ToSchema> utoipa::PartialSchema for View<T> {
    /// The spec's object schema with the bookkeeping properties merged in (the spec
    /// forbids unknown properties, so an `allOf` of the two could match nothing).
    fn schema() -> RefOr<Schema> {
        let (RefOr::T(Schema::Object(mut view)), RefOr::T(Schema::Object(extra))) = (
            T::schema(),
            <Bookkeeping as utoipa::PartialSchema>::schema(),
        ) else {
            // Every spec is a derived struct, hence an inline object: not reached.
            return T::schema();
        };
        view.description = Some(format!(
            "A {} with its bookkeeping.",
            <Self as ToSchema>::name()
        ));
        view.properties.extend(extra.properties);
        view.required.extend(extra.required);
        RefOr::T(Schema::Object(view))
    }
}

impl<T: ToSchema> ToSchema for View<T> {
    fn name() -> Cow<'static, str> {
        let spec = T::name();
        Cow::Owned(format!(
            "{}View",
            spec.strip_suffix("Spec").unwrap_or(&spec)
        ))
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        T::schemas(schemas);
    }
}

impl<T> From<Stored<T>> for View<T> {
    fn from(s: Stored<T>) -> Self {
        View {
            spec: s.spec,
            source: s.source.to_string(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// Rejects a body whose `name` disagrees with the path.
pub(crate) fn same_name(path: &str, body: &str) -> Result<(), crate::error::AdminError> {
    if path == body {
        Ok(())
    } else {
        Err(crate::error::AdminError::Invalid {
            message: format!("The body's name `{body}` differs from the path's `{path}`"),
            param: Some("name".into()),
        })
    }
}

/// Parses a JSON body, naming the offending field as `param`.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, crate::error::AdminError> {
    // Every body is a JSON object; serde would also fill a struct from an array.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(crate::error::AdminError::invalid(
            "The body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        crate::error::AdminError::Invalid {
            message: format!("Invalid JSON body: {inner}"),
            param: (path != ".").then_some(path),
        }
    })
}
