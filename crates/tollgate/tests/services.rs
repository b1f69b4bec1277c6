//! REST services (issue 10, first slice): routing with params, rewrites and the query
//! kept; weighted nodes; a down node; the services' error codes; per-service limits;
//! lifecycle answers; admin CRUD live without a restart; and call records. 100 MiB
//! bodies streamed both ways with the gateway's memory checked: `services_big_body.rs`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tollgate_mock::rest::{Checksum, RestUpstream, refused_port};

fn base_config(services: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
  max_body_bytes: 65536
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
services:
{services}
"#
    )
}

async fn get(
    gw: &Gateway,
    path: &str,
    key: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client().get(gw.gw(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    json_of(req.send().await.expect("send")).await
}

fn request_id(h: &reqwest::header::HeaderMap) -> String {
    h.get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

#[tokio::test]
async fn routes_params_rewrites_query_headers_and_error_codes() {
    let a = RestUpstream::start("a").await.expect("upstream");
    let services = format!(
        r#"
  - name: weather
    path_prefix: /svc/weather
    upstream: {{nodes: [{{url: "{a}"}}]}}
    routes:
      - {{name: forecast, methods: [GET], path: "/forecast/{{city}}", rewrite: "/v2/forecast/{{city}}"}}
      - {{name: report, methods: [POST], path: "/reports"}}
  - name: open
    path_prefix: /svc/open
    upstream: {{nodes: [{{url: "{a}/base"}}], pass_host: node}}
"#,
        a = a.url()
    );
    let gw = Gateway::start(&base_config(&services));
    let store = open_store(&gw).await;

    // A route with a param, rewritten; the query string kept; forwarding headers added;
    // the gateway key not passed on; the upstream's own headers passed back.
    let (s, h, body) = get(
        &gw,
        "/svc/weather/forecast/paris?units=metric&days=3",
        Some(KEY_A),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["path"], "/v2/forecast/paris");
    assert_eq!(body["query"], "units=metric&days=3");
    assert_eq!(body["method"], "GET");
    let up = &body["headers"];
    assert_eq!(up["x-forwarded-for"], "127.0.0.1");
    assert_eq!(up["x-forwarded-proto"], "http");
    let gw_authority = gw.url.trim_start_matches("http://").to_string();
    assert_eq!(up["x-forwarded-host"], gw_authority.as_str());
    assert_eq!(
        up["host"],
        gw_authority.as_str(),
        "pass_host defaults to pass"
    );
    assert_eq!(up["x-request-id"], request_id(&h).as_str());
    assert!(
        up.get("authorization").is_none(),
        "the gateway key stays here: {up}"
    );
    assert_eq!(h["x-upstream-custom"], "kept");
    assert_eq!(h["x-node"], "a");
    let forecast_id = request_id(&h);

    // POST with a body.
    let res = client()
        .post(gw.gw("/svc/weather/reports"))
        .header("x-api-key", KEY_A)
        .body(vec![7u8; 1000])
        .send()
        .await
        .expect("send");
    let (s, _, body) = json_of(res).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["path"], "/reports");
    assert_eq!(body["body_len"], 1000);
    let mut sum = Checksum::default();
    sum.update(&[7u8; 1000]);
    assert_eq!(body["body_checksum"], sum.hex().as_str());
    assert!(body["headers"].get("x-api-key").is_none());

    // No routes: everything under the prefix goes, after the node's base path; Host
    // per `pass_host: node`; any upstream status passes through with its body.
    let (s, _, body) = get(&gw, "/svc/open/any/thing?q=1", Some(KEY_A)).await;
    assert_eq!(s, 200);
    assert_eq!(body["path"], "/base/any/thing");
    assert_eq!(body["query"], "q=1");
    assert_eq!(body["headers"]["host"], a.addr().to_string().as_str());
    let (s, h, body) = get(&gw, "/svc/open/teapot?status=418", Some(KEY_A)).await;
    assert_eq!(s, 418);
    assert_eq!(body["node"], "a");
    assert_eq!(h["x-upstream-custom"], "kept");

    // Error codes of PRODUCT.md's table for services.
    let (s, _, body) = get(&gw, "/svc/weather/forecast/paris", None).await;
    assert_eq!((s, code(&body)), (401, "invalid_api_key"));
    assert_eq!(body["error"]["type"], "authentication_error");
    let (s, _, body) = get(&gw, "/svc/weather/forecast/paris", Some("tg-wrong")).await;
    assert_eq!((s, code(&body)), (401, "invalid_api_key"));
    let (s, _, body) = get(&gw, "/svc/weather/nowhere", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (s, _, body) = get(&gw, "/svc/weather/forecast/paris/extra", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    let res = client()
        .delete(gw.gw("/svc/weather/reports"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    let (s, h, body) = json_of(res).await;
    assert_eq!((s, code(&body)), (405, "method_not_allowed"));
    assert_eq!(h["allow"], "POST");
    // Outside any prefix, the gateway's own 404.
    let (s, _, body) = get(&gw, "/svc/weatherman", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));

    // The call record of a service call.
    let r = record(&store, &forecast_id).await;
    assert_eq!(r.door, "service");
    assert_eq!(r.model.as_deref(), Some("weather"));
    assert_eq!(r.provider.as_deref(), Some(a.url().as_str()));
    assert_eq!(r.target_model.as_deref(), Some("forecast"));
    assert_eq!(r.consumer.as_deref(), Some("team-a"));
    assert_eq!(r.status, 200);
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].status, Some(200));
}

#[tokio::test]
async fn weighted_nodes_down_nodes_5xx_and_timeouts() {
    let a = RestUpstream::start("a").await.expect("a");
    let b = RestUpstream::start("b").await.expect("b");
    let down = format!("http://127.0.0.1:{}", refused_port());
    let services = format!(
        r#"
  - name: weighted
    path_prefix: /w
    upstream: {{nodes: [{{url: "{a}", weight: 3}}, {{url: "{b}", weight: 1}}]}}
  - name: flaky-get
    path_prefix: /fg
    upstream: {{nodes: [{{url: "{down}"}}, {{url: "{a}"}}]}}
  - name: flaky-post
    path_prefix: /fp
    upstream: {{nodes: [{{url: "{down}"}}, {{url: "{a}"}}]}}
  - name: failing
    path_prefix: /f5
    upstream: {{nodes: [{{url: "{a}/status/503"}}, {{url: "{b}"}}]}}
  - name: always5
    path_prefix: /a5
    upstream: {{nodes: [{{url: "{a}/status/503"}}]}}
  - name: dead
    path_prefix: /dead
    upstream: {{nodes: [{{url: "{down}"}}]}}
  - name: slow
    path_prefix: /slow
    upstream: {{nodes: [{{url: "{a}"}}], timeout_ms: 300}}
"#,
        a = a.url(),
        b = b.url()
    );
    let gw = Gateway::start(&base_config(&services));
    let store = open_store(&gw).await;

    let mut counts = std::collections::HashMap::new();
    for _ in 0..40 {
        let (s, _, body) = get(&gw, "/w/x", Some(KEY_A)).await;
        assert_eq!(s, 200);
        *counts
            .entry(body["node"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(counts.get("a"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("b"), Some(&10), "{counts:?}");

    // GET: the down node is tried, then the next node once; then it is cooling down.
    let (s, h, body) = get(&gw, "/fg/x", Some(KEY_A)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["node"], "a");
    let r = record(&store, &request_id(&h)).await;
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    assert_eq!(r.attempts[0].status, None);
    assert_eq!(r.attempts[1].status, Some(200));
    for _ in 0..5 {
        let (s, h, _) = get(&gw, "/fg/x", Some(KEY_A)).await;
        assert_eq!(s, 200);
        let r = record(&store, &request_id(&h)).await;
        assert_eq!(r.attempts.len(), 1, "the down node is cooling down");
    }

    // POST: not retried (its body went to the first node).
    let post = |path: &'static str| {
        client()
            .post(gw.gw(path))
            .bearer_auth(KEY_A)
            .body("payload")
            .send()
    };
    let (s, h, body) = json_of(post("/fp/x").await.expect("send")).await;
    assert_eq!((s, code(&body)), (502, "upstream_unavailable"), "{body}");
    assert_eq!(body["error"]["type"], "upstream_error");
    let r = record(&store, &request_id(&h)).await;
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.error_code.as_deref(), Some("upstream_unavailable"));
    let (s, _, body) = json_of(post("/fp/x").await.expect("send")).await;
    assert_eq!(s, 200, "the down node now cools down: {body}");

    // A node answering 5xx: a GET goes on to the next node.
    let (s, h, body) = get(&gw, "/f5/x", Some(KEY_A)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["node"], "b");
    let r = record(&store, &request_id(&h)).await;
    assert_eq!(r.attempts[0].status, Some(503));
    // A node's 5xx with nowhere else to go is passed through as it is.
    let (s, h, body) = json_of(post("/a5/y").await.expect("send")).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["node"], "a");
    assert_eq!(h["x-upstream-custom"], "kept");

    // Every node down: 502; too slow: 504.
    let (s, _, body) = get(&gw, "/dead/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (502, "upstream_unavailable"));
    let (s, _, body) = get(&gw, "/slow/x?delay_ms=3000", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (504, "upstream_timeout"));
    let (s, _, _) = get(&gw, "/slow/x?delay_ms=10", Some(KEY_A)).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn per_service_limits_lifecycle_and_admin_crud_live() {
    let a = RestUpstream::start("a").await.expect("a");
    let services = format!(
        r#"
  - name: limited
    path_prefix: /lim
    upstream: {{nodes: [{{url: "{a}"}}]}}
    rate_limit: {{requests_per_minute: 2}}
  - name: drafty
    path_prefix: /draft
    upstream: {{nodes: [{{url: "{a}"}}]}}
    lifecycle: draft
  - name: old
    path_prefix: /old
    upstream: {{nodes: [{{url: "{a}"}}]}}
    lifecycle: deprecated
    sunset_at: 2027-06-30T00:00:00Z
  - name: gone
    path_prefix: /gone
    upstream: {{nodes: [{{url: "{a}"}}]}}
    lifecycle: retired
"#,
        a = a.url()
    );
    let gw = Gateway::start(&base_config(&services));

    // Per consumer, on this service.
    for _ in 0..2 {
        let (s, _, _) = get(&gw, "/lim/x", Some(KEY_A)).await;
        assert_eq!(s, 200);
    }
    let (s, h, body) = get(&gw, "/lim/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (429, "rate_limit_exceeded"), "{body}");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let (s, _, _) = get(&gw, "/lim/x", Some(KEY_B)).await;
    assert_eq!(s, 200, "another consumer has its own allowance");

    // Lifecycle answers.
    let (s, _, body) = get(&gw, "/draft/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    let (s, _, body) = get(&gw, "/gone/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (410, "service_retired"));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (s, h, _) = get(&gw, "/old/x", Some(KEY_A)).await;
    assert_eq!(s, 200);
    assert_eq!(h["deprecation"], "true");
    assert_eq!(h["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT");

    // Admin CRUD, live at once.
    let admin =
        |m: reqwest::Method, p: &str| client().request(m, gw.admin(p)).bearer_auth(ADMIN_TOKEN);
    let (s, _, _) = get(&gw, "/fresh/hello", Some(KEY_A)).await;
    assert_eq!(s, 404);
    let spec = json!({
        "name": "fresh", "path_prefix": "/fresh",
        "upstream": {"nodes": [{"url": a.url(), "weight": 2}], "timeout_ms": 5000},
        "routes": [{"name": "hello", "methods": ["GET"], "path": "/hello/{who}", "rewrite": "/hi/{who}"}]
    });
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&spec)
        .send()
        .await
        .expect("send");
    let (s, _, body) = json_of(res).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["source"], "api");
    assert_eq!(body["lifecycle"], "published");
    let (s, _, body) = get(&gw, "/fresh/hello/bob", Some(KEY_A)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["path"], "/hi/bob");
    // Same name again: 409; an invalid one: 400 naming the field.
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&spec)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 409);
    let mut bad = spec.clone();
    bad["name"] = json!("bad");
    bad["path_prefix"] = json!("/v1/mine");
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&bad)
        .send()
        .await
        .expect("send");
    let (s, _, body) = json_of(res).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.to_string().contains("path_prefix"), "{body}");
    // List and get.
    let (s, _, body) = json_of(
        admin(reqwest::Method::GET, "/admin/v1/services")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(5));
    let (s, _, body) = json_of(
        admin(reqwest::Method::GET, "/admin/v1/services/fresh")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["routes"][0]["rewrite"], "/hi/{who}");
    // PUT the whole shape: retired at once.
    let mut retired = spec.clone();
    retired["lifecycle"] = json!("retired");
    let res = admin(reqwest::Method::PUT, "/admin/v1/services/fresh")
        .json(&retired)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 200);
    let (s, _, body) = get(&gw, "/fresh/hello/bob", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (410, "service_retired"));
    // DELETE: gone at once.
    let res = admin(reqwest::Method::DELETE, "/admin/v1/services/fresh")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    let (s, _, body) = get(&gw, "/fresh/hello/bob", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    let res = admin(reqwest::Method::GET, "/admin/v1/services/fresh")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 404);

    // Lifecycle moves: draft → published → deprecated → retired; illegal ones 409.
    let mut staged = spec.clone();
    staged["name"] = json!("staged");
    staged["path_prefix"] = json!("/staged");
    staged["lifecycle"] = json!("draft");
    let res = admin(reqwest::Method::POST, "/admin/v1/services")
        .json(&staged)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 201);
    let (s, _, body) = get(&gw, "/staged/hello/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    let mv = |state: &'static str| {
        admin(reqwest::Method::PUT, "/admin/v1/services/staged/lifecycle")
            .json(&json!({"state": state}))
            .send()
    };
    let (s, _, body) = json_of(mv("deprecated").await.expect("send")).await;
    assert_eq!((s, code(&body)), (409, "invalid_transition"), "{body}");
    let (s, _, body) = json_of(mv("published").await.expect("send")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["lifecycle"], "published");
    let (s, _, _) = get(&gw, "/staged/hello/x", Some(KEY_A)).await;
    assert_eq!(s, 200);
    let (s, _, body) = json_of(mv("draft").await.expect("send")).await;
    assert_eq!((s, code(&body)), (409, "invalid_transition"));
    let (s, _, _) = json_of(mv("deprecated").await.expect("send")).await;
    assert_eq!(s, 200);
    let (s, h, _) = get(&gw, "/staged/hello/x", Some(KEY_A)).await;
    assert_eq!(s, 200);
    assert_eq!(h["deprecation"], "true");
    assert!(h.get("sunset").is_none(), "no sunset_at, no Sunset");
    let (s, _, _) = json_of(mv("retired").await.expect("send")).await;
    assert_eq!(s, 200);
    let (s, _, body) = get(&gw, "/staged/hello/x", Some(KEY_A)).await;
    assert_eq!((s, code(&body)), (410, "service_retired"));
    let (s, _, body) = json_of(mv("published").await.expect("send")).await;
    assert_eq!(
        (s, code(&body)),
        (409, "invalid_transition"),
        "retired is final"
    );
    let res = client()
        .put(gw.admin("/admin/v1/services/nope/lifecycle"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"state": "published"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 404);

    // The admin API's OpenAPI document describes the services endpoints.
    let doc: Value = client()
        .get(gw.admin("/admin/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(doc["paths"]["/admin/v1/services"]["post"].is_object());
    assert!(doc["paths"]["/admin/v1/services/{name}"]["put"].is_object());
    assert!(doc["paths"]["/admin/v1/services/{name}/lifecycle"]["put"].is_object());
    assert!(doc["components"]["schemas"]["ServiceSpec"].is_object());
}

#[test]
fn check_reports_service_errors_with_positions() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "services:\n  - name: s\n    path_prefix: svc/\n    upstream:\n      nodes: [{url: \"ftp://x\"}]\n    routes:\n      - {name: r, path: \"/a/{id}\", rewrite: \"/b/{other}\"}\n    auth: [jwt, jwt]\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    for (line, what) in [
        (3, "services[0].path_prefix"),
        (5, "services[0].upstream.nodes[0].url"),
        (7, "services[0].routes[0].rewrite"),
        (8, "services[0].auth[1]"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{file}:{line}:")) && l.contains(what)),
            "{what} at line {line}: {stderr}"
        );
    }
}

/// `GET path` on `gw` until it answers `want` (up to 10 s); the last status.
async fn until_status(gw: &Gateway, path: &str, want: u16) -> u16 {
    let mut last = 0;
    for _ in 0..100 {
        last = get(gw, path, Some(KEY_A)).await.0;
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn a_service_made_on_one_node_is_live_on_another_sharing_postgres() {
    let database = fresh_pg_schema("tg_services");
    let a = RestUpstream::start("a").await.expect("a");
    let config = base_config("").replace(
        "consumers:\n",
        &format!("storage:\n  database: {database}\nconsumers:\n"),
    );
    let config = config.replace("services:\n", "");
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let one = Gateway::start_with_env(&config, &shared);
    let two = Gateway::start_with_env(&config, &shared);
    assert_eq!(get(&two, "/shared/x", Some(KEY_A)).await.0, 404);

    let res = client()
        .post(one.admin("/admin/v1/services"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "shared", "path_prefix": "/shared",
                      "upstream": {"nodes": [{"url": a.url()}]}}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 201);
    assert_eq!(
        get(&one, "/shared/x", Some(KEY_A)).await.0,
        200,
        "live at once here"
    );
    assert_eq!(
        until_status(&two, "/shared/x", 200).await,
        200,
        "and on the other node"
    );

    let res = client()
        .put(one.admin("/admin/v1/services/shared/lifecycle"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"state": "retired"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(until_status(&two, "/shared/x", 410).await, 410);
    drop((one, two));
    drop_pg_schema(&database);
}

/// A service call lasts until its answer's body has gone out: the record's latency
/// covers a slow download, a node that breaks off mid-body is recorded as such (not as
/// the client leaving), and an answer with no body (HEAD) is recorded as answered.
#[tokio::test]
async fn a_service_call_lasts_until_its_answer_ends() {
    let a = RestUpstream::start("a").await.expect("upstream");
    let services = format!(
        r#"
  - name: files
    path_prefix: /files
    upstream: {{nodes: [{{url: "{a}"}}]}}
"#,
        a = a.url()
    );
    let gw = Gateway::start(&base_config(&services));
    let store = open_store(&gw).await;

    // Four 64 KiB chunks, 300 ms apart: the body takes at least 900 ms.
    let res = client()
        .get(gw.gw("/files/download/262144?chunk_delay_ms=300"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = request_id(res.headers());
    let body = res.bytes().await.expect("whole body");
    assert_eq!(body.len(), 262_144);
    let r = record(&store, &id).await;
    assert_eq!((r.status, r.error_code.as_deref()), (200, None), "{r:?}");
    assert!(r.latency_ms >= 900, "latency covers the body: {r:?}");
    assert!(
        r.upstream_latency_ms.is_some_and(|u| u < r.latency_ms),
        "the node's headers came before the body ended: {r:?}"
    );

    // The node breaks off after 64 KiB of 256: the client's body ends in an error and
    // the record says the upstream broke, with the node's status.
    let res = client()
        .get(gw.gw("/files/download/262144?cut_after=65536"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = request_id(res.headers());
    assert!(res.bytes().await.is_err(), "a cut body is no whole body");
    let r = record(&store, &id).await;
    assert_eq!(
        (r.status, r.error_code.as_deref()),
        (200, Some("upstream_stream_broken")),
        "{r:?}"
    );

    // HEAD: no body to wait for; answered, not `client_closed`.
    let res = client()
        .head(gw.gw("/files/anything"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = request_id(res.headers());
    let r = record(&store, &id).await;
    assert_eq!((r.status, r.error_code.as_deref()), (200, None), "{r:?}");
}
