//! A service's routes as an OpenAPI 3.1 document, as a consumer sees them: paths as
//! on the gateway (`path_prefix` + route path), the gateway as the server, the
//! gateway's credentials as the security schemes, and the docs an import kept.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Map, Value, json};
use tollgate_core::service_docs::{MediaDoc, ParameterLocation, RouteDocs};
use tollgate_core::spec::{CredentialType, ServiceLifecycle, ServiceRoute, ServiceSpec};

/// The methods an OpenAPI path item can hold, in its order.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The methods a route without `methods` (any method) is shown with.
const ANY_METHOD: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Where consumers reach the gateway, for the export's `servers`.
#[derive(Debug, Clone, Default)]
pub struct GatewayUrl {
    /// `server.public_url` when configured: used as it is.
    pub configured: Option<Arc<str>>,
    /// The gateway listener's bound address: its port, with the host name the admin
    /// request was sent to, when nothing is configured.
    pub listen: Option<SocketAddr>,
}

impl GatewayUrl {
    /// The gateway's base URL (no trailing slash) for a request carrying `headers`.
    pub fn for_request(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.configured {
            return url.trim_end_matches('/').to_string();
        }
        let listen = self.listen;
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(host_name)
            .or_else(|| listen.map(|a| listen_host(&a)))
            .unwrap_or_else(|| "localhost".to_string());
        match listen {
            Some(a) => format!("http://{host}:{}", a.port()),
            None => format!("http://{host}"),
        }
    }
}

/// The host part of a `Host` header (`example.com:8081` → `example.com`, `[::1]:8081` →
/// `[::1]`), if it looks like a host name or address at all.
fn host_name(header: &str) -> Option<String> {
    let host = if header.starts_with('[') {
        let end = header.find(']')?;
        &header[..=end]
    } else {
        header.split(':').next()?
    };
    let fine = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    fine.then(|| host.to_string())
}

fn listen_host(addr: &SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}

/// The document of `spec`, whose answer is served at `server`; `version` is the
/// document's `info.version` (the service's last change).
pub(crate) fn document(spec: &ServiceSpec, server: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for route in &spec.routes {
        let full = format!("{}{}", spec.path_prefix, route.path);
        let item = paths
            .entry(full)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(item) = item else { continue };
        let methods: Vec<(String, String)> = if route.methods.is_empty() {
            ANY_METHOD
                .iter()
                .map(|m| (m.to_string(), format!("{}_{m}", route.name)))
                .collect()
        } else {
            route
                .methods
                .iter()
                .map(|m| m.to_ascii_lowercase())
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(|m| (m, route.name.clone()))
                .collect()
        };
        for (method, id) in methods {
            // The gateway takes the first route for a path and method; so does this.
            if !item.contains_key(&method) {
                item.insert(method, operation(spec, route, id));
            }
        }
    }
    let (schemes, security) = security(spec);
    let mut info = Map::new();
    info.insert("title".into(), Value::String(spec.name.clone()));
    info.insert("version".into(), Value::String(version.to_string()));
    if let Some(d) = &spec.description {
        info.insert("description".into(), Value::String(d.clone()));
    }
    json!({
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": server}],
        "paths": paths,
        "components": {"securitySchemes": schemes},
        "security": security,
    })
}

fn operation(spec: &ServiceSpec, route: &ServiceRoute, id: String) -> Value {
    let empty = RouteDocs::default();
    let docs = route.docs.as_ref().unwrap_or(&empty);
    let mut op = Map::new();
    op.insert("operationId".into(), Value::String(id));
    if let Some(s) = &docs.summary {
        op.insert("summary".into(), Value::String(s.clone()));
    }
    if let Some(d) = &docs.description {
        op.insert("description".into(), Value::String(d.clone()));
    }
    if !docs.tags.is_empty() {
        op.insert("tags".into(), json!(docs.tags));
    }
    let mut parameters: Vec<Value> = docs
        .parameters
        .iter()
        .map(|p| {
            let mut out = Map::new();
            out.insert("name".into(), Value::String(p.name.clone()));
            out.insert("in".into(), Value::String(p.location.as_str().into()));
            out.insert("required".into(), Value::Bool(p.required));
            if let Some(d) = &p.description {
                out.insert("description".into(), Value::String(d.clone()));
            }
            if let Some(s) = &p.schema {
                out.insert("schema".into(), Value::Object(s.clone()));
            }
            Value::Object(out)
        })
        .collect();
    // OpenAPI wants every `{param}` of the path declared.
    for name in tollgate_config::route_params(&route.path) {
        let declared = docs
            .parameters
            .iter()
            .any(|p| p.location == ParameterLocation::Path && p.name == name);
        if !declared {
            parameters.push(json!({"name": name, "in": "path", "required": true,
                                   "schema": {"type": "string"}}));
        }
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(b) = &docs.request_body {
        let mut body = Map::new();
        if let Some(d) = &b.description {
            body.insert("description".into(), Value::String(d.clone()));
        }
        body.insert("required".into(), Value::Bool(b.required));
        body.insert("content".into(), content(&b.content));
        op.insert("requestBody".into(), Value::Object(body));
    }
    if !docs.responses.is_empty() {
        let responses: Map<String, Value> = docs
            .responses
            .iter()
            .map(|(code, r)| {
                let mut out = Map::new();
                out.insert("description".into(), Value::String(r.description.clone()));
                if !r.content.is_empty() {
                    out.insert("content".into(), content(&r.content));
                }
                (code.clone(), Value::Object(out))
            })
            .collect();
        op.insert("responses".into(), Value::Object(responses));
    }
    if spec.lifecycle == ServiceLifecycle::Deprecated {
        op.insert("deprecated".into(), Value::Bool(true));
    }
    Value::Object(op)
}

fn content(media: &std::collections::BTreeMap<String, MediaDoc>) -> Value {
    Value::Object(
        media
            .iter()
            .map(|(kind, m)| {
                let mut out = Map::new();
                if let Some(s) = &m.schema {
                    out.insert("schema".into(), Value::Object(s.clone()));
                }
                (kind.clone(), Value::Object(out))
            })
            .collect(),
    )
}

/// The credentials the service takes (`auth`, default: the consumer key), as
/// security schemes; any one of them will do.
fn security(spec: &ServiceSpec) -> (Map<String, Value>, Vec<Value>) {
    let auth = spec
        .auth
        .clone()
        .unwrap_or_else(|| vec![CredentialType::Key]);
    let mut schemes = Map::new();
    for kind in auth {
        let entries: Vec<(&str, Value)> = match kind {
            CredentialType::Key => vec![
                (
                    "consumer_key",
                    json!({"type": "http", "scheme": "bearer",
                           "description": "A Tollgate consumer API key"}),
                ),
                (
                    "consumer_key_header",
                    json!({"type": "apiKey", "in": "header", "name": "x-api-key",
                           "description": "A Tollgate consumer API key"}),
                ),
            ],
            CredentialType::Basic => vec![("basic", json!({"type": "http", "scheme": "basic"}))],
            CredentialType::Jwt => vec![(
                "jwt",
                json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
            )],
            CredentialType::Hmac => vec![(
                "hmac",
                json!({"type": "apiKey", "in": "header", "name": "Authorization",
                       "description": "An HMAC signature of the request"}),
            )],
        };
        for (name, scheme) in entries {
            schemes.insert(name.to_string(), scheme);
        }
    }
    let security = schemes
        .keys()
        .map(|name| {
            let mut one = Map::new();
            one.insert(name.clone(), Value::Array(Vec::new()));
            Value::Object(one)
        })
        .collect();
    (schemes, security)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_the_configured_url_or_the_request_host_with_the_gateway_port() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            "admin.example.com:8081".parse().unwrap(),
        );
        let listen: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let derived = GatewayUrl {
            configured: None,
            listen: Some(listen),
        };
        assert_eq!(
            derived.for_request(&headers),
            "http://admin.example.com:8080"
        );
        headers.insert(http::header::HOST, "[::1]:8081".parse().unwrap());
        assert_eq!(derived.for_request(&headers), "http://[::1]:8080");
        assert_eq!(
            derived.for_request(&HeaderMap::new()),
            "http://localhost:8080"
        );
        let configured = GatewayUrl {
            configured: Some("https://api.example.com/".into()),
            listen: Some(listen),
        };
        assert_eq!(configured.for_request(&headers), "https://api.example.com");
    }
}
