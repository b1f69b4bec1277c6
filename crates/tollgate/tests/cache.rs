//! The response cache through the real binary, on each backend (memory, Redis,
//! Memcached): hits for whole answers and streams (replayed as streams), bypass,
//! scopes, TTL, charging of hits, and single flight for concurrent identical misses.
//! The mock's request log proves what reached the upstream.
//!
//! Redis (127.0.0.1:6379) and Memcached (127.0.0.1:11211, `bash scripts/memcached.sh`)
//! must be running. Every request carries a nonce, so entries left in a shared backend
//! by earlier runs or parallel tests are never found.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const MODELS: &str = r#"
  - name: cached
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    cache: {ttl_seconds: 300}
  - name: cached-ant
    targets: [{provider: mock-anthropic, model: claude-3-5-haiku}]
    cache: {ttl_seconds: 300}
  - name: cached-shared
    targets: [{provider: mock-openai, model: gpt-shared}]
    cache: {ttl_seconds: 300, scope: shared}
  - name: cached-short
    targets: [{provider: mock-openai, model: gpt-short}]
    cache: {ttl_seconds: 2}
  - name: cached-free
    targets: [{provider: mock-openai, model: gpt-free}]
    cache: {ttl_seconds: 300}
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: cached-charged
    targets: [{provider: mock-openai, model: gpt-charged}]
    cache: {ttl_seconds: 300, charge_hits: true}
    price: {input_per_mtok: 1000, output_per_mtok: 1000}
  - name: cached-slow
    targets: [{provider: mock-openai, model: "gpt@delay_ms=300"}]
    cache: {ttl_seconds: 300}
  - name: cached-down
    targets: [{provider: mock-openai, model: "gpt@status=500"}]
    cache: {ttl_seconds: 300}
"#;

const CONSUMERS: &str = r#"  - name: c1
    api_keys: ["tg-c1"]
  - name: c2
    api_keys: ["tg-c2"]
  - name: c-free
    api_keys: ["tg-free"]
  - name: c-charged
    api_keys: ["tg-charged"]
"#;

fn config(mock: &MockProvider, storage: &str) -> String {
    let base =
        config_for(mock, MODELS).replacen("providers:\n", &format!("{storage}providers:\n"), 1);
    format!("{base}{CONSUMERS}")
}

fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

struct Reply {
    status: u16,
    cache: Option<String>,
    cost: Option<f64>,
    content_type: String,
    text: String,
}

impl Reply {
    fn mark(&self) -> &str {
        self.cache.as_deref().unwrap_or("<none>")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Door {
    OpenAi,
    Anthropic,
}

/// One chat request saying `content`, on `door`, whole or streamed, with `headers`.
async fn ask(
    gw: &Gateway,
    door: Door,
    key: &str,
    model: &str,
    content: &str,
    stream: bool,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = match door {
        Door::OpenAi => client()
            .post(gw.gw("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]})),
        Door::Anthropic => client()
            .post(gw.gw("/v1/messages"))
            .header("x-api-key", key)
            .json(&json!({"model": model, "stream": stream, "max_tokens": 100, "messages": [{"role": "user", "content": content}]})),
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("send");
    let h = res.headers().clone();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Reply {
        status: res.status().as_u16(),
        cache: get("x-tollgate-cache"),
        cost: get("x-tollgate-cost-usd").and_then(|c| c.parse().ok()),
        content_type: get("content-type").unwrap_or_default(),
        text: res.text().await.expect("body"),
    }
}

/// How many upstream requests carried `content`.
fn upstream(mock: &MockProvider, content: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.body.to_string().contains(content))
        .count()
}

async fn whole_answers_miss_then_hit(gw: &Gateway, mock: &MockProvider, n: &str) {
    for (door, model) in [(Door::OpenAi, "cached"), (Door::Anthropic, "cached-ant")] {
        let content = format!("whole {model} {n}");
        let miss = ask(gw, door, KEY_A, model, &content, false, &[]).await;
        assert_eq!(miss.status, 200, "{}", miss.text);
        assert_eq!(miss.mark(), "miss");
        let hit = ask(gw, door, KEY_A, model, &content, false, &[]).await;
        assert_eq!(hit.status, 200, "{}", hit.text);
        assert_eq!(hit.mark(), "hit");
        assert!(hit.content_type.starts_with("application/json"));
        assert_eq!(hit.text, miss.text, "the same answer");
        assert_eq!(upstream(mock, &content), 1, "{model}: one upstream call");
    }
}

async fn streams_miss_then_replay(gw: &Gateway, mock: &MockProvider, n: &str) {
    // Same-format streams pass through; cross-format ones are translated, and their
    // translators emit a tail when the upstream ends: the replay must not repeat it.
    for (door, model, label) in [
        (Door::OpenAi, "cached", "same"),
        (Door::Anthropic, "cached-ant", "same"),
        (Door::Anthropic, "cached", "cross"),
        (Door::OpenAi, "cached-ant", "cross"),
    ] {
        let content = format!("stream {model} {label} {n}");
        let miss = ask(gw, door, KEY_A, model, &content, true, &[]).await;
        assert_eq!(miss.status, 200, "{}", miss.text);
        assert_eq!(miss.mark(), "miss");
        let hit = ask(gw, door, KEY_A, model, &content, true, &[]).await;
        assert_eq!(hit.status, 200, "{}", hit.text);
        assert_eq!(hit.mark(), "hit");
        assert!(
            hit.content_type.starts_with("text/event-stream"),
            "replayed as a stream: {}",
            hit.content_type
        );
        match door {
            Door::OpenAi => {
                let events = sse_data(&hit.text);
                assert_eq!(events, sse_data(&miss.text));
                assert!(events.len() > 3, "{}", hit.text);
                assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
            }
            Door::Anthropic => {
                let events = sse_events(&hit.text);
                assert_eq!(events, sse_events(&miss.text));
                assert_eq!(
                    events.last().map(|(name, _)| name.as_str()),
                    Some("message_stop")
                );
            }
        }
        assert_eq!(upstream(mock, &content), 1, "{model}: one upstream call");
        // A whole answer to the same question is another entry.
        let whole = ask(gw, door, KEY_A, model, &content, false, &[]).await;
        assert_eq!(whole.mark(), "miss");
        assert!(whole.content_type.starts_with("application/json"));
    }
}

async fn bypass_skips_the_cache(gw: &Gateway, mock: &MockProvider, n: &str) {
    let o = Door::OpenAi;
    let content = format!("bypass {n}");
    assert_eq!(
        ask(gw, o, KEY_A, "cached", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    let skip: [&[(&str, &str)]; 3] = [
        &[("cache-control", "no-cache")],
        &[("x-tollgate-cache", "bypass")],
        &[("cache-control", "no-cache")],
    ];
    for (i, headers) in skip.iter().enumerate() {
        let r = ask(gw, o, KEY_A, "cached", &content, i == 2, headers).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.mark(), "bypass", "{headers:?}");
    }
    assert_eq!(
        upstream(mock, &content),
        4,
        "each bypass reached the upstream"
    );
    assert_eq!(
        ask(gw, o, KEY_A, "cached", &content, false, &[])
            .await
            .mark(),
        "hit"
    );

    // A bypassed answer is not stored.
    for stream in [false, true] {
        let content = format!("bypass first {stream} {n}");
        let r = ask(
            gw,
            o,
            KEY_A,
            "cached",
            &content,
            stream,
            &[("x-tollgate-cache", "bypass")],
        )
        .await;
        assert_eq!(r.mark(), "bypass");
        assert_eq!(
            ask(gw, o, KEY_A, "cached", &content, stream, &[])
                .await
                .mark(),
            "miss"
        );
        assert_eq!(
            ask(gw, o, KEY_A, "cached", &content, stream, &[])
                .await
                .mark(),
            "hit"
        );
        assert_eq!(upstream(mock, &content), 2);
    }
}

async fn scopes_keep_consumers_apart_or_share(gw: &Gateway, mock: &MockProvider, n: &str) {
    let o = Door::OpenAi;
    // scope: consumer (the default).
    let content = format!("scoped {n}");
    assert_eq!(
        ask(gw, o, "tg-c1", "cached", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    assert_eq!(
        ask(gw, o, "tg-c2", "cached", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    assert_eq!(
        ask(gw, o, "tg-c1", "cached", &content, false, &[])
            .await
            .mark(),
        "hit"
    );
    assert_eq!(
        ask(gw, o, "tg-c2", "cached", &content, false, &[])
            .await
            .mark(),
        "hit"
    );
    assert_eq!(upstream(mock, &content), 2);
    // scope: shared.
    let content = format!("shared {n}");
    assert_eq!(
        ask(gw, o, "tg-c1", "cached-shared", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    assert_eq!(
        ask(gw, o, "tg-c2", "cached-shared", &content, false, &[])
            .await
            .mark(),
        "hit"
    );
    assert_eq!(upstream(mock, &content), 1);
}

async fn entries_expire_after_their_ttl(gw: &Gateway, mock: &MockProvider, n: &str) {
    let o = Door::OpenAi;
    let content = format!("ttl {n}");
    let start = std::time::Instant::now();
    assert_eq!(
        ask(gw, o, KEY_A, "cached-short", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    assert_eq!(
        ask(gw, o, KEY_A, "cached-short", &content, false, &[])
            .await
            .mark(),
        "hit"
    );
    // ttl_seconds: 2 (Memcached may keep an entry up to a second longer).
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(start.elapsed())).await;
    assert_eq!(
        ask(gw, o, KEY_A, "cached-short", &content, false, &[])
            .await
            .mark(),
        "miss"
    );
    assert_eq!(upstream(mock, &content), 2);
}

async fn hits_are_charged_only_when_configured(gw: &Gateway, n: &str) {
    let o = Door::OpenAi;
    // Default: a hit costs nothing.
    let content = format!("charge {n}");
    let miss = ask(gw, o, "tg-free", "cached-free", &content, false, &[]).await;
    assert_eq!(miss.mark(), "miss");
    let paid = miss.cost.expect("cost header");
    assert!(paid > 0.0, "{paid}");
    let hit = ask(gw, o, "tg-free", "cached-free", &content, false, &[]).await;
    assert_eq!(hit.mark(), "hit");
    assert_eq!(hit.cost, Some(0.0));
    let doc = wait_requests(gw, "tg-free", 2).await;
    assert_eq!(doc["requests"], 2, "{doc}");
    let cost = doc["cost_usd"].as_f64().expect("cost_usd");
    assert!(
        (cost - paid).abs() < 1e-9,
        "only the miss is charged: {doc}"
    );

    // charge_hits: true: a hit costs what the answer cost.
    let content = format!("charged {n}");
    let miss = ask(gw, o, "tg-charged", "cached-charged", &content, false, &[]).await;
    assert_eq!(miss.mark(), "miss");
    let paid = miss.cost.expect("cost header");
    assert!(paid > 0.0);
    let hit = ask(gw, o, "tg-charged", "cached-charged", &content, false, &[]).await;
    assert_eq!(hit.mark(), "hit");
    assert_eq!(hit.cost, Some(paid));
    let doc = wait_requests(gw, "tg-charged", 2).await;
    let cost = doc["cost_usd"].as_f64().expect("cost_usd");
    assert!(
        (cost - 2.0 * paid).abs() < 1e-9,
        "the hit is charged too: {doc}"
    );
}

async fn concurrent_identical_misses_reach_the_upstream_once(
    gw: &Gateway,
    mock: &MockProvider,
    n: &str,
) {
    for stream in [false, true] {
        let content = format!("crowd {stream} {n}");
        let crowd: Vec<_> = (0..20)
            .map(|_| {
                ask(
                    gw,
                    Door::OpenAi,
                    KEY_A,
                    "cached-slow",
                    &content,
                    stream,
                    &[],
                )
            })
            .collect();
        let replies = futures::future::join_all(crowd).await;
        assert_eq!(upstream(mock, &content), 1, "stream: {stream}");
        let mut misses = 0;
        for r in &replies {
            assert_eq!(r.status, 200, "{}", r.text);
            match r.mark() {
                "miss" => misses += 1,
                "hit" => {}
                other => panic!("x-tollgate-cache: {other}"),
            }
        }
        assert_eq!(misses, 1, "stream: {stream}");
        let first = if stream {
            sse_data(&replies[0].text)
        } else {
            vec![replies[0].text.clone()]
        };
        for r in &replies {
            let got = if stream {
                sse_data(&r.text)
            } else {
                vec![r.text.clone()]
            };
            assert_eq!(got, first, "every client got the one answer");
        }
    }
}

/// The final usage chunk (`stream_options.include_usage`) is part of what a recorded
/// stream replays, so streams with and without it are cached apart.
async fn usage_chunks_are_cached_apart(gw: &Gateway, mock: &MockProvider, n: &str) {
    let content = format!("usage chunk {n}");
    let send = |include_usage: bool| {
        let mut body = json!({"model": "cached", "stream": true, "messages": [{"role": "user", "content": content.clone()}]});
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        async move {
            let res = client()
                .post(gw.gw("/v1/chat/completions"))
                .bearer_auth(KEY_A)
                .json(&body)
                .send()
                .await
                .expect("send");
            let mark = res.headers()["x-tollgate-cache"]
                .to_str()
                .unwrap_or_default()
                .to_string();
            (mark, res.text().await.expect("body"))
        }
    };
    let has_usage = |text: &str| {
        sse_data(text).iter().any(|d| {
            serde_json::from_str::<Value>(d).is_ok_and(|v| v["usage"]["completion_tokens"].is_u64())
        })
    };
    let (mark, text) = send(false).await;
    assert_eq!(mark, "miss");
    assert!(!has_usage(&text), "{text}");
    let (mark, text) = send(true).await;
    assert_eq!(mark, "miss", "another entry");
    assert!(has_usage(&text), "{text}");
    let (mark, text) = send(true).await;
    assert_eq!(mark, "hit");
    assert!(has_usage(&text), "the replay has the usage chunk: {text}");
    let (mark, text) = send(false).await;
    assert_eq!(mark, "hit");
    assert!(!has_usage(&text), "{text}");
    assert_eq!(upstream(mock, &content), 2);
}

/// Errors of a model with a cache are marked too, and never stored.
async fn errors_are_marked_and_not_stored(gw: &Gateway, mock: &MockProvider, n: &str) {
    let content = format!("down {n}");
    for (headers, mark) in [
        (&[][..], "miss"),
        (&[("x-tollgate-cache", "bypass")][..], "bypass"),
        (&[][..], "miss"),
    ] {
        let r = ask(
            gw,
            Door::OpenAi,
            KEY_A,
            "cached-down",
            &content,
            false,
            headers,
        )
        .await;
        assert_eq!(r.status, 502, "{}", r.text);
        assert_eq!(r.mark(), mark);
    }
    assert_eq!(upstream(mock, &content), 3);
}

async fn suite(gw: &Gateway, mock: &MockProvider) {
    let n = nonce();
    whole_answers_miss_then_hit(gw, mock, &n).await;
    streams_miss_then_replay(gw, mock, &n).await;
    bypass_skips_the_cache(gw, mock, &n).await;
    scopes_keep_consumers_apart_or_share(gw, mock, &n).await;
    entries_expire_after_their_ttl(gw, mock, &n).await;
    hits_are_charged_only_when_configured(gw, &n).await;
    concurrent_identical_misses_reach_the_upstream_once(gw, mock, &n).await;
    usage_chunks_are_cached_apart(gw, mock, &n).await;
    errors_are_marked_and_not_stored(gw, mock, &n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, ""));
    suite(&gw, &mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend() {
    let prefix = format!("tgtest:cache:{}:", nonce());
    let storage = format!(
        "storage:\n  redis: redis://127.0.0.1:6379\n  redis_prefix: \"{prefix}\"\n  cache: redis\n"
    );
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock, &storage));
    suite(&gw, &mock).await;
    // The entries live under this deployment's prefix.
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "--scan", "--pattern"])
        .arg(format!("{prefix}cache:*"))
        .output()
        .expect("redis-cli");
    let keys = String::from_utf8_lossy(&out.stdout);
    assert!(
        keys.lines().count() >= 10,
        "cache entries under {prefix}: {keys}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_backend() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(
        &mock,
        "storage:\n  cache: memcached://127.0.0.1:11211\n",
    ));
    suite(&gw, &mock).await;
}

/// A cache that cannot be reached never fails a request: every answer is a miss.
#[tokio::test]
async fn an_unreachable_cache_backend_is_a_miss() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(
        &mock,
        "storage:\n  cache: memcached://127.0.0.1:1\n",
    ));
    let content = format!("unreachable {}", nonce());
    for _ in 0..3 {
        let r = ask(&gw, Door::OpenAi, KEY_A, "cached", &content, false, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.mark(), "miss");
    }
    assert_eq!(upstream(&mock, &content), 3);
}
