//! `POST /v1/embeddings` validation (OpenAI).

use super::openai::{invalid_type, missing, opt_integer, unrecognized};
use super::opt;
use crate::errors::OpenAiError;
use serde_json::Value;

const KNOWN_FIELDS: &[&str] = &["model", "input", "encoding_format", "dimensions", "user"];

/// Default vector length when `dimensions` is not given.
pub const DEFAULT_DIMENSIONS: usize = 8;

/// One input to embed.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingInput {
    Text(String),
    Tokens(Vec<i64>),
}

#[derive(Debug, Clone)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<EmbeddingInput>,
    pub base64: bool,
    pub dimensions: usize,
}

fn invalid_input() -> OpenAiError {
    OpenAiError::invalid(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    )
}

fn tokens(a: &[Value]) -> Option<Vec<i64>> {
    a.iter().map(Value::as_i64).collect()
}

pub fn embeddings(body: &Value) -> Result<EmbeddingsRequest, OpenAiError> {
    let Some(obj) = body.as_object() else {
        return Err(OpenAiError::invalid(format!(
            "Invalid type for 'body': expected an object, but got {} instead.",
            crate::errors::openai_type_name(body)
        ))
        .code("invalid_type"));
    };
    if let Some(k) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(unrecognized(k));
    }
    let model = match obj.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_))) => {
            return Err(invalid_type("model", "a string", v));
        }
        _ => return Err(OpenAiError::invalid("you must provide a model parameter")),
    };
    let inputs = match obj.get("input") {
        None | Some(Value::Null) => return Err(missing("input")),
        Some(Value::String(s)) if !s.is_empty() => vec![EmbeddingInput::Text(s.clone())],
        Some(Value::Array(a)) if !a.is_empty() => {
            if a.iter().all(Value::is_string) {
                a.iter()
                    .map(|s| match s.as_str() {
                        Some(s) if !s.is_empty() => Ok(EmbeddingInput::Text(s.to_string())),
                        _ => Err(invalid_input()),
                    })
                    .collect::<Result<Vec<_>, _>>()?
            } else if a.iter().all(Value::is_number) {
                vec![EmbeddingInput::Tokens(tokens(a).ok_or_else(invalid_input)?)]
            } else {
                a.iter()
                    .map(|t| match t.as_array() {
                        Some(t) if !t.is_empty() => tokens(t)
                            .map(EmbeddingInput::Tokens)
                            .ok_or_else(invalid_input),
                        _ => Err(invalid_input()),
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        }
        Some(_) => return Err(invalid_input()),
    };
    if inputs.len() > 2048 {
        return Err(OpenAiError::invalid(format!(
            "Invalid 'input': array too long. Expected an array with maximum length 2048, but got an array with length {} instead.",
            inputs.len()
        ))
        .param("input")
        .code("array_above_max_length"));
    }
    let base64 = match opt(obj, "encoding_format") {
        None => false,
        Some(Value::String(s)) if s == "float" => false,
        Some(Value::String(s)) if s == "base64" => true,
        Some(Value::String(s)) => {
            return Err(OpenAiError::invalid(format!(
                "Invalid value: '{s}'. Supported values are: 'float' and 'base64'."
            ))
            .param("encoding_format")
            .code("invalid_value"));
        }
        Some(v) => return Err(invalid_type("encoding_format", "a string", v)),
    };
    let dimensions = opt_integer(obj, "dimensions", 1, Some(65_536))?
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(DEFAULT_DIMENSIONS);
    if let Some(v) = opt(obj, "user")
        && !v.is_string()
    {
        return Err(invalid_type("user", "a string", v));
    }
    Ok(EmbeddingsRequest {
        model,
        inputs,
        base64,
        dimensions,
    })
}
