//! Explain (issue 9, item 4): a 401, 403, 402, 429 and a failover are each explainable
//! from their call record's steps alone — which scope, the configured value, the value
//! at decision time — through `tollgate explain` (readable and `--json`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tollgate_store::Store;

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
models:
  - name: priced
    targets: [{{provider: mock-openai, model: "gpt@words=5"}}]
    price: {{input_per_mtok: 100, output_per_mtok: 100}}
  - name: broken
    targets: [{{provider: mock-openai, model: "gpt@status=503"}}]
    retries: {{attempts: 0}}
    fallbacks: [priced]
  - name: other
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
consumers:
  - name: thrifty
    api_keys: ["tg-thrifty"]
    models: [priced, broken]
    budget: {{usd: 0.01, period: monthly}}
  - name: hasty
    api_keys: ["tg-hasty"]
    rate_limit: {{requests_per_minute: 1}}
"#,
        openai = mock.openai_base_url(),
    )
}

/// Sends a chat request for `model` as `key` (none: no key); returns status and id.
async fn chat(gw: &Gateway, key: Option<&str>, model: &str, max_tokens: u32) -> (u16, String) {
    let mut req = client().post(gw.gw("/v1/chat/completions")).json(&json!({
        "model": model, "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "hello"}]
    }));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.expect("send");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    (status, id)
}

/// Waits until the journal has written `id`'s record.
async fn recorded(store: &Store, id: &str) {
    for _ in 0..100 {
        if store.get_call(id).await.expect("read").is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no call record for {id}");
}

/// `tollgate explain ID --config FILE [--json]` run where the gateway runs.
fn explain(gw: &Gateway, id: &str, json: bool) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.current_dir(gw.path())
        .env_remove("TOLLGATE_DATA_DIR")
        .env_remove("TOLLGATE_MASTER_KEY")
        .args(["explain", id, "--config"])
        .arg(gw.path().join("tollgate.yaml"));
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("run tollgate explain");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI's document (checked equal to the admin API's) and its readable trail.
async fn explained(gw: &Gateway, id: &str) -> (Value, String) {
    let (ok, doc, err) = explain(gw, id, true);
    assert!(ok, "explain --json {id} failed: {err}");
    let doc: Value = serde_json::from_str(&doc).expect("explain --json prints JSON");
    let (ok, text, err) = explain(gw, id, false);
    assert!(ok, "explain {id} failed: {err}");
    let res = client()
        .get(gw.admin(&format!("/admin/v1/calls/{id}/explain")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("admin explain");
    assert_eq!(res.status(), 200);
    let api: Value = res.json().await.expect("json");
    assert_eq!(api, doc, "the admin API and the CLI give one document");
    (doc, text)
}

fn steps_of<'a>(doc: &'a Value, kind: &str) -> Vec<&'a Value> {
    doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step"] == kind)
        .collect()
}

#[tokio::test]
async fn refusals_and_failovers_are_explained_from_their_steps() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let store = open_store(&gw).await;

    // 401: no key.
    let (status, id) = chat(&gw, None, "priced", 10).await;
    assert_eq!(status, 401);
    recorded(&store, &id).await;
    let (doc, text) = explained(&gw, &id).await;
    assert_eq!(
        (doc["status"].as_u64(), doc["error_code"].as_str()),
        (Some(401), Some("invalid_api_key"))
    );
    let auth = steps_of(&doc, "auth");
    assert_eq!(auth.len(), 1, "{doc}");
    assert_eq!(
        (auth[0]["outcome"].as_str(), auth[0]["reason"].as_str()),
        (Some("refused"), Some("missing_key"))
    );
    assert!(
        text.lines()
            .next()
            .expect("headline")
            .contains("401 invalid_api_key"),
        "{text}"
    );

    // 401: an unknown key shows its prefix at most, never the key.
    let (status, id) = chat(&gw, Some("tg-not-a-real-key-123456"), "priced", 10).await;
    assert_eq!(status, 401);
    recorded(&store, &id).await;
    let (doc, text) = explained(&gw, &id).await;
    assert_eq!(
        steps_of(&doc, "auth")[0]["reason"],
        "unknown_revoked_or_expired_key"
    );
    assert!(!doc.to_string().contains("tg-not-a-real-key-123456") && !text.contains("real-key"));

    // 403: a model the consumer may not use, with what it may use.
    let (status, id) = chat(&gw, Some("tg-thrifty"), "other", 10).await;
    assert_eq!(status, 403);
    recorded(&store, &id).await;
    let (doc, _) = explained(&gw, &id).await;
    let auth = steps_of(&doc, "auth");
    assert_eq!(
        auth.last().expect("auth")["reason"],
        "model_not_allowed",
        "{doc}"
    );
    assert_eq!(
        auth.last().expect("auth")["configured"]["consumer_models"],
        json!(["priced", "broken"])
    );

    // 402: the worst case (prompt + 4000 output tokens at $100/Mtok = $0.40) does not
    // fit a $0.01 budget. The budget step names the scope, the limit, what was used
    // and what this request could cost.
    let (status, id) = chat(&gw, Some("tg-thrifty"), "priced", 4000).await;
    assert_eq!(status, 402);
    recorded(&store, &id).await;
    let (doc, text) = explained(&gw, &id).await;
    assert_eq!(doc["error_code"], "budget_exceeded");
    let budget = steps_of(&doc, "budget");
    assert_eq!(budget.len(), 1, "{doc}");
    let b = budget[0];
    assert_eq!(
        (b["outcome"].as_str(), b["scope"].as_str()),
        (Some("refused"), Some("consumer:thrifty")),
        "{doc}"
    );
    assert_eq!(b["configured"]["usd"].as_f64(), Some(0.01), "{doc}");
    assert_eq!(b["value"]["used"].as_f64(), Some(0.0), "{doc}");
    let requested = b["value"]["requested"].as_f64().expect("requested");
    assert!(requested > 0.4, "the worst case covers max_tokens: {doc}");
    let settle = steps_of(&doc, "settle");
    assert_eq!(
        settle[0]["charged_usd"].as_f64(),
        Some(0.0),
        "a refusal costs nothing: {doc}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(". budget"))
        .expect("budget line");
    assert!(
        line.contains("refused")
            && line.contains("consumer:thrifty")
            && line.contains("configured: usd=0.01"),
        "{text}"
    );

    // 429: the second request within the minute; the limit step names the scope, the
    // configured requests per minute and what remained when it was refused.
    let (first, _) = chat(&gw, Some("tg-hasty"), "other", 10).await;
    assert_eq!(first, 200);
    let (status, id) = chat(&gw, Some("tg-hasty"), "other", 10).await;
    assert_eq!(status, 429);
    recorded(&store, &id).await;
    let (doc, text) = explained(&gw, &id).await;
    assert_eq!(doc["error_code"], "rate_limit_exceeded");
    let refused: Vec<&Value> = steps_of(&doc, "limit")
        .into_iter()
        .filter(|s| s["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{doc}");
    let l = refused[0];
    assert_eq!(l["scope"], "consumer:hasty", "{doc}");
    assert_eq!(
        (l["kind"].as_str(), l["configured"].as_u64()),
        (Some("requests_per_minute"), Some(1)),
        "{doc}"
    );
    assert_eq!(l["value"]["remaining_requests"].as_u64(), Some(0), "{doc}");
    assert!(
        l["retry_after_secs"]
            .as_u64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{doc}"
    );
    assert!(
        text.lines()
            .any(|t| t.contains("limit") && t.contains("refused") && t.contains("consumer:hasty")),
        "{text}"
    );

    // Failover: the failed attempt with its reason, then the one that answered, and the
    // settlement with what was reserved and charged.
    let (status, id) = chat(&gw, Some("tg-thrifty"), "broken", 5).await;
    assert_eq!(status, 200);
    recorded(&store, &id).await;
    let (doc, text) = explained(&gw, &id).await;
    let attempts = steps_of(&doc, "attempt");
    assert_eq!(attempts.len(), 2, "{doc}");
    assert_eq!(
        (
            attempts[0]["status"].as_u64(),
            attempts[0]["outcome"].as_str()
        ),
        (Some(503), Some("transient")),
        "{doc}"
    );
    assert_eq!(
        (
            attempts[1]["status"].as_u64(),
            attempts[1]["outcome"].as_str()
        ),
        (Some(200), Some("ok")),
        "{doc}"
    );
    let settle = steps_of(&doc, "settle")[0];
    assert_eq!(settle["outcome"], "charged");
    assert!(
        settle["reserved_usd"].as_f64().expect("reserved")
            >= settle["charged_usd"].as_f64().expect("charged")
    );
    assert!(
        settle["charged_usd"].as_f64().expect("charged") > 0.0,
        "{doc}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("attempt")).count(),
        2,
        "{text}"
    );

    // An unknown id: a clear failure, not an empty document (404 on the admin API).
    let res = client()
        .get(gw.admin("/admin/v1/calls/no-such-request/explain"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("admin explain");
    assert_eq!(res.status(), 404);
    let (ok, _, err) = explain(&gw, "no-such-request", false);
    assert!(!ok);
    assert!(err.contains("no call record `no-such-request`"), "{err}");

    // Where there is no database, explain says so and creates nothing.
    let empty = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(empty.path())
        .env_remove("TOLLGATE_DATA_DIR")
        .args(["explain", "req_x"])
        .output()
        .expect("run tollgate explain");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no database at"), "{err}");
    assert_eq!(
        std::fs::read_dir(empty.path()).expect("list").count(),
        0,
        "a read creates no files"
    );
}
