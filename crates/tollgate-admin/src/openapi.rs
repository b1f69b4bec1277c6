//! The OpenAPI 3 document of the admin API, generated from the handlers' annotations.
//!
//! Conventions every operation follows (checked by the tests below and, against the
//! running server, by schemathesis in `crates/tollgate/tests/schemathesis.rs`):
//! - every status it can answer is documented; errors use the shared responses of
//!   [`crate::error::responses`] (`(status = 404, response = NotFound)`), whose body is
//!   the error envelope. 401 and 403 are added here to every authenticated operation.
//! - an operation answering something another operation uses (a name, an id) says so
//!   with OpenAPI `links`, so that clients and stateful tests can follow them.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{PathItem, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::responses::{BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate admin API", description = "Manage providers, models, teams, consumers and keys. Authenticate with the admin token or a console session as `Authorization: Bearer` (or the session cookie, in which case every write must also carry the session's `x-csrf-token`). Roles: `admin` (everything; the admin token acts as admin), `operator` (every resource but users), `viewer` (GET only), `developer` (nothing here: the developer portal). A role that may not make a request gets 403 `permission_error`. Every error is in the OpenAI envelope (`ErrorEnvelope`)."),
    paths(
        routes::healthz, routes::readyz, routes::metrics,
        routes::login, routes::logout, routes::session_info,
        routes::list_providers, routes::create_provider, routes::get_provider, routes::put_provider, routes::delete_provider,
        routes::list_models, routes::create_model, routes::get_model, routes::put_model, routes::delete_model,
        routes::list_teams, routes::create_team, routes::get_team, routes::put_team, routes::delete_team,
        routes::list_consumers, routes::create_consumer, routes::get_consumer, routes::put_consumer, routes::delete_consumer,
        routes::list_keys, routes::create_key, routes::get_key, routes::revoke_key,
        routes::list_credentials, routes::create_credential, routes::delete_credential,
        routes::list_subscriptions, routes::create_subscription, routes::get_subscription,
        routes::approve_subscription, routes::reject_subscription, routes::revoke_subscription,
        routes::list_audit,
        routes::list_alerts, routes::create_alert, routes::get_alert, routes::put_alert, routes::delete_alert,
        routes::consumer_usage, routes::list_credits, routes::add_credits,
        routes::routing_state,
        routes::list_services, routes::create_service, routes::get_service, routes::put_service, routes::delete_service, routes::put_service_lifecycle,
        routes::import_service, routes::export_service_openapi,
        routes::create_service_release, routes::list_service_releases, routes::diff_service_release, routes::publish_service_release,
        routes::list_masking_rules, routes::create_masking_rule, routes::get_masking_rule, routes::put_masking_rule, routes::delete_masking_rule,
        routes::list_prompt_apis, routes::create_prompt_api, routes::get_prompt_api, routes::put_prompt_api, routes::delete_prompt_api, routes::put_prompt_api_lifecycle,
        routes::list_calls, routes::get_call, routes::explain_call, routes::export_calls,
        routes::analytics_timeseries, routes::analytics_top,
        routes::playground_chat,
        routes::list_users, routes::create_user, routes::get_user, routes::put_user, routes::delete_user,
    ),
    components(
        schemas(crate::error::ErrorEnvelope),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge),
    ),
    modifiers(&BearerAuth, &AuthErrors, &DeriveFixes),
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

/// Adds 401 and 403 to every operation that needs a token, and 413 to every one that
/// takes a body: the [`crate::auth::require_admin`] middleware answers the first two
/// for every protected route, and [`crate::routes::envelope_too_large`] the third, so no
/// handler has to remember to list them.
struct AuthErrors;

fn operations_mut(
    item: &mut PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Schema constraints the derive cannot write: utoipa-gen 5.5 turns
/// `#[schema(min_properties = ..)]` into `maxProperties`. A budget has `period` and
/// exactly one of `usd` or `tokens`: two properties.
struct DeriveFixes;

impl Modify for DeriveFixes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let budget = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("BudgetSpec"));
        if let Some(RefOr::T(utoipa::openapi::Schema::Object(o))) = budget {
            o.min_properties = Some(2);
            o.max_properties = Some(2);
        }
    }
}

impl Modify for AuthErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        add_auth_errors(openapi);
    }
}

/// What [`AuthErrors`] does, for the portal's document too.
pub(crate) fn add_auth_errors(openapi: &mut utoipa::openapi::OpenApi) {
    {
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                if op.security.as_ref().is_none_or(Vec::is_empty) {
                    continue;
                }
                let body = op.request_body.is_some().then_some(("413", "TooLarge"));
                for (status, name) in [("401", "Unauthorized"), ("403", "Forbidden")]
                    .into_iter()
                    .chain(body)
                {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
                        });
                }
            }
        }
    }
}

/// The admin API's document as served.
pub fn document_value() -> serde_json::Value {
    served(AdminApi::openapi())
}

/// A document as served: utoipa 5.5 writes a link's fields in snake_case
/// (`operation_id`), which OpenAPI tools do not read, so they are renamed here.
pub(crate) fn served(api: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for op in paths
            .values_mut()
            .filter_map(|i| i.as_object_mut())
            .flat_map(|i| i.values_mut())
        {
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            for links in responses.values_mut().filter_map(|r| r.get_mut("links")) {
                for link in links
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|l| l.values_mut())
                {
                    let Some(link) = link.as_object_mut() else {
                        continue;
                    };
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(v) = link.remove(from) {
                            link.insert(to.to_string(), v);
                        }
                    }
                }
            }
        }
    }
    doc
}

pub async fn document() -> Json<serde_json::Value> {
    Json(document_value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc() -> Value {
        document_value()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    /// Every error an operation can answer is documented with the error envelope: 401
    /// and 403 when authenticated, 404 with a path parameter, 400 with a body or query.
    #[test]
    fn every_operation_documents_its_errors() {
        let doc = doc();
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().expect("responses");
            let has = |s: &str| responses.contains_key(s);
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let at = format!("{method} {path}");
            if secured {
                assert!(has("401") && has("403"), "{at}: 401/403");
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if params.iter().any(|p| p["in"] == "path") {
                assert!(has("404"), "{at}: a path parameter needs 404");
            }
            if op.get("requestBody").is_some() || params.iter().any(|p| p["in"] == "query") {
                assert!(has("400"), "{at}: a body or query needs 400");
            }
            for (status, response) in responses {
                if status.starts_with('4') {
                    let name = response["$ref"].as_str().unwrap_or_default();
                    assert!(
                        name.starts_with("#/components/responses/"),
                        "{at} {status}: use a shared error response, not {response}"
                    );
                }
            }
        }
        for (name, response) in doc["components"]["responses"]
            .as_object()
            .expect("responses")
        {
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorEnvelope",
                "{name}"
            );
        }
    }

    /// Links name operations that exist, with parameters those operations have.
    #[test]
    fn links_point_at_real_operations() {
        let doc = doc();
        let ops = operations(&doc);
        let mut seen = 0;
        for (path, method, op) in &ops {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let Some(links) = response["links"].as_object() else {
                    continue;
                };
                for (name, link) in links {
                    seen += 1;
                    let target = link["operationId"].as_str().expect("operationId");
                    let (_, _, target_op) = ops
                        .iter()
                        .find(|(_, _, o)| o["operationId"] == target)
                        .unwrap_or_else(|| {
                            panic!("{method} {path} {status} link {name}: no {target}")
                        });
                    let params = target_op["parameters"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    for (p, _) in link["parameters"].as_object().expect("parameters") {
                        assert!(
                            params.iter().any(|q| q["name"] == p.as_str()),
                            "link {name} to {target}: no parameter {p}"
                        );
                    }
                }
            }
        }
        assert!(seen >= 20, "{seen} links");
        // Every operation with a path parameter is reachable through a link.
        for (path, method, op) in &ops {
            let needs = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
            if !needs {
                continue;
            }
            let id = &op["operationId"];
            let linked = ops.iter().any(|(_, _, o)| {
                o["responses"].as_object().is_some_and(|rs| {
                    rs.values().any(|r| {
                        r["links"]
                            .as_object()
                            .is_some_and(|ls| ls.values().any(|l| &l["operationId"] == id))
                    })
                })
            });
            assert!(linked, "{method} {path}: no link leads to it");
        }
    }

    /// Answers carry their bookkeeping, and each resource has its own schema.
    #[test]
    fn resource_views_have_their_own_schemas() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        for (view, field) in [
            ("ModelView", "targets"),
            ("TeamView", "budget"),
            ("ConsumerView", "team"),
        ] {
            let props = schemas[view]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{view}"));
            for f in [field, "name", "source", "created_at", "updated_at"] {
                assert!(props.contains_key(f), "{view}.{f}");
            }
        }
        let get_model = &doc["paths"]["/admin/v1/models/{name}"]["get"]["responses"]["200"];
        assert_eq!(
            get_model["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ModelView"
        );
    }
}
