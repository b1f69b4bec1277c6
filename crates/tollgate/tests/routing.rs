//! Resilient routing through the real binary, against the mock provider: failure
//! classification (the mock's request log proves what was and was not sent), key
//! pools, retries, fallbacks, balancing, circuit breakers, timeouts and broken streams.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// Providers added to the harness config: several keys, dead and throttled keys, a
/// closed port.
fn providers(mock: &MockProvider) -> String {
    let openai = mock.openai_base_url();
    let anthropic = mock.anthropic_base_url();
    format!(
        r#"  - name: p-mixed
    kind: openai
    base_url: {openai}
    api_keys: ["unpaid-1", "sk-good-2"]
  - name: p-unpaid
    kind: openai
    base_url: {openai}
    api_keys: ["unpaid-only"]
  - name: p-unpaid-ant
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["unpaid-ant"]
  - name: p-two
    kind: openai
    base_url: {openai}
    api_keys: ["sk-two-a", "sk-two-b"]
  - name: p-limited
    kind: openai
    base_url: {openai}
    api_keys: ["limited-one"]
  - name: p-limited-alone
    kind: openai
    base_url: {openai}
    api_keys: ["limited-alone"]
  - name: p-closed
    kind: openai
    base_url: http://127.0.0.1:1/v1
    api_keys: ["sk-closed"]
"#
    )
}

/// The harness config with `providers` and `models` added, and `tail` (alerts...) appended.
fn config(mock: &MockProvider, models: &str, tail: &str) -> String {
    let base =
        config_for(mock, models).replacen("models:\n", &format!("{}models:\n", providers(mock)), 1);
    format!("{base}{CONSUMERS}{tail}")
}

const CONSUMERS: &str = r#"  - name: cutter
    api_keys: ["tg-cutter"]
"#;

/// The model strings the mock was asked for, in order.
fn sent_models(mock: &MockProvider) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| r.body["model"].as_str().map(str::to_string))
        .collect()
}

/// How many requests named exactly `model`.
fn sent(mock: &MockProvider, model: &str) -> usize {
    sent_models(mock).iter().filter(|m| *m == model).count()
}

/// How many requests carried provider key `key` (either header style).
fn sent_with_key(mock: &MockProvider, key: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| {
            r.headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {key}"))
                || r.headers.get("x-api-key").map(String::as_str) == Some(key)
        })
        .count()
}

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

async fn chat(gw: &Gateway, key: &str, model: &str) -> Answer {
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

async fn message(gw: &Gateway, model: &str) -> Answer {
    let res = client()
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(&json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// A streamed chat on either door; returns the whole SSE text.
async fn stream(gw: &Gateway, key: &str, door: &str, model: &str) -> (u16, String) {
    let req = client().post(gw.gw(door));
    let req = if door == "/v1/messages" {
        req.header("x-api-key", key).json(&json!({"model": model, "max_tokens": 200, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
    } else {
        req.bearer_auth(key).json(&json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
    };
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"))
}

fn content(a: &Answer) -> &str {
    a.body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("no content: {} {}", a.status, a.text))
}

fn assert_upstream_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.body["error"]["type"], "upstream_error", "{}", a.text);
    assert_eq!(a.body["error"]["code"], code, "{}", a.text);
}

/// The text of an OpenAI stream's content deltas, and its last event.
fn openai_stream(text: &str) -> (String, Value) {
    let data = sse_data(text);
    let mut out = String::new();
    for d in &data {
        if let Ok(v) = serde_json::from_str::<Value>(d)
            && let Some(t) = v["choices"][0]["delta"]["content"].as_str()
        {
            out.push_str(t);
        }
    }
    let last = data
        .last()
        .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.clone())))
        .unwrap_or(Value::Null);
    (out, last)
}

async fn metrics(gw: &Gateway) -> String {
    client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text")
}

/// A webhook receiver: (its URL, what it received).
async fn webhook_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("lock").push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hook, received)
}

const CLASSIFY: &str = r#"
  - name: reject-400
    targets:
      - {provider: mock-openai, model: "gpt@status=400"}
      - {provider: mock-openai, model: "gpt@reply=standby400", weight: 0}
    retries: {attempts: 2, backoff_ms: 10}
    fallbacks: [gpt-mock]
  - name: reject-422
    targets:
      - {provider: mock-anthropic, model: "claude@status=422"}
      - {provider: mock-anthropic, model: "claude@reply=standby422", weight: 0}
    retries: {attempts: 2, backoff_ms: 10}
    fallbacks: [claude-mock]
  - name: mixed-keys
    targets: [{provider: p-mixed, model: "gpt@reply=mixed"}]
  - name: unpaid
    targets: [{provider: p-unpaid, model: "gpt@reply=unpaid"}]
  - name: unpaid-ant
    targets: [{provider: p-unpaid-ant, model: "claude@reply=unpaid"}]
  - name: throttled-key
    targets: [{provider: p-two, model: "gpt@fail_first=1,status=429,retry_after=60"}]
  - name: limited-fallback
    targets: [{provider: p-limited, model: "gpt@reply=limited"}]
    fallbacks: [rescue]
  - name: rescue
    targets: [{provider: mock-openai, model: "gpt@reply=rescued"}]
  - name: limited-alone
    targets: [{provider: p-limited-alone, model: "gpt@reply=alone"}]
  - name: retry-2
    targets: [{provider: mock-openai, model: "gpt@fail_first=2,reply=r2"}]
    retries: {attempts: 2, backoff_ms: 10}
  - name: retry-1
    targets: [{provider: mock-openai, model: "gpt@fail_first=2,reply=r1"}]
    retries: {attempts: 1, backoff_ms: 10}
  - name: no-retry
    targets: [{provider: mock-openai, model: "gpt@status=500,reply=r0"}]
  - name: walk
    targets:
      - {provider: mock-openai, model: "gpt@status=500,reply=w1"}
      - {provider: mock-openai, model: "gpt@status=503,reply=w2", weight: 0}
    retries: {attempts: 2, backoff_ms: 10}
    fallbacks: [walk-fb1, walk-fb2]
  - name: walk-fb1
    targets: [{provider: mock-openai, model: "gpt@status=502,reply=w3"}]
  - name: walk-fb2
    targets: [{provider: mock-anthropic, model: "claude@reply=walked"}]
"#;

#[tokio::test]
async fn request_faults_are_sent_once_and_never_replayed() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, CLASSIFY, ""));
    let a = chat(&gw, KEY_A, "reject-400").await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "upstream_rejected");
    let a = message(&gw, "reject-422").await;
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.body["error"]["type"], "invalid_request_error");
    // One request each; the standby targets, retries and fallbacks never saw them.
    assert_eq!(
        sent_models(&mock),
        vec!["gpt@status=400", "claude@status=422"],
        "{:?}",
        mock.requests()
    );
}

#[tokio::test]
async fn dead_keys_are_skipped_alerted_once_and_never_reach_the_client() {
    let (hook, received) = webhook_sink().await;
    let mock = MockProvider::start().await.expect("mock");
    let alerts = format!("alerts:\n  - name: ops\n    webhook: {hook}\n    secret: s3cret\n");
    let gw = Gateway::start(&config(&mock, CLASSIFY, &alerts));

    // ["unpaid-1", "sk-good-2"]: the second key serves, the dead one is not used again.
    for i in 0..4 {
        let a = chat(&gw, KEY_A, "mixed-keys").await;
        assert_eq!(a.status, 200, "request {i}: {}", a.text);
        assert_eq!(content(&a), "mixed");
    }
    assert_eq!(sent_with_key(&mock, "unpaid-1"), 1, "{:?}", mock.requests());
    assert_eq!(sent_with_key(&mock, "sk-good-2"), 4);

    // The only key is dead and there is no fallback: 502 upstream_payment_required,
    // also once the key is cooling (no second upstream call), on both doors.
    for _ in 0..2 {
        let a = chat(&gw, KEY_A, "unpaid").await;
        assert_upstream_error(&a, 502, "upstream_payment_required");
        assert!(
            !a.text.contains("unpaid-only"),
            "no credentials: {}",
            a.text
        );
        assert!(
            !a.text.contains("exceeded your current quota"),
            "not the raw body: {}",
            a.text
        );
    }
    assert_eq!(sent_with_key(&mock, "unpaid-only"), 1);
    for _ in 0..2 {
        let a = message(&gw, "unpaid-ant").await;
        assert_eq!(a.status, 502, "{}", a.text);
        assert_eq!(a.body["error"]["type"], "api_error", "{}", a.text);
    }
    assert_eq!(sent_with_key(&mock, "unpaid-ant"), 1);

    // The admin API shows the dead key (by index, never the key itself), behind the
    // admin token, and documents the route.
    let anonymous = client()
        .get(gw.admin("/admin/v1/routing"))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);
    let doc: Value = client()
        .get(gw.admin("/admin/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        doc["paths"]["/admin/v1/routing"]["get"].is_object(),
        "documented: {}",
        doc["paths"]
    );
    let routing = admin_json(&gw, "/admin/v1/routing").await;
    assert!(!routing.to_string().contains("unpaid-1"), "{routing}");
    let mixed = routing["providers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["provider"] == "p-mixed"))
        .unwrap_or_else(|| panic!("p-mixed in {routing}"));
    assert_eq!(mixed["keys"][0]["state"], "dead", "{routing}");
    assert_eq!(mixed["keys"][0]["status"], 402, "{routing}");
    assert_eq!(mixed["keys"][1]["state"], "healthy", "{routing}");

    // Exactly one provider_key.dead alert per dead key.
    let wait_for = |n: usize| {
        let received = received.clone();
        async move {
            for _ in 0..100 {
                if received.lock().expect("lock").len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let events: Vec<Value> = received
        .lock()
        .expect("lock")
        .iter()
        .map(|b| serde_json::from_str(b).expect("json"))
        .collect();
    let mut scopes: Vec<String> = events
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "provider_key.dead", "{e}");
            assert!(!e.to_string().contains("unpaid-1"), "no credentials: {e}");
            e["scope"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        vec![
            "provider:p-mixed",
            "provider:p-unpaid",
            "provider:p-unpaid-ant"
        ],
        "{events:?}"
    );
    let mixed = events
        .iter()
        .find(|e| e["scope"] == "provider:p-mixed")
        .expect("p-mixed alert");
    assert_eq!(mixed["detail"]["key_index"], 0, "{mixed}");
    assert_eq!(mixed["detail"]["status"], 402, "{mixed}");
}

#[tokio::test]
async fn throttled_keys_cool_down_and_fail_over() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, CLASSIFY, ""));

    // Two keys: the first gets a 429 (retry-after 60 s), the second answers; the first
    // then stays out while it cools.
    for i in 0..3 {
        let a = chat(&gw, KEY_A, "throttled-key").await;
        assert_eq!(a.status, 200, "request {i}: {}", a.text);
    }
    assert_eq!(sent_with_key(&mock, "sk-two-a"), 1, "{:?}", mock.requests());
    assert_eq!(sent_with_key(&mock, "sk-two-b"), 3);

    // One key, throttled, and a fallback: the fallback answers.
    let a = chat(&gw, KEY_A, "limited-fallback").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "rescued");
    assert_eq!(sent_with_key(&mock, "limited-one"), 1);
    assert_eq!(sent(&mock, "gpt@reply=rescued"), 1);

    // One key, throttled, nothing else: 503 upstream_rate_limited.
    let a = chat(&gw, KEY_A, "limited-alone").await;
    assert_upstream_error(&a, 503, "upstream_rate_limited");
    assert_eq!(sent_with_key(&mock, "limited-alone"), 1);
}

#[tokio::test]
async fn transient_failures_are_retried_then_fallbacks_walked() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, CLASSIFY, ""));

    // fail_first=2 with 2 retries: the third call succeeds.
    let a = chat(&gw, KEY_A, "retry-2").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "r2");
    assert_eq!(sent(&mock, "gpt@fail_first=2,reply=r2"), 3);

    // fail_first=2 with 1 retry: 502 after exactly two calls.
    let a = chat(&gw, KEY_A, "retry-1").await;
    assert_upstream_error(&a, 502, "upstream_unavailable");
    assert!(!a.text.contains("sk-mock-openai-secret"));
    assert_eq!(sent(&mock, "gpt@fail_first=2,reply=r1"), 2);

    // No retries configured: one call.
    let a = chat(&gw, KEY_A, "no-retry").await;
    assert_upstream_error(&a, 502, "upstream_unavailable");
    assert_eq!(sent(&mock, "gpt@status=500,reply=r0"), 1);

    // The primary's targets (and its retries) first, then each fallback in order.
    mock.clear();
    let a = chat(&gw, KEY_A, "walk").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "walked");
    assert_eq!(
        sent_models(&mock),
        vec![
            "gpt@status=500,reply=w1",
            "gpt@status=503,reply=w2",
            "gpt@status=500,reply=w1",
            "gpt@status=502,reply=w3",
            "claude@reply=walked",
        ]
    );
}

#[tokio::test]
async fn weighted_targets_share_the_load_by_weight() {
    let models = r#"
  - name: split
    targets:
      - {provider: mock-openai, model: "gpt@reply=three", weight: 3}
      - {provider: mock-anthropic, model: "claude@reply=one", weight: 1}
"#;
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, models, ""));
    for _ in 0..20 {
        let batch: Vec<_> = (0..10).map(|_| chat(&gw, KEY_A, "split")).collect();
        for a in futures::future::join_all(batch).await {
            assert_eq!(a.status, 200, "{}", a.text);
        }
    }
    let three = sent(&mock, "gpt@reply=three");
    let one = sent(&mock, "claude@reply=one");
    assert_eq!(three + one, 200);
    // Expected 150/50; the standard deviation is about 6, so ±30 is 5 sigma.
    assert!((120..=180).contains(&three), "3:1 split, got {three}:{one}");
}

#[tokio::test]
async fn latency_strategy_prefers_the_faster_target() {
    let models = r#"
  - name: quick
    strategy: latency
    targets:
      - {provider: mock-openai, model: "gpt@reply=fast"}
      - {provider: mock-openai, model: "gpt@reply=slow,delay_ms=400"}
"#;
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, models, ""));
    // Warm-up: unmeasured targets are tried first, so both get measured.
    for _ in 0..4 {
        assert_eq!(chat(&gw, KEY_A, "quick").await.status, 200);
    }
    assert!(sent(&mock, "gpt@reply=slow,delay_ms=400") >= 1);
    assert!(sent(&mock, "gpt@reply=fast") >= 1);
    mock.clear();
    for _ in 0..20 {
        assert_eq!(content(&chat(&gw, KEY_A, "quick").await), "fast");
    }
    assert_eq!(sent(&mock, "gpt@reply=fast"), 20);
    let latency = admin_json(&gw, "/admin/v1/routing").await;
    assert!(
        latency["latency"].as_array().is_some_and(|l| l
            .iter()
            .any(|t| t["target"] == "mock-openai/gpt@reply=fast")),
        "{latency}"
    );
}

/// The breaker's state for `id` from the admin API, and how long it stays open.
async fn breaker(gw: &Gateway, id: &str) -> (String, u64) {
    let routing = admin_json(gw, "/admin/v1/routing").await;
    let b = routing["breakers"]
        .as_array()
        .and_then(|bs| bs.iter().find(|b| b["target"] == id))
        .unwrap_or_else(|| panic!("{id} in {routing}"))
        .clone();
    (
        b["state"].as_str().unwrap_or_default().to_string(),
        b["open_for_ms"].as_u64().unwrap_or(0),
    )
}

/// Asserts the `tollgate_circuit_state` gauge of `id`.
async fn assert_gauge(gw: &Gateway, id: &str, value: u8) {
    let m = metrics(gw).await;
    let line = format!("tollgate_circuit_state{{target=\"{id}\"}} {value}");
    assert!(m.lines().any(|l| l == line), "no `{line}` in:\n{m}");
}

/// Closed → open (5 failures in a row) → sheds load → half-open after the cooldown
/// (the default 30 s) → probes succeed → closed, with the state in the admin API and
/// /metrics at each step. The flaky target fails its first 5 requests only.
#[tokio::test]
async fn a_failing_target_is_taken_out_by_its_breaker_and_probed_back_in() {
    let models = r#"
  - name: breaky
    targets:
      - {provider: mock-openai, model: "gpt@fail_first=5,reply=flaky"}
      - {provider: mock-openai, model: "gpt@reply=healthy"}
"#;
    let flaky = "gpt@fail_first=5,reply=flaky";
    let id = format!("mock-openai/{flaky}");
    let healthy = "mock-openai/gpt@reply=healthy";
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, models, ""));
    // Every request succeeds (the healthy target answers when the flaky one fails)
    // until the flaky one has failed 5 times in a row and its breaker opens.
    let mut n = 0;
    while sent(&mock, flaky) < 5 {
        n += 1;
        assert!(
            n < 200,
            "the flaky target was tried only {}",
            sent(&mock, flaky)
        );
        let a = chat(&gw, KEY_A, "breaky").await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(content(&a), "healthy");
    }
    let (state, open_for_ms) = breaker(&gw, &id).await;
    assert_eq!(state, "open");
    assert!(open_for_ms > 0);
    assert_gauge(&gw, &id, 2).await;
    assert_gauge(&gw, healthy, 0).await;

    // Open: the flaky target sheds load; everything goes to the other one. (No
    // `mock.clear()` here: it would reset the mock's `fail_first` counter too.)
    let healthy_before = sent(&mock, "gpt@reply=healthy");
    for _ in 0..20 {
        let a = chat(&gw, KEY_A, "breaky").await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    assert_eq!(sent(&mock, flaky), 5, "{:?}", sent_models(&mock));
    assert_eq!(sent(&mock, "gpt@reply=healthy"), healthy_before + 20);

    // After the cooldown: half-open, and probes (now answered) close it.
    let (_, open_for_ms) = breaker(&gw, &id).await;
    tokio::time::sleep(Duration::from_millis(open_for_ms + 300)).await;
    assert_eq!(breaker(&gw, &id).await.0, "half_open");
    assert_gauge(&gw, &id, 1).await;
    let mut n = 0;
    while breaker(&gw, &id).await.0 != "closed" {
        n += 1;
        assert!(n < 200, "never closed: {:?}", breaker(&gw, &id).await);
        let a = chat(&gw, KEY_A, "breaky").await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    assert_eq!(sent(&mock, flaky), 7, "closed after 2 successful probes");
    assert_gauge(&gw, &id, 0).await;
    // Closed: it takes its share again.
    for _ in 0..40 {
        assert_eq!(chat(&gw, KEY_A, "breaky").await.status, 200);
    }
    assert!(sent(&mock, flaky) > 7, "{:?}", sent_models(&mock));
}

const TIMEOUTS: &str = r#"
  - name: conn-next
    targets:
      - {provider: p-closed, model: gpt-4o-mini}
      - {provider: mock-openai, model: "gpt@reply=after_closed", weight: 0}
  - name: conn-only
    targets: [{provider: p-closed, model: gpt-4o-mini}]
  - name: fb-model
    targets: [{provider: mock-openai, model: "gpt@delay_ms=5000,reply=fb1"}]
    timeouts: {first_byte_ms: 300}
  - name: fb-next
    targets:
      - {provider: mock-openai, model: "gpt@delay_ms=5000,reply=fb2"}
      - {provider: mock-openai, model: "gpt@reply=fb_rescue", weight: 0}
    timeouts: {first_byte_ms: 300}
  - name: fb-target-longer
    targets: [{provider: mock-openai, model: "gpt@delay_ms=800,reply=fb3", timeouts: {first_byte_ms: 10000}}]
    timeouts: {first_byte_ms: 300}
  - name: fb-target-shorter
    targets: [{provider: mock-openai, model: "gpt@delay_ms=5000,reply=fb4", timeouts: {first_byte_ms: 300}}]
    timeouts: {first_byte_ms: 60000}
  - name: idle-model
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=3000,reply=a_b_c_d"}]
    timeouts: {idle_ms: 300}
  - name: idle-target-longer
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=500,reply=x_y", timeouts: {idle_ms: 10000}}]
    timeouts: {idle_ms: 300}
  - name: idle-target-shorter
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=3000,reply=e_f_g_h", timeouts: {idle_ms: 300}}]
    timeouts: {idle_ms: 60000}
  - name: total-stream-model
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=100,words=200"}]
    timeouts: {total_ms: 1000}
  - name: total-stream-target
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=100,words=201", timeouts: {total_ms: 1000}}]
  - name: total-whole-model
    targets: [{provider: mock-openai, model: "gpt@delay_ms=5000,reply=t1"}]
    timeouts: {total_ms: 500}
  - name: total-whole-target
    targets: [{provider: mock-openai, model: "gpt@delay_ms=5000,reply=t2", timeouts: {total_ms: 500}}]
"#;

#[tokio::test]
async fn connect_and_first_byte_timeouts() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, TIMEOUTS, ""));

    // Connect: a closed port fails at once and the next target answers.
    let t = Instant::now();
    let a = chat(&gw, KEY_A, "conn-next").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "after closed");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let a = chat(&gw, KEY_A, "conn-only").await;
    assert_upstream_error(&a, 502, "upstream_unavailable");

    // First byte: the model's timeout gives 504 upstream_timeout...
    let t = Instant::now();
    let a = chat(&gw, KEY_A, "fb-model").await;
    assert_upstream_error(&a, 504, "upstream_timeout");
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(
        t.elapsed() < Duration::from_millis(4500),
        "{:?}",
        t.elapsed()
    );
    // ...or the next target's answer.
    let a = chat(&gw, KEY_A, "fb-next").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "fb rescue");
    // A target's own timeouts win over the model's, both ways.
    let a = chat(&gw, KEY_A, "fb-target-longer").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "fb3");
    let t = Instant::now();
    let a = chat(&gw, KEY_A, "fb-target-shorter").await;
    assert_upstream_error(&a, 504, "upstream_timeout");
    assert!(
        t.elapsed() < Duration::from_millis(4500),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn idle_and_total_timeouts() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, TIMEOUTS, ""));
    let o = "/v1/chat/completions";

    // Idle between chunks, from the model and from the target.
    for model in ["idle-model", "idle-target-shorter"] {
        let t = Instant::now();
        let (status, text) = stream(&gw, KEY_A, o, model).await;
        assert_eq!(status, 200);
        let (_, last) = openai_stream(&text);
        assert_eq!(last["error"]["code"], "upstream_timeout", "{model}: {text}");
        assert_eq!(last["error"]["type"], "upstream_error", "{model}: {text}");
        assert!(!sse_data(&text).iter().any(|d| d == "[DONE]"), "{text}");
        assert!(
            t.elapsed() < Duration::from_millis(2900),
            "{model}: {:?}",
            t.elapsed()
        );
    }
    // A target's longer idle timeout lets a slow but steady stream finish.
    let (status, text) = stream(&gw, KEY_A, o, "idle-target-longer").await;
    assert_eq!(status, 200);
    let (said, _) = openai_stream(&text);
    assert_eq!(said, "x y", "{text}");
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));

    // Total: a stream still going at the deadline is ended with the door's error.
    for model in ["total-stream-model", "total-stream-target"] {
        let t = Instant::now();
        let (status, text) = stream(&gw, KEY_A, o, model).await;
        assert_eq!(status, 200);
        let (said, last) = openai_stream(&text);
        assert_eq!(last["error"]["code"], "upstream_timeout", "{model}: {text}");
        assert!(!said.is_empty(), "some content first: {text}");
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "{:?}",
            t.elapsed()
        );
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
        // Anthropic door: event: error.
        let (_, text) = stream(&gw, KEY_A, "/v1/messages", model).await;
        let events = sse_events(&text);
        let (name, data) = events.last().expect("events");
        assert_eq!(name, "error", "{model}: {text}");
        let v: Value = serde_json::from_str(data).expect("json");
        assert_eq!(v["error"]["type"], "api_error");
    }
    // Total on a whole answer: 504.
    for model in ["total-whole-model", "total-whole-target"] {
        let t = Instant::now();
        let a = chat(&gw, KEY_A, model).await;
        assert_upstream_error(&a, 504, "upstream_timeout");
        assert!(t.elapsed() >= Duration::from_millis(450));
        assert!(
            t.elapsed() < Duration::from_millis(4500),
            "{:?}",
            t.elapsed()
        );
    }
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_the_door_error_and_is_metered() {
    let models = r#"
  - name: cut-openai
    targets: [{provider: mock-openai, model: "gpt@cut_after=4,words=30"}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: cut-anthropic
    targets: [{provider: mock-anthropic, model: "claude@cut_after=5,words=30"}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
"#;
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, models, ""));
    let mut output = 0;
    let mut calls = 0;
    for model in ["cut-openai", "cut-anthropic"] {
        // OpenAI door: content, then a data error event and no [DONE].
        let (status, text) = stream(&gw, "tg-cutter", "/v1/chat/completions", model).await;
        assert_eq!(status, 200);
        let (said, last) = openai_stream(&text);
        assert!(!said.is_empty(), "{model}: {text}");
        assert_eq!(
            last["error"]["code"], "upstream_stream_broken",
            "{model}: {text}"
        );
        assert!(!sse_data(&text).iter().any(|d| d == "[DONE]"), "{text}");
        calls += 1;
        let u = wait_requests(&gw, "tg-cutter", calls).await;
        let out = u["tokens"]["output"].as_u64().unwrap_or(0);
        assert!(
            out > output,
            "{model} (OpenAI door) metered what was delivered: {u}"
        );
        assert!(u["cost_usd"].as_f64().unwrap_or(0.0) > 0.0, "{u}");
        output = out;

        // Anthropic door: event: error, no message_stop.
        let (status, text) = stream(&gw, "tg-cutter", "/v1/messages", model).await;
        assert_eq!(status, 200);
        let events = sse_events(&text);
        assert!(
            events.iter().any(|(n, _)| n == "content_block_delta"),
            "{model}: {text}"
        );
        let (name, data) = events.last().expect("events");
        assert_eq!(name, "error", "{model}: {text}");
        let v: Value = serde_json::from_str(data).expect("json");
        assert_eq!(v["error"]["type"], "api_error");
        assert!(!events.iter().any(|(n, _)| n == "message_stop"), "{text}");
        calls += 1;
        let u = wait_requests(&gw, "tg-cutter", calls).await;
        let out = u["tokens"]["output"].as_u64().unwrap_or(0);
        assert!(
            out > output,
            "{model} (Anthropic door) metered what was delivered: {u}"
        );
        output = out;
    }
}

/// A listener that never accepts, with its queue full: a connection to it never
/// completes, so only `connect_ms` can end the attempt.
fn unanswering_listener() -> (
    socket2::Socket,
    Vec<std::net::TcpStream>,
    std::net::SocketAddr,
) {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    sock.bind(&any.into()).expect("bind");
    sock.listen(0).expect("listen");
    let addr = sock
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("inet");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            fillers.push(s);
        }
    }
    (sock, fillers, addr)
}

#[tokio::test]
async fn a_connection_that_never_completes_ends_at_connect_ms() {
    let (_listener, _fillers, addr) = unanswering_listener();
    // Proof that the setup holds: a plain connect to it does not complete.
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the listener's queue should be full"
    );
    let mock = MockProvider::start().await.expect("mock");
    let cfg = config_for(
        &mock,
        r#"
  - name: conn-hang-next
    targets:
      - {provider: unanswering, model: x, weight: 100}
      - {provider: mock-openai, model: "gpt@reply=rescued", weight: 0}
    timeouts: {connect_ms: 300, first_byte_ms: 20000}
  - name: conn-hang-only
    targets: [{provider: unanswering, model: x}]
    timeouts: {connect_ms: 300, first_byte_ms: 20000}
"#,
    )
    .replace(
        "models:\n",
        &format!(
            "  - name: unanswering\n    kind: openai\n    base_url: http://{addr}/v1\n    api_keys: [\"sk-x\"]\nmodels:\n"
        ),
    );
    let gw = Gateway::start(&cfg);
    let t = Instant::now();
    let a = chat(&gw, KEY_A, "conn-hang-next").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(content(&a), "rescued");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "ended by connect_ms, not first_byte_ms: {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let a = chat(&gw, KEY_A, "conn-hang-only").await;
    assert_upstream_error(&a, 504, "upstream_timeout");
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}
