//! Bodies between the door's wire format and the provider's: one module per upstream
//! wire format, each behind [`WireAdapter`].
//!
//! Same-format traffic is passed through: request bodies keep unknown fields, and
//! stream events are forwarded as they arrive while they are only read for usage.
//! Cross-format traffic goes through `tollgate-protocol`'s translators, event by event.
//! Gemini and Ollama are reached through the OpenAI format (the hub, `hub`): an
//! Anthropic request is first translated to OpenAI, and their streams become OpenAI
//! chunks, then Anthropic events when the client came through `/v1/messages`. Nothing
//! waits for a whole stream.
//!
//! Adding a provider kind that speaks a new wire format:
//! 1. `tollgate-providers/src/endpoint.rs`: a [`WireFormat`] variant, the kind's
//!    `native_format`, and its URL and auth headers (`chat_call`).
//! 2. A module here implementing [`WireAdapter`] for it (request body, whole answer,
//!    stream transcoder), usually through the hub (`hub::hub_request`,
//!    `hub::hub_response`, `hub::HubStream`) so it serves both doors at once;
//!    body translation itself belongs in `tollgate-protocol::translate`.
//! 3. Its arm in [`adapter`]. Nothing else in the gateway matches on wire formats.

mod anthropic;
mod gemini;
mod hub;
mod ollama;
mod openai;

use bytes::Bytes;
use serde_json::Value;
use tollgate_core::GatewayError;
use tollgate_core::spec::ProviderKind;
use tollgate_providers::WireFormat;

use crate::door::DoorRequest;
use crate::usage::{self, Usage};

/// The output cap reserved for an attempt. It is sent upstream whenever the client
/// set none, so the upstream is never left free to answer more than was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCap {
    pub tokens: u32,
    /// OpenAI's own API and Azure take `max_completion_tokens`; other OpenAI-format
    /// servers (Mistral, vLLM, ...) `max_tokens`. Gemini and Ollama get the cap through
    /// the hub translation (`maxOutputTokens`, `num_predict`); Anthropic's `max_tokens`.
    pub completion_field: bool,
}

impl OutputCap {
    pub fn for_kind(tokens: u32, kind: ProviderKind) -> OutputCap {
        OutputCap {
            tokens,
            completion_field: matches!(kind, ProviderKind::Openai | ProviderKind::AzureOpenai),
        }
    }

    /// Sets the cap on an OpenAI-format request that has none.
    pub fn apply(self, r: &mut tollgate_protocol::openai::ChatRequest) {
        if r.max_output_tokens().is_some() {
            return;
        }
        if self.completion_field {
            r.max_completion_tokens = Some(self.tokens);
        } else {
            r.max_tokens = Some(self.tokens);
        }
    }
}

/// One upstream wire format, seen from both doors.
pub trait WireAdapter: Send + Sync {
    /// The request body in this format for `upstream_model`, with `cap` as the
    /// answer's limit when the client set none.
    fn request(
        &self,
        request: &DoorRequest,
        upstream_model: &str,
        cap: OutputCap,
    ) -> Result<Bytes, GatewayError>;

    /// A whole answer in this format, converted to the door's format, with its usage.
    /// `Err` is a message about an answer that is not what the format promises.
    fn response(&self, request: &DoorRequest, raw: &[u8])
    -> Result<(Bytes, Option<Usage>), String>;

    /// A transcoder from this format's stream to the door's.
    fn stream(&self, request: &DoorRequest, model: &str) -> Box<dyn Transcoder>;
}

/// The adapter for an upstream wire format.
pub fn adapter(format: WireFormat) -> &'static dyn WireAdapter {
    match format {
        WireFormat::OpenAiChat => &openai::OpenAiChat,
        WireFormat::AnthropicMessages => &anthropic::AnthropicMessages,
        WireFormat::Gemini => &gemini::Gemini,
        WireFormat::Ollama => &ollama::Ollama,
    }
}

/// Converts an upstream event stream into the door's, incrementally.
pub trait Transcoder: Send + 'static {
    /// Upstream bytes in, client bytes out (possibly empty). `Err` is a failure the
    /// upstream reported inside the stream.
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String>;
    /// The upstream body ended: the closing bytes, or `Err` if it ended before the
    /// stream was complete.
    fn finish(&mut self) -> Result<Bytes, String>;
    fn usage(&self) -> Option<Usage>;
}

/// A serialised upstream request body.
fn request_body(json: serde_json::Result<Vec<u8>>) -> Result<Bytes, GatewayError> {
    json.map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the upstream request: {e}")))
}

fn translate_error(e: tollgate_protocol::TranslateError) -> GatewayError {
    match e.param() {
        Some(p) => GatewayError::invalid_param(e.to_string(), p.to_string()),
        None => GatewayError::invalid(e.to_string()),
    }
}

fn usage_of_openai(o: &tollgate_protocol::openai::ChatResponse) -> Option<Usage> {
    o.usage.as_ref().map(usage::from_openai)
}

fn encode_openai_data(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    push_openai_data(&mut out, json);
    out
}

/// `data: <json>\n\n` appended to `out`.
fn push_openai_data(out: &mut Vec<u8>, json: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
}

fn encode_anthropic(
    events: &[tollgate_protocol::anthropic::StreamEvent],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for ev in events {
        let json = serde_json::to_string(ev).map_err(|e| e.to_string())?;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(ev.event_name().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    Ok(())
}

/// An error object inside an SSE `data:` payload, as OpenAI-compatible servers send.
fn data_error(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    Some(
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("upstream reported an error")
            .to_string(),
    )
}

/// A fresh OpenAI completion id.
fn chat_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

/// A fresh Anthropic message id.
fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}
