//! The admin listener: auth, resources, keys taking effect, secrets never shown.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn admin(gw: &Gateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, gw.admin(path))
        .bearer_auth(ADMIN_TOKEN)
}

async fn chat(gw: &Gateway, key: &str, model: &str) -> u16 {
    client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

#[tokio::test]
async fn health_metrics_and_openapi_need_no_token_everything_else_does() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    for path in ["/healthz", "/readyz", "/metrics", "/admin/v1/openapi.json"] {
        let res = client().get(gw.admin(path)).send().await.expect("send");
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().get("x-request-id").is_some(), "{path}");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            client()
                .get(gw.gw(path))
                .send()
                .await
                .expect("send")
                .status(),
            200
        );
    }
    let doc: Value = client()
        .get(gw.admin("/admin/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for p in [
        "/admin/v1/providers",
        "/admin/v1/models/{name}",
        "/admin/v1/consumers/{name}/keys",
        "/admin/v1/keys/{id}",
        "/admin/v1/teams",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    // Unauthenticated and wrongly authenticated calls: 401 in the OpenAI envelope.
    let res = client()
        .get(gw.admin("/admin/v1/providers"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "authentication_error");
    let res = client()
        .get(gw.admin("/admin/v1/consumers"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);

    // Metrics carry PRODUCT.md's names once traffic flowed.
    assert_eq!(chat(&gw, KEY_A, "gpt-mock").await, 200);
    let text = client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    for name in [
        "tollgate_requests_total",
        "tollgate_request_duration_seconds",
        "tollgate_upstream_duration_seconds",
        "tollgate_tokens_total",
        "tollgate_cost_usd_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("tollgate_requests_total")
                && l.contains("model=\"gpt-mock\"")
                && l.contains("status=\"200\"")),
        "requests counted by model and status:\n{text}"
    );
}

#[tokio::test]
async fn provider_credentials_go_in_but_never_come_out() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let secret = "sk-created-through-the-api-123";
    let res = admin(&gw, reqwest::Method::POST, "/admin/v1/providers")
        .json(&json!({"name": "extra", "kind": "openai", "base_url": mock.openai_base_url(), "api_keys": [secret]}))
        .send().await.expect("send");
    assert_eq!(res.status(), 201);
    let created = res.text().await.expect("text");
    assert!(!created.contains(secret), "{created}");
    assert!(created.contains("\"api_keys_count\":1"), "{created}");
    for path in [
        "/admin/v1/providers",
        "/admin/v1/providers/extra",
        "/admin/v1/providers/mock-openai",
    ] {
        let text = admin(&gw, reqwest::Method::GET, path)
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        assert!(
            !text.contains(secret) && !text.contains("sk-mock-openai-secret"),
            "{path}: {text}"
        );
    }
    // Editing without api_keys keeps them; the provider still works through a model.
    let res = admin(&gw, reqwest::Method::PUT, "/admin/v1/providers/extra")
        .json(&json!({"name": "extra", "kind": "openai", "base_url": mock.openai_base_url()}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let res = admin(&gw, reqwest::Method::POST, "/admin/v1/models")
        .json(&json!({"name": "via-extra", "targets": [{"provider": "extra", "model": "gpt-x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    assert_eq!(chat(&gw, KEY_A, "via-extra").await, 200);
    let last = mock.requests().into_iter().last().expect("request");
    assert_eq!(
        last.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {secret}").as_str())
    );

    // At rest, the database file holds no clear credential.
    let mut found_db = false;
    for entry in walk(gw.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if entry.to_string_lossy().contains(".db") {
            found_db = true;
        }
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(secret) && !hay.contains("sk-mock-openai-secret"),
            "clear secret in {}",
            entry.display()
        );
    }
    assert!(found_db, "SQLite file under the data dir");

    // A provider still routed to cannot be deleted; after the model goes, it can.
    let res = admin(&gw, reqwest::Method::DELETE, "/admin/v1/providers/extra")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 409);
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/models/via-extra")
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/providers/extra")
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
    assert_eq!(
        admin(&gw, reqwest::Method::GET, "/admin/v1/providers/extra")
            .send()
            .await
            .expect("send")
            .status(),
        404
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if !p.ends_with("tollgate.yaml") {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn resources_are_validated_with_the_field_named() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let res = admin(&gw, reqwest::Method::POST, "/admin/v1/models")
        .json(&json!({"name": "bad", "targets": [{"provider": "nope", "model": "x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "targets[0].provider", "{v}");
    let res = admin(&gw, reqwest::Method::POST, "/admin/v1/models")
        .json(&json!({"name": "gpt-mock", "targets": [{"provider": "mock-openai", "model": "x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 409, "duplicate name");
    let res = admin(&gw, reqwest::Method::POST, "/admin/v1/consumers")
        .json(&json!({"name": "c", "budget": {"usd": 5, "period": "fortnightly"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    // Teams and consumers: CRUD, and a team in use cannot go.
    assert_eq!(
        admin(&gw, reqwest::Method::POST, "/admin/v1/teams")
            .json(&json!({"name": "t1", "budget": {"usd": 10.0, "period": "monthly"}}))
            .send()
            .await
            .expect("send")
            .status(),
        201
    );
    assert_eq!(
        admin(&gw, reqwest::Method::POST, "/admin/v1/consumers")
            .json(&json!({"name": "c1", "team": "t1", "models": ["gpt-mock"]}))
            .send()
            .await
            .expect("send")
            .status(),
        201
    );
    let list: Value = admin(&gw, reqwest::Method::GET, "/admin/v1/consumers")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|c| c["name"] == "c1" && c["team"] == "t1" && c["source"] == "api")
    );
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/teams/t1")
            .send()
            .await
            .expect("send")
            .status(),
        409
    );
    let res = admin(&gw, reqwest::Method::PUT, "/admin/v1/consumers/c1")
        .json(&json!({"name": "c1"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/teams/t1")
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/consumers/c1")
            .send()
            .await
            .expect("send")
            .status(),
        204
    );
}

#[tokio::test]
async fn keys_are_shown_once_scoped_and_revoked_at_once() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let res = admin(
        &gw,
        reqwest::Method::POST,
        "/admin/v1/consumers/team-a/keys",
    )
    .json(&json!({"name": "ci", "expires_at": null, "models": ["claude-mock"]}))
    .send()
    .await
    .expect("send");
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    let key = created["key"].as_str().expect("key").to_string();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(key.starts_with(created["prefix"].as_str().expect("prefix")));
    assert!(created["expires_at"].is_null());

    // Live at once, within its scope.
    assert_eq!(chat(&gw, &key, "claude-mock").await, 200);
    assert_eq!(chat(&gw, &key, "gpt-mock").await, 403);

    // Listing never shows the key or its hash.
    let text = admin(&gw, reqwest::Method::GET, "/admin/v1/consumers/team-a/keys")
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(!text.contains(&key), "{text}");
    assert!(text.contains(&id));
    assert!(!text.contains(&tollgate_core_hash(&key)), "{text}");

    // Revoked: refused from the next request on.
    let res = admin(
        &gw,
        reqwest::Method::DELETE,
        &format!("/admin/v1/keys/{id}"),
    )
    .send()
    .await
    .expect("send");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert!(v["revoked_at"].is_string());
    assert_eq!(chat(&gw, &key, "claude-mock").await, 401);

    // Expiry: a key that expires shortly stops working by itself.
    let soon = chrono_now_plus(Duration::from_millis(1500));
    let created: Value = admin(
        &gw,
        reqwest::Method::POST,
        "/admin/v1/consumers/team-a/keys",
    )
    .json(&json!({"name": "short", "expires_at": soon}))
    .send()
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    let short = created["key"].as_str().expect("key").to_string();
    assert_eq!(chat(&gw, &short, "gpt-mock").await, 200);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(chat(&gw, &short, "gpt-mock").await, 401);

    // Unknown consumer / key: 404.
    assert_eq!(
        admin(&gw, reqwest::Method::POST, "/admin/v1/consumers/ghost/keys")
            .json(&json!({}))
            .send()
            .await
            .expect("send")
            .status(),
        404
    );
    assert_eq!(
        admin(&gw, reqwest::Method::DELETE, "/admin/v1/keys/key_nope")
            .send()
            .await
            .expect("send")
            .status(),
        404
    );
}

fn tollgate_core_hash(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

fn chrono_now_plus(d: Duration) -> String {
    (chrono::Utc::now() + chrono::Duration::from_std(d).expect("duration")).to_rfc3339()
}

#[tokio::test]
async fn console_login_gives_a_session_for_the_admin_api() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start_with_env(
        &config_for(&mock, ""),
        &[("TOLLGATE_ADMIN_PASSWORD", "correct horse")],
    );
    let res = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
    let res = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "admin", "password": "correct horse"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_some());
    let v: Value = res.json().await.expect("json");
    let token = v["token"].as_str().expect("token");
    let res = client()
        .get(gw.admin("/admin/v1/models"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let res = client()
        .get(gw.admin("/admin/v1/models"))
        .header("cookie", format!("tollgate_session={token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
}
