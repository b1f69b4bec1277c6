//! `POST /v1/embeddings` through every provider kind with embeddings (openai,
//! openai_compatible, azure_openai, gemini, mistral, ollama): float and base64
//! encodings, batches, dimensions, usage and metering, and the error contract.

mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};

const KINDS: [&str; 6] = ["openai", "compat", "azure", "gemini", "mistral", "ollama"];

fn config(mock: &MockProvider) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
providers:
  - name: p-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-openai"]
  - name: p-compat
    kind: openai_compatible
    base_url: {openai}
    api_keys: ["sk-compat"]
  - name: p-azure
    kind: azure_openai
    base_url: {azure}
    api_version: "2024-10-21"
    api_keys: ["az-key"]
  - name: p-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gem-key"]
  - name: p-mistral
    kind: mistral
    base_url: {mistral}
    api_keys: ["mi-key"]
  - name: p-ollama
    kind: ollama
    base_url: {ollama}
  - name: p-anthropic
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["sk-ant"]
models:
  - name: openai-embed
    targets: [{{provider: p-openai, model: text-embedding-3-small}}]
    price: {{input_per_mtok: 1.0}}
  - name: compat-embed
    targets: [{{provider: p-compat, model: bge-m3}}]
  - name: azure-embed
    targets: [{{provider: p-azure, model: emb-deploy}}]
  - name: gemini-embed
    targets: [{{provider: p-gemini, model: text-embedding-004}}]
  - name: mistral-embed
    targets: [{{provider: p-mistral, model: mistral-embed}}]
  - name: ollama-embed
    targets: [{{provider: p-ollama, model: nomic-embed-text}}]
  - name: claude-embed
    targets: [{{provider: p-anthropic, model: claude-3-5-haiku}}]
  - name: failover-embed
    targets: [{{provider: p-gemini, model: "text-embedding-004@status=503", weight: 100}}, {{provider: p-ollama, model: nomic-embed-text, weight: 0}}]
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
    models: [openai-embed]
"#,
        openai = mock.openai_base_url(),
        azure = mock.azure_base_url(),
        gemini = mock.gemini_base_url(),
        mistral = mock.mistral_base_url(),
        ollama = mock.ollama_base_url(),
        anthropic = mock.anthropic_base_url(),
    )
}

async fn embed(gw: &Gateway, key: &str, body: Value) -> (u16, Value) {
    let res = client()
        .post(gw.gw("/v1/embeddings"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    assert!(res.headers().get("x-request-id").is_some());
    (status, res.json().await.expect("json"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("float array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn decode(b64: &Value) -> Vec<f64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().expect("base64 string"))
        .expect("valid base64");
    assert_eq!(bytes.len() % 4, 0);
    bytes
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

async fn float_base64_and_batch(kind: &str) {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let model = format!("{kind}-embed");

    // One input, floats.
    let (status, v) = embed(&gw, KEY_A, json!({"model": model, "input": "hello world"})).await;
    assert_eq!(status, 200, "{kind}: {v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{kind}: {v}");
    assert_eq!(v["data"][0]["object"], "embedding");
    assert_eq!(v["data"][0]["index"], 0);
    let one = floats(&v["data"][0]["embedding"]);
    assert_eq!(one.len(), 8, "{kind}: the mock's default dimensions");
    assert!(
        v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) >= 1,
        "{kind}: {v}"
    );
    assert_eq!(v["usage"]["prompt_tokens"], v["usage"]["total_tokens"]);

    // A batch, base64: each vector decodes to the float one of the same text.
    let (status, v) = embed(
        &gw,
        KEY_A,
        json!({"model": model, "input": ["hello world", "second one", "third"], "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(status, 200, "{kind}: {v}");
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{kind}");
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i, "{kind}");
        assert!(d["embedding"].is_string(), "{kind}: base64 expected: {d}");
    }
    assert!(close(&decode(&data[0]["embedding"]), &one), "{kind}");
    assert!(
        v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) >= 3,
        "{kind}: {v}"
    );

    // Dimensions reach the provider in its own terms.
    let (status, v) = embed(
        &gw,
        KEY_A,
        json!({"model": model, "input": ["a b"], "dimensions": 4}),
    )
    .await;
    assert_eq!(status, 200, "{kind}: {v}");
    assert_eq!(floats(&v["data"][0]["embedding"]).len(), 4, "{kind}");

    let up = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("embed"))
        .expect("upstream embeddings call");
    match kind {
        "gemini" => {
            assert_eq!(
                up.path,
                "/v1beta/models/text-embedding-004:batchEmbedContents"
            );
            assert_eq!(up.body["requests"][0]["outputDimensionality"], 4);
            assert_eq!(
                up.headers.get("x-goog-api-key").map(String::as_str),
                Some("gem-key")
            );
        }
        "ollama" => {
            assert_eq!(up.path, "/api/embed");
            assert_eq!(up.body["dimensions"], 4);
        }
        "mistral" => {
            assert_eq!(up.path, "/mistral/v1/embeddings");
            assert_eq!(up.body["output_dimension"], 4);
        }
        "azure" => {
            assert_eq!(up.path, "/openai/deployments/emb-deploy/embeddings");
            assert_eq!(up.query.as_deref(), Some("api-version=2024-10-21"));
        }
        _ => {
            assert_eq!(up.path, "/v1/embeddings");
            assert_eq!(up.body["dimensions"], 4);
        }
    }
}

macro_rules! embedding_tests {
    ($($kind:ident),*) => {$(
        #[tokio::test]
        async fn $kind() {
            float_base64_and_batch(stringify!($kind)).await;
        }
    )*};
}

embedding_tests!(openai, compat, azure, gemini, mistral, ollama);

#[tokio::test]
async fn same_text_same_vector_through_every_kind() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let mut vectors = Vec::new();
    for kind in KINDS {
        let (status, v) = embed(
            &gw,
            KEY_A,
            json!({"model": format!("{kind}-embed"), "input": "same"}),
        )
        .await;
        assert_eq!(status, 200, "{kind}: {v}");
        vectors.push(floats(&v["data"][0]["embedding"]));
    }
    assert!(vectors.windows(2).all(|w| close(&w[0], &w[1])));
}

#[tokio::test]
async fn errors_follow_the_contract_and_usage_is_metered() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let res = client()
        .post(gw.gw("/v1/embeddings"))
        .json(&json!({"model": "openai-embed", "input": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
    let (status, v) = embed(&gw, KEY_A, json!({"model": "nope", "input": "x"})).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (404, json!("model_not_found"))
    );
    let (status, v) = embed(&gw, KEY_B, json!({"model": "gemini-embed", "input": "x"})).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (403, json!("model_not_allowed"))
    );
    let (status, v) = embed(&gw, KEY_A, json!({"model": "openai-embed", "input": ""})).await;
    assert_eq!(
        (status, v["error"]["param"].clone()),
        (400, json!("input")),
        "{v}"
    );
    let (status, v) = embed(
        &gw,
        KEY_A,
        json!({"model": "openai-embed", "input": "x", "encoding_format": "int8"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["param"].clone()),
        (400, json!("encoding_format"))
    );
    // Token arrays go to OpenAI-format providers only.
    let (status, v) = embed(
        &gw,
        KEY_A,
        json!({"model": "openai-embed", "input": [1, 2, 3]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = embed(
        &gw,
        KEY_A,
        json!({"model": "gemini-embed", "input": [1, 2, 3]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    // Anthropic has no embeddings API.
    let (status, v) = embed(&gw, KEY_A, json!({"model": "claude-embed", "input": "x"})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "model");
    // A failing target fails over to the next.
    let (status, v) = embed(&gw, KEY_A, json!({"model": "failover-embed", "input": "x"})).await;
    assert_eq!(status, 200, "{v}");

    // Cost header and metrics.
    let res = client()
        .post(gw.gw("/v1/embeddings"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "openai-embed", "input": "one two three"}))
        .send()
        .await
        .expect("send");
    let cost: f64 = res.headers()["x-tollgate-cost-usd"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let v: Value = res.json().await.expect("json");
    let tokens = v["usage"]["prompt_tokens"].as_f64().expect("tokens");
    assert!(
        (cost - tokens / 1e6).abs() < 1e-9,
        "{cost} for {tokens} tokens"
    );
    let metrics = client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("tollgate_tokens_total") && l.contains("openai-embed")),
        "{metrics}"
    );
}
