//! `POST /admin/v1/services/import` and `GET /admin/v1/services/{name}/openapi.json`:
//! a service from an OpenAPI document, and a service as one. The conversions are in
//! [`crate::oas`]; this is the HTTP around them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use tollgate_core::spec::{ServiceSpec, ServiceUpstream};
use utoipa::ToSchema;

use super::resource::{self, AdminResource};
use super::services::ServiceView;
use crate::error::AdminError;
use crate::error::responses::{BadRequest, Conflict, NotFound};
use crate::oas;
use crate::state::AdminState;

/// The largest document an import takes (real-world API descriptions run to a few MiB).
pub(crate) const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

/// An import: an OpenAPI 3.0 or 3.1 document (any of its fields) with three more
/// top-level fields that make it a service.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceImport {
    /// The document's OpenAPI version: `3.0.x` or `3.1.x`.
    #[schema(pattern = "^3\\.[01]\\.[0-9]+$", example = "3.1.0")]
    openapi: String,
    info: ImportInfo,
    /// The document's Paths Object: a route per operation.
    #[schema(value_type = Object)]
    paths: Value,
    /// The document's Components Object, which `$ref`s point into.
    #[schema(value_type = Option<Object>)]
    components: Option<Value>,
    /// The service's name.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    name: String,
    /// On the gateway listener, e.g. `/svc/weather`.
    #[schema(min_length = 2, pattern = "^/[^{}*]*[^/]$", example = "/svc/pets")]
    path_prefix: String,
    upstream: ServiceUpstream,
}

/// The document's Info Object (other fields of it are allowed and ignored).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportInfo {
    title: String,
    /// The API's version (not the OpenAPI version).
    version: String,
    /// Becomes the service's description (else `title` does).
    description: Option<String>,
}

/// An OpenAPI 3.1 document describing a service as consumers reach it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ServiceOpenApi {
    #[schema(example = "3.1.0")]
    openapi: String,
    /// `title` is the service's name, `version` its last change (RFC 3339).
    #[schema(value_type = Object)]
    info: Value,
    /// The gateway.
    #[schema(value_type = Vec<Object>)]
    servers: Vec<Value>,
    /// The routes, under their paths on the gateway (`path_prefix` + route path).
    #[schema(value_type = Object)]
    paths: Value,
    /// The credentials the gateway takes for this service.
    #[schema(value_type = Object)]
    components: Value,
    #[schema(value_type = Vec<Object>)]
    security: Vec<Value>,
}

#[utoipa::path(post, path = "/admin/v1/services/import", tag = "services",
    operation_id = "import_service",
    request_body(description = "An OpenAPI 3.0 or 3.1 document with `name`, `path_prefix` and `upstream` added, as JSON or YAML (by `Content-Type`)",
        content((ServiceImport = "application/json"), (ServiceImport = "application/yaml"))),
    responses((status = 201, description = "The service, with a route per operation", body = ServiceView, links(
            ("get" = (operation_id = "get_service", parameters(("name" = "$response.body#/name")))),
            ("openapi" = (operation_id = "export_service_openapi", parameters(("name" = "$response.body#/name")))),
            ("releases" = (operation_id = "list_service_releases", parameters(("name" = "$response.body#/name")))),
            ("release" = (operation_id = "create_service_release", parameters(("name" = "$response.body#/name")))),
            ("delete" = (operation_id = "delete_service", parameters(("name" = "$response.body#/name"))))
        )), (status = 400, response = BadRequest),
        (status = 409, response = Conflict)),
    security(("bearer" = [])))]
pub(crate) async fn import_service(
    State(st): State<AdminState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<ServiceView>), AdminError> {
    // Too large or cut short: in the error envelope, not axum's plain text.
    let body = body.map_err(|e| {
        let message = format!(
            "The document could not be read (at most {} MiB): {e}",
            MAX_IMPORT_BYTES >> 20
        );
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge(message)
        } else {
            AdminError::invalid(message)
        }
    })?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let doc = oas::parse_body(content_type, &body)?;
    let imported = oas::import(doc)?;
    // The service checks, pointed at the operations they are about.
    let issues: Vec<_> = tollgate_config::check_service(&imported.spec)
        .into_iter()
        .map(|issue| at_operation(issue, &imported.spec, &imported.origins))
        .collect();
    resource::issues(issues)?;
    resource::insert(&st, imported.spec).await
}

/// `routes[3].path: ...` as `paths./pets.get: route `getPet` (path): ...`.
fn at_operation(
    issue: tollgate_config::Issue,
    spec: &ServiceSpec,
    origins: &[String],
) -> tollgate_config::Issue {
    let Some(rest) = issue.path.strip_prefix("routes[") else {
        return issue;
    };
    let Some((index, field)) = rest.split_once(']') else {
        return issue;
    };
    let (Ok(i), field) = (index.parse::<usize>(), field.trim_start_matches('.')) else {
        return issue;
    };
    match (origins.get(i), spec.routes.get(i)) {
        (Some(origin), Some(route)) if field.is_empty() => tollgate_config::Issue::new(
            origin.clone(),
            format!("route `{}`: {}", route.name, issue.message),
        ),
        (Some(origin), Some(route)) => tollgate_config::Issue::new(
            origin.clone(),
            format!("route `{}` ({field}): {}", route.name, issue.message),
        ),
        _ => issue,
    }
}

#[utoipa::path(get, path = "/admin/v1/services/{name}/openapi.json", tag = "services",
    operation_id = "export_service_openapi", params(("name" = String, Path)),
    responses((status = 200, description = "The service's routes as an OpenAPI 3.1 document; `servers` is the gateway", body = ServiceOpenApi),
        (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub(crate) async fn export_service_openapi(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AdminError> {
    let Some(stored) = ServiceSpec::fetch(&st.store, &name).await? else {
        return Err(AdminError::NotFound(format!("No service named `{name}`")));
    };
    let server = st.gateway_url.for_request(&headers);
    let version = stored
        .updated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Ok(Json(oas::document(&stored.spec, &server, &version)))
}
