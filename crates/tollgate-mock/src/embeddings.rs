//! OpenAI `POST /v1/embeddings`: deterministic vectors seeded from the input.

use crate::content::count_words;
use crate::errors::Format;
use crate::flow::{JsonBody, gate, invalid_json};
use crate::state::MockState;
use crate::validate::embeddings::EmbeddingInput;
use crate::{auth, ids, validate};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

pub async fn embeddings(
    State(state): State<MockState>,
    headers: HeaderMap,
    Extension(body): Extension<JsonBody>,
) -> Response {
    if let Err(e) = auth::openai(&headers) {
        return e.into_response();
    }
    let Some(body) = body.value() else {
        return invalid_json(Format::OpenAi);
    };
    respond(&state, body).await
}

/// Validates an OpenAI-format embeddings body and answers it (shared by the OpenAI,
/// Azure and Mistral routes).
pub(crate) async fn respond(state: &MockState, body: &Value) -> Response {
    let req = match validate::embeddings::embeddings(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let d = match gate(state, &req.model, Format::OpenAi).await {
        Ok(d) => d,
        Err(resp) => return resp,
    };
    let mut prompt_tokens = 0u64;
    let data: Vec<Value> = req
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            prompt_tokens += match input {
                EmbeddingInput::Text(t) => count_words(t),
                EmbeddingInput::Tokens(t) => t.len() as u64,
            };
            let v = vector(input, req.dimensions);
            let embedding = if req.base64 {
                Value::String(to_base64(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let prompt_tokens = prompt_tokens.max(1);
    let body = json!({
        "object": "list",
        "data": data,
        "model": d.model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    let mut resp = crate::openai::json_body(&d, &body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("x-request-id", ids::header_value(&ids::request_id()));
    resp
}

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A unit-length vector that depends only on the input and the dimension count.
pub fn vector(input: &EmbeddingInput, dimensions: usize) -> Vec<f32> {
    let mut seed = match input {
        EmbeddingInput::Text(t) => fnv1a(t.bytes()),
        EmbeddingInput::Tokens(t) => fnv1a(t.iter().flat_map(|x| x.to_le_bytes())),
    };
    let mut v: Vec<f32> = (0..dimensions)
        .map(|_| {
            let x = splitmix(&mut seed) >> 40; // 24 bits
            (x as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Little-endian f32 bytes, base64-encoded (OpenAI's `encoding_format: base64`).
pub fn to_base64(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_normalised() {
        let a = vector(&EmbeddingInput::Text("hello".into()), 16);
        let b = vector(&EmbeddingInput::Text("hello".into()), 16);
        let c = vector(&EmbeddingInput::Text("world".into()), 16);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
