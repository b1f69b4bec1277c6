//! One call record per request that reached the gateway listener, errors included
//! (issue 8): a 401 is recorded with no consumer, a body that could not be parsed
//! with no model, and every record carries the decisions `explain` needs.

mod common;

use common::*;
use serde_json::json;

/// The record of `id`, once the journal has written it (up to 10 s).
async fn send(req: reqwest::RequestBuilder) -> (u16, String) {
    let res = req.send().await.expect("send");
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer has x-request-id")
        .to_string();
    (res.status().as_u16(), id)
}

#[tokio::test]
async fn every_request_leaves_one_record_errors_included_on_sqlite() {
    every_request_leaves_one_record(None).await;
}

#[tokio::test]
async fn every_request_leaves_one_record_errors_included_on_postgres() {
    let url = fresh_pg_schema("tg_records");
    every_request_leaves_one_record(Some(&url)).await;
    drop_pg_schema(&url);
}

/// Records on the embedded SQLite (`database` None) or on PostgreSQL at `database`.
async fn every_request_leaves_one_record(database: Option<&str>) {
    let mock = MockProvider::start().await.expect("mock");
    let mut config = config_for(
        &mock,
        r#"
  - name: broken
    targets: [{provider: mock-openai, model: "gpt@status=500"}]
    fallbacks: [gpt-mock]
  - name: cached
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    cache: {ttl_seconds: 300, scope: consumer}
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"#,
    );
    if let Some(url) = database {
        config = config.replace(
            "providers:\n",
            &format!("storage:\n  database: {url}\nproviders:\n"),
        );
    }
    let gw = Gateway::start(&config);
    let store = match database {
        Some(url) => open_store_at(&gw, url).await,
        None => open_store(&gw).await,
    };
    let http = client();
    let chat = gw.gw("/v1/chat/completions");
    let ok_body = json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]});

    // 401: no consumer, no key.
    let (status, id) = send(http.post(&chat).json(&ok_body)).await;
    assert_eq!(status, 401);
    let r = record(&store, &id).await;
    assert_eq!((r.status, r.consumer.as_deref()), (401, None));
    assert_eq!(r.error_code.as_deref(), Some("invalid_api_key"));
    assert_eq!(r.key_id, None);

    // 400: malformed JSON, so no model.
    let (status, id) = send(
        http.post(&chat)
            .bearer_auth(KEY_A)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, 400);
    let r = record(&store, &id).await;
    assert_eq!(r.consumer.as_deref(), Some("team-a"));
    assert_eq!((r.model.as_deref(), r.cost_micros), (None, 0));
    assert_eq!(r.error_code.as_deref(), Some("invalid_request"));

    // 413 over max_body_bytes (64 KiB in the harness).
    let big =
        json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "x".repeat(70_000)}]});
    let (status, id) = send(http.post(&chat).bearer_auth(KEY_A).json(&big)).await;
    assert_eq!(status, 413);
    assert_eq!(
        record(&store, &id).await.error_code.as_deref(),
        Some("request_too_large")
    );

    // 404 unknown model, 404 unknown path, 405 wrong method, 403 scope.
    let (status, id) = send(
        http.post(&chat)
            .bearer_auth(KEY_A)
            .json(&json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]})),
    )
    .await;
    assert_eq!(status, 404);
    let r = record(&store, &id).await;
    assert_eq!(
        (r.model.as_deref(), r.error_code.as_deref()),
        (Some("nope"), Some("model_not_found"))
    );
    let (status, id) = send(http.get(gw.gw("/v1/nothing-here")).bearer_auth(KEY_A)).await;
    assert_eq!(status, 404);
    assert_eq!(
        record(&store, &id).await.error_code.as_deref(),
        Some("not_found")
    );
    let (status, id) = send(http.get(&chat).bearer_auth(KEY_A)).await;
    assert_eq!(status, 405);
    assert_eq!(
        record(&store, &id).await.error_code.as_deref(),
        Some("method_not_allowed")
    );
    let (status, id) =
        send(http.post(&chat).bearer_auth(KEY_B).json(
            &json!({"model": "claude-mock", "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        record(&store, &id).await.error_code.as_deref(),
        Some("model_not_allowed")
    );

    // A success after a failover: both attempts, the target that answered, tokens,
    // cost, and the trail for explain.
    let (status, id) = send(
        http.post(&chat)
            .bearer_auth(KEY_A)
            .json(&json!({"model": "broken", "messages": [{"role": "user", "content": "hi"}]})),
    )
    .await;
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!(r.door, "openai");
    assert_eq!(r.model.as_deref(), Some("broken"));
    assert_eq!(r.provider.as_deref(), Some("mock-openai"));
    assert_eq!(r.target_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.attempts.len(), 2, "{:?}", r.attempts);
    assert_eq!(r.attempts[0].status, Some(500));
    assert_eq!(r.attempts[0].reason.as_deref(), Some("transient"));
    assert_eq!(r.attempts[1].status, Some(200));
    assert!(r.input_tokens > 0 && r.output_tokens > 0, "{r:?}");
    assert!(r.cost_micros > 0, "priced by the answering model: {r:?}");
    let trail = r.steps.parse();
    let steps: Vec<&str> = trail
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(steps.first(), Some(&"auth"), "{steps:?}");
    assert_eq!(steps.last(), Some(&"settle"), "{steps:?}");
    assert_eq!(steps.iter().filter(|s| **s == "attempt").count(), 2);

    // An Anthropic stream: its door, stream flag and time to first token.
    let (status, id) = {
        let res = http
            .post(gw.gw("/v1/messages"))
            .header("x-api-key", KEY_A)
            .json(
                &json!({"model": "claude-mock", "max_tokens": 50, "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .expect("send");
        let id = res.headers()["x-request-id"]
            .to_str()
            .expect("id")
            .to_string();
        let status = res.status().as_u16();
        let _ = res.text().await;
        (status, id)
    };
    assert_eq!(status, 200);
    let r = record(&store, &id).await;
    assert_eq!((r.door.as_str(), r.stream), ("anthropic", true));
    assert!(r.ttft_ms.is_some(), "{r:?}");
    assert_eq!(r.status, 200);

    // A cache hit: no upstream attempt, no cost (hits are free unless charge_hits).
    let cached =
        json!({"model": "cached", "messages": [{"role": "user", "content": "same question"}]});
    let (status, miss) = send(http.post(&chat).bearer_auth(KEY_A).json(&cached)).await;
    assert_eq!(status, 200);
    let r = record(&store, &miss).await;
    assert_eq!((r.cache.as_deref(), r.attempts.len()), (Some("miss"), 1));
    assert!(r.cost_micros > 0);
    let (status, hit) = send(http.post(&chat).bearer_auth(KEY_A).json(&cached)).await;
    assert_eq!(status, 200);
    let r = record(&store, &hit).await;
    assert_eq!(r.cache.as_deref(), Some("hit"), "{r:?}");
    assert!(r.attempts.is_empty(), "a hit reaches no upstream: {r:?}");
    assert_eq!(r.cost_micros, 0, "{r:?}");
    store.close().await;
}
