//! Embeddings types (`POST /v1/embeddings`); unknown fields round-trip like chat requests.

use serde::{Deserialize, Serialize};

use crate::error::ProtocolError;
use crate::serde_util::Extra;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    /// `"float"` or `"base64"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl EmbeddingsRequest {
    /// What the door rejects with a 400 before any upstream sees the request.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        if self.model.is_empty() {
            return Err(ProtocolError::new("model", "`model` must not be empty"));
        }
        if self.input.is_empty() {
            return Err(ProtocolError::new("input", "`input` must not be empty"));
        }
        if self.dimensions == Some(0) {
            return Err(ProtocolError::new(
                "dimensions",
                "`dimensions` must be at least 1",
            ));
        }
        match self.encoding_format.as_deref() {
            None | Some("float") | Some("base64") => Ok(()),
            Some(other) => Err(ProtocolError::new(
                "encoding_format",
                format!("`encoding_format` must be \"float\" or \"base64\", not {other:?}"),
            )),
        }
    }
}

/// `input`: a string, strings, one token array, or token arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenArrays(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many embeddings the request asks for.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(v) => v.len(),
            Self::TokenArrays(v) => v.len(),
        }
    }

    /// True when there is nothing to embed (an empty string counts as nothing).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(s) => s.is_empty(),
            Self::Texts(v) => v.is_empty() || v.iter().any(String::is_empty),
            Self::Tokens(v) => v.is_empty(),
            Self::TokenArrays(v) => v.is_empty() || v.iter().any(Vec::is_empty),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    #[serde(default = "list_object")]
    pub object: String,
    pub data: Vec<Embedding>,
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<EmbeddingUsage>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn list_object() -> String {
    "list".to_owned()
}

fn embedding_object() -> String {
    "embedding".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    #[serde(default = "embedding_object")]
    pub object: String,
    #[serde(default)]
    pub index: u32,
    pub embedding: EmbeddingVector,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Floats, or a base64 string of little-endian f32 when `encoding_format` is `base64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f64>),
    Base64(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}
