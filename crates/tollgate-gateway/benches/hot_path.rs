//! Micro-benchmarks of per-request steps of the gateway's hot path
//! (`cargo bench -p tollgate-gateway`): the key lookup (a 10,000-key snapshot), the
//! admission estimate of a prompt, and the call-event path (a call's steps, usage and
//! its close: record, metrics and access line; the journal write is the store's).

use divan::{Bencher, black_box};
use http::{HeaderMap, HeaderValue};
use serde_json::json;
use tollgate_core::Door;
use tollgate_core::keys;
use tollgate_core::snapshot::{KeyEntry, Snapshot};
use tollgate_core::spec::ConsumerSpec;
use tollgate_gateway::lifecycle::Call;
use tollgate_gateway::pipeline::parse_door_request;
use tollgate_gateway::usage::Usage;
use tollgate_gateway::{auth, tokens};

fn main() {
    divan::main();
}

const KEYS: usize = 10_000;

fn snapshot() -> Snapshot {
    let consumers: Vec<ConsumerSpec> = (0..KEYS / 10)
        .map(|i| serde_json::from_value(json!({"name": format!("c{i}")})).expect("consumer"))
        .collect();
    let keys = (0..KEYS)
        .map(|i| {
            (
                keys::hash(&format!("tg-key-{i}")),
                KeyEntry {
                    id: format!("k{i}"),
                    consumer: format!("c{}", i / 10),
                    models: None,
                    expires_at: None,
                    limits: Default::default(),
                },
            )
        })
        .collect();
    Snapshot::build(1, vec![], vec![], vec![], consumers, keys)
}

fn bearer(key: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).expect("header"),
    );
    h
}

/// A presented key hashed and found among 10,000.
#[divan::bench]
fn key_lookup(b: Bencher) {
    let snap = snapshot();
    let headers = bearer("tg-key-4242");
    b.bench(|| auth::authenticate(black_box(&snap), black_box(&headers)).expect("caller"));
}

/// An unknown key refused (the 401 path).
#[divan::bench]
fn key_lookup_unknown(b: Bencher) {
    let snap = snapshot();
    let headers = bearer("tg-key-nope");
    b.bench(|| auth::authenticate(black_box(&snap), black_box(&headers)).is_err());
}

/// The admission estimate of a short chat prompt (bounded by bytes, no tokenizer).
#[divan::bench]
fn prompt_estimate_short(b: Bencher) {
    let body = br#"{"model":"bench","max_tokens":256,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write one short paragraph about toll roads."}]}"#;
    let request = parse_door_request(Door::OpenAi, body).expect("request");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    b.bench_local(|| {
        rt.block_on(tokens::estimate_prompt(black_box(&request)))
            .bound()
    });
}

/// One call from its start to its close: the auth, limit, cache and settle steps, an
/// attempt, usage, and the record, metrics and access-log line built at its close.
#[divan::bench]
fn call_event_path(b: Bencher) {
    let snap = snapshot();
    let caller = auth::authenticate(&snap, &bearer("tg-key-7")).expect("caller");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    b.bench_local(|| {
        rt.block_on(async {
            let call = Call::new("01J0000000000000000000000", "openai", None);
            call.set_caller(black_box(&caller));
            call.set_model("bench", false);
            call.set_model_label("bench".into());
            call.step(json!({"step": "limit", "scope": "consumer:c0", "outcome": "pass"}));
            call.answered_by("mock", "gpt-4o-mini", 3);
            call.set_usage(Usage::new(40, 64), 45);
            call.set_outcome(200, None);
            call.finish().await;
        })
    });
}
