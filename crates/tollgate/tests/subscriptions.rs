//! Subscriptions (issue 11, item 2, the admin half): a service with `subscription`
//! refuses consumers without an approved subscription (403 `not_subscribed`);
//! `approval: auto` approves at once, `manual` leaves it pending until approved or
//! rejected; a revocation refuses at once, on this node and on a second node sharing
//! the PostgreSQL database. Lists filter by status, consumer and service, with a
//! cursor.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tollgate_mock::rest::RestUpstream;

fn config(upstream: &str, storage: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
{storage}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
services:
  - name: open
    path_prefix: /svc/open
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
  - name: auto-svc
    path_prefix: /svc/auto
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    subscription: {{approval: auto}}
  - name: manual-svc
    path_prefix: /svc/manual
    upstream: {{nodes: [{{url: "{upstream}"}}]}}
    subscription: {{approval: manual}}
"#
    )
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call(gw: &Gateway, path: &str, key: &str) -> (u16, Value) {
    send(client().get(gw.gw(path)).bearer_auth(key)).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

async fn subscribe(gw: &Gateway, consumer: &str, service: &str) -> (u16, Value) {
    send(
        client()
            .post(gw.admin("/admin/v1/subscriptions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"consumer": consumer, "service": service})),
    )
    .await
}

async fn act(gw: &Gateway, id: &str, action: &str) -> (u16, Value) {
    let req = match action {
        "revoke" => client().delete(gw.admin(&format!("/admin/v1/subscriptions/{id}"))),
        other => client().post(gw.admin(&format!("/admin/v1/subscriptions/{id}/{other}"))),
    };
    send(req.bearer_auth(ADMIN_TOKEN)).await
}

/// Polls `path` on `gw` (up to 10 s) until it answers `want`; the last status.
async fn until(gw: &Gateway, path: &str, key: &str, want: u16) -> u16 {
    let mut last = 0;
    for _ in 0..100 {
        last = call(gw, path, key).await.0;
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

async fn auto_manual_approve_reject_revoke(gw: &Gateway) {
    // Without `subscription`, any consumer may call.
    assert_eq!(call(gw, "/svc/open/x", KEY_A).await.0, 200);
    // With it, not without an approved subscription.
    let (s, body) = call(gw, "/svc/auto/x", KEY_A).await;
    assert_eq!((s, code(&body)), (403, "not_subscribed"), "{body}");
    assert_eq!(body["error"]["type"], "permission_error");

    // auto: approved at once, live at once.
    let (s, sub) = subscribe(gw, "team-a", "auto-svc").await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["status"], "approved");
    assert_eq!(call(gw, "/svc/auto/x", KEY_A).await.0, 200);
    // Per consumer.
    let (s, body) = call(gw, "/svc/auto/x", KEY_B).await;
    assert_eq!((s, code(&body)), (403, "not_subscribed"), "{body}");
    // One live subscription per consumer and service.
    assert_eq!(subscribe(gw, "team-a", "auto-svc").await.0, 409);
    // Unknown consumer or service.
    assert_eq!(subscribe(gw, "nobody", "auto-svc").await.0, 400);
    assert_eq!(subscribe(gw, "team-a", "no-such-svc").await.0, 400);

    // manual: pending until approved.
    let (s, sub) = subscribe(gw, "team-a", "manual-svc").await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["status"], "pending");
    let id = sub["id"].as_str().expect("id").to_string();
    let (s, body) = call(gw, "/svc/manual/x", KEY_A).await;
    assert_eq!((s, code(&body)), (403, "not_subscribed"), "{body}");
    let pending = admin_json(gw, "/admin/v1/subscriptions?status=pending").await;
    let ids: Vec<&str> = pending["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, vec![id.as_str()], "{pending}");
    let (s, approved) = act(gw, &id, "approve").await;
    assert_eq!((s, approved["status"].as_str()), (200, Some("approved")));
    assert_eq!(call(gw, "/svc/manual/x", KEY_A).await.0, 200);
    // Approving again changes nothing; rejecting an approved one is refused.
    assert_eq!(act(gw, &id, "approve").await.0, 200);
    assert_eq!(act(gw, &id, "reject").await.0, 409);

    // Revoked: refused at once, and kept on record.
    let (s, revoked) = act(gw, &id, "revoke").await;
    assert_eq!((s, revoked["status"].as_str()), (200, Some("revoked")));
    let (s, body) = call(gw, "/svc/manual/x", KEY_A).await;
    assert_eq!((s, code(&body)), (403, "not_subscribed"), "{body}");
    let got = admin_json(gw, &format!("/admin/v1/subscriptions/{id}")).await;
    assert_eq!(got["status"], "revoked");
    assert_eq!(
        act(gw, &id, "approve").await.0,
        409,
        "a revoked one stays revoked"
    );

    // Rejected: still refused; a new request may follow.
    let (_, sub) = subscribe(gw, "team-b", "manual-svc").await;
    let id_b = sub["id"].as_str().expect("id").to_string();
    let (s, rejected) = act(gw, &id_b, "reject").await;
    assert_eq!((s, rejected["status"].as_str()), (200, Some("rejected")));
    assert_eq!(call(gw, "/svc/manual/x", KEY_B).await.0, 403);
    assert_eq!(act(gw, &id_b, "approve").await.0, 409);
    assert_eq!(subscribe(gw, "team-b", "manual-svc").await.0, 201);
    assert_eq!(act(gw, "sub_unknown", "approve").await.0, 404);

    // Filters and the cursor.
    let mine = admin_json(gw, "/admin/v1/subscriptions?consumer=team-a").await;
    assert_eq!(mine["data"].as_array().map(Vec::len), Some(2), "{mine}");
    let svc = admin_json(gw, "/admin/v1/subscriptions?service=manual-svc").await;
    assert_eq!(svc["data"].as_array().map(Vec::len), Some(3), "{svc}");
    let mut seen = Vec::new();
    let mut path = "/admin/v1/subscriptions?limit=1".to_string();
    loop {
        let page = admin_json(gw, &path).await;
        for s in page["data"].as_array().expect("data") {
            seen.push(s["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/admin/v1/subscriptions?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "no row twice: {seen:?}");
    for bad in ["status=gone", "limit=0", "cursor=nope"] {
        let (s, _) = admin_get(gw, &format!("/admin/v1/subscriptions?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
    }
}

#[tokio::test]
async fn subscriptions_on_sqlite() {
    let upstream = RestUpstream::start("a").await.expect("upstream");
    let gw = Gateway::start(&config(&upstream.url(), ""));
    auto_manual_approve_reject_revoke(&gw).await;
}

#[tokio::test]
async fn subscriptions_on_two_nodes_sharing_postgres() {
    let database = fresh_pg_schema("tg_subs");
    let upstream = RestUpstream::start("a").await.expect("upstream");
    let storage = format!("storage:\n  database: {database}");
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let cfg = config(&upstream.url(), &storage);
    let gw = Gateway::start_with_env(&cfg, &shared);
    auto_manual_approve_reject_revoke(&gw).await;

    // A second node on the same database follows every change.
    let other = Gateway::start_with_env(&cfg, &shared);
    assert_eq!(
        call(&other, "/svc/auto/x", KEY_A).await.0,
        200,
        "approved on both"
    );
    let (_, sub) = subscribe(&gw, "team-b", "auto-svc").await;
    let id = sub["id"].as_str().expect("id").to_string();
    assert_eq!(
        until(&other, "/svc/auto/x", KEY_B, 200).await,
        200,
        "a new approval reaches the other node"
    );
    let (s, _) = act(&gw, &id, "revoke").await;
    assert_eq!(s, 200);
    assert_eq!(call(&gw, "/svc/auto/x", KEY_B).await.0, 403, "at once here");
    assert_eq!(
        until(&other, "/svc/auto/x", KEY_B, 403).await,
        403,
        "the revocation reaches the other node"
    );
    // And an approval made on the other node reaches the first.
    let list = admin_json(
        &other,
        "/admin/v1/subscriptions?status=pending&consumer=team-b",
    )
    .await;
    let pending = list["data"][0]["id"]
        .as_str()
        .expect("a pending one")
        .to_string();
    let (s, _) = act(&other, &pending, "approve").await;
    assert_eq!(s, 200);
    assert_eq!(until(&gw, "/svc/manual/x", KEY_B, 200).await, 200);
    drop(other);
    drop(gw);
    drop_pg_schema(&database);
}
