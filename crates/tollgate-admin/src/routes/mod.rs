//! The admin listener's routes.

mod alerts;
mod analytics;
mod audit;
mod calls;
mod consumers;
mod credentials;
mod health;
mod keys;
mod masking;
mod models;
mod paging;
mod playground;
mod prompt_apis;
mod providers;
mod releases;
mod resource;
mod routing;
mod service_openapi;
mod services;
mod session;
mod subscriptions;
mod teams;
mod usage;
mod users;

use axum::Router;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;
use tollgate_store::Stored;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use crate::auth::require_admin;
use crate::state::AdminState;

pub(crate) use alerts::*;
pub(crate) use analytics::*;
pub(crate) use audit::*;
pub(crate) use calls::*;
pub(crate) use consumers::*;
pub(crate) use credentials::*;
pub(crate) use health::*;
pub(crate) use keys::*;
pub(crate) use masking::*;
pub(crate) use models::*;
pub(crate) use playground::*;
pub(crate) use prompt_apis::*;
pub(crate) use providers::*;
pub(crate) use releases::*;
pub(crate) use routing::*;
pub(crate) use service_openapi::*;
pub(crate) use services::*;
pub(crate) use session::*;
pub(crate) use subscriptions::*;
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
        .route(
            "/admin/v1/masking",
            get(list_masking_rules).post(create_masking_rule),
        )
        .route(
            "/admin/v1/masking/{name}",
            get(get_masking_rule)
                .put(put_masking_rule)
                .delete(delete_masking_rule),
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
        .route(
            "/admin/v1/consumers/{name}/credentials",
            get(list_credentials).post(create_credential),
        )
        .route(
            "/admin/v1/consumers/{name}/credentials/{id}",
            axum::routing::delete(delete_credential),
        )
        .route(
            "/admin/v1/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/admin/v1/subscriptions/{id}",
            get(get_subscription).delete(revoke_subscription),
        )
        .route(
            "/admin/v1/subscriptions/{id}/approve",
            post(approve_subscription),
        )
        .route(
            "/admin/v1/subscriptions/{id}/reject",
            post(reject_subscription),
        )
        .route("/admin/v1/audit", get(list_audit))
        .route("/admin/v1/alerts", get(list_alerts).post(create_alert))
        .route(
            "/admin/v1/alerts/{name}",
            get(get_alert).put(put_alert).delete(delete_alert),
        )
        .route("/admin/v1/consumers/{name}/usage", get(consumer_usage))
        .route(
            "/admin/v1/consumers/{name}/credits",
            get(list_credits).post(add_credits),
        )
        .route("/admin/v1/routing", get(routing_state))
        .route(
            "/admin/v1/services",
            get(list_services).post(create_service),
        )
        .route(
            "/admin/v1/services/{name}",
            get(get_service).put(put_service).delete(delete_service),
        )
        .route(
            "/admin/v1/services/{name}/lifecycle",
            axum::routing::put(put_service_lifecycle),
        )
        .route(
            "/admin/v1/services/import",
            post(import_service).layer(axum::extract::DefaultBodyLimit::max(
                service_openapi::MAX_IMPORT_BYTES,
            )),
        )
        .route(
            "/admin/v1/services/{name}/openapi.json",
            get(export_service_openapi),
        )
        .route(
            "/admin/v1/services/{name}/releases",
            get(list_service_releases).post(create_service_release),
        )
        .route(
            "/admin/v1/services/{name}/releases/{version}/diff",
            get(diff_service_release),
        )
        .route(
            "/admin/v1/services/{name}/releases/{version}/publish",
            post(publish_service_release),
        )
        .route(
            "/admin/v1/prompt-apis",
            get(list_prompt_apis).post(create_prompt_api),
        )
        .route(
            "/admin/v1/prompt-apis/{name}",
            get(get_prompt_api)
                .put(put_prompt_api)
                .delete(delete_prompt_api),
        )
        .route(
            "/admin/v1/prompt-apis/{name}/lifecycle",
            axum::routing::put(put_prompt_api_lifecycle),
        )
        .route("/admin/v1/calls", get(list_calls))
        .route("/admin/v1/calls/export", get(export_calls))
        .route("/admin/v1/calls/{request_id}", get(get_call))
        .route("/admin/v1/calls/{request_id}/explain", get(explain_call))
        .route("/admin/v1/analytics/timeseries", get(analytics_timeseries))
        .route("/admin/v1/analytics/top", get(analytics_top))
        .route("/admin/v1/playground/chat", post(playground_chat))
        .route("/admin/v1/users", get(list_users).post(create_user))
        .route(
            "/admin/v1/users/{username}",
            get(get_user).put(put_user).delete(delete_user),
        )
        .route("/admin/v1/logout", post(logout))
        .route("/admin/v1/session", get(session_info))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .merge(protected)
        .merge(crate::portal::router(state.clone()))
        .route("/", get(crate::console::index))
        .route("/console/{*path}", get(crate::console::asset))
        .route("/admin/v1/login", post(login))
        .route("/admin/v1/openapi.json", get(crate::openapi::document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(envelope_too_large))
        .layer(middleware::from_fn(tollgate_gateway_request_id))
        .with_state(state)
}

/// The largest body an admin request may carry (an OpenAPI import has its own,
/// larger, limit): resources are small documents.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// A body over the limit is refused by axum's extractor with a plain-text 413 before
/// any handler runs; this puts it in the admin API's error envelope like every other
/// error (`request_too_large`).
pub(crate) async fn envelope_too_large(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if res.status() != http::StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return res;
    }
    crate::error::AdminError::TooLarge(format!(
        "The body is larger than the admin API takes (at most {} MiB)",
        MAX_BODY_BYTES >> 20
    ))
    .into_response()
}

/// `x-request-id` on admin answers too, unless the answer already names a request:
/// the playground's answer is the gateway's, whose id names its call record.
async fn tollgate_gateway_request_id(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    if !res.headers().contains_key("x-request-id") {
        let id = format!("req_{}", uuid::Uuid::now_v7().simple());
        if let Ok(v) = http::HeaderValue::from_str(&id) {
            res.headers_mut().insert("x-request-id", v);
        }
    }
    res
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

/// Parses a JSON body, naming the offending field as `param`. The body must be an
/// object (serde would also fill a struct from an array), and a number written with a
/// zero fraction (`3.0`) counts as an integer, as JSON Schema has it.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned + ToSchema>(
    bytes: &[u8],
) -> Result<T, crate::error::AdminError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| crate::error::AdminError::invalid(format!("Invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(crate::error::AdminError::invalid(
            "The body must be a JSON object",
        ));
    }
    integral_numbers(&mut value);
    if let Some(param) = array_for_object::<T>(&value) {
        return Err(crate::error::AdminError::Invalid {
            message: format!("Invalid JSON body: `{param}` must be an object"),
            param: Some(param),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        crate::error::AdminError::Invalid {
            message: format!("Invalid JSON body: {inner}"),
            param: (path != ".").then_some(path),
        }
    })
}

/// Where the body has an array in place of an object (serde fills a struct from an
/// array too, `[1, 2]` as `{"a": 1, "b": 2}`): the path, as the document's schema of
/// `T` says. The schema is the one the OpenAPI document shows, so both agree.
fn array_for_object<T: ToSchema>(body: &serde_json::Value) -> Option<String> {
    let mut deps = Vec::new();
    T::schemas(&mut deps);
    let defs: std::collections::HashMap<String, serde_json::Value> = deps
        .into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect();
    let root = serde_json::to_value(T::schema()).ok()?;
    misplaced_array(body, &root, &defs, String::new(), 0)
}

fn misplaced_array(
    value: &serde_json::Value,
    schema: &serde_json::Value,
    defs: &std::collections::HashMap<String, serde_json::Value>,
    at: String,
    depth: usize,
) -> Option<String> {
    use serde_json::Value;
    if depth > 32 {
        return None;
    }
    if let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        return misplaced_array(value, defs.get(name)?, defs, at, depth + 1);
    }
    if let Some(branches) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        if value.is_null() {
            return None;
        }
        let branch = branches.iter().find(|b| b["type"] != "null")?;
        return misplaced_array(value, branch, defs, at, depth + 1);
    }
    match value {
        Value::Array(items) => {
            if schema["type"] == "object" || schema.get("properties").is_some() {
                return Some(if at.is_empty() { ".".into() } else { at });
            }
            let item = schema.get("items")?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| misplaced_array(v, item, defs, format!("{at}[{i}]"), depth + 1))
        }
        Value::Object(fields) => {
            let props = schema["properties"].as_object()?;
            fields.iter().find_map(|(k, v)| {
                let sep = if at.is_empty() { "" } else { "." };
                misplaced_array(v, props.get(k)?, defs, format!("{at}{sep}{k}"), depth + 1)
            })
        }
        _ => None,
    }
}

/// Rewrites floats without a fraction (within `i64`) as integers, so that `3.0` fills a
/// `u32` field; a float field takes an integer anyway. (Nesting is bounded by
/// serde_json's recursion limit.)
fn integral_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64())
                && f.fract() == 0.0
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::spec::TeamSpec;

    fn param(body: &str) -> Option<String> {
        match parse_body::<TeamSpec>(body.as_bytes()) {
            Err(crate::error::AdminError::Invalid { param, .. }) => param,
            other => panic!("{body}: expected a 400, got {:?}", other.map(|t| t.name)),
        }
    }

    /// What serde would take but the document's schema refuses is refused.
    #[test]
    fn bodies_are_read_as_the_schema_says() {
        assert_eq!(param("[\"t\"]"), None);
        assert_eq!(
            param(r#"{"name": "t", "rate_limit": [1, 2]}"#).as_deref(),
            Some("rate_limit")
        );
        assert_eq!(
            param(r#"{"name": "t", "budget": {"usd": null, "tokens": 5, "period": "daily"}}"#)
                .as_deref(),
            Some("budget.usd")
        );
        // An integral float is an integer, as in JSON Schema.
        let t: TeamSpec =
            parse_body(br#"{"name": "t", "rate_limit": {"requests_per_minute": 60.0}}"#)
                .expect("60.0 is an integer");
        assert_eq!(t.rate_limit.and_then(|r| r.requests_per_minute), Some(60));
        assert_eq!(
            param(r#"{"name": "t", "rate_limit": {"requests_per_minute": 60.5}}"#).as_deref(),
            Some("rate_limit.requests_per_minute")
        );
    }
}
