//! From an OpenAPI 3.0 / 3.1 document (plus `name`, `path_prefix` and `upstream`) to a
//! service with a route per operation.
//!
//! The document is validated and its operations listed by the maintained crates
//! (`openapiv3` for 3.0, `oas3` for 3.1); parameters, bodies and answers are then read
//! from the document's JSON with every `$ref` resolved ([`super::resolve`]), so their
//! schemas are kept as written, self-contained, and in the 3.1 form whatever the
//! document's version.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};
use tollgate_core::service_docs::{
    JsonSchema, MediaDoc, ParameterDoc, ParameterLocation, RequestBodyDoc, ResponseDoc, RouteDocs,
};
use tollgate_core::spec::{ServiceRoute, ServiceSpec, ServiceUpstream};

use super::ImportError;
use super::resolve::{Resolver, upgrade_30_schema};

/// A service made from a document.
#[derive(Debug)]
pub(crate) struct Imported {
    pub spec: ServiceSpec,
    /// Where each route came from (`paths./pets/{id}.get`), by route index, so that a
    /// problem with a route can be pointed at in the document.
    pub origins: Vec<String>,
}

/// Reads the body as JSON or YAML, as its `Content-Type` says.
pub(crate) fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, ImportError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    let yaml = matches!(
        essence.as_str(),
        "application/yaml"
            | "application/x-yaml"
            | "text/yaml"
            | "text/x-yaml"
            | "application/vnd.oai.openapi"
    );
    if json {
        serde_json::from_slice(body).map_err(|e| ImportError::Syntax {
            format: "JSON",
            message: e.to_string(),
        })
    } else if yaml {
        let text = std::str::from_utf8(body).map_err(|_| ImportError::Syntax {
            format: "YAML",
            message: "it is not UTF-8".into(),
        })?;
        serde_saphyr::from_str::<Value>(text).map_err(|e| ImportError::Syntax {
            format: "YAML",
            message: e.to_string(),
        })
    } else if essence.is_empty() {
        Err(ImportError::ContentType("none".into()))
    } else {
        Err(ImportError::ContentType(essence))
    }
}

/// One operation as the typed document lists it.
struct Operation {
    path: String,
    /// Lower case, as in the document (`get`).
    method: String,
    operation_id: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
}

/// The service a document describes.
pub(crate) fn import(mut doc: Value) -> Result<Imported, ImportError> {
    let Value::Object(top) = &mut doc else {
        return Err(ImportError::NotAnObject);
    };
    let name = take_string(top, "name")?;
    let path_prefix = take_string(top, "path_prefix")?;
    let upstream = top.remove("upstream").ok_or_else(|| ImportError::Field {
        field: "upstream".into(),
        message: "is required: where the service's requests go (`{\"nodes\": [{\"url\": ...}]}`)"
            .into(),
    })?;
    let upstream: ServiceUpstream = serde_path_to_error::deserialize(upstream).map_err(|e| {
        let path = e.path().to_string();
        ImportError::Field {
            field: if path == "." {
                "upstream".into()
            } else {
                format!("upstream.{path}")
            },
            message: format!("is invalid: {}", e.into_inner()),
        }
    })?;
    let version = match top.get("openapi").and_then(Value::as_str) {
        Some(v) if patch_of(v, "3.0.") => Version::V30,
        Some(v) if patch_of(v, "3.1.") => Version::V31,
        _ => return Err(ImportError::Version),
    };
    check_path_keys(&doc, version)?;
    let operations = match version {
        Version::V30 => operations_30(&doc)?,
        Version::V31 => operations_31(&doc)?,
    };
    if operations.is_empty() {
        return Err(ImportError::NoOperations);
    }

    let mut resolver = Resolver::new(&doc);
    let taken: HashSet<String> = operations
        .iter()
        .filter_map(|o| o.operation_id.clone())
        .filter(|id| !id.trim().is_empty())
        .collect();
    let mut derived = HashSet::new();
    let mut routes = Vec::with_capacity(operations.len());
    let mut origins = Vec::with_capacity(operations.len());
    for op in operations {
        let at = format!("paths.{}.{}", op.path, op.method);
        let docs = route_docs(&doc, &op, &at, version, &mut resolver)?;
        let name = match op.operation_id.filter(|id| !id.trim().is_empty()) {
            Some(id) => id,
            None => unique(derive_name(&op.method, &op.path), &taken, &mut derived),
        };
        routes.push(ServiceRoute {
            name,
            methods: vec![op.method.to_ascii_uppercase()],
            path: op.path,
            rewrite: None,
            docs: (docs != RouteDocs::default()).then_some(docs),
        });
        origins.push(at);
    }

    let info = &doc["info"];
    let description = info["description"]
        .as_str()
        .or(info["title"].as_str())
        .map(str::to_string);
    // Built through serde so that service fields added later with defaults need no
    // change here.
    let base = serde_json::json!({"name": name, "path_prefix": path_prefix, "upstream": upstream});
    let mut spec: ServiceSpec = serde_json::from_value(base).map_err(|e| ImportError::Field {
        field: "name".into(),
        message: format!("is invalid: {e}"),
    })?;
    spec.routes = routes;
    spec.description = description;
    Ok(Imported { spec, origins })
}

/// Whether `version` is `minor` followed by a patch number (`3.1.` + `0`).
fn patch_of(version: &str, minor: &str) -> bool {
    version
        .strip_prefix(minor)
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V30,
    V31,
}

impl Version {
    fn as_str(self) -> &'static str {
        match self {
            Version::V30 => "3.0",
            Version::V31 => "3.1",
        }
    }
}

fn take_string(top: &mut Map<String, Value>, field: &str) -> Result<String, ImportError> {
    match top.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ImportError::Field {
            field: field.into(),
            message: "must be a string".into(),
        }),
        None => Err(ImportError::Field {
            field: field.into(),
            message: "is required beside the OpenAPI document's own fields".into(),
        }),
    }
}

/// The typed parsers skip `paths` keys that do not start with `/` (they take them for
/// extensions): a typo there would vanish silently, so it is refused instead.
fn check_path_keys(doc: &Value, version: Version) -> Result<(), ImportError> {
    let Some(paths) = doc["paths"].as_object() else {
        return Ok(());
    };
    match paths
        .keys()
        .find(|k| !k.starts_with('/') && !k.starts_with("x-"))
    {
        Some(k) => Err(ImportError::Structure {
            version: version.as_str(),
            path: format!("paths.{k}"),
            message: "a path must start with `/`".into(),
        }),
        None => Ok(()),
    }
}

/// Validates the document with `D` (the crate's document type) and each path item
/// with `P` (its path item type), separately: the crates read `paths` through a
/// custom map reader that hides where in it an error is, and the path item is what an
/// error should name. Returns each path with its parsed item, in document order.
fn parse_typed<D, P>(doc: &Value, version: Version) -> Result<Vec<(String, P)>, ImportError>
where
    D: serde::de::DeserializeOwned,
    P: serde::de::DeserializeOwned,
{
    let shell: Map<String, Value> = doc
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = if k == "paths" {
                Value::Object(Map::new())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    read::<D>(Value::Object(shell), "", version)?;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if path.starts_with("x-") {
            continue;
        }
        let item = read::<P>(item.clone(), &format!("paths.{path}"), version)?;
        out.push((path.clone(), item));
    }
    Ok(out)
}

fn operations_30(doc: &Value) -> Result<Vec<Operation>, ImportError> {
    let items = parse_typed::<openapiv3::OpenAPI, openapiv3::ReferenceOr<openapiv3::PathItem>>(
        doc,
        Version::V30,
    )?;
    let mut out = Vec::new();
    for (path, item) in items {
        let openapiv3::ReferenceOr::Item(item) = item else {
            return Err(ImportError::PathItemRef(format!("paths.{path}")));
        };
        for (method, op) in item.iter() {
            out.push(Operation {
                path: path.clone(),
                method: method.to_string(),
                operation_id: op.operation_id.clone(),
                summary: op.summary.clone(),
                description: op.description.clone(),
                tags: op.tags.clone(),
            });
        }
    }
    Ok(out)
}

fn operations_31(doc: &Value) -> Result<Vec<Operation>, ImportError> {
    let items = parse_typed::<oas3::Spec, oas3::spec::PathItem>(doc, Version::V31)?;
    let mut out = Vec::new();
    for (path, item) in items {
        if item.reference.is_some() {
            return Err(ImportError::PathItemRef(format!("paths.{path}")));
        }
        for (method, op) in item.methods() {
            out.push(Operation {
                path: path.clone(),
                method: method.as_str().to_ascii_lowercase(),
                operation_id: op.operation_id.clone(),
                summary: op.summary.clone(),
                description: op.description.clone(),
                tags: op.tags.clone(),
            });
        }
    }
    Ok(out)
}

/// A parameter as OpenAPI writes it (after `$ref` resolution); fields Tollgate does not
/// keep (`style`, `example`, ...) are ignored.
#[derive(Deserialize)]
struct RawParameter {
    name: String,
    #[serde(rename = "in")]
    location: ParameterLocation,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    content: Option<BTreeMap<String, RawMedia>>,
}

#[derive(Deserialize)]
struct RawMedia {
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Deserialize)]
struct RawRequestBody {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    content: BTreeMap<String, RawMedia>,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    content: BTreeMap<String, RawMedia>,
}

fn read<T: serde::de::DeserializeOwned>(
    value: Value,
    at: &str,
    version: Version,
) -> Result<T, ImportError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        ImportError::Structure {
            version: version.as_str(),
            path: match (at.is_empty(), inner == ".") {
                (_, true) => at.to_string(),
                (true, false) => inner,
                (false, false) => format!("{at}.{inner}"),
            },
            message: e.into_inner().to_string(),
        }
    })
}

fn route_docs(
    doc: &Value,
    op: &Operation,
    at: &str,
    version: Version,
    resolver: &mut Resolver<'_>,
) -> Result<RouteDocs, ImportError> {
    let item = &doc["paths"][op.path.as_str()];
    let raw = &item[op.method.as_str()];

    // Path-level parameters, overridden by the operation's own (same name and place).
    let mut parameters: Vec<ParameterDoc> = Vec::new();
    let lists = [
        (&item["parameters"], format!("paths.{}.parameters", op.path)),
        (&raw["parameters"], format!("{at}.parameters")),
    ];
    for (list, list_at) in lists {
        for (i, p) in list.as_array().into_iter().flatten().enumerate() {
            let here = format!("{list_at}[{i}]");
            let p: RawParameter = read(resolver.resolve(p, &here)?, &here, version)?;
            let param = parameter(p, version);
            parameters.retain(|q| (q.location, &q.name) != (param.location, &param.name));
            parameters.push(param);
        }
    }

    let request_body = match raw.get("requestBody") {
        Some(b) => {
            let here = format!("{at}.requestBody");
            let b: RawRequestBody = read(resolver.resolve(b, &here)?, &here, version)?;
            Some(RequestBodyDoc {
                description: b.description,
                required: b.required,
                content: media(b.content, version),
            })
        }
        None => None,
    };

    let mut responses = BTreeMap::new();
    for (code, r) in raw["responses"].as_object().into_iter().flatten() {
        let here = format!("{at}.responses.{code}");
        let r: RawResponse = read(resolver.resolve(r, &here)?, &here, version)?;
        responses.insert(
            code.clone(),
            ResponseDoc {
                description: r.description.unwrap_or_default(),
                content: media(r.content, version),
            },
        );
    }

    Ok(RouteDocs {
        summary: op.summary.clone(),
        description: op.description.clone(),
        tags: op.tags.clone(),
        parameters,
        request_body,
        responses,
    })
}

fn parameter(p: RawParameter, version: Version) -> ParameterDoc {
    // A parameter described by `content` instead of `schema`: its one media type's.
    let schema = p.schema.or_else(|| {
        p.content
            .and_then(|c| c.into_values().next())
            .and_then(|m| m.schema)
    });
    ParameterDoc {
        required: p.required || p.location == ParameterLocation::Path,
        name: p.name,
        location: p.location,
        description: p.description,
        schema: schema.map(|s| json_schema(s, version)),
    }
}

fn media(content: BTreeMap<String, RawMedia>, version: Version) -> BTreeMap<String, MediaDoc> {
    content
        .into_iter()
        .map(|(kind, m)| {
            (
                kind,
                MediaDoc {
                    schema: m.schema.map(|s| json_schema(s, version)),
                },
            )
        })
        .collect()
}

/// A resolved schema as a JSON Schema object in the 3.1 form. (3.1 allows boolean
/// schemas; they become their object equivalents.)
fn json_schema(mut schema: Value, version: Version) -> JsonSchema {
    if version == Version::V30 {
        upgrade_30_schema(&mut schema);
    }
    match schema {
        Value::Object(map) => map,
        Value::Bool(false) => {
            let mut not = Map::new();
            not.insert("not".into(), Value::Object(Map::new()));
            not
        }
        // `true`, and anything the typed parser let through that is not a schema.
        _ => Map::new(),
    }
}

/// A stable route name for an operation without `operationId`: the method and the
/// path's segments, e.g. `get_pets_petId` for `GET /pets/{petId}`.
fn derive_name(method: &str, path: &str) -> String {
    let mut out = method.to_ascii_lowercase();
    let mut segments = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        segments += 1;
        out.push('_');
        for c in segment.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        while out.ends_with('_') {
            out.pop();
        }
    }
    if segments == 0 {
        out.push_str("_root");
    }
    out
}

/// `name`, or `name_2`, `name_3`, ... when an operation id or an earlier derived name
/// has it.
fn unique(name: String, taken: &HashSet<String>, derived: &mut HashSet<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 1;
    while taken.contains(&candidate) || derived.contains(&candidate) {
        n += 1;
        candidate = format!("{name}_{n}");
    }
    derived.insert(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base(extra: Value) -> Value {
        let mut doc = json!({
            "name": "pets", "path_prefix": "/svc/pets",
            "upstream": {"nodes": [{"url": "http://127.0.0.1:9"}]},
        });
        if let (Some(d), Value::Object(e)) = (doc.as_object_mut(), extra) {
            d.extend(e);
        }
        doc
    }

    #[test]
    fn names_are_derived_stably_and_kept_unique() {
        assert_eq!(derive_name("get", "/pets/{petId}"), "get_pets_petId");
        assert_eq!(derive_name("post", "/"), "post_root");
        assert_eq!(derive_name("get", "/a-b/c.json"), "get_a_b_c_json");
        let taken: HashSet<String> = ["get_a".to_string()].into();
        let mut derived = HashSet::new();
        assert_eq!(unique("get_a".into(), &taken, &mut derived), "get_a_2");
        assert_eq!(unique("get_a".into(), &taken, &mut derived), "get_a_3");
        assert_eq!(unique("get_b".into(), &taken, &mut derived), "get_b");
    }

    #[test]
    fn a_30_yaml_document_becomes_routes_with_resolved_docs() {
        let yaml = r#"
openapi: 3.0.3
info: {title: Pets, version: "1"}
name: pets
path_prefix: /svc/pets
upstream: {nodes: [{url: "http://127.0.0.1:9"}]}
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: string}}
    get:
      operationId: getPet
      summary: One pet
      parameters:
        - $ref: '#/components/parameters/Verbose'
      responses:
        200:
          description: The pet
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
    delete:
      responses: {'204': {description: gone}}
components:
  parameters:
    Verbose: {name: verbose, in: query, schema: {type: boolean, nullable: true}}
  schemas:
    Pet:
      type: object
      properties: {name: {type: string}}
"#;
        let doc = parse_body(Some("application/yaml; charset=utf-8"), yaml.as_bytes())
            .expect("yaml parses");
        let imported = import(doc).expect("imports");
        let routes = &imported.spec.routes;
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].name, "getPet");
        assert_eq!(routes[0].methods, vec!["GET"]);
        assert_eq!(routes[0].path, "/pets/{petId}");
        assert_eq!(routes[1].name, "delete_pets_petId");
        let docs = routes[0].docs.as_ref().expect("docs");
        assert_eq!(docs.summary.as_deref(), Some("One pet"));
        assert_eq!(docs.parameters.len(), 2);
        assert_eq!(docs.parameters[1].name, "verbose");
        assert_eq!(
            Value::Object(docs.parameters[1].schema.clone().expect("schema")),
            json!({"type": ["boolean", "null"]})
        );
        let ok = &docs.responses["200"];
        assert_eq!(
            Value::Object(
                ok.content["application/json"]
                    .schema
                    .clone()
                    .expect("schema")
            ),
            json!({"type": "object", "properties": {"name": {"type": "string"}}})
        );
        assert_eq!(imported.origins[1], "paths./pets/{petId}.delete");
        assert_eq!(imported.spec.description.as_deref(), Some("Pets"));
    }

    #[test]
    fn bad_documents_say_where() {
        let err = |doc: Value| import(doc).expect_err("refused");
        let e = err(base(json!({"openapi": "2.0", "info": {}, "paths": {}})));
        assert_eq!(e.param().as_deref(), Some("openapi"));
        let e = err(base(
            json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"responses": {"200": {"description": 5}}}}}}),
        ));
        assert!(
            e.param().is_some_and(|p| p.starts_with("paths./a")),
            "{e} {:?}",
            e.param()
        );
        let e = err(base(
            json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}}}),
        ));
        assert_eq!(e.param().as_deref(), Some("paths./a.get.parameters[0]"));
        let e = err(base(
            json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"a": {}}}),
        ));
        assert_eq!(e.param().as_deref(), Some("paths.a"));
        let e = err(base(
            json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}),
        ));
        assert!(matches!(e, ImportError::NoOperations));
        let mut no_upstream = base(json!({"openapi": "3.1.0"}));
        no_upstream.as_object_mut().map(|m| m.remove("upstream"));
        assert_eq!(err(no_upstream).param().as_deref(), Some("upstream"));
        let e = err(base(json!({"upstream": {"nodes": [{"url": 5}]}})));
        assert_eq!(e.param().as_deref(), Some("upstream.nodes[0].url"));
        assert!(matches!(
            parse_body(Some("text/plain"), b"{}"),
            Err(ImportError::ContentType(_))
        ));
        assert!(matches!(
            parse_body(Some("application/json"), b"{"),
            Err(ImportError::Syntax { .. })
        ));
    }
}
