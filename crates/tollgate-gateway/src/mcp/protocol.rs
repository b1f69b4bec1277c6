//! JSON-RPC 2.0 as MCP uses it: reading one message (or a 2025-03-26 batch) into
//! what the server does with it, protocol versions and their negotiation, and the
//! answers, in rmcp's model types.
//!
//! The envelope is read by hand rather than through rmcp's `ClientJsonRpcMessage`
//! so that each fault gets its own JSON-RPC code: not JSON is -32700, not a request
//! is -32600, an unknown method -32601, and the params of a known method that do not
//! fit its rmcp type -32602.

use rmcp::model::{
    ErrorData, Implementation, InitializeResult, JsonRpcError, JsonRpcNotification,
    JsonRpcResponse, JsonRpcVersion2_0, ProtocolVersion, RequestId, ServerCapabilities,
    ToolListChangedNotification, ToolsCapability,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The protocol versions this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
}

impl Version {
    pub const SUPPORTED: [Version; 3] = [
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
    ];
    pub const LATEST: Version = Version::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        Self::SUPPORTED.into_iter().find(|v| v.as_str() == s)
    }

    /// The version to answer `initialize` with: the client's when this server speaks
    /// it, else the latest (the client then decides whether it can go on).
    pub fn negotiate(asked: &str) -> Version {
        Self::parse(asked).unwrap_or(Self::LATEST)
    }

    /// JSON-RPC batches were part of 2025-03-26 only.
    pub fn allows_batches(self) -> bool {
        self == Version::V2025_03_26
    }

    fn protocol_version(self) -> ProtocolVersion {
        match self {
            Version::V2025_03_26 => ProtocolVersion::V_2025_03_26,
            Version::V2025_06_18 => ProtocolVersion::V_2025_06_18,
            Version::V2025_11_25 => ProtocolVersion::V_2025_11_25,
        }
    }
}

/// One message from the client.
#[derive(Debug)]
pub enum Incoming {
    /// Wants an answer.
    Request {
        id: RequestId,
        method: String,
        params: Option<Value>,
    },
    /// `notifications/initialized`, `notifications/cancelled`, ...: nothing to answer.
    Notification { method: String },
    /// The client answering a request of the server's: this server sends none, so
    /// there is nothing to match it with.
    Response,
}

/// The body of a POST: one message or a batch.
#[derive(Debug)]
pub enum Body {
    One(Value),
    Batch(Vec<Value>),
}

/// The body as JSON (-32700 otherwise; an empty batch is -32600).
pub fn parse_body(bytes: &[u8]) -> Result<Body, ErrorData> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ErrorData::parse_error(format!("Parse error: {e}"), None))?;
    match value {
        Value::Array(items) if items.is_empty() => Err(ErrorData::invalid_request(
            "Invalid Request: an empty batch",
            None,
        )),
        Value::Array(items) => Ok(Body::Batch(items)),
        other => Ok(Body::One(other)),
    }
}

/// A message that cannot be answered as asked: the error, with the message's id
/// when it had a readable one.
#[derive(Debug)]
pub struct Fault {
    pub id: Option<RequestId>,
    pub error: ErrorData,
}

fn fault(id: Option<RequestId>, error: ErrorData) -> Box<Fault> {
    Box::new(Fault { id, error })
}

/// One message of the body, or the error to answer it with.
pub fn read_message(value: Value) -> Result<Incoming, Box<Fault>> {
    let Value::Object(mut o) = value else {
        return Err(fault(
            None,
            ErrorData::invalid_request("Invalid Request: a message is a JSON object", None),
        ));
    };
    let id = match o.remove("id") {
        None => None,
        Some(v) => match serde_json::from_value::<RequestId>(v) {
            Ok(id) => Some(id),
            Err(_) => {
                return Err(fault(
                    None,
                    ErrorData::invalid_request(
                        "Invalid Request: `id` is a string or an integer",
                        None,
                    ),
                ));
            }
        },
    };
    if o.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(fault(
            id,
            ErrorData::invalid_request("Invalid Request: `jsonrpc` must be \"2.0\"", None),
        ));
    }
    match (o.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Ok(Incoming::Request {
            id,
            method,
            params: o.remove("params"),
        }),
        (Some(Value::String(method)), None) => Ok(Incoming::Notification { method }),
        (Some(_), id) => Err(fault(
            id,
            ErrorData::invalid_request("Invalid Request: `method` must be a string", None),
        )),
        (None, Some(_)) if o.contains_key("result") || o.contains_key("error") => {
            Ok(Incoming::Response)
        }
        (None, id) => Err(fault(
            id,
            ErrorData::invalid_request("Invalid Request: no `method`", None),
        )),
    }
}

/// A method's params as its rmcp type (-32602 naming the fault otherwise). Absent
/// params read as `{}`.
pub fn params<T: DeserializeOwned>(method: &str, params: Option<Value>) -> Result<T, ErrorData> {
    let value = match params {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    };
    serde_json::from_value(value)
        .map_err(|e| ErrorData::invalid_params(format!("Invalid params for `{method}`: {e}"), None))
}

/// The answer to `initialize`.
pub fn initialize_result(version: Version) -> Value {
    let mut tools = ToolsCapability::default();
    tools.list_changed = Some(true);
    let mut capabilities = ServerCapabilities::default();
    capabilities.tools = Some(tools);
    let result = InitializeResult::new(capabilities)
        .with_protocol_version(version.protocol_version())
        .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Tools are the REST service routes and prompt-APIs this consumer may call \
         through the Tollgate gateway (`service__route`, `prompt__name`).",
        );
    serde_json::to_value(result).unwrap_or_default()
}

/// A success answer.
pub fn response(id: RequestId, result: Value) -> Value {
    serde_json::to_value(JsonRpcResponse {
        jsonrpc: JsonRpcVersion2_0,
        id,
        result,
    })
    .unwrap_or_default()
}

/// An error answer; without a readable id, `"id": null` as JSON-RPC 2.0 has it.
pub fn error(id: Option<RequestId>, error: ErrorData) -> Value {
    let known = id.is_some();
    let mut v = serde_json::to_value(JsonRpcError::new(id, error)).unwrap_or_default();
    if !known && let Some(o) = v.as_object_mut() {
        o.insert("id".into(), Value::Null);
    }
    v
}

/// `notifications/tools/list_changed`.
pub fn tools_list_changed() -> Value {
    serde_json::to_value(JsonRpcNotification {
        jsonrpc: JsonRpcVersion2_0,
        notification: ToolListChangedNotification::default(),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn negotiation_answers_the_clients_version_or_the_latest() {
        assert_eq!(Version::negotiate("2025-03-26"), Version::V2025_03_26);
        assert_eq!(Version::negotiate("2025-06-18"), Version::V2025_06_18);
        assert_eq!(Version::negotiate("2025-11-25"), Version::V2025_11_25);
        assert_eq!(Version::negotiate("2024-11-05"), Version::LATEST);
        assert_eq!(Version::negotiate("2099-01-01"), Version::LATEST);
        let r = initialize_result(Version::V2025_06_18);
        assert_eq!(r["protocolVersion"], "2025-06-18");
        assert_eq!(r["capabilities"]["tools"]["listChanged"], true);
        assert_eq!(r["serverInfo"]["name"], "tollgate");
    }

    #[test]
    fn each_fault_has_its_code() {
        assert_eq!(parse_body(b"{nope").unwrap_err().code.0, -32700);
        assert_eq!(parse_body(b"[]").unwrap_err().code.0, -32600);
        let bad = |v: Value| read_message(v).unwrap_err();
        assert_eq!(bad(json!(3)).error.code.0, -32600);
        assert_eq!(bad(json!({"id": 1, "method": "x"})).error.code.0, -32600);
        assert_eq!(
            bad(json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}))
                .error
                .code
                .0,
            -32600
        );
        let f = bad(json!({"jsonrpc": "2.0", "id": 7, "method": 5}));
        assert_eq!((f.id, f.error.code.0), (Some(RequestId::Number(7)), -32600));
        assert!(matches!(
            read_message(json!({"jsonrpc": "2.0", "id": "a", "method": "ping"})),
            Ok(Incoming::Request { .. })
        ));
        assert!(matches!(
            read_message(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Ok(Incoming::Notification { .. })
        ));
        assert!(matches!(
            read_message(json!({"jsonrpc": "2.0", "id": 1, "result": {}})),
            Ok(Incoming::Response)
        ));
        let e = params::<rmcp::model::CallToolRequestParams>("tools/call", Some(json!({"x": 1})))
            .unwrap_err();
        assert_eq!(e.code.0, -32602);
    }

    #[test]
    fn answers_are_json_rpc() {
        let r = response(RequestId::Number(1), json!({}));
        assert_eq!(r, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
        let e = error(None, ErrorData::parse_error("Parse error", None));
        assert_eq!(e["error"]["code"], -32700);
        assert!(e["id"].is_null() && e.as_object().unwrap().contains_key("id"));
        assert_eq!(
            tools_list_changed(),
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        );
    }
}
