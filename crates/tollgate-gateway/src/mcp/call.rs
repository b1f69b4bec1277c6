//! `tools/call`: the arguments, checked against the tool's schema, become the HTTP
//! request the tool stands for, which then takes the gateway's own path for it
//! ([`crate::service::dispatch`] or [`crate::prompt_api::dispatch`]): the consumer's
//! credential, lifecycle, subscription, limits, budgets, the upstream call and one
//! call record, door `mcp`. The answer comes back as the tool's result: its body as
//! text (and as `structuredContent` when it is a JSON object), `isError` when the
//! status is not 2xx, with a first line naming the status (and the gateway's error
//! code when the gateway refused it: a 429 or 402 says so).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, Request, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, ErrorData, MetaObject};
use serde_json::{Map, Value, json};

use super::catalogue::{Entry, Target};
use super::schema::{QueryArgs, RouteArgs};
use crate::lifecycle::{Call, request_span};
use crate::reply::ErrorCode;
use crate::state::GatewayState;

/// The most of an answer a tool result carries.
pub const MAX_RESULT_BYTES: usize = 8 * 1024 * 1024;
/// The most argument errors one -32602 lists.
const MAX_ARG_ERRORS: usize = 5;

/// Headers of the MCP request the tool's request carries on: the credential (the
/// routes check it again, and take it out before the upstream), where the call came
/// from, tracing, and the cache controls a prompt-API honours.
const CARRIED: [&str; 10] = [
    "authorization",
    "x-api-key",
    "api-key",
    "host",
    "user-agent",
    "x-forwarded-for",
    "traceparent",
    "tracestate",
    "cache-control",
    "x-tollgate-cache",
];

/// Characters kept as they are in a path segment or query component (RFC 3986
/// unreserved); everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the MCP request came from, for the calls it makes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub headers: HeaderMap,
    pub client: Option<ConnectInfo<SocketAddr>>,
}

/// Runs `entry` with `arguments` as call `request_id`.
pub async fn run(
    st: &GatewayState,
    origin: &Origin,
    request_id: &str,
    entry: &Entry,
    arguments: Option<Map<String, Value>>,
) -> Result<CallToolResult, ErrorData> {
    let args = Value::Object(arguments.unwrap_or_default());
    let errors = entry.check(&args, MAX_ARG_ERRORS);
    if !errors.is_empty() {
        return Err(ErrorData::invalid_params(
            format!(
                "Invalid arguments for tool `{}`: {}",
                entry.tool.name,
                errors.join("; ")
            ),
            Some(json!({"tool": entry.tool.name, "errors": errors})),
        ));
    }
    let Value::Object(args) = args else {
        return Err(ErrorData::invalid_params(
            "arguments must be an object",
            None,
        ));
    };
    let req = build_request(&entry.target, &args, origin)?;

    let call = Call::with_span(
        request_id,
        "mcp",
        st.metering.clone(),
        request_span(request_id, "mcp", None),
    );
    {
        let mut s = call.state();
        s.client_ip = origin.client.as_ref().map(|c| c.0.ip().to_string());
        s.user_agent = origin
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
    }
    let answer = {
        use tracing::Instrument;
        let span = call.span().clone();
        dispatch(st, &call, &entry.target, req)
            .instrument(span)
            .await
    };
    let result = match answer {
        Some(res) => {
            call.note_answer(&res);
            into_result(res, request_id).await
        }
        None => {
            // The snapshot changed between the list and the call: the route is gone.
            call.set_outcome(404, Some("not_found"));
            tool_error(
                format!("The tool `{}` is no longer available", entry.tool.name),
                None,
                request_id,
            )
        }
    };
    call.finish().await;
    Ok(result)
}

async fn dispatch(
    st: &GatewayState,
    call: &Call,
    target: &Target,
    req: Request<Body>,
) -> Option<Response> {
    match target {
        Target::Route { .. } => crate::service::dispatch(st, Some(call), req).await.ok(),
        Target::Prompt { .. } => crate::prompt_api::dispatch(st, Some(call), req).await.ok(),
    }
}

/// The HTTP request a tool call stands for.
fn build_request(
    target: &Target,
    args: &Map<String, Value>,
    origin: &Origin,
) -> Result<Request<Body>, ErrorData> {
    let (method, uri, body, media) = match target {
        Target::Route {
            path,
            method,
            args: shape,
        } => {
            let p = route_parts(path, shape, args)?;
            (method.clone(), p.uri, p.body, p.media)
        }
        Target::Prompt { path } => {
            let body = json!({"variables": args, "stream": false}).to_string();
            (
                Method::POST,
                path.clone(),
                Some(body.into_bytes()),
                Some("application/json".to_string()),
            )
        }
    };
    let mut builder = Request::builder().method(method).uri(uri.as_str());
    for name in CARRIED {
        for v in origin.headers.get_all(name) {
            builder = builder.header(name, v.clone());
        }
    }
    if let Some(m) = &media
        && let Ok(v) = HeaderValue::from_str(m)
    {
        builder = builder.header(header::CONTENT_TYPE, v);
    }
    if let Some(b) = &body {
        builder = builder.header(header::CONTENT_LENGTH, b.len());
    }
    let mut req = builder
        .body(Body::from(body.unwrap_or_default()))
        .map_err(|e| {
            ErrorData::invalid_params(format!("The arguments make no request: {e}"), None)
        })?;
    if let Some(c) = &origin.client {
        req.extensions_mut().insert(*c);
    }
    Ok(req)
}

/// What a route's arguments make of its request.
#[derive(Debug, PartialEq)]
struct RouteParts {
    /// Path and query string.
    uri: String,
    body: Option<Vec<u8>>,
    /// The body's `Content-Type`.
    media: Option<String>,
}

/// A route's path with its parameters filled in, its query string and body.
fn route_parts(
    template: &str,
    shape: &RouteArgs,
    args: &Map<String, Value>,
) -> Result<RouteParts, ErrorData> {
    let mut path = template.to_string();
    for p in &shape.path {
        let value = args.get(&p.name).map(scalar).unwrap_or_default();
        if value.is_empty() {
            return Err(ErrorData::invalid_params(
                format!("The path parameter `{}` is empty", p.name),
                None,
            ));
        }
        let encoded = if p.catch_all {
            value.split('/').map(segment).collect::<Vec<_>>().join("/")
        } else {
            segment(&value)
        };
        let marker = if p.catch_all {
            format!("{{*{}}}", p.name)
        } else {
            format!("{{{}}}", p.name)
        };
        path = path.replacen(&marker, &encoded, 1);
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    match &shape.query {
        QueryArgs::Documented(names) => {
            for n in names {
                if let Some(v) = args.get(n) {
                    push_query(&mut pairs, n, v);
                }
            }
        }
        QueryArgs::Free { key } => {
            if let Some(Value::Object(q)) = args.get(key) {
                for (n, v) in q {
                    push_query(&mut pairs, n, v);
                }
            }
        }
    }
    if !pairs.is_empty() {
        let q: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, COMPONENT),
                    utf8_percent_encode(v, COMPONENT)
                )
            })
            .collect();
        path.push('?');
        path.push_str(&q.join("&"));
    }
    let (body, media) = match &shape.body {
        Some(b) => match args.get(&b.key) {
            None => (None, None),
            Some(v) if b.json => (Some(v.to_string().into_bytes()), Some(b.media.clone())),
            Some(v) => (Some(scalar(v).into_bytes()), Some(b.media.clone())),
        },
        None => (None, None),
    };
    Ok(RouteParts {
        uri: path,
        body,
        media,
    })
}

/// One path segment, percent-encoded; `.` and `..` too, so that an argument cannot
/// make a dot segment that climbs out of the route's path.
fn segment(value: &str) -> String {
    if value == "." || value == ".." {
        return value.replace('.', "%2E");
    }
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// A query argument: an array repeats the parameter; `null` leaves it out.
fn push_query(pairs: &mut Vec<(String, String)>, name: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for i in items {
                if !i.is_null() {
                    pairs.push((name.to_string(), scalar(i)));
                }
            }
        }
        other => pairs.push((name.to_string(), scalar(other))),
    }
}

/// A value as text: strings as they are, anything else as JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The tool result of an answer.
async fn into_result(res: Response, request_id: &str) -> CallToolResult {
    let status = res.status();
    let refused = res.extensions().get::<ErrorCode>().map(|c| c.0);
    let retry_after = res
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match axum::body::to_bytes(res.into_body(), MAX_RESULT_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let why = if e.to_string().contains("length limit") {
                format!(
                    "The answer is larger than {MAX_RESULT_BYTES} bytes, the most a tool result carries"
                )
            } else {
                format!("The answer broke off: {e}")
            };
            return tool_error(why, None, request_id);
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.to_string(),
        Err(_) => format!("(a binary answer of {} bytes)", bytes.len()),
    };
    let structured = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object);
    if status.is_success() {
        let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
        r.structured_content = structured;
        r.result_type = None;
        r.meta = Some(meta(request_id, status.as_u16()));
        return r;
    }
    let mut headline = match refused {
        Some(code) => format!("Refused by the gateway: HTTP {} {code}", status.as_u16()),
        None => format!("The upstream answered HTTP {}", status.as_u16()),
    };
    if let Some(secs) = retry_after {
        headline.push_str(&format!(" (retry after {secs} s)"));
    }
    let mut r = CallToolResult::error(vec![ContentBlock::text(headline), ContentBlock::text(text)]);
    r.structured_content = structured;
    r.result_type = None;
    r.meta = Some(meta(request_id, status.as_u16()));
    r
}

fn tool_error(message: String, status: Option<u16>, request_id: &str) -> CallToolResult {
    let mut r = CallToolResult::error(vec![ContentBlock::text(message)]);
    r.result_type = None;
    r.meta = Some(meta(request_id, status.unwrap_or(0)));
    r
}

/// The call's id (for `explain`) and the answer's status.
fn meta(request_id: &str, status: u16) -> MetaObject {
    let mut m = Map::new();
    m.insert("tollgate/request_id".into(), json!(request_id));
    if status != 0 {
        m.insert("tollgate/status".into(), json!(status));
    }
    MetaObject(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::schema::{BodyArg, PathParam};

    #[test]
    fn arguments_fill_path_query_and_body() {
        let shape = RouteArgs {
            path: vec![
                PathParam {
                    name: "city".into(),
                    catch_all: false,
                },
                PathParam {
                    name: "rest".into(),
                    catch_all: true,
                },
            ],
            query: QueryArgs::Free {
                key: "query".into(),
            },
            body: Some(BodyArg {
                key: "body".into(),
                media: "application/json".into(),
                json: true,
            }),
        };
        let args = json!({
            "city": "São Paulo/x?", "rest": "a b/c",
            "query": {"units": "metric", "days": 3, "tag": ["x", "y&z"], "none": null},
            "body": {"n": 1},
        });
        let p = route_parts("/svc/w/{city}/{*rest}", &shape, args.as_object().unwrap()).unwrap();
        assert_eq!(
            p.uri,
            "/svc/w/S%C3%A3o%20Paulo%2Fx%3F/a%20b/c?units=metric&days=3&tag=x&tag=y%26z"
        );
        assert_eq!(p.body.unwrap(), br#"{"n":1}"#);
        assert_eq!(p.media.as_deref(), Some("application/json"));
        // Dot segments cannot climb out of the route's path.
        let dots = json!({"city": "..", "rest": "a/../../b/."});
        let p = route_parts("/svc/w/{city}/{*rest}", &shape, dots.as_object().unwrap()).unwrap();
        assert_eq!(p.uri, "/svc/w/%2E%2E/a/%2E%2E/%2E%2E/b/%2E");
        let err = route_parts(
            "/svc/w/{city}/{*rest}",
            &shape,
            json!({"city": "", "rest": "r"}).as_object().unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.code.0, -32602);
    }
}
