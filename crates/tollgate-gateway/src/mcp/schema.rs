//! A tool's `inputSchema` and what each of its arguments becomes in the HTTP request
//! the call makes.
//!
//! A service route's arguments are flat: its path parameters, its query parameters
//! and, for a route that takes one, its body under `body`. Their schemas come from
//! the route's docs (an OpenAPI import keeps them, `$ref`s resolved:
//! [`tollgate_core::service_docs`]); without docs a path parameter is a string, the
//! query string is a free `query` object and a POST/PUT/PATCH route takes any JSON
//! `body`. A prompt-API's arguments are its variables (strings). Every schema is
//! closed (`additionalProperties: false`): an argument the call has no place for is
//! an error, not silently dropped.

use std::collections::BTreeSet;

use http::Method;
use serde_json::{Map, Value, json};
use tollgate_core::service_docs::{ParameterLocation, RouteDocs};
use tollgate_core::spec::{PromptApiSpec, ServiceRoute};

/// Where a route's arguments go.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteArgs {
    /// Path parameters in the order of the route's path; a catch-all (`{*rest}`) keeps
    /// its slashes.
    pub path: Vec<PathParam>,
    pub query: QueryArgs,
    pub body: Option<BodyArg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PathParam {
    pub name: String,
    pub catch_all: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryArgs {
    /// The documented query parameters (argument name = parameter name).
    Documented(Vec<String>),
    /// An undocumented route: the argument `key` holds the query parameters.
    Free { key: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BodyArg {
    /// The argument holding the body (`body`, unless a parameter took that name).
    pub key: String,
    /// Its `Content-Type`.
    pub media: String,
    /// A JSON body is sent serialized; any other is sent as the string given.
    pub json: bool,
}

/// The `{name}`s of a route path (`{*name}` is a catch-all).
pub fn path_params(path: &str) -> Vec<PathParam> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let raw = &after[..close];
        let (name, catch_all) = match raw.strip_prefix('*') {
            Some(n) => (n, true),
            None => (raw, false),
        };
        out.push(PathParam {
            name: name.to_string(),
            catch_all,
        });
        rest = &after[close + 1..];
    }
    out
}

/// Methods whose requests carry a body.
fn takes_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// `base`, or `base` with underscores added until no property has it.
fn free_key(base: &str, taken: &Map<String, Value>) -> String {
    let mut key = base.to_string();
    while taken.contains_key(&key) {
        key.push('_');
    }
    key
}

/// The input schema of a service route called with `method`, and where its arguments go.
pub fn route_schema(route: &ServiceRoute, method: &Method) -> (Map<String, Value>, RouteArgs) {
    let empty = RouteDocs::default();
    let docs = route.docs.as_ref().unwrap_or(&empty);
    let mut properties = Map::new();
    let mut required = BTreeSet::new();

    let path = path_params(&route.path);
    for p in &path {
        let doc = docs
            .parameters
            .iter()
            .find(|d| d.location == ParameterLocation::Path && d.name == p.name);
        let mut schema = doc
            .and_then(|d| d.schema.clone())
            .unwrap_or_else(|| object(json!({"type": "string"})));
        if let Some(d) = doc.and_then(|d| d.description.as_ref()) {
            schema
                .entry("description")
                .or_insert_with(|| Value::String(d.clone()));
        }
        properties.insert(p.name.clone(), Value::Object(schema));
        required.insert(p.name.clone());
    }

    let query = if route.docs.is_some() {
        let mut names = Vec::new();
        for d in docs
            .parameters
            .iter()
            .filter(|d| d.location == ParameterLocation::Query)
        {
            if properties.contains_key(&d.name) {
                continue;
            }
            let mut schema = d.schema.clone().unwrap_or_default();
            if let Some(desc) = &d.description {
                schema
                    .entry("description")
                    .or_insert_with(|| Value::String(desc.clone()));
            }
            properties.insert(d.name.clone(), Value::Object(schema));
            if d.required {
                required.insert(d.name.clone());
            }
            names.push(d.name.clone());
        }
        QueryArgs::Documented(names)
    } else {
        let key = free_key("query", &properties);
        properties.insert(
            key.clone(),
            json!({
                "type": "object",
                "description": "Query string parameters",
                "additionalProperties": {"type": ["string", "number", "integer", "boolean"]},
            }),
        );
        QueryArgs::Free { key }
    };

    let body = match &docs.request_body {
        Some(b) => {
            let chosen = b
                .content
                .iter()
                .find(|(m, _)| m.as_str() == "application/json")
                .or_else(|| b.content.iter().find(|(m, _)| m.contains("json")))
                .or_else(|| b.content.iter().next());
            let (media, schema) = match chosen {
                Some((m, doc)) => (m.clone(), doc.schema.clone()),
                None => ("application/json".to_string(), None),
            };
            let is_json = media.contains("json");
            let mut schema = if is_json {
                schema.unwrap_or_default()
            } else {
                object(json!({"type": "string"}))
            };
            if let Some(d) = &b.description {
                schema
                    .entry("description")
                    .or_insert_with(|| Value::String(d.clone()));
            }
            let key = free_key("body", &properties);
            properties.insert(key.clone(), Value::Object(schema));
            if b.required {
                required.insert(key.clone());
            }
            Some(BodyArg {
                key,
                media,
                json: is_json,
            })
        }
        None if route.docs.is_none() && takes_body(method) => {
            let key = free_key("body", &properties);
            properties.insert(
                key.clone(),
                json!({"description": "The request body (JSON)"}),
            );
            Some(BodyArg {
                key,
                media: "application/json".into(),
                json: true,
            })
        }
        None => None,
    };

    (
        closed_object(properties, required),
        RouteArgs { path, query, body },
    )
}

/// The input schema of a prompt-API: its variables.
pub fn prompt_schema(spec: &PromptApiSpec) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut required = BTreeSet::new();
    for v in &spec.variables {
        let mut schema = object(json!({"type": "string"}));
        if let Some(d) = &v.default {
            schema.insert("default".into(), Value::String(d.clone()));
        }
        properties.insert(v.name.clone(), Value::Object(schema));
        if v.required && v.default.is_none() {
            required.insert(v.name.clone());
        }
    }
    closed_object(properties, required)
}

fn closed_object(properties: Map<String, Value>, required: BTreeSet<String>) -> Map<String, Value> {
    let mut schema = object(json!({"type": "object", "properties": properties}));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), Value::Bool(false));
    schema
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tollgate_core::service_docs::{MediaDoc, ParameterDoc, RequestBodyDoc};

    fn route(path: &str, docs: Option<RouteDocs>) -> ServiceRoute {
        ServiceRoute {
            name: "r".into(),
            methods: vec!["POST".into()],
            path: path.into(),
            rewrite: None,
            docs,
        }
    }

    #[test]
    fn undocumented_route_takes_path_params_free_query_and_any_body() {
        let (schema, args) = route_schema(&route("/a/{city}/{*rest}", None), &Method::POST);
        assert_eq!(schema["required"], json!(["city", "rest"]));
        assert_eq!(schema["properties"]["city"], json!({"type": "string"}));
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["properties"]["query"].is_object());
        assert!(schema["properties"]["body"].is_object());
        assert_eq!(
            args.path,
            vec![
                PathParam {
                    name: "city".into(),
                    catch_all: false
                },
                PathParam {
                    name: "rest".into(),
                    catch_all: true
                }
            ]
        );
        assert_eq!(
            args.query,
            QueryArgs::Free {
                key: "query".into()
            }
        );
        assert_eq!(args.body.unwrap().key, "body");
        let (schema, args) = route_schema(&route("/a", None), &Method::GET);
        assert!(args.body.is_none());
        assert!(schema.get("required").is_none());
    }

    #[test]
    fn documented_route_takes_its_documented_schemas() {
        let docs = RouteDocs {
            parameters: vec![
                ParameterDoc {
                    name: "id".into(),
                    location: ParameterLocation::Path,
                    required: true,
                    description: Some("The id".into()),
                    schema: Some(object(json!({"type": "integer"}))),
                },
                ParameterDoc {
                    name: "body".into(),
                    location: ParameterLocation::Query,
                    required: true,
                    description: None,
                    schema: Some(object(json!({"type": "boolean"}))),
                },
            ],
            request_body: Some(RequestBodyDoc {
                description: None,
                required: true,
                content: BTreeMap::from([(
                    "application/json".to_string(),
                    MediaDoc {
                        schema: Some(object(json!({"type": "object",
                            "properties": {"n": {"type": "integer"}}, "required": ["n"]}))),
                    },
                )]),
            }),
            ..RouteDocs::default()
        };
        let (schema, args) = route_schema(&route("/items/{id}", Some(docs)), &Method::POST);
        assert_eq!(
            schema["properties"]["id"],
            json!({"type": "integer", "description": "The id"})
        );
        assert_eq!(schema["properties"]["body"], json!({"type": "boolean"}));
        assert_eq!(schema["properties"]["body_"]["required"], json!(["n"]));
        assert_eq!(schema["required"], json!(["body", "body_", "id"]));
        assert_eq!(args.query, QueryArgs::Documented(vec!["body".into()]));
        let body = args.body.unwrap();
        assert_eq!((body.key.as_str(), body.json), ("body_", true));
    }

    #[test]
    fn prompt_variables_without_a_default_are_required_if_declared_so() {
        let spec: PromptApiSpec = serde_json::from_value(json!({
            "name": "p", "path": "/prompt/p", "model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": "{{text}} {{language}}"}],
            "variables": [{"name": "text", "required": true},
                          {"name": "language", "default": "English"}],
        }))
        .unwrap();
        let s = prompt_schema(&spec);
        assert_eq!(s["required"], json!(["text"]));
        assert_eq!(s["properties"]["language"]["default"], "English");
        assert_eq!(s["additionalProperties"], false);
    }
}
