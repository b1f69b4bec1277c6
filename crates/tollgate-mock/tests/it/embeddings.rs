use crate::common::{send, start};
use base64::Engine;
use serde_json::{Value, json};

#[tokio::test]
async fn float_and_base64() {
    let h = start().await;
    let r = send(
        h.openai("/embeddings", Some("sk"))
            .json(&json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["model"], "text-embedding-3-small");
    assert_eq!(
        r.body["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    let v0: Vec<f32> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(v0.len(), 8);

    // Deterministic, and base64 = little-endian f32 of the same vector.
    let r = send(h.openai("/embeddings", Some("sk")).json(&json!({
        "model": "text-embedding-3-small", "input": "hello world", "encoding_format": "base64"
    })))
    .await;
    let b64 = r.body["data"][0]["embedding"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(v, v0);

    let r = send(h.openai("/embeddings", Some("sk")).json(&json!({
        "model": "m", "input": [[1, 2, 3], [4]], "dimensions": 32
    })))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["embedding"].as_array().unwrap().len(), 32);
    assert_eq!(r.body["usage"]["prompt_tokens"], 4);
}

#[tokio::test]
async fn rejections_and_directives() {
    let h = start().await;
    for (body, status) in [
        (json!({"model": "m", "input": ""}), 400),
        (json!({"model": "m", "input": []}), 400),
        (json!({"model": "m", "input": [1, "a"]}), 400),
        (json!({"model": "m"}), 400),
        (
            json!({"model": "m", "input": "x", "encoding_format": "int8"}),
            400,
        ),
        (json!({"model": "m", "input": "x", "dimensions": 0}), 400),
        (json!({"model": "m", "input": "x", "extra": true}), 400),
        (json!({"model": "m@status=503", "input": "x"}), 503),
    ] {
        let r = send(h.openai("/embeddings", Some("sk")).json(&body)).await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
        assert!(r.body["error"]["message"].is_string());
        assert_ne!(r.body["error"]["type"], Value::Null);
    }
    let r = send(
        h.openai("/embeddings", None)
            .json(&json!({"model": "m", "input": "x"})),
    )
    .await;
    assert_eq!(r.status, 401);
}
