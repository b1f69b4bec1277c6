//! What the Gemini and Ollama translators share: the OpenAI features neither can carry,
//! tool-call ids (neither vendor reliably names its calls), images as inline base64.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::common::image_url_to_source;
use crate::anthropic::ImageSource;
use crate::error::TranslateError;
use crate::openai::{
    ChatChunk, ChatRequest, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Role, Tool,
    ToolCallDelta, ToolChoice, Usage, chunk_object, function_type,
};
use crate::serde_util::type_name;

pub(crate) type Result<T> = std::result::Result<T, TranslateError>;

/// What translating a native answer into OpenAI's format needs from the gateway: this
/// crate reads no clock and makes no random ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativeHints {
    /// The completion id (`chatcmpl-...`); tool calls the vendor did not name get ids
    /// derived from it.
    pub id: String,
    /// The model name written into the answer when the vendor does not say.
    pub model: String,
    /// Unix seconds for `created`.
    pub created: u64,
}

impl NativeHints {
    pub fn new(id: impl Into<String>, model: impl Into<String>, created: u64) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            created,
        }
    }

    /// The id of the `n`th unnamed tool call of this answer: `call_<id>_<n>`.
    pub fn call_id(&self, n: u32) -> String {
        let base = self.id.strip_prefix("chatcmpl-").unwrap_or(&self.id);
        format!("call_{base}_{n}")
    }
}

/// Separates a tool-call id from the Gemini thought signature carried inside it: Gemini
/// wants the signature back with the call, and OpenAI and Anthropic clients echo ids
/// verbatim, so the id is the one place that survives the round trip.
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__ts__";

/// `(id, thought signature)` of an id made by [`with_signature`].
pub(crate) fn split_signature(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
        Some((base, sig)) if !sig.is_empty() => (base, Some(sig)),
        _ => (id, None),
    }
}

pub(crate) fn with_signature(id: String, signature: Option<&str>) -> String {
    match signature.filter(|s| !s.is_empty()) {
        Some(sig) => format!("{id}{THOUGHT_SIGNATURE_SEPARATOR}{sig}"),
        None => id,
    }
}

/// Refuses what a non-OpenAI provider (Anthropic, Gemini, Ollama) cannot do, rather
/// than silently answering a different question.
pub(crate) fn reject_unsupported(req: &ChatRequest, vendor: &str) -> Result<()> {
    let unsupported = |param: &str, what: &str| {
        Err(TranslateError::unsupported(
            param,
            format!("{what} is not supported by {vendor} models"),
        ))
    };
    if req.n.is_some_and(|n| n > 1) {
        return unsupported("n", "`n` greater than 1");
    }
    if req.logprobs == Some(true) {
        return unsupported("logprobs", "`logprobs`");
    }
    if req.top_logprobs.is_some_and(|k| k > 0) {
        return unsupported("top_logprobs", "`top_logprobs`");
    }
    let extra = |key: &str| req.extra.get(key).filter(|v| !v.is_null());
    if let Some(m) = extra("modalities") {
        let text_only = m
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_str() == Some("text")));
        if !text_only {
            return unsupported("modalities", "output other than text");
        }
    }
    if extra("audio").is_some() {
        return unsupported("audio", "audio output");
    }
    if extra("logit_bias").is_some_and(|b| b.as_object().is_none_or(|o| !o.is_empty())) {
        return unsupported("logit_bias", "`logit_bias`");
    }
    if extra("functions").is_some() {
        return unsupported("functions", "the legacy `functions` field (use `tools`)");
    }
    if extra("function_call").is_some() {
        return unsupported(
            "function_call",
            "the legacy `function_call` field (use `tool_choice`)",
        );
    }
    if extra("web_search_options").is_some() {
        return unsupported("web_search_options", "`web_search_options`");
    }
    if extra("prediction").is_some() {
        return unsupported("prediction", "`prediction` (predicted outputs)");
    }
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        if let Tool::Other(v) = tool {
            return Err(TranslateError::unsupported(
                format!("tools[{i}]"),
                format!(
                    "tool type `{}` has no counterpart on {vendor} models",
                    type_name(v)
                ),
            ));
        }
    }
    if let Some(ToolChoice::Other(_)) = &req.tool_choice {
        return unsupported("tool_choice", "this form of `tool_choice`");
    }
    Ok(())
}

/// Function name of every tool call of the request's assistant messages, by call id:
/// Gemini and Ollama identify a tool result by the function's name.
pub(crate) fn call_names(req: &ChatRequest) -> HashMap<&str, &str> {
    req.messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .flat_map(|m| m.tool_calls.iter().flatten())
        .map(|c| (c.id.as_str(), c.function.name.as_str()))
        .collect()
}

/// The function a tool message answers.
pub(crate) fn answered_name<'a>(
    names: &HashMap<&str, &'a str>,
    id: Option<&str>,
    i: usize,
) -> Result<&'a str> {
    id.and_then(|id| names.get(id).copied()).ok_or_else(|| {
        TranslateError::invalid(
            format!("messages[{i}].tool_call_id"),
            "a tool message must answer a tool call of an earlier assistant message",
        )
    })
}

/// OpenAI arguments (a JSON string) as a JSON object; empty means `{}`.
pub(crate) fn parse_arguments(arguments: &str, param: String) -> Result<Value> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(TranslateError::invalid(
            param,
            "tool call arguments must be a JSON object",
        )),
        Err(e) => Err(TranslateError::invalid(
            param,
            format!("tool call arguments are not valid JSON: {e}"),
        )),
    }
}

/// Native arguments (an object) as OpenAI's JSON text.
pub(crate) fn arguments_text(args: Option<&Value>) -> String {
    match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `(media type, base64 data)` of a base64 data URL; anything else is refused, since
/// neither vendor fetches URLs for the client.
pub(crate) fn inline_image(url: &str, param: String, vendor: &str) -> Result<(String, String)> {
    match image_url_to_source(url) {
        Some(ImageSource::Base64 { media_type, data }) => Ok((media_type, data)),
        Some(_) => Err(TranslateError::unsupported(
            param,
            format!(
                "{vendor} models take images inline only: send the image as a base64 data URL (data:<media type>;base64,<data>)"
            ),
        )),
        None => Err(TranslateError::invalid(
            param,
            "an image URL must be http(s) or a base64 data URL (data:<media type>;base64,<data>)",
        )),
    }
}

/// Builds the OpenAI chunks of a native stream (choice 0) in the order
/// [`super::AnthropicToOpenAiStream`] uses: role, deltas, finish reason, usage.
#[derive(Debug, Clone)]
pub(crate) struct ChunkWriter {
    pub hints: NativeHints,
    pub include_usage: bool,
    pub role_sent: bool,
    pub calls: u32,
}

impl ChunkWriter {
    pub fn new(hints: NativeHints, include_usage: bool) -> Self {
        Self {
            hints,
            include_usage,
            role_sent: false,
            calls: 0,
        }
    }

    pub fn ensure_role(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.role_sent {
            self.role_sent = true;
            out.push(self.chunk(
                Delta {
                    role: Some(Role::Assistant),
                    content: Some(String::new()),
                    ..Delta::default()
                },
                None,
            ));
        }
    }

    pub fn text(&mut self, text: &str, out: &mut Vec<ChatChunk>) {
        if text.is_empty() {
            return;
        }
        self.ensure_role(out);
        out.push(self.chunk(
            Delta {
                content: Some(text.to_owned()),
                ..Delta::default()
            },
            None,
        ));
    }

    /// A whole tool call in one chunk (both vendors send calls whole).
    pub fn tool_call(
        &mut self,
        id: Option<String>,
        name: &str,
        arguments: String,
        out: &mut Vec<ChatChunk>,
    ) {
        self.ensure_role(out);
        let index = self.calls;
        self.calls += 1;
        let id = id
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| self.hints.call_id(index));
        out.push(self.chunk(
            Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index,
                    id: Some(id),
                    kind: Some(function_type()),
                    function: Some(FunctionCallDelta {
                        name: Some(name.to_owned()),
                        arguments: Some(arguments),
                        extra: Map::new(),
                    }),
                    extra: Map::new(),
                }]),
                ..Delta::default()
            },
            None,
        ));
    }

    /// The finish chunk, then the usage chunk when the client asked for one.
    pub fn end(&mut self, reason: FinishReason, usage: Option<&Usage>, out: &mut Vec<ChatChunk>) {
        self.ensure_role(out);
        let reason = match reason {
            FinishReason::Stop if self.calls > 0 => FinishReason::ToolCalls,
            other => other,
        };
        out.push(self.chunk(Delta::default(), Some(reason)));
        if self.include_usage
            && let Some(u) = usage
        {
            out.push(ChatChunk {
                choices: Vec::new(),
                usage: Some(u.clone()),
                ..self.chunk(Delta::default(), None)
            });
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.hints.id.clone(),
            object: chunk_object(),
            created: self.hints.created,
            model: self.hints.model.clone(),
            system_fingerprint: None,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: None,
                extra: Map::new(),
            }],
            usage: None,
            extra: Map::new(),
        }
    }
}

/// The error a native stream ends with when its body stops before the end marker.
pub(crate) fn truncated(vendor: &str) -> TranslateError {
    TranslateError::Upstream {
        error_type: "stream_broken".to_owned(),
        message: format!("the {vendor} stream ended before its last event"),
    }
}
