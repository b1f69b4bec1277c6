//! Money that cannot leak (issue 8): the reservation covers the whole fallback chain,
//! the reserved cap is sent upstream, answers without usage are still billed, a 402
//! gives back its tokens/min charge, and a stream without upstream usage still ends
//! with the usage chunk the client asked for. Every test runs the real binary against
//! the mock provider.

mod common;

use common::*;
use serde_json::{Value, json};

fn config(mock: &MockProvider) -> String {
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
    api_keys: ["sk-mock-openai-secret"]
  - name: mock-compatible
    kind: openai_compatible
    base_url: {openai}
    api_keys: ["compat-key"]
  - name: mock-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gm-key"]
  - name: mock-ollama
    kind: ollama
    base_url: {ollama}
models:
  # Always fails, cheap; its fallback is ten times dearer per token.
  - name: cheap-broken
    targets: [{{provider: mock-openai, model: "gpt@status=500"}}]
    price: {{input_per_mtok: 10, output_per_mtok: 10}}
    max_output_tokens: 100
    fallbacks: [dear-fallback]
  - name: dear-fallback
    targets: [{{provider: mock-openai, model: "gpt@words=40"}}]
    price: {{input_per_mtok: 100, output_per_mtok: 100}}
    max_output_tokens: 100
  - name: limited-fallback-head
    targets: [{{provider: mock-openai, model: "gpt@status=500"}}]
    fallbacks: [limited-fallback]
  - name: limited-fallback
    targets: [{{provider: mock-openai, model: "gpt@reply=from_the_fallback"}}]
    rate_limit: {{requests_per_minute: 1}}
  - name: wordy-openai
    targets: [{{provider: mock-openai, model: "gpt@words=300"}}]
    max_output_tokens: 12
    price: {{input_per_mtok: 1, output_per_mtok: 1}}
  - name: wordy-compatible
    targets: [{{provider: mock-compatible, model: "llama@words=300"}}]
    max_output_tokens: 12
  - name: wordy-gemini
    targets: [{{provider: mock-gemini, model: "gemini-2.0-flash@words=300"}}]
    max_output_tokens: 12
  - name: wordy-ollama
    targets: [{{provider: mock-ollama, model: "llama3@words=300"}}]
    max_output_tokens: 12
  - name: liar
    targets: [{{provider: mock-openai, model: "gpt@ignore_max_tokens,words=300"}}]
    max_output_tokens: 12
    price: {{input_per_mtok: 1000, output_per_mtok: 1000}}
  - name: silent
    targets: [{{provider: mock-openai, model: "gpt@no_usage,words=30"}}]
    price: {{input_per_mtok: 1, output_per_mtok: 1}}
  - name: unit-price
    targets: [{{provider: mock-openai, model: "gpt@words=3"}}]
    price: {{input_per_mtok: 1, output_per_mtok: 1}}
consumers:
  - name: spender
    api_keys: ["tg-spender"]
    budget: {{usd: 0.05, period: total}}
  - name: scoped
    api_keys: ["tg-scoped"]
    models: [cheap-broken, limited-fallback-head, limited-fallback]
  - name: free
    api_keys: ["{KEY_A}"]
  - name: tpm
    api_keys: ["tg-tpm"]
    rate_limit: {{tokens_per_minute: 1000}}
    budget: {{usd: 0.0005, period: total}}
"#,
        openai = mock.openai_base_url(),
        gemini = mock.gemini_base_url(),
        ollama = mock.ollama_base_url(),
    )
}

async fn chat(gw: &Gateway, key: &str, body: Value) -> (u16, Value) {
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say something long"}]})
}

#[tokio::test]
async fn fallbacks_never_overspend_the_budget() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..40 {
        let (status, body) = chat(&gw, "tg-spender", hello("cheap-broken")).await;
        match status {
            200 => ok += 1,
            402 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(ok >= 2, "some requests fit the budget ({ok})");
    assert_eq!(refused, 1, "the budget ran out within 40 requests");
    let u = wait_requests(&gw, "tg-spender", ok + refused).await;
    let spent = u["cost_usd"].as_f64().expect("cost");
    assert!(
        spent <= 0.05 + 1e-9,
        "settled spend {spent} must not exceed the 0.05 budget: {u}"
    );
    // Each success was charged at the fallback's price, not the cheap model's.
    assert!(spent > 0.002 * ok as f64, "charged at the dear price: {u}");
}

#[tokio::test]
async fn fallbacks_keep_their_own_limits_and_the_callers_scope() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    // `scoped` may not use `dear-fallback`: the chain ends at the broken model.
    let (status, body) = chat(&gw, "tg-scoped", hello("cheap-broken")).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.body["model"].as_str().unwrap_or("").contains("words=40")),
        "a model outside the caller's scope was never called"
    );
    // The fallback's own rate limit (1 request/min) applies when it is reached.
    let (status, body) = chat(&gw, "tg-scoped", hello("limited-fallback-head")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = chat(&gw, "tg-scoped", hello("limited-fallback-head")).await;
    assert_eq!(status, 503, "the fallback is rate limited: {body}");
    assert_eq!(body["error"]["code"], "upstream_rate_limited", "{body}");
    let fallback_calls = mock
        .requests()
        .iter()
        .filter(|r| {
            r.body["model"]
                .as_str()
                .unwrap_or("")
                .contains("from_the_fallback")
        })
        .count();
    assert_eq!(fallback_calls, 1, "the limited fallback was called once");
}

#[tokio::test]
async fn the_reserved_cap_is_sent_upstream_in_each_providers_terms() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    for model in [
        "wordy-openai",
        "wordy-compatible",
        "wordy-gemini",
        "wordy-ollama",
    ] {
        mock.clear();
        let (status, body) = chat(&gw, KEY_A, hello(model)).await;
        assert_eq!(status, 200, "{model}: {body}");
        let out = body["usage"]["completion_tokens"].as_u64().expect("usage");
        assert!(out <= 12, "{model}: the answer kept to the cap: {body}");
        let sent = mock.requests().pop().expect("one upstream request").body;
        let cap = match model {
            "wordy-openai" => sent["max_completion_tokens"].clone(),
            "wordy-compatible" => sent["max_tokens"].clone(),
            "wordy-gemini" => sent["generationConfig"]["maxOutputTokens"].clone(),
            _ => sent["options"]["num_predict"].clone(),
        };
        assert_eq!(cap, json!(12), "{model}: cap sent upstream in {sent}");
    }
    // A client's own cap wins and is passed as it was sent.
    let mut req = hello("wordy-openai");
    req["max_tokens"] = json!(5);
    let (status, body) = chat(&gw, KEY_A, req).await;
    assert_eq!(status, 200, "{body}");
    let sent = mock.requests().pop().expect("request").body;
    assert_eq!(sent["max_tokens"], json!(5), "{sent}");
    assert!(sent.get("max_completion_tokens").is_none(), "{sent}");
}

#[tokio::test]
async fn a_refused_reservation_gives_back_its_tokens_per_minute() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    // Worst case ~1000 tokens: over the 0.0005 USD budget (402), and it would use
    // all of the 1000 tokens/min if its estimate were kept.
    let mut big = hello("unit-price");
    big["max_tokens"] = json!(980);
    let (status, body) = chat(&gw, "tg-tpm", big).await;
    assert_eq!(status, 402, "{body}");
    for i in 0..3 {
        let mut small = hello("unit-price");
        small["max_tokens"] = json!(10);
        let (status, body) = chat(&gw, "tg-tpm", small).await;
        assert_eq!(status, 200, "small request {i} after a 402: {body}");
    }
}

#[tokio::test]
async fn answers_without_usage_are_estimated() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    // A stream whose upstream sends no usage still ends with the usage chunk the
    // client asked for, then [DONE].
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "silent", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).expect("usage chunk");
    assert_eq!(usage["choices"], json!([]), "{usage}");
    assert!(
        usage["usage"]["completion_tokens"].as_u64().unwrap_or(0) >= 20,
        "30 words estimated: {usage}"
    );
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0);
    // A whole answer without usage is billed for what it says, not for 0 tokens.
    let (status, body) = chat(&gw, KEY_A, hello("silent")).await;
    assert_eq!(status, 200, "{body}");
    let u = wait_requests(&gw, KEY_A, 2).await;
    assert!(
        u["tokens"]["output"].as_u64().unwrap_or(0) >= 40,
        "both answers' output counted: {u}"
    );
}

#[tokio::test]
async fn wrong_methods_get_the_envelope_after_the_key_check() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let res = client()
        .get(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(
        res.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let res = client()
        .get(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["type"], "error", "Anthropic envelope: {body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    // 401 comes before 405.
    let res = client()
        .get(gw.gw("/v1/chat/completions"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn an_upstream_answering_past_the_cap_is_billed_the_cap() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&hello("liar"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let cost: f64 = res.headers()["x-tollgate-cost-usd"]
        .to_str()
        .expect("cost")
        .parse()
        .expect("number");
    let body: Value = res.json().await.expect("json");
    let reported = body["usage"]["completion_tokens"].as_u64().expect("usage");
    let prompt = body["usage"]["prompt_tokens"].as_u64().expect("usage");
    assert!(reported > 12, "the mock ignored the cap: {body}");
    // 0.001 USD per token: the prompt plus at most the 12 tokens it was allowed.
    let billed = (cost * 1e6).round() as u64;
    assert_eq!(
        billed,
        (prompt + 12) * 1000,
        "billed the cap, not {reported}: {body}"
    );
}
