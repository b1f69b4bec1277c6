//! The OpenAI Responses door (`/v1/responses`, issue 14) through the real binary and
//! the strict mock, in front of several provider kinds: text, function tools round
//! trip, JSON schema, an answer cut by `max_output_tokens`, the event stream (order
//! and sequence numbers, tools, a broken upstream), stored responses continued with
//! `previous_response_id` (the upstream sees the whole conversation) and scoped to
//! their consumer, the error table's rows on this door, cache and failover, and call
//! records with door `responses`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const KINDS: &[&str] = &[
    "openai",
    "anthropic",
    "gemini",
    "ollama",
    "mistral",
    "azure",
];

fn config(mock: &MockProvider) -> String {
    let mut models = String::new();
    for (kind, provider, target) in [
        ("openai", "mock-openai", "gpt-4o-mini"),
        ("anthropic", "mock-anthropic", "claude-3-5-haiku"),
        ("gemini", "mock-gemini", "gemini-2.0-flash"),
        ("ollama", "mock-ollama", "llama3.2"),
        ("mistral", "mock-mistral", "mistral-small-latest"),
        ("azure", "mock-azure", "my-gpt4o"),
    ] {
        for (suffix, directive) in [("chat", ""), ("long", "@words=12"), ("cut", "@cut_after=3")] {
            models.push_str(&format!(
                "  - name: {kind}-{suffix}\n    targets: [{{provider: {provider}, model: \"{target}{directive}\"}}]\n    max_output_tokens: 1024\n    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}\n"
            ));
        }
    }
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
providers:
  - name: mock-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-openai"]
  - name: mock-anthropic
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["sk-ant-mock"]
  - name: mock-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gem-key"]
  - name: mock-ollama
    kind: ollama
    base_url: {ollama}
  - name: mock-mistral
    kind: mistral
    base_url: {mistral}
    api_keys: ["mi-key"]
  - name: mock-azure
    kind: azure_openai
    base_url: {azure}
    api_version: "2024-10-21"
    api_keys: ["az-key"]
models:
{models}
  - name: cached
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
    cache: {{ttl_seconds: 300, scope: consumer}}
  - name: broken
    targets: [{{provider: mock-openai, model: "gpt@status=500"}}]
    fallbacks: [anthropic-chat]
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
  - name: limited
    api_keys: ["tg-limited"]
    rate_limit: {{requests_per_minute: 1}}
  - name: budgeted
    api_keys: ["tg-budgeted"]
    budget: {{usd: 0.01, period: monthly}}
"#,
        openai = mock.openai_base_url(),
        anthropic = mock.anthropic_base_url(),
        gemini = mock.gemini_base_url(),
        ollama = mock.ollama_base_url(),
        mistral = mock.mistral_base_url(),
        azure = mock.azure_base_url(),
    )
}

struct Env {
    mock: MockProvider,
    gw: Gateway,
}

async fn env() -> Env {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    Env { mock, gw }
}

impl Env {
    async fn post(&self, key: &str, body: Value) -> reqwest::Response {
        client()
            .post(self.gw.gw("/v1/responses"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("send")
    }

    /// A non-stream call that must answer 200: the response object.
    async fn create(&self, body: Value) -> Value {
        let res = self.post(KEY_A, body.clone()).await;
        let status = res.status();
        let v: Value = res.json().await.expect("json");
        assert_eq!(status, 200, "{body}: {v}");
        assert_eq!(v["object"], "response", "{v}");
        assert!(
            v["id"].as_str().is_some_and(|id| id.starts_with("resp_")),
            "{v}"
        );
        v
    }

    async fn by_id(&self, method: reqwest::Method, key: &str, id: &str) -> (u16, Value) {
        let res = client()
            .request(method, self.gw.gw(&format!("/v1/responses/{id}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json"))
    }

    /// The last chat request the mock got for `kind`.
    fn last_upstream(&self, kind: &str) -> tollgate_mock::RecordedRequest {
        self.mock
            .requests()
            .into_iter()
            .rev()
            .find(|r| match kind {
                "gemini" => r.path.starts_with("/v1beta/models/"),
                "ollama" => r.path == "/api/chat",
                "azure" => r.path.starts_with("/openai/deployments/"),
                "mistral" => r.path == "/mistral/v1/chat/completions",
                "anthropic" => r.path == "/v1/messages",
                _ => r.path == "/v1/chat/completions",
            })
            .unwrap_or_else(|| panic!("{kind}: no upstream request"))
    }
}

/// The text of a response's message items.
fn output_text(v: &Value) -> String {
    v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().into_iter().flatten())
        .filter_map(|c| c["text"].as_str())
        .collect()
}

/// The function_call items of a response.
fn calls(v: &Value) -> Vec<Value> {
    v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call")
        .cloned()
        .collect()
}

/// The events of a Responses stream, checked for their framing: the `event:` name is
/// the data's `type`, and `sequence_number` counts from 0 up by one.
fn events(body: &str) -> Vec<Value> {
    let evs = sse_events(body);
    let mut out = Vec::new();
    for (i, (name, data)) in evs.iter().enumerate() {
        let v: Value = serde_json::from_str(data).expect("event json");
        assert_eq!(v["type"], name.as_str(), "{body}");
        assert_eq!(v["sequence_number"], i as u64, "{body}");
        out.push(v);
    }
    out
}

fn types(evs: &[Value]) -> Vec<&str> {
    evs.iter().filter_map(|e| e["type"].as_str()).collect()
}

fn tools() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}}}])
}

#[tokio::test]
async fn text_json_schema_and_incomplete_on_every_kind() {
    let e = env().await;
    for kind in KINDS {
        let v = e
            .create(
                json!({"model": format!("{kind}-chat"), "input": "hello there",
                "instructions": "be brief", "store": false, "temperature": 0.5}),
            )
            .await;
        assert_eq!(v["status"], "completed", "{kind}: {v}");
        assert_eq!(v["model"], format!("{kind}-chat"));
        assert_eq!(v["instructions"], "be brief");
        assert_eq!(v["store"], false);
        assert_eq!(v["output"][0]["type"], "message", "{kind}: {v}");
        assert_eq!(v["output"][0]["role"], "assistant");
        assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
        assert_eq!(output_text(&v), "mock reply to: hello there", "{kind}: {v}");
        let u = &v["usage"];
        assert_eq!(u["output_tokens"], 5, "{kind}: {v}");
        assert!(u["input_tokens"].as_u64().unwrap_or(0) >= 4, "{kind}: {v}");
        assert_eq!(
            u["total_tokens"].as_u64(),
            Some(u["input_tokens"].as_u64().unwrap_or(0) + 5)
        );
        assert!(u["input_tokens_details"]["cached_tokens"].is_u64(), "{v}");
        assert!(
            u["output_tokens_details"]["reasoning_tokens"].is_u64(),
            "{v}"
        );
        // instructions reached the upstream as its system prompt.
        let up = e.last_upstream(kind);
        let system = match *kind {
            "gemini" => up.body["systemInstruction"]["parts"][0]["text"].clone(),
            "anthropic" => up.body["system"].clone(),
            _ => up.body["messages"][0]["content"].clone(),
        };
        assert_eq!(system, "be brief", "{kind}: {}", up.body);

        // text.format with a JSON schema.
        let schema = json!({"type": "object", "properties": {"reply": {"type": "string"}},
            "required": ["reply"], "additionalProperties": false});
        let v = e
            .create(json!({"model": format!("{kind}-chat"), "store": false,
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "give json"}]}],
                "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": true}}}))
            .await;
        let parsed: Value = serde_json::from_str(&output_text(&v)).expect("JSON text");
        // Anthropic is given the schema as a forced tool, whose input (the mock's
        // `{"input": <last user text>}`) comes back as the text.
        let (field, expected) = match *kind {
            "anthropic" => ("input", "give json"),
            _ => ("reply", "mock reply to: give json"),
        };
        assert_eq!(parsed[field], expected, "{kind}: {v}");
        assert_eq!(v["text"]["format"]["name"], "answer");

        // Cut by max_output_tokens: incomplete, as OpenAI's API.
        let v = e
            .create(
                json!({"model": format!("{kind}-long"), "store": false, "input": "go",
                "max_output_tokens": 3}),
            )
            .await;
        assert_eq!(v["status"], "incomplete", "{kind}: {v}");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(v["max_output_tokens"], 3);
        assert_eq!(v["usage"]["output_tokens"], 3, "{kind}: {v}");
        let up = e.last_upstream(kind);
        let max = match *kind {
            "gemini" => &up.body["generationConfig"]["maxOutputTokens"],
            "ollama" => &up.body["options"]["num_predict"],
            _ => &up.body["max_tokens"],
        };
        assert_eq!(max, &json!(3), "{kind}: {}", up.body);
    }
}

#[tokio::test]
async fn function_tools_round_trip_on_every_kind() {
    let e = env().await;
    for kind in KINDS {
        let model = format!("{kind}-chat");
        let v = e
            .create(
                json!({"model": model, "store": false, "input": "weather in Paris",
                "tools": tools()}),
            )
            .await;
        let cs = calls(&v);
        assert_eq!(cs.len(), 1, "{kind}: {v}");
        let call = &cs[0];
        assert_eq!(call["name"], "get_weather");
        assert_eq!(call["status"], "completed");
        let call_id = call["call_id"].as_str().expect("call_id").to_string();
        assert!(!call_id.is_empty());
        let args: Value =
            serde_json::from_str(call["arguments"].as_str().expect("arguments")).expect("JSON");
        assert_eq!(args["input"], "weather in Paris", "{kind}");
        assert_eq!(v["tools"], tools());

        // The call and its output go back as input items.
        let v = e
            .create(
                json!({"model": model, "store": false, "tools": tools(), "input": [
                {"role": "user", "content": "weather in Paris"},
                call,
                {"type": "function_call_output", "call_id": call_id, "output": "sunny 21C"}]}),
            )
            .await;
        assert_eq!(output_text(&v), "tool said: sunny 21C", "{kind}: {v}");
        let up = e.last_upstream(kind);
        let body = up.body.to_string();
        assert!(body.contains("sunny 21C"), "{kind}: {body}");
        assert!(body.contains("get_weather"), "{kind}: {body}");
    }
}

#[tokio::test]
async fn stream_events_in_order_on_every_kind() {
    let e = env().await;
    for kind in KINDS {
        let res = e
            .post(
                KEY_A,
                json!({"model": format!("{kind}-chat"), "stream": true, "store": false,
                "input": "stream me please"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{kind}");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let body = res.text().await.expect("body");
        let evs = events(&body);
        let t = types(&evs);
        assert_eq!(
            t[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ],
            "{kind}: {body}"
        );
        let deltas = t
            .iter()
            .filter(|x| **x == "response.output_text.delta")
            .count();
        assert!(deltas >= 2, "{kind}: {body}");
        assert_eq!(
            t[4 + deltas..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ],
            "{kind}: {body}"
        );
        let id = evs[0]["response"]["id"].clone();
        assert_eq!(evs[0]["response"]["status"], "in_progress");
        let text: String = evs
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .filter_map(|e| e["delta"].as_str())
            .collect();
        assert_eq!(text, "mock reply to: stream me please", "{kind}");
        let done = evs.last().expect("events");
        assert_eq!(done["response"]["id"], id);
        assert_eq!(done["response"]["status"], "completed");
        assert_eq!(output_text(&done["response"]), text);
        assert_eq!(
            done["response"]["usage"]["output_tokens"], 6,
            "{kind}: {body}"
        );
        let item = &evs[2]["item"];
        assert_eq!(item["status"], "in_progress");
        assert_eq!(evs[3]["item_id"], item["id"]);

        // A function call, streamed.
        let res = e
            .post(
                KEY_A,
                json!({"model": format!("{kind}-chat"), "stream": true, "store": false,
                "input": "weather in Paris", "tools": tools()}),
            )
            .await;
        let body = res.text().await.expect("body");
        let evs = events(&body);
        let t = types(&evs);
        assert_eq!(t[2], "response.output_item.added", "{kind}: {body}");
        assert_eq!(evs[2]["item"]["type"], "function_call", "{kind}: {body}");
        let args: String = evs
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.delta")
            .filter_map(|e| e["delta"].as_str())
            .collect();
        let done = evs
            .iter()
            .find(|e| e["type"] == "response.function_call_arguments.done")
            .expect("arguments done");
        assert_eq!(done["arguments"], args.as_str());
        let parsed: Value = serde_json::from_str(&args).expect("JSON arguments");
        assert_eq!(parsed["input"], "weather in Paris", "{kind}");
        let last = evs.last().expect("events");
        assert_eq!(last["type"], "response.completed");
        assert_eq!(calls(&last["response"])[0]["arguments"], args.as_str());
        assert_eq!(
            calls(&last["response"])[0]["call_id"],
            evs[2]["item"]["call_id"]
        );

        // Cut by max_output_tokens: the stream ends with response.incomplete.
        let res = e
            .post(
                KEY_A,
                json!({"model": format!("{kind}-long"), "stream": true, "store": false,
                "input": "go", "max_output_tokens": 3}),
            )
            .await;
        let body = res.text().await.expect("body");
        let evs = events(&body);
        let last = evs.last().expect("events");
        assert_eq!(last["type"], "response.incomplete", "{kind}: {body}");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );

        // A broken upstream: an error event, then response.failed, last.
        let res = e
            .post(
                KEY_A,
                json!({"model": format!("{kind}-cut"), "stream": true, "store": false,
                "input": "a longer reply would be cut here"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{kind}");
        let body = res.text().await.expect("body");
        let evs = events(&body);
        let t = types(&evs);
        assert_eq!(t[0], "response.created", "{kind}: {body}");
        assert_eq!(
            t[t.len() - 2..],
            ["error", "response.failed"],
            "{kind}: {body}"
        );
        let failed = evs.last().expect("events");
        assert_eq!(failed["response"]["status"], "failed");
        assert_eq!(
            failed["response"]["error"]["code"], "upstream_stream_broken",
            "{body}"
        );
    }
}

#[tokio::test]
async fn stored_responses_continue_and_stay_with_their_consumer() {
    let e = env().await;
    for kind in ["openai", "anthropic", "gemini"] {
        let model = format!("{kind}-chat");
        let first = e
            .create(json!({"model": model, "input": "my name is Ann", "instructions": "be brief"}))
            .await;
        assert_eq!(first["store"], true);
        let id = first["id"].as_str().expect("id").to_string();

        // The same consumer reads it back; another consumer gets 404.
        let (status, got) = e.by_id(reqwest::Method::GET, KEY_A, &id).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got, first);
        let (status, got) = e.by_id(reqwest::Method::GET, KEY_B, &id).await;
        assert_eq!(status, 404, "{got}");
        assert_eq!(got["error"]["type"], "invalid_request_error");
        assert_eq!(got["error"]["code"], "not_found");

        // Continued: the upstream sees the whole conversation, without the first
        // request's instructions.
        let second = e
            .create(json!({"model": model, "input": "what is my name",
                "previous_response_id": id}))
            .await;
        assert_eq!(second["previous_response_id"], id.as_str());
        let up = e.last_upstream(kind);
        let body = up.body.to_string();
        for said in [
            "my name is Ann",
            "mock reply to: my name is Ann",
            "what is my name",
        ] {
            assert!(body.contains(said), "{kind}: {said} missing from {body}");
        }
        assert!(!body.contains("be brief"), "{kind}: {body}");
        if kind == "openai" {
            let roles: Vec<&str> = up.body["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .filter_map(|m| m["role"].as_str())
                .collect();
            assert_eq!(roles, ["user", "assistant", "user"], "{body}");
        }

        // A streamed continuation of the continuation, stored too.
        let res = e
            .post(
                KEY_A,
                json!({"model": model, "stream": true, "input": "and again",
                "previous_response_id": second["id"]}),
            )
            .await;
        let text = res.text().await.expect("body");
        let evs = events(&text);
        let third = evs.last().expect("events")["response"].clone();
        let body = e.last_upstream(kind).body.to_string();
        for said in [
            "my name is Ann",
            "mock reply to: what is my name",
            "and again",
        ] {
            assert!(body.contains(said), "{kind}: {said} missing from {body}");
        }
        let fourth = e
            .create(json!({"model": model, "input": "last", "previous_response_id": third["id"]}))
            .await;
        let body = e.last_upstream(kind).body.to_string();
        assert!(body.contains("mock reply to: and again"), "{kind}: {body}");
        assert_eq!(fourth["status"], "completed");

        // Another consumer cannot continue it, nor delete it.
        let res = e
            .post(
                KEY_B,
                json!({"model": model, "input": "x", "previous_response_id": id}),
            )
            .await;
        assert_eq!(res.status(), 404);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["error"]["param"], "previous_response_id");
        let (status, _) = e.by_id(reqwest::Method::DELETE, KEY_B, &id).await;
        assert_eq!(status, 404);

        // Its owner deletes it; then it is gone.
        let (status, v) = e.by_id(reqwest::Method::DELETE, KEY_A, &id).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v, json!({"id": id, "object": "response", "deleted": true}));
        let (status, _) = e.by_id(reqwest::Method::GET, KEY_A, &id).await;
        assert_eq!(status, 404);
    }

    // store: false keeps nothing.
    let v = e
        .create(json!({"model": "openai-chat", "input": "forget me", "store": false}))
        .await;
    let (status, _) = e
        .by_id(reqwest::Method::GET, KEY_A, v["id"].as_str().expect("id"))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn error_table_and_call_records_on_this_door() {
    let e = env().await;
    let http = client();
    let url = e.gw.gw("/v1/responses");
    let ok = json!({"model": "openai-chat", "input": "hi", "store": false});

    // 401 in OpenAI's envelope.
    let res = http.post(&url).json(&ok).send().await.expect("send");
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["code"], "invalid_api_key", "{v}");
    // 400 with the offending field.
    let res = e
        .post(
            KEY_A,
            json!({"model": "openai-chat", "input": "x",
            "tools": [{"type": "web_search_preview"}]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "tools[0].type", "{v}");
    let res = e.post(KEY_A, json!({"model": "openai-chat"})).await;
    assert_eq!(res.status(), 400);
    // 404 unknown model.
    let res = e.post(KEY_A, json!({"model": "nope", "input": "x"})).await;
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["code"], "model_not_found");
    // 429 past the rate limit.
    assert_eq!(e.post("tg-limited", ok.clone()).await.status(), 200);
    let res = e.post("tg-limited", ok.clone()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    // 402: the reservation covers max_output_tokens (100k tokens at $2/M > $0.01).
    let res = e
        .post(
            "tg-budgeted",
            json!({"model": "openai-chat", "input": "x", "store": false,
            "max_output_tokens": 100000}),
        )
        .await;
    assert_eq!(res.status(), 402);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
    let res = e
        .post(
            "tg-budgeted",
            json!({"model": "openai-chat", "input": "x", "store": false,
            "max_output_tokens": 10}),
        )
        .await;
    assert_eq!(res.status(), 200);

    // Call records say door `responses`, with tokens, stream flag and cost.
    let res = e.post(KEY_A, ok.clone()).await;
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(res.status(), 200);
    let mut stream_body = ok.clone();
    stream_body["stream"] = json!(true);
    let res = e.post(KEY_A, stream_body).await;
    let stream_id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let _ = res.text().await.expect("body");
    let store = open_store(&e.gw).await;
    for (rid, stream) in [(id, false), (stream_id, true)] {
        let mut record = None;
        for _ in 0..100 {
            if let Some(r) = store.get_call(&rid).await.expect("read") {
                record = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = record.expect("call record");
        assert_eq!(r.door, "responses");
        assert_eq!(r.stream, stream);
        assert_eq!(r.status, 200);
        assert_eq!(r.model.as_deref(), Some("openai-chat"));
        assert_eq!(r.provider.as_deref(), Some("mock-openai"));
        assert!(r.output_tokens > 0, "{r:?}");
        assert!(r.cost_micros > 0, "{r:?}");
    }
}

#[tokio::test]
async fn cache_and_failover_hold_on_this_door() {
    let e = env().await;
    // The second identical request is a cache hit: same answer, its own response id.
    let body = json!({"model": "cached", "input": "cache me", "store": false});
    let res = e.post(KEY_A, body.clone()).await;
    assert_eq!(res.headers()["x-tollgate-cache"], "miss");
    let first: Value = res.json().await.expect("json");
    let res = e.post(KEY_A, body.clone()).await;
    assert_eq!(res.headers()["x-tollgate-cache"], "hit");
    let second: Value = res.json().await.expect("json");
    assert_eq!(output_text(&second), "mock reply to: cache me");
    assert_eq!(output_text(&first), output_text(&second));
    assert_ne!(first["id"], second["id"]);
    let upstream_calls = e
        .mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .count();
    assert_eq!(upstream_calls, 1);
    // A stream is cached apart, and replayed as Responses events.
    let mut stream = body.clone();
    stream["stream"] = json!(true);
    for mark in ["miss", "hit"] {
        let res = e.post(KEY_A, stream.clone()).await;
        assert_eq!(res.headers()["x-tollgate-cache"], mark);
        let evs = events(&res.text().await.expect("body"));
        let last = evs.last().expect("events");
        assert_eq!(last["type"], "response.completed", "{mark}");
        assert_eq!(output_text(&last["response"]), "mock reply to: cache me");
    }

    // Failover: the first target fails, the fallback (Anthropic) answers.
    let v = e
        .create(json!({"model": "broken", "input": "fail over", "store": false}))
        .await;
    assert_eq!(output_text(&v), "mock reply to: fail over");
    assert_eq!(v["model"], "broken");
}
