//! MCP on the gateway listener (issue 13, part 1), over raw HTTP against the real
//! binary, a REST upstream and the mock provider: the key checked before MCP (401 in
//! the OpenAI envelope), 413, parse errors, sessions (required, unknown, another
//! key's, ended), each protocol version and the negotiation, batches only in
//! 2025-03-26, JSON or SSE by `Accept`; the tools each consumer sees (subscriptions,
//! lifecycle, credential types, a prompt-API's model), their schemas, calls through
//! the service and prompt-API paths (upstream errors, 429 and 402 as tool errors),
//! argument errors as JSON-RPC -32602, masking, call records with door `mcp`, and a
//! subscription reaching `tools/list` and the session's stream
//! (`notifications/tools/list_changed`). And the official MCP Python SDK
//! (`tests/mcp/check_mcp.py`, in a virtualenv under the target directory made from
//! PyPI on first use, as `sdk.rs` does; Python 3 and PyPI are requirements: when
//! they are missing the test fails, it does not skip).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use tollgate_mock::rest::RestUpstream;

const TIGHT: &str = "tg-mcp-tight";

fn config(mock: &MockProvider, upstream: &str) -> String {
    format!(
        r#"{base}  - name: tight
    api_keys: ["{TIGHT}"]
    budget: {{usd: 0.0001, period: daily}}
services:
  - name: weather
    path_prefix: /svc/weather
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    description: Weather of the world
    routes:
      - {{name: forecast, methods: [GET], path: "/forecast/{{city}}", rewrite: "/v2/forecast/{{city}}"}}
      - {{name: report, methods: [POST], path: "/reports", rewrite: "/mirror"}}
      - {{name: broken, methods: [GET], path: "/broken", rewrite: "/status/503"}}
      - {{name: huge, methods: [GET], path: "/huge", rewrite: "/download/9000000"}}
  - name: paid
    path_prefix: /svc/paid
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    subscription: {{approval: auto}}
    routes:
      - {{name: thing, methods: [GET], path: "/thing"}}
  - name: limited
    path_prefix: /svc/limited
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    rate_limit: {{requests_per_minute: 1}}
    routes:
      - {{name: ping, methods: [GET], path: "/ping"}}
  - name: jwt-only
    path_prefix: /svc/jwt
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    auth: [jwt]
    routes:
      - {{name: x, methods: [GET], path: "/x"}}
  - name: drafty
    path_prefix: /svc/drafty
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    lifecycle: draft
    routes:
      - {{name: x, methods: [GET], path: "/x"}}
masking:
  - name: pii
    applies_to: {{services: [weather]}}
    direction: request
    detectors: [email]
prompt_apis:
  - name: summarize
    path: /prompt/summarize
    model: gpt-mock
    description: Summaries in any language
    messages:
      - {{role: system, content: "Summarize in {{{{language}}}}."}}
      - {{role: user, content: "{{{{ text }}}}"}}
    variables: [{{name: text, required: true}}, {{name: language, default: English}}]
    max_tokens: 300
  - name: claude-only
    path: /prompt/claude
    model: claude-mock
    messages: [{{role: user, content: "{{{{ q }}}}"}}]
    variables: [{{name: q, required: true}}]
    max_tokens: 50
"#,
        base = config_for(mock, "")
    )
}

async fn start() -> (MockProvider, RestUpstream, Gateway) {
    let mock = MockProvider::start().await.expect("mock");
    let up = RestUpstream::start("a").await.expect("upstream");
    let gw = Gateway::start(&config(&mock, &up.url()));
    (mock, up, gw)
}

const BOTH: &str = "application/json, text/event-stream";

/// A raw POST to `/mcp`.
async fn post(
    gw: &Gateway,
    key: Option<&str>,
    session: Option<&str>,
    accept: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = client()
        .post(gw.gw("/mcp"))
        .header("accept", accept)
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    req.send().await.expect("send")
}

fn init_body(version: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
    .to_string()
}

/// A session at `version`: its id and the negotiated version.
async fn initialize(gw: &Gateway, key: &str, version: &str) -> (String, String) {
    let res = post(gw, Some(key), None, BOTH, init_body(version)).await;
    let sid = res
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("Mcp-Session-Id")
        .to_string();
    let (s, _, body) = json_of(res).await;
    assert_eq!(s, 200, "{body}");
    let negotiated = body["result"]["protocolVersion"]
        .as_str()
        .expect("version")
        .to_string();
    let res = post(
        gw,
        Some(key),
        Some(&sid),
        BOTH,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 202);
    (sid, negotiated)
}

/// One request in a session: the JSON-RPC answer and the HTTP answer's request id.
async fn rpc(gw: &Gateway, key: &str, sid: &str, method: &str, params: Value) -> (Value, String) {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let res = post(gw, Some(key), Some(sid), BOTH, body.to_string()).await;
    let rid = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (s, _, body) = json_of(res).await;
    assert_eq!(s, 200, "{method}: {body}");
    assert_eq!(body["id"], 7, "{body}");
    (body, rid)
}

async fn tool_names(gw: &Gateway, key: &str, sid: &str) -> Vec<String> {
    let (body, _) = rpc(gw, key, sid, "tools/list", json!({})).await;
    body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn call_tool(gw: &Gateway, key: &str, sid: &str, name: &str, args: Value) -> (Value, String) {
    rpc(
        gw,
        key,
        sid,
        "tools/call",
        json!({"name": name, "arguments": args}),
    )
    .await
}

#[tokio::test]
async fn http_level_errors_come_before_mcp() {
    let (_mock, _up, gw) = start().await;
    let store = open_store(&gw).await;

    // No key, a wrong key: 401 in the OpenAI envelope, recorded with door `mcp`.
    let res = post(&gw, None, None, BOTH, init_body("2025-06-18")).await;
    let (s, h, body) = json_of(res).await;
    assert_eq!((s, code(&body)), (401, "invalid_api_key"), "{body}");
    assert_eq!(body["error"]["type"], "authentication_error");
    let rid = h["x-request-id"].to_str().unwrap().to_string();
    let r = record(&store, &rid).await;
    assert_eq!(
        (r.door.as_str(), r.status, r.consumer.as_deref()),
        ("mcp", 401, None)
    );
    let res = post(&gw, Some("tg-wrong"), None, BOTH, init_body("2025-06-18")).await;
    assert_eq!(res.status().as_u16(), 401);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let res = client()
            .request(method, gw.gw("/mcp"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }

    // A body over the limit: 413 (after the key).
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(200_000)
    );
    let (s, h, body) = json_of(post(&gw, Some(KEY_A), None, BOTH, huge).await).await;
    assert_eq!((s, code(&body)), (413, "request_too_large"), "{body}");
    let r = record(&store, h["x-request-id"].to_str().unwrap()).await;
    assert_eq!(
        (r.door.as_str(), r.consumer.as_deref()),
        ("mcp", Some("team-a"))
    );

    // Not JSON: a JSON-RPC parse error; not a JSON-RPC message: invalid request.
    let (s, _, body) = json_of(post(&gw, Some(KEY_A), None, BOTH, "{\"jsonrpc\": ").await).await;
    assert_eq!(
        (s, body["error"]["code"].as_i64()),
        (400, Some(-32700)),
        "{body}"
    );
    assert!(body["id"].is_null());
    let (sid, _) = initialize(&gw, KEY_A, "2025-06-18").await;
    for bad in [
        json!(5),
        json!({"id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 2}),
    ] {
        let (s, _, body) =
            json_of(post(&gw, Some(KEY_A), Some(&sid), BOTH, bad.to_string()).await).await;
        assert_eq!(
            (s, body["error"]["code"].as_i64()),
            (400, Some(-32600)),
            "{bad}: {body}"
        );
    }

    // Sessions: required after initialize, unknown 404, another key's 404.
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let (s, _, body) = json_of(post(&gw, Some(KEY_A), None, BOTH, ping.clone()).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_i64()),
        (400, Some(-32600)),
        "{body}"
    );
    let (s, _, body) =
        json_of(post(&gw, Some(KEY_A), Some("nope"), BOTH, ping.clone()).await).await;
    assert_eq!(s, 404, "{body}");
    let (s, _, _) = json_of(post(&gw, Some(KEY_B), Some(&sid), BOTH, ping.clone()).await).await;
    assert_eq!(s, 404, "another key's session is not there for it");
    let (s, _, body) = json_of(post(&gw, Some(KEY_A), Some(&sid), BOTH, ping.clone()).await).await;
    assert_eq!((s, &body["result"]), (200, &json!({})));

    // Unknown methods are -32601; a bogus MCP-Protocol-Version header is 400.
    let (body, _) = rpc(&gw, KEY_A, &sid, "resources/list", json!({})).await;
    assert_eq!(body["error"]["code"], -32601);
    let res = client()
        .post(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .body(ping.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);

    // Neither JSON nor SSE accepted: 406.
    let res = post(&gw, Some(KEY_A), Some(&sid), "text/html", ping.clone()).await;
    assert_eq!(res.status().as_u16(), 406);

    // DELETE ends the session: then it is unknown.
    let res = client()
        .delete(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let res = post(&gw, Some(KEY_A), Some(&sid), BOTH, ping).await;
    assert_eq!(res.status().as_u16(), 404);

    // Other methods on /mcp: 405 with Allow.
    let res = client()
        .put(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    let allow = res.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("POST") && allow.contains("GET") && allow.contains("DELETE"));
}

#[tokio::test]
async fn versions_batches_and_answer_formats() {
    let (_mock, _up, gw) = start().await;
    for (asked, answered) in [
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2025-11-25"),
        ("2030-01-01", "2025-11-25"),
    ] {
        let (sid, v) = initialize(&gw, KEY_A, asked).await;
        assert_eq!(v, answered, "{asked}");
        let (body, _) = rpc(&gw, KEY_A, &sid, "tools/list", json!({})).await;
        assert!(body["result"]["tools"].is_array(), "{asked}: {body}");
    }

    // Batches: 2025-03-26 only.
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "nope"}},
    ])
    .to_string();
    let (old, _) = initialize(&gw, KEY_A, "2025-03-26").await;
    let (s, _, body) = json_of(post(&gw, Some(KEY_A), Some(&old), BOTH, batch.clone()).await).await;
    assert_eq!(s, 200, "{body}");
    let answers = body.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 2, "{body}");
    assert_eq!(answers[0]["result"], json!({}));
    assert_eq!(answers[1]["error"]["code"], -32602);
    // At most 32 messages in a batch.
    let many: Vec<Value> = (0..33)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}))
        .collect();
    let res = post(
        &gw,
        Some(KEY_A),
        Some(&old),
        BOTH,
        Value::Array(many).to_string(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 400);
    let (new, _) = initialize(&gw, KEY_A, "2025-06-18").await;
    let (s, _, body) = json_of(post(&gw, Some(KEY_A), Some(&new), BOTH, batch).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_i64()),
        (400, Some(-32600)),
        "{body}"
    );

    // JSON when the client takes it, SSE when it takes only that.
    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}).to_string();
    let res = post(
        &gw,
        Some(KEY_A),
        Some(&new),
        "application/json",
        ping.clone(),
    )
    .await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let res = post(&gw, Some(KEY_A), Some(&new), "text/event-stream", ping).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = res.text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0].0, "message");
    let msg: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!((msg["id"].as_i64(), &msg["result"]), (Some(3), &json!({})));
    // `initialize` answered as SSE carries the session too.
    let res = post(
        &gw,
        Some(KEY_A),
        None,
        "text/event-stream",
        init_body("2025-11-25"),
    )
    .await;
    assert!(res.headers().contains_key("mcp-session-id"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains("\"protocolVersion\":\"2025-11-25\""),
        "{text}"
    );
}

#[tokio::test]
async fn tools_per_consumer_calls_errors_and_records() {
    let (_mock, _up, gw) = start().await;
    let store = open_store(&gw).await;
    let (sid, _) = initialize(&gw, KEY_A, "2025-11-25").await;

    // Team A: every route of the open services, the prompt-APIs; not the service it
    // is not subscribed to, not a JWT-only or draft one.
    let names = tool_names(&gw, KEY_A, &sid).await;
    assert_eq!(
        names,
        [
            "limited__ping",
            "weather__forecast",
            "weather__report",
            "weather__broken",
            "weather__huge",
            "prompt__claude-only",
            "prompt__summarize"
        ],
        "{names:?}"
    );
    // Team B may use only gpt-mock: no claude prompt.
    let (sid_b, _) = initialize(&gw, KEY_B, "2025-06-18").await;
    let names_b = tool_names(&gw, KEY_B, &sid_b).await;
    assert!(
        !names_b.iter().any(|n| n == "prompt__claude-only"),
        "{names_b:?}"
    );
    assert!(names_b.iter().any(|n| n == "prompt__summarize"));

    // Schemas and descriptions.
    let (body, _) = rpc(&gw, KEY_A, &sid, "tools/list", json!({})).await;
    let tool = |n: &str| {
        body["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .cloned()
            .unwrap()
    };
    let forecast = tool("weather__forecast");
    assert_eq!(forecast["inputSchema"]["required"], json!(["city"]));
    assert_eq!(
        forecast["inputSchema"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(forecast["inputSchema"]["additionalProperties"], false);
    let desc = forecast["description"].as_str().unwrap();
    assert!(
        desc.contains("Weather of the world") && desc.contains("GET /svc/weather/forecast/{city}"),
        "{desc}"
    );
    let summarize = tool("prompt__summarize");
    assert_eq!(summarize["description"], "Summaries in any language");
    assert_eq!(summarize["inputSchema"]["required"], json!(["text"]));
    assert_eq!(
        summarize["inputSchema"]["properties"]["language"]["default"],
        "English"
    );
    assert!(tool("weather__report")["inputSchema"]["properties"]["body"].is_object());

    // A service tool: path, query, the upstream's JSON answer as text and structured.
    let (body, rid) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "weather__forecast",
        json!({"city": "São Paulo", "query": {"units": "metric", "days": 3}}),
    )
    .await;
    let result = &body["result"];
    assert_eq!(result["isError"], false, "{body}");
    let structured = &result["structuredContent"];
    assert_eq!(
        structured["path"], "/v2/forecast/S%C3%A3o%20Paulo",
        "{body}"
    );
    assert_eq!(structured["query"], "units=metric&days=3");
    assert!(
        structured["headers"].get("authorization").is_none(),
        "the key stays"
    );
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(&text, structured);
    assert_eq!(result["_meta"]["tollgate/request_id"], rid.as_str());
    let r = record(&store, &rid).await;
    assert_eq!(
        (
            r.door.as_str(),
            r.model.as_deref(),
            r.target_model.as_deref(),
            r.status
        ),
        ("mcp", Some("weather"), Some("forecast"), 200)
    );
    assert_eq!(r.consumer.as_deref(), Some("team-a"));

    // A body, sent as JSON (the upstream mirrors it).
    let (body, _) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "weather__report",
        json!({"body": {"n": [1, 2]}}),
    )
    .await;
    assert_eq!(
        body["result"]["structuredContent"],
        json!({"n": [1, 2]}),
        "{body}"
    );

    // The service's masking applies to a tool call as to its HTTP path.
    let (body, _) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "weather__report",
        json!({"body": {"note": "write to ann@example.com"}}),
    )
    .await;
    assert_eq!(
        body["result"]["structuredContent"],
        json!({"note": "write to [EMAIL]"}),
        "{body}"
    );

    // An upstream error: a tool error carrying the upstream's status.
    let (body, rid) = call_tool(&gw, KEY_A, &sid, "weather__broken", json!({})).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert!(
        body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{body}"
    );
    assert_eq!(body["result"]["_meta"]["tollgate/status"], 503);
    assert_eq!(record(&store, &rid).await.status, 503);

    // An answer larger than a tool result carries: a tool error saying so.
    let (body, _) = call_tool(&gw, KEY_A, &sid, "weather__huge", json!({})).await;
    assert_eq!(body["result"]["isError"], true);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("larger than"), "{text}");

    // Bad calls: JSON-RPC errors, not HTTP errors, not tool results.
    for (name, args, why) in [
        ("nope__nothing", json!({}), "unknown tool"),
        (
            "paid__thing",
            json!({}),
            "a tool of a service not subscribed to",
        ),
        ("drafty__x", json!({}), "a draft service's route"),
        ("weather__forecast", json!({}), "missing required"),
        ("weather__forecast", json!({"city": 5}), "wrong type"),
        (
            "weather__forecast",
            json!({"city": "x", "extra": 1}),
            "unknown argument",
        ),
        (
            "prompt__summarize",
            json!({"language": "French"}),
            "missing variable",
        ),
    ] {
        let (body, _) = call_tool(&gw, KEY_A, &sid, name, args).await;
        assert_eq!(body["error"]["code"], -32602, "{why}: {body}");
    }
    let (body, _) = rpc(&gw, KEY_A, &sid, "tools/call", json!({"arguments": {}})).await;
    assert_eq!(body["error"]["code"], -32602, "no name: {body}");

    // The service's rate limit: the second call is a tool error naming the 429.
    let (body, _) = call_tool(&gw, KEY_A, &sid, "limited__ping", json!({})).await;
    assert_eq!(body["result"]["isError"], false, "{body}");
    let (body, rid) = call_tool(&gw, KEY_A, &sid, "limited__ping", json!({})).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    let headline = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        headline.contains("429") && headline.contains("rate_limit_exceeded"),
        "{headline}"
    );
    let r = record(&store, &rid).await;
    assert_eq!(
        (r.door.as_str(), r.status, r.error_code.as_deref()),
        ("mcp", 429, Some("rate_limit_exceeded"))
    );

    // A prompt-API tool: the prompt-API's answer.
    let (body, rid) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "prompt__summarize",
        json!({"text": "Long text."}),
    )
    .await;
    let s = &body["result"]["structuredContent"];
    assert!(
        s["output"].as_str().is_some_and(|o| !o.is_empty()),
        "{body}"
    );
    assert_eq!(s["request_id"], rid.as_str());
    let r = record(&store, &rid).await;
    assert_eq!(
        (r.door.as_str(), r.model.as_deref(), r.status),
        ("mcp", Some("summarize"), 200)
    );
    assert!(r.input_tokens > 0 && r.cost_micros > 0, "{r:?}");

    // A spent budget: a tool error naming the 402.
    let (sid_t, _) = initialize(&gw, TIGHT, "2025-11-25").await;
    let (body, rid) = call_tool(
        &gw,
        TIGHT,
        &sid_t,
        "prompt__summarize",
        json!({"text": "x"}),
    )
    .await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    let headline = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        headline.contains("402") && headline.contains("budget_exceeded"),
        "{headline}"
    );
    assert_eq!(record(&store, &rid).await.status, 402);
}

#[tokio::test]
async fn a_subscription_shows_on_the_next_list_and_on_the_stream() {
    let (_mock, _up, gw) = start().await;
    let (sid, _) = initialize(&gw, KEY_A, "2025-06-18").await;
    assert!(
        !tool_names(&gw, KEY_A, &sid)
            .await
            .contains(&"paid__thing".to_string())
    );

    // The session's stream; a second one at once is refused.
    let stream = client()
        .get(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let second = client()
        .get(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 409);
    let (s, _) = admin_get(&gw, "/healthz").await;
    assert_eq!(s, 200);

    let res = client()
        .post(gw.admin("/admin/v1/subscriptions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"consumer": "team-a", "service": "paid"}))
        .send()
        .await
        .unwrap();
    let (s, _, sub) = json_of(res).await;
    assert!(s == 200 || s == 201, "{sub}");

    // The stream says the list changed ...
    let mut bytes = stream.bytes_stream();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains("notifications/tools/list_changed") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, bytes.next())
            .await
            .unwrap_or_else(|_| panic!("no list_changed within 20 s: {seen:?}"))
            .expect("the stream ended")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // ... and the next list has the tool, which now calls through.
    assert!(
        tool_names(&gw, KEY_A, &sid)
            .await
            .contains(&"paid__thing".to_string())
    );
    let (body, _) = call_tool(&gw, KEY_A, &sid, "paid__thing", json!({})).await;
    assert_eq!(
        body["result"]["structuredContent"]["path"], "/thing",
        "{body}"
    );
    // Team B is not subscribed: still not its tool.
    let (sid_b, _) = initialize(&gw, KEY_B, "2025-06-18").await;
    assert!(
        !tool_names(&gw, KEY_B, &sid_b)
            .await
            .contains(&"paid__thing".to_string())
    );

    // Ending the session ends its stream.
    let res = client()
        .delete(gw.gw("/mcp"))
        .bearer_auth(KEY_A)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = bytes.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its session");
}

/// The MCP Python SDK the gateway is checked against.
const PYTHON_SDK: &[&str] = &["mcp==2.3.0"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk() {
    // Blocking, before anything runs on the runtime.
    let venv = python::ensure_venv("mcp-venv", PYTHON_SDK);
    let (_mock, _up, gw) = start().await;
    let store = open_store(&gw).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/check_mcp.py");
    let mut cmd = Command::new(python::venv_bin(&venv, "python"));
    cmd.arg("-u")
        .arg(&script)
        .args(["--gateway", &gw.url, "--admin", &gw.admin_url])
        .args(["--admin-token", ADMIN_TOKEN, "--key", KEY_A])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let (out, timed_out) = tokio::task::spawn_blocking(move || {
        python::run_with_timeout(&mut cmd, Duration::from_secs(180))
    })
    .await
    .expect("run the MCP SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!timed_out, "check_mcp.py timed out\n{stdout}\n{stderr}");
    assert!(
        out.status.success() && stdout.contains("mcp checks passed"),
        "check_mcp.py failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let ids: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("REQUEST_ID "))
        .collect();
    assert_eq!(ids.len(), 3, "{stdout}");
    for id in ids {
        let r = record(&store, id).await;
        assert_eq!((r.door.as_str(), r.status), ("mcp", 200), "{r:?}");
        assert_eq!(r.consumer.as_deref(), Some("team-a"));
    }
    println!("{stdout}");
}

/// A service imported from an OpenAPI 3.1 document: its tools take the document's
/// schemas (`$ref`s resolved, a recursive one included), and arguments are checked
/// against them, nested ones too.
#[tokio::test]
async fn an_imported_openapi_document_gives_the_schemas() {
    let (_mock, up, gw) = start().await;
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Trees", "version": "2"},
        "name": "trees", "path_prefix": "/svc/trees",
        "upstream": {"nodes": [{"url": up.url()}]},
        "paths": {
            "/forests/{forest}/trees/{tree}": {
                "get": {
                    "operationId": "getTree",
                    "summary": "One tree",
                    "parameters": [
                        {"$ref": "#/components/parameters/Forest"},
                        {"name": "tree", "in": "path", "required": true,
                         "schema": {"type": "integer"}},
                        {"name": "x-trace", "in": "header", "schema": {"type": "string"}}
                    ]
                },
                "put": {
                    "operationId": "putTree",
                    "parameters": [
                        {"$ref": "#/components/parameters/Forest"},
                        {"name": "tree", "in": "path", "required": true, "schema": {"type": "integer"}}
                    ],
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Node"}}}}
                }
            },
            "/search": {
                "get": {
                    "operationId": "search",
                    "parameters": [
                        {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}
                    ]
                }
            }
        },
        "components": {
            "parameters": {"Forest": {"name": "forest", "in": "path", "required": true,
                                      "schema": {"$ref": "#/components/schemas/Slug"}}},
            "schemas": {
                "Slug": {"type": "string", "pattern": "^[a-z-]+$"},
                "Node": {"type": "object", "required": ["name"], "properties": {
                    "name": {"$ref": "#/components/schemas/Slug"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
                }}
            }
        }
    });
    let res = client()
        .post(gw.admin("/admin/v1/services/import"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&doc)
        .send()
        .await
        .unwrap();
    let (s, _, body) = json_of(res).await;
    assert!(s == 200 || s == 201, "{body}");

    // The import is live at once (or within the snapshot's refresh).
    let deadline = Instant::now() + Duration::from_secs(10);
    let sid = loop {
        let (sid, _) = initialize(&gw, KEY_A, "2025-11-25").await;
        if tool_names(&gw, KEY_A, &sid)
            .await
            .iter()
            .any(|n| n == "trees__getTree")
        {
            break sid;
        }
        assert!(
            Instant::now() < deadline,
            "the imported service's tools never showed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (body, _) = rpc(&gw, KEY_A, &sid, "tools/list", json!({})).await;
    let tools = body["result"]["tools"].as_array().unwrap().clone();
    let tool = |n: &str| tools.iter().find(|t| t["name"] == n).cloned().unwrap();
    let get = tool("trees__getTree");
    assert!(get["description"].as_str().unwrap().starts_with("One tree"));
    let schema = &get["inputSchema"];
    assert_eq!(schema["properties"]["tree"]["type"], "integer");
    assert_eq!(schema["properties"]["forest"]["pattern"], "^[a-z-]+$");
    assert_eq!(schema["required"], json!(["forest", "tree"]));
    assert!(
        schema["properties"].get("x-trace").is_none(),
        "headers are not arguments"
    );
    assert_eq!(
        tool("trees__putTree")["inputSchema"]["properties"]["body"]["required"],
        json!(["name"])
    );

    for (name, args, why) in [
        (
            "trees__getTree",
            json!({"forest": "Oak", "tree": 1}),
            "pattern",
        ),
        (
            "trees__getTree",
            json!({"forest": "oak", "tree": "x"}),
            "integer",
        ),
        (
            "trees__getTree",
            json!({"forest": "oak", "tree": 1, "x-trace": "t"}),
            "a header",
        ),
        (
            "trees__putTree",
            json!({"forest": "oak", "tree": 1}),
            "the required body",
        ),
        (
            "trees__putTree",
            json!({"forest": "oak", "tree": 1, "body": {"name": "Not A Slug"}}),
            "a pattern inside the body",
        ),
        ("trees__search", json!({"q": "x", "limit": 99}), "maximum"),
        (
            "trees__search",
            json!({"limit": 1}),
            "required query parameter",
        ),
    ] {
        let (body, _) = call_tool(&gw, KEY_A, &sid, name, args).await;
        assert_eq!(body["error"]["code"], -32602, "{why}: {body}");
    }
    let (body, _) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "trees__getTree",
        json!({"forest": "oak", "tree": 3}),
    )
    .await;
    assert_eq!(
        body["result"]["structuredContent"]["path"], "/forests/oak/trees/3",
        "{body}"
    );
    let node = json!({"name": "ok", "children": [{"name": "leaf"}]});
    let (body, _) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "trees__putTree",
        json!({"forest": "oak", "tree": 3, "body": node}),
    )
    .await;
    let echo = &body["result"]["structuredContent"];
    assert_eq!(
        (echo["method"].as_str(), echo["body_len"].as_u64()),
        (Some("PUT"), Some(node.to_string().len() as u64)),
        "{body}"
    );
    assert_eq!(echo["headers"]["content-type"], "application/json");
    let (body, _) = call_tool(
        &gw,
        KEY_A,
        &sid,
        "trees__search",
        json!({"q": "a b", "limit": 2}),
    )
    .await;
    assert_eq!(
        body["result"]["structuredContent"]["query"], "q=a%20b&limit=2",
        "{body}"
    );
}
