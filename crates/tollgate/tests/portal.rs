//! The developer portal's API (PRODUCT.md, "Subscriptions and the developer portal"):
//! developer login, the catalogue, the developer's own keys and usage, against the
//! real binary; and above all that a developer never sees or touches another
//! consumer's data, whatever path, id or token they try.

mod common;

use common::*;
use reqwest::Method;
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
models:
  - name: gpt-mock
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
  - name: gpt-other
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
    models: [gpt-mock]
  - name: team-b
    api_keys: ["{KEY_B}"]
services:
  - name: weather
    path_prefix: /svc/weather
    description: Forecasts
    subscription: {{approval: manual}}
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
    routes:
      - {{name: forecast, methods: [GET], path: "/forecast/{{city}}"}}
  - name: legacy
    path_prefix: /svc/legacy
    lifecycle: deprecated
    subscription: {{approval: auto}}
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
  - name: secret-draft
    path_prefix: /svc/draft
    lifecycle: draft
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
  - name: gone
    path_prefix: /svc/gone
    lifecycle: retired
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
prompt_apis:
  - name: summarize
    path: /prompt/summarize
    model: gpt-mock
    messages: [{{role: user, content: "Summarize: {{{{text}}}}"}}]
    variables: [{{name: text, required: true}}]
    max_tokens: 50
  - name: hidden-prompt
    path: /prompt/hidden
    model: gpt-mock
    lifecycle: draft
    messages: [{{role: user, content: "x"}}]
    max_tokens: 5
"#,
        openai = mock.openai_base_url(),
    )
}

async fn call(
    gw: &Gateway,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client().request(method, gw.admin(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn login(gw: &Gateway, username: &str, password: &str) -> (u16, Value) {
    call(
        gw,
        None,
        Method::POST,
        "/portal/v1/login",
        Some(json!({"username": username, "password": password})),
    )
    .await
}

async fn make_user(gw: &Gateway, username: &str, role: &str, consumer: Option<&str>) {
    let mut body =
        json!({"username": username, "password": format!("{username}-password"), "role": role});
    if let Some(c) = consumer {
        body["consumer"] = json!(c);
    }
    let (s, v) = call(
        gw,
        Some(ADMIN_TOKEN),
        Method::POST,
        "/admin/v1/users",
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

async fn session(gw: &Gateway, username: &str) -> String {
    let (s, v) = login(gw, username, &format!("{username}-password")).await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().expect("token").to_string()
}

async fn models_of(gw: &Gateway, key: &str) -> u16 {
    client()
        .get(gw.gw("/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developers_see_and_touch_only_their_own_consumer() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    make_user(&gw, "dev-a", "developer", Some("team-a")).await;
    make_user(&gw, "dev-b", "developer", Some("team-b")).await;
    make_user(&gw, "watcher", "viewer", None).await;

    // Login: developers only; a wrong password is 401, another role 403.
    let (s, v) = login(&gw, "dev-a", "nope").await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (401, Some("authentication_error")),
        "{v}"
    );
    let (s, v) = login(&gw, "watcher", "watcher-password").await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (403, Some("permission_error")),
        "{v}"
    );
    let (s, v) = login(&gw, "dev-a", "dev-a-password").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["consumer"], "team-a");
    let a = v["token"].as_str().expect("token").to_string();
    let b = session(&gw, "dev-b").await;

    // Without a session: 401. The admin token and other roles' sessions: 403. A
    // developer's session opens nothing of the admin API.
    let (s, _) = call(&gw, None, Method::GET, "/portal/v1/keys", None).await;
    assert_eq!(s, 401);
    let (s, _) = call(&gw, Some(ADMIN_TOKEN), Method::GET, "/portal/v1/keys", None).await;
    assert_eq!(s, 403);
    let viewer = {
        let (s, v) = call(
            &gw,
            None,
            Method::POST,
            "/admin/v1/login",
            Some(json!({"username": "watcher", "password": "watcher-password"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    };
    let (s, _) = call(&gw, Some(&viewer), Method::GET, "/portal/v1/usage", None).await;
    assert_eq!(s, 403);
    for path in [
        "/admin/v1/consumers",
        "/admin/v1/consumers/team-a/keys",
        "/admin/v1/calls",
    ] {
        let (s, _) = call(&gw, Some(&a), Method::GET, path, None).await;
        assert_eq!(s, 403, "{path}");
    }

    // The catalogue: published and deprecated services with their docs, never a draft
    // or a retired one; the models this consumer may use, not the others.
    let (s, cat) = call(&gw, Some(&a), Method::GET, "/portal/v1/catalog", None).await;
    assert_eq!(s, 200, "{cat}");
    let names: Vec<&str> = cat["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["legacy", "weather"], "{cat}");
    let weather = &cat["services"][1];
    assert_eq!(weather["lifecycle"], "published");
    assert_eq!(weather["description"], "Forecasts");
    assert_eq!(weather["openapi"]["openapi"], "3.1.0", "{weather}");
    assert!(
        weather["openapi"]["paths"]
            .as_object()
            .is_some_and(|p| p.contains_key("/svc/weather/forecast/{city}")),
        "{weather}"
    );
    assert_eq!(cat["models"], json!([{"name": "gpt-mock"}]));
    let (_, cat_b) = call(&gw, Some(&b), Method::GET, "/portal/v1/catalog", None).await;
    assert_eq!(
        cat_b["models"],
        json!([{"name": "gpt-mock"}, {"name": "gpt-other"}])
    );

    assert_eq!(weather["subscription"], "manual");
    assert_eq!(cat["services"][0]["subscription"], "auto");
    let prompts: Vec<&str> = cat["prompt_apis"]
        .as_array()
        .expect("prompt_apis")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(prompts, ["summarize"], "{cat}");
    assert_eq!(cat["prompt_apis"][0]["path"], "/prompt/summarize");

    // Subscriptions: for the own consumer only; by hand stays pending until an admin
    // approves; what the catalogue does not list cannot be subscribed to.
    let sub = |t: &str, service: &str| {
        let t = t.to_string();
        let body = json!({"service": service});
        let gw = &gw;
        async move {
            call(
                gw,
                Some(&t),
                Method::POST,
                "/portal/v1/subscriptions",
                Some(body),
            )
            .await
        }
    };
    let (s, pending) = sub(&a, "weather").await;
    assert_eq!(
        (s, pending["status"].as_str(), pending["consumer"].as_str()),
        (201, Some("pending"), Some("team-a")),
        "{pending}"
    );
    let (s, auto) = sub(&a, "legacy").await;
    assert_eq!(
        (s, auto["status"].as_str()),
        (201, Some("approved")),
        "{auto}"
    );
    let (s, v) = sub(&a, "weather").await;
    assert_eq!(s, 409, "one live subscription per service: {v}");
    for hidden in ["secret-draft", "gone", "hidden-prompt", "nope"] {
        let (s, v) = sub(&a, hidden).await;
        assert_eq!(
            (s, v["error"]["param"].as_str()),
            (400, Some("service")),
            "{hidden}: {v}"
        );
        assert!(!v.to_string().contains("draft "), "{v}");
    }
    let (s, v) = call(
        &gw,
        Some(&a),
        Method::POST,
        "/portal/v1/subscriptions",
        Some(json!({"service": "weather", "consumer": "team-b"})),
    )
    .await;
    assert_eq!(s, 400, "no consumer field: {v}");
    let (s, p) = sub(&b, "summarize").await;
    assert_eq!((s, p["consumer"].as_str()), (201, Some("team-b")), "{p}");
    let (_, mine) = call(&gw, Some(&a), Method::GET, "/portal/v1/subscriptions", None).await;
    let services: Vec<&str> = mine["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    assert_eq!(services.len(), 2, "{mine}");
    assert!(
        mine["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|s| s["consumer"] == "team-a"),
        "{mine}"
    );
    let (_, pending_only) = call(
        &gw,
        Some(&a),
        Method::GET,
        "/portal/v1/subscriptions?status=pending",
        None,
    )
    .await;
    assert_eq!(
        pending_only["data"].as_array().map(Vec::len),
        Some(1),
        "{pending_only}"
    );
    let id = pending["id"].as_str().expect("id");
    let (s, v) = call(
        &gw,
        Some(ADMIN_TOKEN),
        Method::POST,
        &format!("/admin/v1/subscriptions/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, approved) = call(
        &gw,
        Some(&a),
        Method::GET,
        "/portal/v1/subscriptions?status=approved",
        None,
    )
    .await;
    assert_eq!(
        approved["data"].as_array().map(Vec::len),
        Some(2),
        "{approved}"
    );

    // Keys: a developer makes one for their consumer (shown once) and it works.
    let (s, created) = call(
        &gw,
        Some(&a),
        Method::POST,
        "/portal/v1/keys",
        Some(json!({"name": "laptop"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["consumer"], "team-a");
    let key = created["key"].as_str().expect("key").to_string();
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(models_of(&gw, &key).await, 200);
    // A body naming another consumer is refused, not obeyed.
    let (s, v) = call(
        &gw,
        Some(&a),
        Method::POST,
        "/portal/v1/keys",
        Some(json!({"name": "sneaky", "consumer": "team-b"})),
    )
    .await;
    assert_eq!(s, 400, "{v}");

    // Each lists only their own; the secret is never listed.
    let (_, keys_a) = call(&gw, Some(&a), Method::GET, "/portal/v1/keys", None).await;
    let (_, keys_b) = call(&gw, Some(&b), Method::GET, "/portal/v1/keys", None).await;
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("keys")
            .iter()
            .map(|k| k["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert!(ids(&keys_a).contains(&id));
    assert!(!ids(&keys_b).contains(&id));
    assert!(
        keys_b
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["consumer"] == "team-b")
    );
    assert!(
        !keys_a.to_string().contains(&key),
        "the secret is shown once"
    );
    let b_key_id = ids(&keys_b)[0].clone();

    // Another consumer's key: 404, as an unknown id; it keeps working.
    let (s, _) = call(
        &gw,
        Some(&b),
        Method::DELETE,
        &format!("/portal/v1/keys/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(models_of(&gw, &key).await, 200);
    let (s, _) = call(
        &gw,
        Some(&a),
        Method::DELETE,
        &format!("/portal/v1/keys/{b_key_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(models_of(&gw, KEY_B).await, 200);
    for trick in [
        "/portal/v1/keys/..%2F..%2Fadmin%2Fv1%2Fconsumers",
        "/portal/v1/keys/%00",
    ] {
        let (s, _) = call(&gw, Some(&a), Method::DELETE, trick, None).await;
        assert_eq!(s, 404, "{trick}");
    }

    // Their own: revoked at once.
    let (s, v) = call(
        &gw,
        Some(&a),
        Method::DELETE,
        &format!("/portal/v1/keys/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["revoked_at"].is_string(), "{v}");
    assert_eq!(models_of(&gw, &key).await, 401);

    // Usage: their own consumer's document.
    let (s, u) = call(&gw, Some(&a), Method::GET, "/portal/v1/usage", None).await;
    assert_eq!((s, u["consumer"].as_str()), (200, Some("team-a")), "{u}");
    let (_, u) = call(&gw, Some(&b), Method::GET, "/portal/v1/usage", None).await;
    assert_eq!(u["consumer"], "team-b");

    // The session cookie works as the bearer token does; logout ends the session.
    let res = client()
        .get(gw.admin("/portal/v1/usage"))
        .header("cookie", format!("tollgate_session={a}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let (s, _) = call(&gw, Some(&a), Method::POST, "/portal/v1/logout", None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&gw, Some(&a), Method::GET, "/portal/v1/usage", None).await;
    assert_eq!(s, 401);

    // A developer's writes are audited under their name: the login, the key made and
    // the key revoked.
    let (s, audit) = call(
        &gw,
        Some(ADMIN_TOKEN),
        Method::GET,
        "/admin/v1/audit?user=dev-a",
        None,
    )
    .await;
    assert_eq!(s, 200, "{audit}");
    let rows = audit["data"].as_array().expect("rows");
    let did = |action: &str, resource: &str| {
        rows.iter()
            .any(|r| r["action"] == action && r["resource"] == resource && r["user"] == "dev-a")
    };
    assert!(did("login", "session"), "{audit}");
    assert!(did("create", "key"), "{audit}");
    assert!(did("revoke", "key") || did("delete", "key"), "{audit}");
    assert!(
        !audit.to_string().contains(&key),
        "no key secret in the audit log"
    );

    // The portal's own OpenAPI document, public like the admin API's.
    let (s, doc) = call(&gw, None, Method::GET, "/portal/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/portal/v1/login",
        "/portal/v1/catalog",
        "/portal/v1/keys",
        "/portal/v1/keys/{id}",
        "/portal/v1/usage",
    ] {
        assert!(paths.contains_key(p), "{p} documented");
    }
    assert!(paths.keys().all(|p| p.starts_with("/portal/v1/")));
    assert_eq!(
        doc["paths"]["/portal/v1/keys"]["get"]["responses"]["200"]["links"]["revoke"]["operationId"],
        "portal_revoke_key"
    );
}

/// `GET /portal/v1/usage/timeseries`: the developer's own consumer's series only
/// (another consumer's traffic in the same buckets is not shown, nor can a parameter
/// ask for it), bad parameters are 400 naming the field; the catalogue says where the
/// gateway is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_over_time_is_the_developers_own() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    make_user(&gw, "dev-a", "developer", Some("team-a")).await;
    let a = session(&gw, "dev-a").await;

    let (s, cat) = call(&gw, Some(&a), Method::GET, "/portal/v1/catalog", None).await;
    assert_eq!(s, 200, "{cat}");
    assert_eq!(cat["gateway_url"], gw.url.as_str(), "{cat}");

    // Before any call: no series at all.
    let (s, v) = call(
        &gw,
        Some(&a),
        Method::GET,
        "/portal/v1/usage/timeseries",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["series"], json!([]), "{v}");

    for (key, model, n) in [(KEY_A, "gpt-mock", 2), (KEY_B, "gpt-mock", 3)] {
        for _ in 0..n {
            let res = client()
                .post(gw.gw("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), 200);
        }
    }
    // Rollups are written shortly after the calls.
    let mut series = Value::Null;
    for _ in 0..100 {
        let (s, v) = call(
            &gw,
            Some(&a),
            Method::GET,
            "/portal/v1/usage/timeseries?metric=requests&interval=minute&by=team",
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let total: f64 = v["series"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["points"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["value"].as_f64())
            .sum();
        if total >= 2.0 {
            series = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let list = series["series"]
        .as_array()
        .expect("the calls arrive in the rollups");
    assert_eq!(
        list.len(),
        1,
        "only team-a's series, whatever `by` says: {series}"
    );
    assert_eq!(list[0]["key"], "team-a");
    let total: f64 = list[0]["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["value"].as_f64())
        .sum();
    assert_eq!(total, 2.0, "team-b's three calls are not counted: {series}");

    for (query, param) in [
        ("metric=everything", "metric"),
        ("interval=fortnight", "interval"),
        ("from=yesterday", "from"),
        ("to=1e999", "to"),
    ] {
        let (s, v) = call(
            &gw,
            Some(&a),
            Method::GET,
            &format!("/portal/v1/usage/timeseries?{query}"),
            None,
        )
        .await;
        assert_eq!(s, 400, "{query}: {v}");
        assert_eq!(v["error"]["param"], param, "{query}: {v}");
    }
    let (s, _) = call(&gw, None, Method::GET, "/portal/v1/usage/timeseries", None).await;
    assert_eq!(s, 401);
    let (s, _) = call(
        &gw,
        Some(ADMIN_TOKEN),
        Method::GET,
        "/portal/v1/usage/timeseries",
        None,
    )
    .await;
    assert_eq!(s, 403);
}
