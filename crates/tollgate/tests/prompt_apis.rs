//! Prompt-APIs (issue 10, item 6): a model and a message template as a REST endpoint.
//! Whole and streamed answers, the rendered messages as the upstream got them,
//! variables (required, default, unknown, JSON values), the lifecycle through the
//! admin API (illegal moves 409, draft 404, retired 410, deprecated headers), the
//! model's cache (hits replayed, whole and streamed), the chat door's budget (402,
//! `max_tokens` reserved) and rate limit (429), call records with door `prompt_api`, a
//! prompt-API created through the admin API and called at once, and `tollgate check`'s
//! errors.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

const TIGHT: &str = "tg-tight";
const LIMITED: &str = "tg-limited";

fn config(mock: &MockProvider) -> String {
    format!(
        r#"{base}  - name: tight
    api_keys: ["{TIGHT}"]
    budget: {{usd: 0.0001, period: daily}}
  - name: limited
    api_keys: ["{LIMITED}"]
    rate_limit: {{requests_per_minute: 1}}
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
    temperature: 0.2
  - name: sunsetting
    path: /prompt/old
    model: gpt-mock
    messages: [{{role: user, content: "old {{{{ x }}}}"}}]
    variables: [{{name: x}}]
    max_tokens: 50
    lifecycle: deprecated
    sunset_at: 2027-06-30T00:00:00Z
"#,
        base = config_for(
            mock,
            "  - name: cached-mock\n    targets: [{provider: mock-openai, model: gpt-4o-mini}]\n    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}\n    cache: {ttl_seconds: 300}\n"
        )
    )
}

async fn call(gw: &Gateway, path: &str, key: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.gw(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("send")
}

/// The messages of the last chat request the mock got.
fn last_upstream(mock: &MockProvider) -> Value {
    mock.requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("an upstream chat request")
        .body
}

#[tokio::test]
async fn answers_whole_and_streamed_with_rendered_messages_and_records() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));

    // Whole answer; the default fills `language`.
    let res = call(
        &gw,
        "/prompt/summarize",
        KEY_A,
        json!({"variables": {"text": "The cat sat."}}),
    )
    .await;
    let (status, headers, body) = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    let id = headers["x-request-id"].to_str().expect("id").to_string();
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    assert_eq!(body["output"], "mock reply to: The cat sat.", "{body}");
    assert_eq!(body["model"], "gpt-4o-mini", "{body}");
    assert!(body["usage"]["input"].as_u64().unwrap_or(0) > 0, "{body}");
    let output_tokens = body["usage"]["output"].as_u64().expect("output tokens");
    assert!(output_tokens > 0, "{body}");
    assert!(body["cost_usd"].as_f64().expect("cost") > 0.0, "{body}");
    let up = last_upstream(&mock);
    assert_eq!(
        up["messages"],
        json!([
            {"role": "system", "content": "Summarize in English."},
            {"role": "user", "content": "The cat sat."}
        ])
    );
    assert_eq!(up["model"], "gpt-4o-mini");
    assert_eq!(up["max_tokens"], 300);
    assert_eq!(up["temperature"], 0.2);
    let store = open_store(&gw).await;
    let r = record(&store, &id).await;
    assert_eq!(r.door, "prompt_api");
    assert_eq!(r.model.as_deref(), Some("summarize"));
    assert_eq!(r.provider.as_deref(), Some("mock-openai"));
    assert_eq!(r.target_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.consumer.as_deref(), Some("team-a"));
    assert_eq!(r.status, 200);
    assert_eq!(r.output_tokens, output_tokens);
    assert!(!r.stream);

    // A given language wins over the default; a non-string value is its JSON text.
    let res = call(
        &gw,
        "/prompt/summarize",
        KEY_A,
        json!({"variables": {"text": {"a": [1, 2]}, "language": "French"}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let up = last_upstream(&mock);
    assert_eq!(up["messages"][0]["content"], "Summarize in French.");
    assert_eq!(up["messages"][1]["content"], r#"{"a":[1,2]}"#);

    // Streamed: deltas, then done with usage.
    let res = call(
        &gw,
        "/prompt/summarize",
        KEY_A,
        json!({"variables": {"text": "Dogs bark."}, "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let text = res.text().await.expect("body");
    let events: Vec<Value> = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str(d).expect("json event"))
        .collect();
    let (last, deltas) = events.split_last().expect("events");
    let joined: String = deltas
        .iter()
        .map(|e| e["delta"].as_str().expect("a delta event"))
        .collect();
    assert_eq!(joined, "mock reply to: Dogs bark.", "{text}");
    assert_eq!(last["done"], true, "{text}");
    let output_tokens = last["usage"]["output"].as_u64().expect("output tokens");
    assert!(output_tokens > 0, "{text}");
    assert!(last["usage"]["input"].as_u64().unwrap_or(0) > 0, "{text}");
    let up = last_upstream(&mock);
    assert_eq!(up["stream"], true);
    assert_eq!(up["messages"][1]["content"], "Dogs bark.");
    let r = record(&store, &id).await;
    assert_eq!(r.door, "prompt_api");
    assert_eq!(r.model.as_deref(), Some("summarize"));
    assert!(r.stream);
    assert_eq!(r.output_tokens, output_tokens);

    // A stream that breaks ends with the OpenAI error event.
    let res = client()
        .post(gw.admin("/admin/v1/models"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "broken", "targets": [{"provider": "mock-openai", "model": "gpt-4o-mini@cut_after=2"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let res = client()
        .post(gw.admin("/admin/v1/prompt-apis"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"name": "breaks", "path": "/prompt/breaks", "model": "broken",
            "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let res = call(&gw, "/prompt/breaks", KEY_A, json!({"stream": true})).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    let events = sse_data(&text);
    let last: Value = serde_json::from_str(events.last().expect("events")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_stream_broken", "{text}");
    assert!(!text.contains("\"done\""), "{text}");
}

#[tokio::test]
async fn the_models_cache_serves_repeated_calls() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let res = client()
        .post(gw.admin("/admin/v1/prompt-apis"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"name": "cached", "path": "/prompt/cached", "model": "cached-mock",
            "messages": [{"role": "user", "content": "Echo {{ w }}"}],
            "variables": [{"name": "w", "required": true}], "max_tokens": 20}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    mock.clear();
    let mut answers = Vec::new();
    for (mark, stream) in [
        ("miss", false),
        ("hit", false),
        ("miss", true),
        ("hit", true),
    ] {
        let res = call(
            &gw,
            "/prompt/cached",
            KEY_A,
            json!({"variables": {"w": "once"}, "stream": stream}),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-tollgate-cache"], mark, "{mark} {stream}");
        answers.push(res.text().await.expect("body"));
    }
    let whole: Vec<Value> = answers[..2]
        .iter()
        .map(|t| serde_json::from_str(t).expect("json"))
        .collect();
    assert_eq!(whole[0]["output"], whole[1]["output"]);
    assert_eq!(whole[1]["output"], "mock reply to: Echo once");
    assert!(whole[0]["cost_usd"].as_f64().expect("cost") > 0.0);
    assert_eq!(whole[1]["cost_usd"], 0.0, "a hit is free: {}", whole[1]);
    assert_eq!(
        whole[1]["usage"], whole[0]["usage"],
        "a hit reports the answer's usage"
    );
    // The replayed stream is re-framed the same way.
    assert_eq!(answers[2], answers[3]);
    assert!(answers[3].contains("\"done\":true"), "{}", answers[3]);
    assert_eq!(
        mock.requests().len(),
        2,
        "one upstream call per kind of answer"
    );
}

#[tokio::test]
async fn variables_methods_and_keys_are_checked_first() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    mock.clear();

    // No key: 401 before anything else.
    let res = client()
        .post(gw.gw("/prompt/summarize"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    let (status, _, body) = json_of(res).await;
    assert_eq!((status, code(&body)), (401, "invalid_api_key"), "{body}");

    // A missing required variable is named.
    let (status, _, body) = json_of(
        call(
            &gw,
            "/prompt/summarize",
            KEY_A,
            json!({"variables": {"language": "German"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(code(&body), "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("`text`"),
        "{body}"
    );
    assert_eq!(body["error"]["param"], "variables.text");
    // An empty body is a call without variables (the same 400).
    let res = client()
        .post(gw.gw("/prompt/summarize"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    // Unknown variables and unknown fields are refused.
    let (status, _, body) = json_of(
        call(
            &gw,
            "/prompt/summarize",
            KEY_A,
            json!({"variables": {"text": "x", "tone": "dry"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("`tone`"),
        "{body}"
    );
    let (status, _, _) = json_of(
        call(
            &gw,
            "/prompt/summarize",
            KEY_A,
            json!({"variables": {"text": "x"}, "temperature": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    // Wrong method: 405 with Allow.
    let res = client()
        .get(gw.gw("/prompt/summarize"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let body: Value = res.json().await.expect("json");
    assert_eq!(code(&body), "method_not_allowed");
    // None of these reached the upstream.
    assert!(mock.requests().is_empty());

    // A consumer not allowed the model: 403.
    let res = client()
        .post(gw.admin("/admin/v1/prompt-apis"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"name": "claude-only", "path": "/prompt/claude", "model": "claude-mock",
            "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let (status, _, body) = json_of(call(&gw, "/prompt/claude", KEY_B, json!({})).await).await;
    assert_eq!((status, code(&body)), (403, "model_not_allowed"), "{body}");
    // ... and one allowed gets the Anthropic model's answer through the same path.
    let (status, _, body) = json_of(call(&gw, "/prompt/claude", KEY_A, json!({})).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], "mock reply to: hi");
}

#[tokio::test]
async fn budgets_and_rate_limits_apply() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    mock.clear();
    // $0.0001 a day, and the prompt-API reserves its 300 `max_tokens` ($0.0006 at
    // gpt-mock's price) though a reply costs far less: 402 at once.
    let (status, _, body) = json_of(
        call(
            &gw,
            "/prompt/summarize",
            TIGHT,
            json!({"variables": {"text": "x"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(code(&body), "budget_exceeded");
    assert!(mock.requests().is_empty());
    // One request a minute.
    let (status, _, body) = json_of(
        call(
            &gw,
            "/prompt/summarize",
            LIMITED,
            json!({"variables": {"text": "x"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let res = call(
        &gw,
        "/prompt/summarize",
        LIMITED,
        json!({"variables": {"text": "x"}}),
    )
    .await;
    assert!(res.headers().get("retry-after").is_some());
    let (status, _, body) = json_of(res).await;
    assert_eq!(
        (status, code(&body)),
        (429, "rate_limit_exceeded"),
        "{body}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn admin_crud_and_lifecycle_are_live_at_once() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let admin = |method: reqwest::Method, path: &str| {
        client()
            .request(method, gw.admin(path))
            .bearer_auth(ADMIN_TOKEN)
    };
    let spec = json!({"name": "translate", "path": "/prompt/translate", "model": "gpt-mock",
        "messages": [{"role": "user", "content": "Translate to {{ to }}: {{ text }}"}],
        "variables": [{"name": "text", "required": true}, {"name": "to", "default": "Dutch"}],
        "max_tokens": 100, "lifecycle": "draft", "sunset_at": "2027-06-30T00:00:00Z",
        "subscription": {"approval": "manual"}});
    let res = admin(reqwest::Method::POST, "/admin/v1/prompt-apis")
        .json(&spec)
        .send()
        .await
        .expect("send");
    let (status, _, body) = json_of(res).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["lifecycle"], "draft");
    assert_eq!(body["subscription"]["approval"], "manual");
    // Draft: 404.
    let vars = json!({"variables": {"text": "hello"}});
    let (status, _, body) =
        json_of(call(&gw, "/prompt/translate", KEY_A, vars.clone()).await).await;
    assert_eq!((status, code(&body)), (404, "not_found"), "{body}");
    // Illegal moves: 409 invalid_transition.
    let mv = |state: &str| {
        admin(
            reqwest::Method::PUT,
            "/admin/v1/prompt-apis/translate/lifecycle",
        )
        .json(&json!({"state": state}))
    };
    let (status, _, body) = json_of(mv("deprecated").send().await.expect("send")).await;
    assert_eq!((status, code(&body)), (409, "invalid_transition"), "{body}");
    // Published: served at once, with the upstream seeing the rendered message.
    let (status, _, body) = json_of(mv("published").send().await.expect("send")).await;
    assert_eq!(
        (status, body["lifecycle"].as_str()),
        (200, Some("published")),
        "{body}"
    );
    // It takes subscriptions, approved by hand: 403 not_subscribed until one is.
    let (status, _, body) =
        json_of(call(&gw, "/prompt/translate", KEY_A, vars.clone()).await).await;
    assert_eq!((status, code(&body)), (403, "not_subscribed"), "{body}");
    let res = admin(reqwest::Method::POST, "/admin/v1/subscriptions")
        .json(&json!({"consumer": "team-a", "service": "translate"}))
        .send()
        .await
        .expect("send");
    let (status, _, sub) = json_of(res).await;
    assert_eq!(
        (status, sub["status"].as_str()),
        (201, Some("pending")),
        "{sub}"
    );
    let (status, _, body) =
        json_of(call(&gw, "/prompt/translate", KEY_A, vars.clone()).await).await;
    assert_eq!(
        (status, code(&body)),
        (403, "not_subscribed"),
        "pending: {body}"
    );
    let id = sub["id"].as_str().expect("id");
    let res = admin(
        reqwest::Method::POST,
        &format!("/admin/v1/subscriptions/{id}/approve"),
    )
    .send()
    .await
    .expect("send");
    assert_eq!(res.status(), 200);
    let res = call(&gw, "/prompt/translate", KEY_A, vars.clone()).await;
    assert!(res.headers().get("deprecation").is_none());
    let (status, _, body) = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], "mock reply to: Translate to Dutch: hello");
    let (status, _, _) = json_of(mv("draft").send().await.expect("send")).await;
    assert_eq!(status, 409, "nothing returns to draft");
    // Deprecated: served with Deprecation and Sunset.
    let (status, _, _) = json_of(mv("deprecated").send().await.expect("send")).await;
    assert_eq!(status, 200);
    let res = call(&gw, "/prompt/translate", KEY_A, vars.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["deprecation"], "true");
    assert_eq!(res.headers()["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT");
    // Retired: 410, and final.
    let (status, _, _) = json_of(mv("retired").send().await.expect("send")).await;
    assert_eq!(status, 200);
    let (status, _, body) =
        json_of(call(&gw, "/prompt/translate", KEY_A, vars.clone()).await).await;
    assert_eq!((status, code(&body)), (410, "service_retired"), "{body}");
    let (status, _, _) = json_of(mv("published").send().await.expect("send")).await;
    assert_eq!(status, 409, "retired is final");

    // The config's deprecated prompt-API carries its headers too.
    let res = call(&gw, "/prompt/old", KEY_A, json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["deprecation"], "true");

    // GET, list, PUT (whole shape), DELETE.
    let one = admin_json(&gw, "/admin/v1/prompt-apis/summarize").await;
    assert_eq!(one["source"], "config");
    let list = admin_json(&gw, "/admin/v1/prompt-apis").await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, vec!["summarize", "sunsetting", "translate"]);
    let mut changed = spec.clone();
    changed["name"] = json!("moved");
    changed["path"] = json!("/prompt/moved");
    changed["lifecycle"] = json!("published");
    changed
        .as_object_mut()
        .expect("object")
        .remove("subscription");
    let res = admin(reqwest::Method::POST, "/admin/v1/prompt-apis")
        .json(&changed)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    changed["messages"] = json!([{"role": "user", "content": "Now: {{ text }}"}]);
    let res = admin(reqwest::Method::PUT, "/admin/v1/prompt-apis/moved")
        .json(&changed)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let (_, _, body) = json_of(call(&gw, "/prompt/moved", KEY_A, vars.clone()).await).await;
    assert_eq!(body["output"], "mock reply to: Now: hello");
    let res = admin(reqwest::Method::DELETE, "/admin/v1/prompt-apis/moved")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 204);
    let (status, _, _) = json_of(call(&gw, "/prompt/moved", KEY_A, vars.clone()).await).await;
    assert_eq!(status, 404);

    // Refused writes: template errors, an unknown model, a taken path or name.
    let bad = |patch: Value| {
        let mut s = json!({"name": "bad", "path": "/prompt/bad", "model": "gpt-mock",
            "messages": [{"role": "user", "content": "{{ text }}"}],
            "variables": [{"name": "text"}], "max_tokens": 10});
        if let (Some(o), Some(p)) = (s.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                o.insert(k.clone(), v.clone());
            }
        }
        admin(reqwest::Method::POST, "/admin/v1/prompt-apis").json(&s)
    };
    for (patch, want) in [
        (
            json!({"messages": [{"role": "user", "content": "{% if %}"}]}),
            400,
        ),
        (
            json!({"messages": [{"role": "user", "content": "{{ nope }}"}]}),
            400,
        ),
        (json!({"model": "ghost"}), 400),
        (json!({"path": "/v1/chat"}), 400),
        (json!({"path": "/mcp"}), 400),
        (json!({"path": "/prompt/summarize"}), 409),
        (json!({"name": "summarize"}), 409),
    ] {
        let (status, _, body) = json_of(bad(patch.clone()).send().await.expect("send")).await;
        assert_eq!(status, want, "{patch}: {body}");
    }
    // A service may not take a prompt-API's name, nor cover its path.
    let svc = |name: &str, prefix: &str| {
        json!({"name": name, "path_prefix": prefix,
        "upstream": {"nodes": [{"url": "http://127.0.0.1:9"}]}})
    };
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&svc("summarize", "/svc/x"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 409);
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&svc("prompts", "/prompt"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 409);
}

#[test]
fn check_reports_prompt_api_errors_at_their_lines() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.yaml");
    let text = r#"providers:
  - {name: o, kind: openai}
models:
  - {name: m, targets: [{provider: o, model: gpt-4o-mini}]}
services:
  - name: weather
    path_prefix: /svc/weather
    upstream: {nodes: [{url: "http://127.0.0.1:9"}]}
prompt_apis:
  - name: a
    path: /prompt/a
    model: ghost
    messages:
      - {role: user, content: "{% if %}"}
    max_tokens: 10
  - name: a
    path: /v1/a
    model: m
    messages:
      - {role: user, content: "{{ undeclared }}"}
    max_tokens: 10
  - name: weather
    path: /svc/weather/p
    model: m
    messages: [{role: user, content: "hi"}]
    max_tokens: 10
"#;
    std::fs::write(&path, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    let at = |line: u32, what: &str| {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(what)),
            "{line} {what}: {stderr}"
        );
    };
    at(12, "prompt_apis[0].model");
    at(14, "prompt_apis[0].messages[0].content");
    at(16, "prompt_apis[1].name");
    at(17, "prompt_apis[1].path");
    at(20, "prompt_apis[1].messages[0].content");
    at(22, "prompt_apis[2].name");
    at(23, "prompt_apis[2].path");

    // A good one passes.
    std::fs::write(
        &path,
        "providers:\n  - {name: o, kind: openai}\nmodels:\n  - {name: m, targets: [{provider: o, model: gpt-4o-mini}]}\nprompt_apis:\n  - {name: p, path: /prompt/p, model: m, messages: [{role: user, content: \"{{ t }}\"}], variables: [{name: t, required: true}], max_tokens: 5}\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
