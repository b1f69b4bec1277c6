//! Rate limits, budgets, credits and the 402 contract through the real binary, on the
//! in-process backend and on Redis (two nodes sharing one Redis).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Models priced so that costs are easy to follow: 0.001 USD per token.
const PRICED: &str = r#"
  - name: dear
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: dear-claude
    targets: [{provider: mock-anthropic, model: claude-3}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: dear-slow-stream
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=300,words=20"}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: slow
    targets: [{provider: mock-openai, model: "gpt@delay_ms=700"}]
  - name: wordy
    targets: [{provider: mock-openai, model: "gpt@words=45"}]
  - name: dear-broken
    targets: [{provider: mock-openai, model: "gpt@status=500"}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: capped
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    rate_limit: {requests_per_minute: 2}
  - name: mid
    targets: [{provider: mock-openai, model: "gpt@words=40"}]
    price: {input_per_mtok: 100, output_per_mtok: 100}
  - name: embed
    targets: [{provider: mock-openai, model: text-embedding-3-small}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
"#;

/// The harness config plus consumers with limits, budgets and credits, and `storage`.
fn config(mock: &MockProvider, storage: &str) -> String {
    let base = config_for(mock, PRICED);
    let base = base.replacen("providers:\n", &format!("{storage}providers:\n"), 1);
    format!("{base}{CONSUMERS}")
}

const CONSUMERS: &str = r#"  - name: limited
    api_keys: ["tg-limited"]
    rate_limit: {requests_per_minute: 3}
  - name: tokenlimited
    api_keys: ["tg-tokenlimited"]
    rate_limit: {tokens_per_minute: 60}
  - name: single
    api_keys: ["tg-single"]
    rate_limit: {concurrent: 1}
  - name: budgeted
    api_keys: ["tg-budgeted"]
    budget: {usd: 0.05, period: monthly}
  - name: quota
    api_keys: ["tg-quota"]
    budget: {tokens: 60, period: daily}
  - name: prepaid
    api_keys: ["tg-prepaid"]
    credits_usd: 0.03
  - name: crowd
    api_keys: ["tg-crowd"]
    budget: {usd: 0.1, period: total}
  - name: streamer
    api_keys: ["tg-streamer"]
    budget: {usd: 1.0, period: weekly}
"#;

/// Team B's key (may only use gpt-mock in the harness config): a second consumer.
const KEY_B_ALL: &str = "tg-crowd";

async fn chat(gw: &Gateway, key: &str, model: &str, max_tokens: u32) -> reqwest::Response {
    client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send")
}

async fn message(gw: &Gateway, key: &str, model: &str) -> reqwest::Response {
    client()
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", key)
        .json(&json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send")
}

async fn rate_limits_answer_429_with_headers(gw: &Gateway) {
    for i in 0..3 {
        let res = chat(gw, "tg-limited", "gpt-mock", 10).await;
        assert_eq!(res.status(), 200, "request {i}");
        let h = res.headers();
        assert_eq!(h["x-ratelimit-limit-requests"], "3");
        assert_eq!(
            h["x-ratelimit-remaining-requests"],
            (2 - i).to_string().as_str()
        );
        assert!(h.get("x-ratelimit-reset-requests").is_some());
    }
    let res = chat(gw, "tg-limited", "gpt-mock", 10).await;
    assert_eq!(res.status(), 429);
    // The refused answer carries the limit's figures too.
    assert_eq!(res.headers()["x-ratelimit-limit-requests"], "3");
    assert_eq!(res.headers()["x-ratelimit-remaining-requests"], "0");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    // 3 per minute: the next slot is ~20 s away, not a constant 1 or 60.
    assert!((15..=21).contains(&retry), "retry-after {retry}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let res = message(gw, "tg-limited", "gpt-mock").await;
    assert_eq!(res.status(), 429, "never 402");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "rate_limit_error");

    // Tokens per minute: the estimate (prompt + max_tokens) is charged up front and
    // corrected to the actual count; what was really used blocks the next request.
    let res = chat(gw, "tg-tokenlimited", "wordy", 45).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit-tokens"], "60");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = chat(gw, "tg-tokenlimited", "wordy", 45).await;
    assert_eq!(res.status(), 429);
    let v: Value = res.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("tokens per minute"),
        "{v}"
    );
}

async fn concurrency_is_limited(gw: &Gateway) {
    let a = chat(gw, "tg-single", "slow", 10);
    let b = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        chat(gw, "tg-single", "slow", 10).await
    };
    let (a, b) = tokio::join!(a, b);
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 429);
    // Released after the first finished.
    assert_eq!(chat(gw, "tg-single", "gpt-mock", 10).await.status(), 200);
}

async fn budgets_answer_402_with_the_budget(gw: &Gateway) {
    let mut ok = 0;
    let mut denied = None;
    for _ in 0..20 {
        let res = chat(gw, "tg-budgeted", "dear", 10).await;
        if res.status() == 200 {
            ok += 1;
            let left: f64 = res.headers()["x-tollgate-budget-remaining-usd"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("usd");
            assert!((0.0..0.05).contains(&left), "{left}");
            let cost: f64 = res.headers()["x-tollgate-cost-usd"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("usd");
            assert!(cost > 0.0);
        } else {
            denied = Some(res);
            break;
        }
    }
    let res = denied.expect("the budget ran out");
    assert!(ok >= 2, "some requests passed first ({ok})");
    assert_eq!(res.status(), 402);
    let v: Value = res.json().await.expect("json");
    let e = &v["error"];
    assert_eq!(e["type"], "insufficient_quota");
    assert_eq!(e["code"], "budget_exceeded");
    assert_eq!(e["budget"]["scope"], "consumer:budgeted");
    assert_eq!(e["budget"]["limit_usd"], 0.05);
    assert!(e["budget"]["used_usd"].as_f64().expect("used") <= 0.05);
    assert_eq!(e["budget"]["period"], "monthly");
    let resets = e["budget"]["resets_at"].as_str().expect("resets_at");
    assert!(
        resets.ends_with("-01T00:00:00Z"),
        "first of next month: {resets}"
    );
    assert!(e["message"].as_str().expect("msg").contains("max_tokens"));
    // The Anthropic door: billing_error, same object.
    let res = message(gw, "tg-budgeted", "dear-claude").await;
    assert_eq!(res.status(), 402);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "billing_error");
    assert_eq!(v["error"]["budget"]["scope"], "consumer:budgeted");

    // Token quota.
    let mut last = 200;
    let mut body = Value::Null;
    for _ in 0..10 {
        let res = chat(gw, "tg-quota", "gpt-mock", 10).await;
        last = res.status().as_u16();
        if last != 200 {
            body = res.json().await.expect("json");
            break;
        }
    }
    assert_eq!(last, 402);
    assert_eq!(body["error"]["code"], "token_quota_exceeded");
    assert_eq!(body["error"]["budget"]["limit_tokens"], 60);
    assert!(body["error"]["budget"]["used_tokens"].as_u64().is_some());
    assert_eq!(body["error"]["budget"]["period"], "daily");
}

async fn credits_run_out_and_top_ups_restore_them(gw: &Gateway) {
    let mut status = 200;
    let mut body = Value::Null;
    for _ in 0..20 {
        let res = chat(gw, "tg-prepaid", "dear", 5).await;
        status = res.status().as_u16();
        if status != 200 {
            body = res.json().await.expect("json");
            break;
        }
    }
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "credits_exhausted");
    assert!(
        body["error"]["credits"]["balance_usd"].as_f64().is_some(),
        "{body}"
    );
    // Top up through the admin API: the next request passes.
    let res = client()
        .post(gw.admin("/admin/v1/consumers/prepaid/credits"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"amount_usd": 1.0, "reason": "test top-up"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    assert_eq!(chat(gw, "tg-prepaid", "dear", 5).await.status(), 200);
    // The ledger: initial grant, charges, the top-up; the balance is the sum.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ledger: Value = client()
        .get(gw.admin("/admin/v1/consumers/prepaid/credits"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let entries = ledger["entries"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "topup" && e["reason"] == "test top-up" && e["actor"] == "admin")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "charge" && e["request_id"].is_string())
    );
    let sum: f64 = entries
        .iter()
        .map(|e| e["amount_usd"].as_f64().unwrap_or(0.0))
        .sum();
    assert!(
        (sum - ledger["balance_usd"].as_f64().expect("balance")).abs() < 1e-6,
        "{ledger}"
    );
    let doc = usage(gw, "tg-prepaid").await;
    assert!(doc["credits_usd"].as_f64().expect("credits") > 0.9);
}

async fn parallel_requests_never_overspend(gw: &Gateway) {
    let tasks: Vec<_> = (0..60).map(|_| chat(gw, "tg-crowd", "dear", 10)).collect();
    let results = futures::future::join_all(tasks).await;
    let ok = results.iter().filter(|r| r.status() == 200).count();
    let denied = results.iter().filter(|r| r.status() == 402).count();
    assert_eq!(ok + denied, 60, "only 200 or 402");
    assert!(ok > 0 && denied > 0, "{ok} ok, {denied} denied");
    let doc = wait_requests(gw, "tg-crowd", 60).await;
    let spent = doc["cost_usd"].as_f64().expect("cost");
    assert!(
        spent <= 0.1 + 1e-9,
        "spent {spent} over the 0.1 budget: {doc}"
    );
    assert!(spent > 0.0);
}

async fn a_stream_cut_by_the_client_is_settled(gw: &Gateway) {
    let before = usage(gw, "tg-streamer").await;
    let mut res = client().post(gw.gw("/v1/chat/completions")).bearer_auth("tg-streamer")
        .json(&json!({"model": "dear-slow-stream", "stream": true, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}))
        .send().await.expect("send");
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.expect("chunk").expect("some bytes");
    assert!(!first.is_empty());
    drop(res); // the client goes away mid-stream
    let n = before["requests"].as_u64().unwrap_or(0) + 1;
    let doc = wait_requests(gw, "tg-streamer", n).await;
    assert_eq!(doc["requests"].as_u64(), Some(n), "{doc}");
    // The reservation (100+ tokens at 0.001) is released: what remains is the budget
    // minus what was recorded, with nothing held.
    let budget = &doc["budget"];
    assert_eq!(budget["reserved_usd"], 0.0, "{doc}");
    let used = budget["used_usd"].as_f64().expect("used");
    assert!(
        used < 0.1,
        "settled to what was delivered, not the reservation: {doc}"
    );
}

async fn usage_document_has_the_contract_shape(gw: &Gateway) {
    assert_eq!(chat(gw, "tg-budgeted", "gpt-mock", 5).await.status(), 200);
    let doc = usage(gw, "tg-limited").await;
    assert_eq!(doc["consumer"], "limited");
    assert!(doc["requests"].is_u64());
    assert!(doc["tokens"]["input"].is_u64() && doc["tokens"]["output"].is_u64());
    assert!(doc["cost_usd"].is_number());
    assert!(doc["budget"].is_null());
    assert!(doc["credits_usd"].is_null());
    assert_eq!(doc["rate_limit"]["requests_per_minute"], 3);
    let doc = usage(gw, "tg-budgeted").await;
    assert_eq!(doc["budget"]["limit_usd"], 0.05);
    // The admin API reads the same document.
    let admin: Value = client()
        .get(gw.admin("/admin/v1/consumers/budgeted/usage"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(admin["consumer"], "budgeted");
    assert_eq!(admin["budget"]["scope"], "consumer:budgeted");
    assert_eq!(
        client()
            .get(gw.gw("/tollgate/v1/usage"))
            .send()
            .await
            .expect("send")
            .status(),
        401
    );
}

#[tokio::test]
async fn local_backend() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, ""));
    rate_limits_answer_429_with_headers(&gw).await;
    concurrency_is_limited(&gw).await;
    budgets_answer_402_with_the_budget(&gw).await;
    credits_run_out_and_top_ups_restore_them(&gw).await;
    parallel_requests_never_overspend(&gw).await;
    a_stream_cut_by_the_client_is_settled(&gw).await;
    usage_document_has_the_contract_shape(&gw).await;
}

fn redis_storage() -> String {
    let prefix = format!("tgtest:{}:{}:", std::process::id(), rand_suffix());
    format!("storage:\n  redis: redis://127.0.0.1:6379\n  redis_prefix: \"{prefix}\"\n")
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[tokio::test]
async fn redis_backend() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, &redis_storage()));
    rate_limits_answer_429_with_headers(&gw).await;
    concurrency_is_limited(&gw).await;
    budgets_answer_402_with_the_budget(&gw).await;
    credits_run_out_and_top_ups_restore_them(&gw).await;
    parallel_requests_never_overspend(&gw).await;
    a_stream_cut_by_the_client_is_settled(&gw).await;
    usage_document_has_the_contract_shape(&gw).await;
}

#[tokio::test]
async fn two_nodes_on_one_redis_share_limits_and_budgets() {
    let mock = MockProvider::start().await.expect("mock");
    let database = fresh_pg_schema("tg_two");
    let storage = format!("{}  database: {database}\n", redis_storage());
    let cfg = config(&mock, &storage);
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let a = Gateway::start_with_env(&cfg, &shared);
    let b = Gateway::start_with_env(&cfg, &shared);
    // 3 requests per minute in all, whichever node serves them.
    assert_eq!(chat(&a, "tg-limited", "gpt-mock", 10).await.status(), 200);
    assert_eq!(chat(&b, "tg-limited", "gpt-mock", 10).await.status(), 200);
    assert_eq!(chat(&a, "tg-limited", "gpt-mock", 10).await.status(), 200);
    assert_eq!(chat(&b, "tg-limited", "gpt-mock", 10).await.status(), 429);
    // One budget for both: parallel requests split across nodes never overspend it.
    let tasks: Vec<_> = (0..60)
        .map(|i| chat(if i % 2 == 0 { &a } else { &b }, "tg-crowd", "dear", 10))
        .collect();
    let results = futures::future::join_all(tasks).await;
    let ok = results.iter().filter(|r| r.status() == 200).count();
    assert!(ok > 0 && ok < 60, "{ok}");
    let doc = wait_requests(&a, "tg-crowd", 60).await;
    assert!(
        doc["cost_usd"].as_f64().expect("cost") <= 0.1 + 1e-9,
        "{doc}"
    );
    drop(a);
    drop(b);
    drop_pg_schema(&database);
}

#[tokio::test]
async fn an_unreachable_redis_applies_the_configured_policy() {
    let mock = MockProvider::start().await.expect("mock");
    for (policy, expected) in [("open", 200u16), ("closed", 503u16)] {
        let storage =
            format!("storage:\n  redis: redis://127.0.0.1:1\n  redis_failure_policy: {policy}\n");
        let gw = Gateway::start(&config(&mock, &storage));
        let res = chat(&gw, "tg-limited", "gpt-mock", 10).await;
        assert_eq!(res.status(), expected, "policy {policy}");
        if expected == 503 {
            let v: Value = res.json().await.expect("json");
            assert_eq!(v["error"]["code"], "service_unavailable");
        }
        let metrics = client()
            .get(gw.admin("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("tollgate_limits_backend_errors_total")
                    && l.contains(&format!("policy=\"{policy}\""))
            })
            .unwrap_or_else(|| panic!("no backend error metric for {policy}:\n{metrics}"));
        assert!(!line.ends_with(" 0"), "{line}");
    }
}

#[tokio::test]
async fn budget_thresholds_raise_signed_webhooks_once() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get("x-tollgate-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                sink.lock().expect("lock").push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mock = MockProvider::start().await.expect("mock");
    let cfg = format!(
        "{}alerts:\n  - name: ops\n    webhook: {hook}\n    secret: s3cret\n",
        config(&mock, "")
    );
    let gw = Gateway::start(&cfg);
    // Spend the 0.05 budget of `budgeted`: large requests first, then small ones
    // that still fit once the large ones no longer do.
    for max_tokens in [10, 1] {
        for _ in 0..40 {
            if chat(&gw, "tg-budgeted", "dear", max_tokens).await.status() != 200 {
                break;
            }
        }
    }
    for _ in 0..50 {
        if received.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = received.lock().expect("lock").clone();
    let mut thresholds = Vec::new();
    for (sig, body) in &events {
        let v: Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["type"], "budget.threshold");
        assert_eq!(v["scope"], "consumer:budgeted");
        assert_eq!(v["limit_usd"], 0.05);
        assert!(v["id"].is_string() && v["at"].is_string());
        let expected = tollgate_alerts::signature("s3cret", body.as_bytes());
        assert_eq!(sig, &expected, "signed with the channel's secret");
        thresholds.push(v["threshold_percent"].as_u64().expect("percent"));
    }
    thresholds.sort_unstable();
    assert!(
        thresholds.contains(&50) && thresholds.contains(&80),
        "{thresholds:?} from {events:?}"
    );
    let mut dedup = thresholds.clone();
    dedup.dedup();
    assert_eq!(dedup, thresholds, "each crossing once");
}

/// A webhook receiver on a free port: (url, received bodies).
async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                if let Ok(v) = serde_json::from_str(&body) {
                    sink.lock().expect("lock").push(v);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn key_and_model_limits_key_budgets_and_low_credits_local() {
    key_and_model_limits_key_budgets_and_low_credits("").await;
}

#[tokio::test]
async fn key_and_model_limits_key_budgets_and_low_credits_redis() {
    key_and_model_limits_key_budgets_and_low_credits(&redis_storage()).await;
}

async fn key_and_model_limits_key_budgets_and_low_credits(storage: &str) {
    let (hook, received) = receiver().await;
    let mock = MockProvider::start().await.expect("mock");
    let cfg = format!(
        "{}  - name: small-prepaid\n    api_keys: [\"tg-small-prepaid\"]\n    credits_usd: 0.03\nalerts:\n  - name: ops\n    webhook: {hook}\n",
        config(&mock, storage)
    );
    let gw = Gateway::start(&cfg);
    let admin = |path: &str| client().post(gw.admin(path)).bearer_auth(ADMIN_TOKEN);

    // A key's own rate limit, on top of its consumer's (which has none).
    let k: Value = admin("/admin/v1/consumers/team-a/keys")
        .json(&json!({"name": "slow-key", "rate_limit": {"requests_per_minute": 2}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let key = k["key"].as_str().expect("key").to_string();
    assert_eq!(chat(&gw, &key, "gpt-mock", 5).await.status(), 200);
    assert_eq!(chat(&gw, &key, "gpt-mock", 5).await.status(), 200);
    let res = chat(&gw, &key, "gpt-mock", 5).await;
    assert_eq!(res.status(), 429);
    let v: Value = res.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("key:"),
        "{v}"
    );
    // The consumer's other key is not limited by it.
    assert_eq!(chat(&gw, KEY_A, "gpt-mock", 5).await.status(), 200);

    // A model's limit holds for everyone together.
    assert_eq!(chat(&gw, KEY_A, "capped", 5).await.status(), 200);
    assert_eq!(chat(&gw, KEY_B_ALL, "capped", 5).await.status(), 200);
    let res = chat(&gw, KEY_A, "capped", 5).await;
    assert_eq!(res.status(), 429);

    // A key's own budget: 402 naming the key.
    let k: Value = admin("/admin/v1/consumers/team-a/keys")
        .json(&json!({"name": "thrifty", "budget": {"usd": 0.02, "period": "daily"}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let thrifty = k["key"].as_str().expect("key").to_string();
    let id = k["id"].as_str().expect("id").to_string();
    let mut denied = Value::Null;
    for _ in 0..20 {
        let res = chat(&gw, &thrifty, "dear", 5).await;
        if res.status() == 402 {
            denied = res.json().await.expect("json");
            break;
        }
        assert_eq!(res.status(), 200);
    }
    assert_eq!(denied["error"]["code"], "budget_exceeded", "{denied}");
    assert_eq!(denied["error"]["budget"]["scope"], format!("key:{id}"));
    assert_eq!(denied["error"]["budget"]["period"], "daily");
    // ...and its own usage document shows that budget.
    let doc = usage(&gw, &thrifty).await;
    assert!(
        doc["budgets"]
            .as_array()
            .expect("budgets")
            .iter()
            .any(|b| b["scope"] == format!("key:{id}")),
        "{doc}"
    );
    // Bad limits are refused with the field named.
    let res = admin("/admin/v1/consumers/team-a/keys")
        .json(&json!({"budget": {"usd": -1, "period": "daily"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);

    // Prepaid credits running low raise one credits.low alert.
    for _ in 0..30 {
        if chat(&gw, "tg-small-prepaid", "mid", 40).await.status() != 200 {
            break;
        }
    }
    let mut low = Vec::new();
    for _ in 0..50 {
        low = received
            .lock()
            .expect("lock")
            .iter()
            .filter(|v| v["type"] == "credits.low")
            .cloned()
            .collect();
        if !low.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(low.len(), 1, "{:?}", received.lock().expect("lock"));
    assert_eq!(low[0]["scope"], "consumer:small-prepaid");
    assert!(low[0]["detail"]["balance_usd"].as_f64().expect("balance") < 0.003);

    // Embeddings go through the same budgets.
    let mut status = 200;
    for _ in 0..40 {
        status = client()
            .post(gw.gw("/v1/embeddings"))
            .bearer_auth("tg-budgeted")
            .json(&json!({"model": "embed", "input": "one two three four five six seven eight"}))
            .send()
            .await
            .expect("send")
            .status()
            .as_u16();
        if status != 200 {
            break;
        }
    }
    assert_eq!(status, 402, "embeddings stop at the budget too");
}

#[tokio::test]
async fn failed_upstreams_release_their_reservations() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, ""));
    // Each failing request reserves ~0.02 of the 0.05 budget; if failures kept their
    // holds, the budget would be gone after three of them.
    for _ in 0..6 {
        let res = chat(&gw, "tg-budgeted", "dear-broken", 10).await;
        assert_eq!(res.status(), 502, "an upstream failure is never a 402");
    }
    let doc = wait_requests(&gw, "tg-budgeted", 6).await;
    assert_eq!(doc["cost_usd"], 0.0, "{doc}");
    assert_eq!(doc["budget"]["used_usd"], 0.0, "{doc}");
    assert_eq!(doc["budget"]["reserved_usd"], 0.0, "{doc}");
    assert_eq!(chat(&gw, "tg-budgeted", "dear", 10).await.status(), 200);
}
