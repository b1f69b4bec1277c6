//! What a service route does and takes, as an OpenAPI operation describes it: kept
//! with the route by an OpenAPI import, shown again by the export, and the input
//! schemas later tools (MCP) build on. Schemas are JSON Schema as OpenAPI 3.1 has it,
//! self-contained: an import resolves every `$ref` against the document's components,
//! so a route's docs can be read without the document they came from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{ServiceRoute, ServiceUpstream};

/// A JSON Schema (OpenAPI 3.1 / JSON Schema 2020-12), an object. An import leaves no
/// `$ref` in it (a recursive one becomes `{}` with a `$comment` naming it).
pub type JsonSchema = serde_json::Map<String, serde_json::Value>;

/// The documentation of one route: an OpenAPI operation without its method and path
/// (the route has those).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDocs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Path, query, header and cookie parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBodyDoc>,
    /// By status code (`200`, `4XX`) or `default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub responses: BTreeMap<String, ResponseDoc>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    Cookie,
}

impl ParameterLocation {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterLocation::Path => "path",
            ParameterLocation::Query => "query",
            ParameterLocation::Header => "header",
            ParameterLocation::Cookie => "cookie",
        }
    }
}

/// One parameter of a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterDoc {
    #[schema(min_length = 1, example = "city")]
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParameterLocation,
    /// A `path` parameter is always required.
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<JsonSchema>,
}

/// A route's request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBodyDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// By media type (`application/json`).
    #[serde(default)]
    pub content: BTreeMap<String, MediaDoc>,
}

/// One answer of a route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseDoc {
    #[serde(default)]
    pub description: String,
    /// By media type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, MediaDoc>,
}

/// A body's shape in one media type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<JsonSchema>,
}

/// What a service release keeps: the parts that make up the API as published (its
/// routes with their docs, and where they go). The service's name, prefix, lifecycle,
/// credentials and limits are not part of a release: publishing one leaves them be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSnapshot {
    pub upstream: ServiceUpstream,
    #[serde(default)]
    pub routes: Vec<ServiceRoute>,
}
