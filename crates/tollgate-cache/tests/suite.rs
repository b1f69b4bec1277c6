//! One suite, run against each backend. Redis (127.0.0.1:6379, `scripts/services.sh`)
//! and Memcached (127.0.0.1:11211, `scripts/memcached.sh`) must be running: their
//! tests fail, not skip, when the server is unreachable.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tollgate_cache::{
    Begin, Cache, CacheKey, CacheOptions, CacheOutcome, CachedAnswer, StreamRecorder,
};

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const MEMCACHED: &str = "memcached://127.0.0.1:11211";

fn memory() -> Cache {
    Cache::from_config("memory", None).unwrap()
}

fn redis() -> Cache {
    Cache::from_config("redis", Some(REDIS_URL)).unwrap()
}

fn memcached() -> Cache {
    Cache::from_config(MEMCACHED, None).unwrap()
}

/// The backend under test, checked reachable (a test must fail, not skip, without it).
async fn reachable(cache: Cache) -> Cache {
    if let Err(e) = cache.ping().await {
        panic!(
            "the {} cache backend is unreachable ({e}); start it: bash scripts/services.sh \
             (Redis) or bash scripts/memcached.sh (Memcached)",
            cache.backend_name()
        );
    }
    cache
}

/// A scope no other test (or earlier run) uses.
fn fresh_scope() -> String {
    format!("consumer:test-{}", uuid::Uuid::new_v4())
}

fn chat(content: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0.2,
    })
}

fn answer(text: &str) -> CachedAnswer {
    CachedAnswer::new(
        200,
        "application/json",
        Bytes::from(format!(r#"{{"text":"{text}"}}"#)),
        (12, 34),
    )
}

macro_rules! backend_suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            async fn cache() -> Cache {
                reachable($make).await
            }

            #[tokio::test]
            async fn put_then_get() {
                common_put_then_get(cache().await).await;
            }

            #[tokio::test]
            async fn ttl_expiry() {
                common_ttl_expiry(cache().await).await;
            }

            #[tokio::test]
            async fn key_normalisation() {
                common_key_normalisation(cache().await).await;
            }

            #[tokio::test]
            async fn stream_round_trip() {
                common_stream_round_trip(cache().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn single_flight() {
                common_single_flight(cache().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn single_flight_error() {
                common_single_flight_error(cache().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn single_flight_leader_cancelled() {
                common_leader_cancelled(cache().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn stream_single_flight() {
                common_stream_single_flight(cache().await).await;
            }

            #[tokio::test]
            async fn not_stored() {
                common_not_stored(cache().await).await;
            }
        }
    };
}

backend_suite!(memory_backend, memory());
backend_suite!(redis_backend, redis());
backend_suite!(memcached_backend, memcached());

async fn common_put_then_get(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "gpt-4o-mini", &chat("hello"));
    assert_eq!(cache.get(&key).await, None);
    let a = answer("hi");
    assert!(cache.put(&key, &a, Duration::from_secs(60)).await);
    assert_eq!(cache.get(&key).await, Some(a.clone()));
    // Overwrite.
    let b = answer("hello again");
    assert!(cache.put(&key, &b, Duration::from_secs(60)).await);
    assert_eq!(cache.get(&key).await, Some(b));
    assert_eq!(cache.error_count(), 0);
}

async fn common_ttl_expiry(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("ttl"));
    // 2 s: Memcached counts whole seconds (an entry may outlive its TTL by up to 1 s).
    assert!(cache.put(&key, &answer("x"), Duration::from_secs(2)).await);
    assert!(cache.get(&key).await.is_some());
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(cache.get(&key).await, None, "expired after its TTL");
    // A zero TTL stores nothing.
    assert!(!cache.put(&key, &answer("x"), Duration::ZERO).await);
    assert_eq!(cache.get(&key).await, None);
}

async fn common_key_normalisation(cache: Cache) {
    let scope = fresh_scope();
    let base = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
        "temperature": 0.5,
        "max_tokens": 20,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}],
    });
    let key = CacheKey::new("openai", &scope, "gpt-4o-mini", &base);
    assert!(cache.put(&key, &answer("4"), Duration::from_secs(60)).await);

    // Equal: keys reordered at every depth, stream flags, ignored fields, n = 1, nulls,
    // 0.5 written differently.
    let same = [
        json!({
            "tools": [{"function": {"parameters": {"properties": {"a": {"type": "string"}}, "type": "object"}, "name": "f"}, "type": "function"}],
            "max_tokens": 20.0,
            "temperature": 0.50,
            "messages": [{"content": "What is 2+2?", "role": "user"}],
            "model": "gpt-4o-mini",
        }),
        with(
            &base,
            &[
                ("stream", json!(true)),
                ("stream_options", json!({"include_usage": true})),
            ],
        ),
        with(&base, &[("stream", json!(false))]),
        with(
            &base,
            &[
                ("user", json!("u-1")),
                ("metadata", json!({"k": "v"})),
                ("service_tier", json!("auto")),
                ("store", json!(true)),
                ("n", json!(1)),
                ("seed", Value::Null),
            ],
        ),
    ];
    for (i, req) in same.iter().enumerate() {
        let k = CacheKey::new("openai", &scope, "gpt-4o-mini", req);
        assert_eq!(k, key, "variant {i} is the same request");
        assert!(cache.get(&k).await.is_some(), "variant {i} hits");
    }

    // Different: messages, temperature, tools, n, scope, model, door.
    let other_scope = fresh_scope();
    let different = [
        CacheKey::new(
            "openai",
            &scope,
            "gpt-4o-mini",
            &with(
                &base,
                &[(
                    "messages",
                    json!([{"role": "user", "content": "What is 2+3?"}]),
                )],
            ),
        ),
        CacheKey::new(
            "openai",
            &scope,
            "gpt-4o-mini",
            &with(&base, &[("temperature", json!(0.7))]),
        ),
        CacheKey::new(
            "openai",
            &scope,
            "gpt-4o-mini",
            &with(&base, &[("tools", json!([]))]),
        ),
        CacheKey::new(
            "openai",
            &scope,
            "gpt-4o-mini",
            &with(&base, &[("n", json!(2))]),
        ),
        CacheKey::new(
            "openai",
            &scope,
            "gpt-4o-mini",
            &with(&base, &[("seed", json!(1))]),
        ),
        CacheKey::new("openai", &other_scope, "gpt-4o-mini", &base),
        CacheKey::new("openai", "shared", "gpt-4o-mini", &base),
        CacheKey::new("openai", &scope, "gpt-4o", &base),
        CacheKey::new("anthropic", &scope, "gpt-4o-mini", &base),
    ];
    for (i, k) in different.iter().enumerate() {
        assert_ne!(k, &key, "variant {i} is a different request");
        assert_eq!(cache.get(k).await, None, "variant {i} misses");
    }
    // The scope helper keeps a consumer named "shared" out of the shared entries.
    use tollgate_core::spec::CacheScope;
    assert_ne!(
        tollgate_cache::scope(CacheScope::Consumer, "shared"),
        tollgate_cache::scope(CacheScope::Shared, "anyone")
    );
}

fn with(base: &Value, fields: &[(&str, Value)]) -> Value {
    let mut v = base.clone();
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in fields {
            obj.insert((*k).to_string(), val.clone());
        }
    }
    v
}

fn sse_chunks() -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"),
        Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"),
        Bytes::from_static(b"data: [DONE]\n\n"),
    ]
}

async fn common_stream_round_trip(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("stream me"));
    let mut rec = StreamRecorder::new(cache.max_entry_bytes());
    for c in sse_chunks() {
        assert!(rec.push(&c));
    }
    let a = rec
        .finish(
            200,
            "text/event-stream",
            Bytes::from_static(b"{\"full\":true}"),
            (5, 2),
        )
        .expect("recorded");
    assert!(cache.put(&key, &a, Duration::from_secs(60)).await);
    let got = cache.get(&key).await.expect("hit");
    assert_eq!(got.stream.as_deref(), Some(&sse_chunks()[..]));
    assert_eq!(got.content_type, "text/event-stream");
    assert_eq!(got.usage, (5, 2));
    assert_eq!(got, a);
}

async fn common_single_flight(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("once"));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let cache = cache.clone();
        let key = key.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_fill(&key, Duration::from_secs(60), async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok::<_, String>(answer("filled once"))
                })
                .await
        }));
    }
    let mut misses = 0;
    for t in tasks {
        let (a, outcome) = t.await.unwrap().unwrap();
        assert_eq!(a, answer_like(&a, "filled once"));
        if outcome == CacheOutcome::Miss {
            misses += 1;
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the fill ran exactly once");
    assert_eq!(misses, 1, "one miss, nineteen hits");
    assert_eq!(cache.fills_in_flight(), 0);
    // And it was stored.
    let (_, outcome) = cache
        .get_or_fill(&key, Duration::from_secs(60), async {
            Err::<CachedAnswer, String>("must not run".into())
        })
        .await
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Hit);
}

/// `answer(text)` with `a`'s creation time (the fill made it once; all share it).
fn answer_like(a: &CachedAnswer, text: &str) -> CachedAnswer {
    CachedAnswer {
        created_at: a.created_at,
        ..answer(text)
    }
}

async fn common_single_flight_error(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("fails"));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let cache = cache.clone();
        let key = key.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_fill(&key, Duration::from_secs(60), async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Err::<CachedAnswer, String>("upstream 503".into())
                })
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap_err(), "upstream 503");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "waiters share the leader's error"
    );
    // Not cached: the next call fills again.
    let (_, outcome) = cache
        .get_or_fill(&key, Duration::from_secs(60), async {
            Ok::<_, String>(answer("recovered"))
        })
        .await
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Miss);
}

async fn common_leader_cancelled(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("cancel"));
    let leader = {
        let cache = cache.clone();
        let key = key.clone();
        tokio::spawn(async move {
            cache
                .get_or_fill(&key, Duration::from_secs(60), async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok::<_, String>(answer("never"))
                })
                .await
        })
    };
    // Let the leader take the flight, then start a waiter and cancel the leader.
    while cache.fills_in_flight() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiter = {
        let cache = cache.clone();
        let key = key.clone();
        tokio::spawn(async move {
            cache
                .get_or_fill(&key, Duration::from_secs(60), async {
                    Ok::<_, String>(answer("second"))
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    let (a, outcome) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter is not stranded")
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome,
        CacheOutcome::Miss,
        "the waiter filled in its place"
    );
    assert_eq!(a.body, answer("second").body);
}

async fn common_stream_single_flight(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("stream once"));
    let fills = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (cache, key, fills, hits) = (cache.clone(), key.clone(), fills.clone(), hits.clone());
        tasks.push(tokio::spawn(async move {
            match cache.begin(&key, Duration::from_secs(10)).await {
                Begin::Hit(a) => {
                    assert_eq!(a.stream.as_deref(), Some(&sse_chunks()[..]));
                    hits.fetch_add(1, Ordering::SeqCst);
                }
                Begin::Fill(guard) => {
                    fills.fetch_add(1, Ordering::SeqCst);
                    let mut rec = StreamRecorder::new(cache.max_entry_bytes());
                    for c in sse_chunks() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        rec.push(&c);
                    }
                    let a = rec
                        .finish(200, "text/event-stream", Bytes::new(), (1, 2))
                        .unwrap();
                    assert!(guard.finish(a, Duration::from_secs(60)).await);
                }
                Begin::Miss => panic!("waited less than its bound"),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(fills.load(Ordering::SeqCst), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 9);

    // A filler that gives up hands over to a waiter; a waiter past its bound goes alone.
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("give up"));
    let Begin::Fill(first) = cache.begin(&key, Duration::from_secs(1)).await else {
        panic!("first fills");
    };
    let waiter = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::spawn(async move { cache.begin(&key, Duration::from_secs(5)).await })
    };
    assert!(matches!(
        cache.begin(&key, Duration::from_millis(50)).await,
        Begin::Miss
    ));
    first.abandon();
    let next = waiter.await.unwrap();
    assert!(matches!(next, Begin::Fill(_)), "{next:?}");
}

async fn common_not_stored(cache: Cache) {
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("errors"));
    let mut err = answer("boom");
    err.status = 500;
    assert!(!cache.put(&key, &err, Duration::from_secs(60)).await);
    // A non-success fill result is handed back but not kept.
    let (a, _) = cache
        .get_or_fill(&key, Duration::from_secs(60), async {
            Ok::<_, String>(err.clone())
        })
        .await
        .unwrap();
    assert_eq!(a.status, 500);
    assert_eq!(cache.get(&key).await, None);
    // Over the entry bound: not stored, and not an error.
    let big = CachedAnswer::new(
        200,
        "application/json",
        Bytes::from(vec![b'x'; cache.max_entry_bytes() + 1]),
        (0, 0),
    );
    assert!(!cache.put(&key, &big, Duration::from_secs(60)).await);
    assert_eq!(cache.get(&key).await, None);
    assert_eq!(cache.error_count(), 0);
}

// ------------------------------------------------------------ backend specifics

#[tokio::test]
async fn memory_is_bounded_by_bytes() {
    let cache = Cache::from_config_with(
        "memory",
        None,
        CacheOptions {
            memory_capacity_bytes: 20_000,
            ..CacheOptions::default()
        },
    )
    .unwrap();
    let scope = fresh_scope();
    for i in 0..100 {
        let key = CacheKey::new("openai", &scope, "m", &chat(&format!("q{i}")));
        let a = CachedAnswer::new(
            200,
            "application/json",
            Bytes::from(vec![b'a'; 1000]),
            (0, 0),
        );
        assert!(cache.put(&key, &a, Duration::from_secs(60)).await);
    }
    cache.run_pending_tasks().await;
    let (entries, bytes) = cache.memory_usage().unwrap();
    assert!(bytes <= 20_000, "{bytes} bytes held");
    assert!(entries <= 20, "{entries} entries held");
    let mut present = 0;
    for i in 0..100 {
        let key = CacheKey::new("openai", &scope, "m", &chat(&format!("q{i}")));
        present += usize::from(cache.get(&key).await.is_some());
    }
    assert!(present <= 20, "{present} entries readable");
    assert!(present > 0);
}

#[tokio::test]
async fn memcached_refuses_values_over_one_megabyte() {
    let cache = reachable(memcached()).await;
    assert!(cache.max_entry_bytes() <= tollgate_cache::MEMCACHED_MAX_VALUE_BYTES);
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("big"));
    let big = CachedAnswer::new(
        200,
        "application/json",
        Bytes::from(vec![b'x'; 1024 * 1024 + 10]),
        (0, 0),
    );
    assert!(!cache.put(&key, &big, Duration::from_secs(60)).await);
    // Just under the bound is stored.
    let fits = CachedAnswer::new(
        200,
        "application/json",
        Bytes::from(vec![b'y'; cache.max_entry_bytes() - 200]),
        (0, 0),
    );
    assert!(cache.put(&key, &fits, Duration::from_secs(60)).await);
    assert_eq!(
        cache.get(&key).await.map(|a| a.body.len()),
        Some(fits.body.len())
    );
    assert_eq!(cache.error_count(), 0);
}

/// Unreachable backends: every operation is a miss, errors are counted, a fill runs.
async fn check_errors_are_misses(cache: Cache) {
    assert!(cache.ping().await.is_err());
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("down"));
    assert_eq!(cache.get(&key).await, None);
    assert!(!cache.put(&key, &answer("x"), Duration::from_secs(60)).await);
    let (a, outcome) = cache
        .get_or_fill(&key, Duration::from_secs(60), async {
            Ok::<_, String>(answer("from upstream"))
        })
        .await
        .unwrap();
    assert_eq!(outcome, CacheOutcome::Miss);
    assert_eq!(a.body, answer("from upstream").body);
    assert!(matches!(
        cache.begin(&key, Duration::from_secs(1)).await,
        Begin::Fill(_)
    ));
    // The first failure is counted; then the backend is left alone for a while
    // (immediate misses, not one timeout per request), then tried again.
    assert_eq!(cache.error_count(), 1);
    tokio::time::sleep(Cache::BACKOFF).await;
    assert_eq!(cache.get(&key).await, None);
    assert_eq!(cache.error_count(), 2);
}

#[tokio::test]
async fn redis_errors_are_misses() {
    let opts = CacheOptions {
        op_timeout: Duration::from_millis(300),
        ..CacheOptions::default()
    };
    check_errors_are_misses(
        Cache::from_config_with("redis", Some("redis://127.0.0.1:1"), opts).unwrap(),
    )
    .await;
}

#[tokio::test]
async fn memcached_errors_are_misses() {
    check_errors_are_misses(Cache::from_config("memcached://127.0.0.1:1", None).unwrap()).await;
}

#[tokio::test]
async fn redis_keys_carry_the_configured_prefix() {
    let with_prefix = |prefix: &str| {
        let opts = CacheOptions {
            redis_prefix: prefix.to_string(),
            ..CacheOptions::default()
        };
        Cache::from_config_with("redis", Some(REDIS_URL), opts).unwrap()
    };
    let prefix = format!("tgtest:{}:", uuid::Uuid::new_v4());
    let a = reachable(with_prefix(&prefix)).await;
    let b = with_prefix(&format!("tgtest:{}:", uuid::Uuid::new_v4()));
    let key = CacheKey::new("openai", "shared", "m", &chat("prefixed"));
    assert!(a.put(&key, &answer("x"), Duration::from_secs(60)).await);
    assert!(a.get(&key).await.is_some());
    assert_eq!(b.get(&key).await, None, "another prefix does not see it");
    // Stored under the prefix, in place of the key's own `tollgate:`.
    let stored = key.as_str().replacen("tollgate:", &prefix, 1);
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let n: u64 = redis::cmd("EXISTS")
        .arg(&stored)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1, "{stored}");
    let () = redis::cmd("DEL")
        .arg(&stored)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn corrupt_remote_entries_are_misses() {
    // Write garbage under a key through each server's own protocol.
    let key = CacheKey::new("openai", &fresh_scope(), "m", &chat("corrupt"));

    let cache = reachable(redis()).await;
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET")
        .arg(key.as_str())
        .arg(&b"not an entry"[..])
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(cache.get(&key).await, None);
    assert_eq!(cache.error_count(), 1);

    let cache = reachable(memcached()).await;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut s = tokio::net::TcpStream::connect("127.0.0.1:11211")
        .await
        .unwrap();
    s.write_all(format!("set {} 0 60 3\r\nabc\r\n", key.as_str()).as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).await.unwrap();
    assert_eq!(line, "STORED\r\n");
    assert_eq!(cache.get(&key).await, None);
    assert_eq!(cache.error_count(), 1);
    // The pooled connection is still good after that.
    assert!(
        cache
            .put(&key, &answer("ok"), Duration::from_secs(60))
            .await
    );
    assert!(cache.get(&key).await.is_some());
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Cache>();
    check::<tollgate_cache::FillGuard>();
    check::<CachedAnswer>();
}
