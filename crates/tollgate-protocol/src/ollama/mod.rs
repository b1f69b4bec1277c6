//! Ollama native API wire types: `POST /api/chat` (a stream is NDJSON: one
//! [`ChatResponse`] per line, the last with `done: true`, `done_reason` and the token
//! counts) and `POST /api/embed`.
//!
//! Ollama streams unless told otherwise, so requests always carry `stream`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::openai::Tool;
use crate::serde_util::Extra;
use crate::sse::{MAX_LINE_BYTES, StreamLimitError};

/// `POST /api/chat` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `"json"` or a JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Sampling options: `num_predict`, `temperature`, `top_p`, `stop`, `seed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Map<String, Value>>,
    pub stream: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A message: roles `system`, `user`, `assistant`, `tool`; content is plain text and
/// images are base64 strings beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// On `tool` messages: the function whose result this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            content: content.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Newer servers name their calls; older ones do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub function: ToolCallFunction,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallFunction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub name: String,
    /// A JSON object (not a string, unlike OpenAI).
    #[serde(default)]
    pub arguments: Value,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A whole answer, or one line of a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default)]
    pub done: bool,
    /// `stop`, `length`, `load`, `unload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<u64>,
    /// A failure reported inside a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /api/embed` body: `input` is a string or an array of strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    pub model: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub embeddings: Vec<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_eval_count: Option<u64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Incremental NDJSON splitter: feed bytes as they arrive, get complete non-blank lines.
/// Works on bytes, so a chunk boundary inside a UTF-8 character or `\r\n` is harmless.
/// A line longer than [`MAX_LINE_BYTES`] is an error, not an unbounded buffer.
#[derive(Debug, Clone)]
pub struct NdjsonParser {
    line: Vec<u8>,
    max_line: usize,
    /// Set once the cap was exceeded: every later call returns it.
    failed: Option<StreamLimitError>,
}

impl Default for NdjsonParser {
    fn default() -> Self {
        Self::with_limit(MAX_LINE_BYTES)
    }
}

impl NdjsonParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with another line cap than [`MAX_LINE_BYTES`].
    pub fn with_limit(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            max_line,
            failed: None,
        }
    }

    /// The lines completed by `bytes` (without terminator, blank lines skipped), or the
    /// cap the stream broke (then and on every later call).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, StreamLimitError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            self.fits(head.len())?;
            self.line.extend_from_slice(head);
            rest = tail.get(1..).unwrap_or_default();
            let line = std::mem::take(&mut self.line);
            push_line(line, &mut out);
        }
        self.fits(rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(out)
    }

    /// The last line when the body ended without a newline.
    pub fn finish(&mut self) -> Result<Vec<Vec<u8>>, StreamLimitError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut out = Vec::new();
        push_line(std::mem::take(&mut self.line), &mut out);
        Ok(out)
    }

    fn fits(&mut self, more: usize) -> Result<(), StreamLimitError> {
        if self.line.len().saturating_add(more) > self.max_line {
            let e = StreamLimitError::LineTooLong {
                limit: self.max_line,
            };
            self.failed = Some(e);
            self.line = Vec::new();
            return Err(e);
        }
        Ok(())
    }
}

fn push_line(mut line: Vec<u8>, out: &mut Vec<Vec<u8>>) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.iter().any(|b| !b.is_ascii_whitespace()) {
        out.push(line);
    }
}
