//! Embeddings: OpenAI's request and answer (the hub) ↔ Gemini `batchEmbedContents` and
//! Ollama `/api/embed`, and the `encoding_format` contract for every provider.
//!
//! A vendor that answers floats when the client asked for `base64` (Gemini, Ollama,
//! Mistral, OpenAI-compatible servers that ignore the field) gets its vectors encoded
//! here: little-endian f32, standard base64, as OpenAI does. Token-array inputs go only
//! to OpenAI-format providers; Gemini and Ollama embed text (400 otherwise).

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::TranslateError;
use crate::gemini::{
    BatchEmbedContentsRequest, BatchEmbedContentsResponse, Content, EmbedContentRequest, Part,
};
use crate::ollama::{EmbedRequest, EmbedResponse};
use crate::openai::{
    Embedding, EmbeddingInput, EmbeddingUsage, EmbeddingVector, EmbeddingsRequest,
    EmbeddingsResponse,
};

type Result<T> = std::result::Result<T, TranslateError>;

/// The texts of a request, for vendors that embed text only.
pub fn embedding_texts(req: &EmbeddingsRequest, vendor: &str) -> Result<Vec<String>> {
    match &req.input {
        EmbeddingInput::Text(s) => Ok(vec![s.clone()]),
        EmbeddingInput::Texts(v) => Ok(v.clone()),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenArrays(_) => {
            Err(TranslateError::unsupported(
                "input",
                format!("{vendor} embeds text only: send strings, not token arrays"),
            ))
        }
    }
}

/// The Gemini model path: `models/{model}` unless the target already names a path
/// (`tunedModels/...`).
pub fn gemini_model_path(model: &str) -> String {
    if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// An embeddings request for Gemini's `batchEmbedContents` on `model`.
pub fn openai_embeddings_to_gemini(
    req: &EmbeddingsRequest,
    model: &str,
) -> Result<BatchEmbedContentsRequest> {
    let path = gemini_model_path(model);
    let requests = embedding_texts(req, "Gemini")?
        .into_iter()
        .map(|text| EmbedContentRequest {
            model: path.clone(),
            content: Content {
                role: None,
                parts: vec![Part::text(text)],
                extra: Map::new(),
            },
            task_type: None,
            output_dimensionality: req.dimensions,
            extra: Map::new(),
        })
        .collect();
    Ok(BatchEmbedContentsRequest {
        requests,
        extra: Map::new(),
    })
}

/// Gemini's vectors as an OpenAI answer (Gemini reports no usage: `usage` is `None`).
pub fn gemini_embeddings_to_openai(
    resp: &BatchEmbedContentsResponse,
    model: &str,
    base64: bool,
) -> EmbeddingsResponse {
    let vectors = resp.embeddings.iter().map(|e| e.values.clone()).collect();
    openai_embeddings(vectors, model, None, base64)
}

/// An embeddings request for Ollama's `/api/embed` on `model`.
pub fn openai_embeddings_to_ollama(req: &EmbeddingsRequest, model: &str) -> Result<EmbedRequest> {
    let input = match &req.input {
        EmbeddingInput::Text(s) => Value::String(s.clone()),
        _ => Value::from(embedding_texts(req, "Ollama")?),
    };
    Ok(EmbedRequest {
        model: model.to_owned(),
        input,
        dimensions: req.dimensions,
        extra: Map::new(),
    })
}

/// Ollama's vectors as an OpenAI answer; usage from `prompt_eval_count`.
pub fn ollama_embeddings_to_openai(resp: &EmbedResponse, base64: bool) -> EmbeddingsResponse {
    let usage = resp.prompt_eval_count.map(|n| EmbeddingUsage {
        prompt_tokens: n,
        total_tokens: n,
        extra: Map::new(),
    });
    openai_embeddings(resp.embeddings.clone(), &resp.model, usage, base64)
}

fn openai_embeddings(
    vectors: Vec<Vec<f64>>,
    model: &str,
    usage: Option<EmbeddingUsage>,
    base64: bool,
) -> EmbeddingsResponse {
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| Embedding {
            object: "embedding".to_owned(),
            index: u32::try_from(i).unwrap_or(u32::MAX),
            embedding: if base64 {
                EmbeddingVector::Base64(encode_embedding(&v))
            } else {
                EmbeddingVector::Float(v)
            },
            extra: Map::new(),
        })
        .collect();
    EmbeddingsResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage,
        extra: Map::new(),
    }
}

/// A vector as OpenAI's base64 encoding: little-endian f32 bytes, standard base64.
pub fn encode_embedding(values: &[f64]) -> String {
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|x| (*x as f32).to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode_embedding`]; `None` if `s` is not such an encoding.
pub fn decode_embedding(s: &str) -> Option<Vec<f64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
    )
}

/// Makes every vector of `resp` use the encoding the client asked for, whatever the
/// upstream sent. `Err` names a vector that is neither floats nor valid base64.
pub fn set_encoding(resp: &mut EmbeddingsResponse, base64: bool) -> Result<()> {
    for (i, e) in resp.data.iter_mut().enumerate() {
        match (&e.embedding, base64) {
            (EmbeddingVector::Float(v), true) => {
                e.embedding = EmbeddingVector::Base64(encode_embedding(v));
            }
            (EmbeddingVector::Base64(s), false) => {
                let v = decode_embedding(s).ok_or_else(|| TranslateError::Upstream {
                    error_type: "invalid_answer".to_owned(),
                    message: format!("embedding {i} of the upstream answer is not valid base64"),
                })?;
                e.embedding = EmbeddingVector::Float(v);
            }
            _ => {}
        }
    }
    Ok(())
}
