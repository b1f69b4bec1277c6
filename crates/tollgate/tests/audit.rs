//! The audit log (issue 11, item 4): every kind of admin write leaves one row naming
//! the user (a console user, or `admin-token`), the action, the resource and its
//! name, with the document before (null on a create) and after (null on a delete);
//! secrets redacted; rows written in the write's own transaction (a write that fails
//! inside the database leaves none); `GET /admin/v1/audit` filters and pages, for
//! admins and operators only. On SQLite and on PostgreSQL.

mod common;

use common::*;
use serde_json::{Value, json};

const PROVIDER_SECRET: &str = "sk-provider-secret-abc";
const BASIC_PASSWORD: &str = "basic password 123";
const USER_PASSWORD: &str = "operator password 123";
const HMAC_SECRET: &str = "hmac-secret-xyz";

fn config(storage: &str) -> String {
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
services:
  - name: manual-svc
    path_prefix: /svc/manual
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
    subscription: {{approval: manual}}
"#
    )
}

async fn write(
    gw: &Gateway,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let c = client();
    let url = gw.admin(path);
    let req = match method {
        "POST" => c.post(url),
        "PUT" => c.put(url),
        "DELETE" => c.delete(url),
        _ => c.get(url),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.bearer_auth(token).send().await.expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn ok(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = write(gw, ADMIN_TOKEN, method, path, body).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
    v
}

/// Every row of the audit log, newest first, read page by page (3 at a time, to go
/// through the cursor).
async fn all_rows(gw: &Gateway, filter: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/admin/v1/audit?limit=3{filter}");
        if let Some(c) = &cursor {
            path += &format!("&cursor={c}");
        }
        let page = admin_json(gw, &path).await;
        rows.extend(page["data"].as_array().expect("data").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return rows,
        }
    }
}

/// The newest row for `resource` / `action` (and `name`, if given).
fn find<'a>(rows: &'a [Value], resource: &str, action: &str, name: Option<&str>) -> &'a Value {
    rows.iter()
        .find(|r| {
            r["resource"] == resource
                && r["action"] == action
                && name.is_none_or(|n| r["name"] == n)
        })
        .unwrap_or_else(|| panic!("no {action} of {resource} {name:?} in {rows:#?}"))
}

async fn every_write_is_audited(gw: &Gateway) {
    // Configuration resources: create, update, delete, with before and after.
    ok(
        gw,
        "POST",
        "/admin/v1/providers",
        Some(json!({
            "name": "p1", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
            "api_keys": [PROVIDER_SECRET],
        })),
    )
    .await;
    ok(
        gw,
        "PUT",
        "/admin/v1/providers/p1",
        Some(json!({
            "name": "p1", "kind": "openai", "base_url": "http://127.0.0.1:10/v1",
        })),
    )
    .await;
    ok(
        gw,
        "POST",
        "/admin/v1/models",
        Some(json!({
            "name": "m1", "targets": [{"provider": "p1", "model": "gpt-4o-mini"}],
        })),
    )
    .await;
    ok(gw, "DELETE", "/admin/v1/models/m1", None).await;
    ok(gw, "DELETE", "/admin/v1/providers/p1", None).await;
    ok(gw, "POST", "/admin/v1/teams", Some(json!({"name": "t1"}))).await;
    ok(
        gw,
        "POST",
        "/admin/v1/consumers",
        Some(json!({"name": "c1", "team": "t1"})),
    )
    .await;
    ok(
        gw,
        "PUT",
        "/admin/v1/consumers/c1",
        Some(json!({"name": "c1"})),
    )
    .await;
    // Keys, credits, credentials, subscriptions.
    let key = ok(
        gw,
        "POST",
        "/admin/v1/consumers/c1/keys",
        Some(json!({"name": "k"})),
    )
    .await;
    let key_id = key["id"].as_str().expect("id").to_string();
    let secret_key = key["key"].as_str().expect("key").to_string();
    ok(gw, "DELETE", &format!("/admin/v1/keys/{key_id}"), None).await;
    ok(
        gw,
        "POST",
        "/admin/v1/consumers/c1/credits",
        Some(json!({"amount_usd": 5, "reason": "welcome"})),
    )
    .await;
    let cred = ok(
        gw,
        "POST",
        "/admin/v1/consumers/c1/credentials",
        Some(json!({
            "type": "basic", "username": "c1-user", "password": BASIC_PASSWORD,
        })),
    )
    .await;
    ok(
        gw,
        "POST",
        "/admin/v1/consumers/c1/credentials",
        Some(json!({
            "type": "hmac", "access_key": "c1-ak", "secret_key": HMAC_SECRET,
        })),
    )
    .await;
    let cred_id = cred["id"].as_str().expect("id").to_string();
    ok(
        gw,
        "DELETE",
        &format!("/admin/v1/consumers/c1/credentials/{cred_id}"),
        None,
    )
    .await;
    let sub = ok(
        gw,
        "POST",
        "/admin/v1/subscriptions",
        Some(json!({"consumer": "c1", "service": "manual-svc"})),
    )
    .await;
    let sub_id = sub["id"].as_str().expect("id").to_string();
    ok(
        gw,
        "POST",
        &format!("/admin/v1/subscriptions/{sub_id}/approve"),
        None,
    )
    .await;
    ok(
        gw,
        "DELETE",
        &format!("/admin/v1/subscriptions/{sub_id}"),
        None,
    )
    .await;
    let sub = ok(
        gw,
        "POST",
        "/admin/v1/subscriptions",
        Some(json!({"consumer": "team-a", "service": "manual-svc"})),
    )
    .await;
    let sub2 = sub["id"].as_str().expect("id").to_string();
    ok(
        gw,
        "POST",
        &format!("/admin/v1/subscriptions/{sub2}/reject"),
        None,
    )
    .await;
    // Services: create, lifecycle, release, publish.
    ok(gw, "POST", "/admin/v1/services", Some(json!({
        "name": "s1", "path_prefix": "/svc/s1", "upstream": {"nodes": [{"url": "http://127.0.0.1:9"}]},
    }))).await;
    ok(
        gw,
        "PUT",
        "/admin/v1/services/s1/lifecycle",
        Some(json!({"state": "deprecated"})),
    )
    .await;
    ok(
        gw,
        "POST",
        "/admin/v1/services/s1/releases",
        Some(json!({"version": "v1"})),
    )
    .await;
    ok(
        gw,
        "POST",
        "/admin/v1/services/s1/releases/v1/publish",
        None,
    )
    .await;
    // Users, and what a user does: logged in and acting under their own name.
    ok(
        gw,
        "POST",
        "/admin/v1/users",
        Some(json!({
            "username": "olga", "password": USER_PASSWORD, "role": "operator",
        })),
    )
    .await;
    ok(
        gw,
        "POST",
        "/admin/v1/users",
        Some(json!({
            "username": "vic", "password": USER_PASSWORD, "role": "viewer",
        })),
    )
    .await;
    let login = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "olga", "password": USER_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.expect("json");
    let olga = login["token"].as_str().expect("token").to_string();
    let (s, _) = write(
        gw,
        &olga,
        "POST",
        "/admin/v1/teams",
        Some(json!({"name": "by-olga"})),
    )
    .await;
    assert_eq!(s, 201);
    ok(
        gw,
        "PUT",
        "/admin/v1/users/vic",
        Some(json!({"role": "viewer", "password": "a new password 1"})),
    )
    .await;
    ok(gw, "DELETE", "/admin/v1/users/vic", None).await;
    ok(gw, "DELETE", "/admin/v1/consumers/c1", None).await;

    let rows = all_rows(gw, "").await;
    let text = serde_json::to_string(&rows).expect("json");
    for secret in [
        PROVIDER_SECRET,
        BASIC_PASSWORD,
        USER_PASSWORD,
        HMAC_SECRET,
        secret_key.as_str(),
        "a new password 1",
        "$argon2",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the audit log");
    }

    // Creates have no before, deletes no after; updates both.
    let created = find(&rows, "provider", "create", Some("p1"));
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["api_keys"], "[redacted]");
    assert_eq!(created["after"]["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(created["user"], "admin-token");
    let updated = find(&rows, "provider", "update", Some("p1"));
    assert_eq!(updated["before"]["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(updated["after"]["base_url"], "http://127.0.0.1:10/v1");
    let deleted = find(&rows, "provider", "delete", Some("p1"));
    assert_eq!(deleted["after"], Value::Null);
    assert_eq!(deleted["before"]["name"], "p1");
    find(&rows, "model", "create", Some("m1"));
    find(&rows, "model", "delete", Some("m1"));
    find(&rows, "team", "create", Some("t1"));
    let c1 = find(&rows, "consumer", "update", Some("c1"));
    assert_eq!(c1["before"]["team"], "t1");
    assert_eq!(c1["after"]["team"], Value::Null);
    find(&rows, "consumer", "delete", Some("c1"));
    find(&rows, "key", "create", Some(&key_id));
    let revoked = find(&rows, "key", "revoke", Some(&key_id));
    assert_eq!(revoked["before"]["revoked_at"], Value::Null);
    assert!(revoked["after"]["revoked_at"].is_string(), "{revoked}");
    let topup = find(&rows, "credits", "top_up", Some("c1"));
    assert_eq!(topup["after"]["amount_usd"], 5.0);
    let basic = find(&rows, "credential", "create", Some("c1/c1-user"));
    assert_eq!(basic["after"]["password"], "[redacted]");
    assert_eq!(basic["after"]["username"], "c1-user");
    let hmac = find(&rows, "credential", "create", Some("c1/c1-ak"));
    assert_eq!(hmac["after"]["secret_key"], "[redacted]");
    find(&rows, "credential", "delete", Some("c1/c1-user"));
    let created = find(&rows, "subscription", "create", Some("c1/manual-svc"));
    assert_eq!(created["after"]["status"], "pending");
    let approved = find(&rows, "subscription", "approve", Some("c1/manual-svc"));
    assert_eq!(approved["before"]["status"], "pending");
    assert_eq!(approved["after"]["status"], "approved");
    let revoked = find(&rows, "subscription", "revoke", Some("c1/manual-svc"));
    assert_eq!(revoked["after"]["status"], "revoked");
    find(&rows, "subscription", "reject", Some("team-a/manual-svc"));
    find(&rows, "service", "create", Some("s1"));
    let moved = find(&rows, "service", "lifecycle", Some("s1"));
    assert_eq!(moved["before"]["lifecycle"], "published");
    assert_eq!(moved["after"]["lifecycle"], "deprecated");
    find(&rows, "service", "release", Some("s1"));
    find(&rows, "service", "publish", Some("s1"));
    let user = find(&rows, "user", "create", Some("olga"));
    assert_eq!(user["after"]["role"], "operator");
    assert_ne!(user["after"]["password"], USER_PASSWORD);
    let vic = find(&rows, "user", "update", Some("vic"));
    assert_eq!(vic["after"]["password"], "[redacted]");
    find(&rows, "user", "delete", Some("vic"));
    let login = find(&rows, "session", "login", Some("olga"));
    assert_eq!(login["user"], "olga");
    let by_olga = find(&rows, "team", "create", Some("by-olga"));
    assert_eq!(by_olga["user"], "olga");

    // Newest first, and the filters.
    let ats: Vec<chrono::DateTime<chrono::Utc>> = rows
        .iter()
        .filter_map(|r| r["at"].as_str()?.parse().ok())
        .collect();
    assert_eq!(ats.len(), rows.len());
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted);
    let olgas = all_rows(gw, "&user=olga").await;
    assert_eq!(olgas.len(), 2, "{olgas:#?}");
    let subs = all_rows(gw, "&resource=subscription").await;
    assert_eq!(subs.len(), 5, "{subs:#?}");
    let future = all_rows(gw, "&from=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    let past = all_rows(gw, "&to=2000-01-01T00:00:00Z").await;
    assert!(past.is_empty());
    for bad in ["from=yesterday", "limit=0", "limit=1001", "cursor=x"] {
        let (s, _) = admin_get(gw, &format!("/admin/v1/audit?{bad}")).await;
        assert_eq!(s, 400, "{bad}");
    }

    // A write that fails in the database leaves no row: the audit row was written in
    // its transaction, which rolled back (a second live subscription; a basic
    // username taken: both refused by the database inside the write).
    let before = all_rows(gw, "").await.len();
    let (s, _) = write(
        gw,
        ADMIN_TOKEN,
        "POST",
        "/admin/v1/subscriptions",
        Some(json!({"consumer": "team-a", "service": "manual-svc"})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = write(
        gw,
        ADMIN_TOKEN,
        "POST",
        "/admin/v1/subscriptions",
        Some(json!({"consumer": "team-a", "service": "manual-svc"})),
    )
    .await;
    assert_eq!(s, 409);
    ok(
        gw,
        "POST",
        "/admin/v1/consumers/team-a/credentials",
        Some(json!({
            "type": "basic", "username": "taken", "password": BASIC_PASSWORD,
        })),
    )
    .await;
    let (s, _) = write(
        gw,
        ADMIN_TOKEN,
        "POST",
        "/admin/v1/consumers/team-a/credentials",
        Some(json!({
            "type": "basic", "username": "taken", "password": BASIC_PASSWORD,
        })),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(
        all_rows(gw, "").await.len(),
        before + 2,
        "only the two writes that happened"
    );

    // Operators may read the log; viewers may not.
    let (s, _) = write(gw, &olga, "GET", "/admin/v1/audit", None).await;
    assert_eq!(s, 200);
    ok(
        gw,
        "POST",
        "/admin/v1/users",
        Some(json!({
            "username": "vera", "password": USER_PASSWORD, "role": "viewer",
        })),
    )
    .await;
    let login: Value = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "vera", "password": USER_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let vera = login["token"].as_str().expect("token");
    let (s, body) = write(gw, vera, "GET", "/admin/v1/audit", None).await;
    assert_eq!(s, 403, "{body}");
}

#[tokio::test]
async fn audit_on_sqlite() {
    let gw = Gateway::start(&config(""));
    every_write_is_audited(&gw).await;
}

#[tokio::test]
async fn audit_on_postgres() {
    let database = fresh_pg_schema("tg_audit");
    let storage = format!("storage:\n  database: {database}");
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let gw = Gateway::start_with_env(&config(&storage), &shared);
    every_write_is_audited(&gw).await;
    drop(gw);
    drop_pg_schema(&database);
}
