//! Alert channels managed through the admin API (`/admin/v1/alerts`): a channel
//! created, changed or deleted there is used (or no longer used) by the running
//! node at once, deliveries are signed with its secret, and neither the secret nor
//! the webhook's path or query ever comes back out (answers, audit log).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A priced model (0.001 USD per token) and three consumers with small budgets, one
/// for each stage of the test.
const EXTRA: &str = r#"
  - name: dear
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
"#;

const BUDGETED: &str = r#"  - name: first
    api_keys: ["tg-first"]
    budget: {usd: 0.05, period: monthly}
  - name: second
    api_keys: ["tg-second"]
    budget: {usd: 0.05, period: monthly}
  - name: third
    api_keys: ["tg-third"]
    budget: {usd: 0.05, period: monthly}
"#;

/// The token in the webhook's path and query: must never be shown.
const PATH_TOKEN: &str = "T0KEN-IN-PATH";
const QUERY_TOKEN: &str = "QUERY-SECRET";

/// What the receiver got: (request path and query, signature header, body).
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get("x-tollgate-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                sink.lock()
                    .expect("lock")
                    .push((uri.to_string(), sig, body));
                "ok"
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, received)
}

async fn send(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client()
        .request(method.parse().expect("method"), gw.admin(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Spends `key`'s 0.05 USD budget until refused (large requests, then small ones).
async fn spend(gw: &Gateway, key: &str) {
    for max_tokens in [10, 1] {
        for _ in 0..40 {
            let res = client()
                .post(gw.gw("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&json!({"model": "dear", "max_tokens": max_tokens,
                    "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .expect("chat");
            if res.status() != 200 {
                break;
            }
        }
    }
}

/// Waits until a delivery for `scope` arrived; answers them all.
async fn deliveries_for(received: &Received, scope: &str) -> Vec<(String, String, Value)> {
    let of_scope = || {
        received
            .lock()
            .expect("lock")
            .iter()
            .map(|(p, s, b)| (p.clone(), s.clone(), b.clone()))
            .filter_map(|(p, s, b)| {
                let v: Value = serde_json::from_str(&b).ok()?;
                (v["scope"] == scope).then_some((p, s, b))
            })
            .collect::<Vec<_>>()
    };
    for _ in 0..100 {
        if !of_scope().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    of_scope()
        .into_iter()
        .map(|(p, s, b)| {
            let v = serde_json::from_str(&b).expect("json");
            (p, s, v)
        })
        .collect()
}

/// Every delivery for `scope` is signed with `secret` and went to the full webhook.
fn assert_signed(received: &Received, scope: &str, secret: &str) {
    for (path, sig, body) in received.lock().expect("lock").iter() {
        let v: Value = serde_json::from_str(body).expect("json");
        if v["scope"] != scope {
            continue;
        }
        assert_eq!(v["type"], "budget.threshold", "{body}");
        assert_eq!(
            sig,
            &tollgate_alerts::signature(secret, body.as_bytes()),
            "signed with the channel's current secret"
        );
        assert_eq!(path, &format!("/hook/{PATH_TOKEN}?k={QUERY_TOKEN}"));
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        PATH_TOKEN,
        QUERY_TOKEN,
        "chan-secret-1",
        "chan-secret-2",
        "/hook",
    ] {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

#[tokio::test]
async fn channels_made_through_the_api_are_live_signed_and_never_shown() {
    let (origin, received) = receiver().await;
    let webhook = format!("{origin}/hook/{PATH_TOKEN}?k={QUERY_TOKEN}");
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&format!("{}{BUDGETED}", config_for(&mock, EXTRA)));

    // Created: answered without its secrets.
    let (status, created) = send(
        &gw,
        "POST",
        "/admin/v1/alerts",
        Some(json!({"name": "ops", "webhook": webhook, "secret": "chan-secret-1"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "ops");
    assert_eq!(created["webhook_origin"], origin);
    assert_eq!(created["signed"], true);
    assert_eq!(created["source"], "api");
    assert_no_secret("POST", &created.to_string());

    // The same name again is a conflict; bad input is a 400 naming the field.
    let (status, body) = send(
        &gw,
        "POST",
        "/admin/v1/alerts",
        Some(json!({"name": "ops", "webhook": webhook})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    for (bad, param) in [
        (json!({"name": "x", "webhook": "ftp://h/x"}), "webhook"),
        (json!({"name": "x", "webhook": "http:///x"}), "webhook"),
        (
            json!({"name": "x", "webhook": "hooks.example.com/x"}),
            "webhook",
        ),
        (
            json!({"name": "x", "webhook": "https://ho st/x"}),
            "webhook",
        ),
        (
            json!({"name": "x", "webhook": origin, "secret": ""}),
            "secret",
        ),
        (json!({"name": "", "webhook": origin}), "name"),
        (json!({"name": "x"}), ""),
        (json!({"name": "x", "webhook": origin, "extra": 1}), ""),
    ] {
        let (status, body) = send(&gw, "POST", "/admin/v1/alerts", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        if !param.is_empty() {
            assert_eq!(body["error"]["param"], param, "{bad}: {body}");
        }
    }
    let huge = json!({"name": "x", "webhook": format!("{origin}/{}", "a".repeat(3 << 20))});
    let (status, _) = send(&gw, "POST", "/admin/v1/alerts", Some(huge)).await;
    assert_eq!(status, 413);
    let (status, _) = send(&gw, "GET", "/admin/v1/alerts/nope", None).await;
    assert_eq!(status, 404);
    let (status, _) = send(&gw, "DELETE", "/admin/v1/alerts/nope", None).await;
    assert_eq!(status, 404);
    let (status, body) = send(
        &gw,
        "PUT",
        "/admin/v1/alerts/ops",
        Some(json!({"name": "other", "webhook": webhook})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Live without a restart: the first budget's thresholds arrive, signed.
    spend(&gw, "tg-first").await;
    let first = deliveries_for(&received, "consumer:first").await;
    assert!(!first.is_empty(), "no alert for the first budget");
    assert_signed(&received, "consumer:first", "chan-secret-1");

    // A PUT without `secret` keeps it; with one, rotates it.
    let (status, kept) = send(
        &gw,
        "PUT",
        "/admin/v1/alerts/ops",
        Some(json!({"name": "ops", "webhook": webhook})),
    )
    .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["signed"], true);
    let (status, rotated) = send(
        &gw,
        "PUT",
        "/admin/v1/alerts/ops",
        Some(json!({"name": "ops", "webhook": webhook, "secret": "chan-secret-2"})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_no_secret("PUT", &rotated.to_string());
    spend(&gw, "tg-second").await;
    let second = deliveries_for(&received, "consumer:second").await;
    assert!(!second.is_empty(), "no alert for the second budget");
    assert_signed(&received, "consumer:second", "chan-secret-2");

    // Reads and the audit log never show the secret, the path or the query.
    let (_, list) = admin_get(&gw, "/admin/v1/alerts").await;
    assert_no_secret("GET list", &list);
    let list: Value = serde_json::from_str(&list).expect("json");
    assert_eq!(list["channels"][0]["name"], "ops");
    assert!(
        list["deliveries"].as_array().is_some_and(|d| !d.is_empty()),
        "{list}"
    );
    let (_, one) = admin_get(&gw, "/admin/v1/alerts/ops").await;
    assert_no_secret("GET one", &one);
    let (_, audit) = admin_get(&gw, "/admin/v1/audit?resource=alert").await;
    assert_no_secret("audit", &audit);
    assert!(audit.contains("webhook_origin"), "{audit}");

    // Deleted: no more deliveries.
    let (status, _) = send(&gw, "DELETE", "/admin/v1/alerts/ops", None).await;
    assert_eq!(status, 204);
    let (status, _) = send(&gw, "GET", "/admin/v1/alerts/ops", None).await;
    assert_eq!(status, 404);
    let before = received.lock().expect("lock").len();
    spend(&gw, "tg-third").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = received.lock().expect("lock").clone();
    assert_eq!(
        after.len(),
        before,
        "deliveries after the channel was deleted: {:?}",
        &after[before..]
    );
    // The third budget did cross its thresholds (the check above could not fail
    // otherwise): its usage is at the limit.
    let usage = admin_json(&gw, "/admin/v1/consumers/third/usage").await;
    assert!(usage.to_string().contains("0.05"), "{usage}");
}

/// Two nodes on one PostgreSQL database: a channel made through one node's admin API
/// is used by the other (through the revision poll), and its deletion too.
#[tokio::test]
async fn another_node_follows_channel_writes() {
    let (origin, received) = receiver().await;
    let webhook = format!("{origin}/hook/{PATH_TOKEN}?k={QUERY_TOKEN}");
    let database = fresh_pg_schema("tg_alert_channels");
    let mock = MockProvider::start().await.expect("mock");
    let cfg = format!("{}{BUDGETED}", config_for(&mock, EXTRA)).replacen(
        "providers:\n",
        &format!("storage:\n  database: {database}\nproviders:\n"),
        1,
    );
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let a = Gateway::start_with_env(&cfg, &shared);
    let b = Gateway::start_with_env(&cfg, &shared);

    let (status, body) = send(
        &a,
        "POST",
        "/admin/v1/alerts",
        Some(json!({"name": "ops", "webhook": webhook, "secret": "chan-secret-1"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Node B reloads within its poll interval (1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    spend(&b, "tg-first").await;
    let first = deliveries_for(&received, "consumer:first").await;
    assert!(
        !first.is_empty(),
        "node B sent no alert for a channel made on A"
    );
    assert_signed(&received, "consumer:first", "chan-secret-1");

    let (status, _) = send(&a, "DELETE", "/admin/v1/alerts/ops", None).await;
    assert_eq!(status, 204);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = received.lock().expect("lock").len();
    spend(&b, "tg-second").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        received.lock().expect("lock").len(),
        before,
        "node B still delivers to a channel deleted on A"
    );
    drop(a);
    drop(b);
    drop_pg_schema(&database);
}
