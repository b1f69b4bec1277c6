//! OpenAI (the hub) ↔ Ollama's native `/api/chat`: requests, answers and NDJSON streams.
//!
//! Requests: messages keep their roles (developer → system); content becomes plain
//! text (text parts joined by a newline) and base64 data-URL images go to `images`;
//! assistant tool calls carry their arguments as objects; tool messages name the
//! function they answer (`tool_name`). Function tools are sent as they are;
//! `tool_choice: none` sends no tools (the model cannot call any) and `auto` is Ollama's
//! only behaviour. `response_format` json_object → `format: "json"`, json_schema →
//! `format: <schema>`. `max_(completion_)tokens` → `options.num_predict`; `stop`,
//! `temperature`, `top_p`, `seed`, penalties → `options`. `stream` is always explicit
//! (Ollama streams by default).
//!
//! Refused (400): what [`super::native`] refuses for every native vendor, plus
//! `tool_choice` required or naming a function (Ollama cannot force a call), image URLs
//! that are not data URLs and content parts other than text and images.
//! Dropped as harmless: `user`, `store`, `metadata`, `service_tier`, `stream_options`
//! (Ollama always reports its counts), `parallel_tool_calls`, other unknown fields.
//!
//! Answers: `done_reason` `length` → length, otherwise stop (tool_calls when the model
//! called); usage prompt = `prompt_eval_count`, completion = `eval_count`.

use serde_json::{Map, Value, json};

use super::native::{
    ChunkWriter, NativeHints, Result, answered_name, arguments_text, call_names, inline_image,
    parse_arguments, reject_unsupported, truncated,
};
use crate::error::TranslateError;
use crate::ollama::{self, ToolCall as OToolCall, ToolCallFunction};
use crate::openai::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ContentPart, FinishReason, Message,
    MessageContent, ResponseFormat, Role, ToolCall, ToolChoice, ToolChoiceMode, Usage,
    completion_object,
};
use crate::serde_util::type_name;

const VENDOR: &str = "Ollama";

/// Translates a chat request for Ollama's `/api/chat`, for `model`.
pub fn openai_request_to_ollama(req: &ChatRequest) -> Result<ollama::ChatRequest> {
    reject_unsupported(req, VENDOR)?;
    let names = call_names(req);
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let out = match &m.role {
            Role::System | Role::Developer => {
                ollama::Message::new("system", text_only(m, i, "system messages")?)
            }
            Role::User => user_message(m, i)?,
            Role::Assistant => assistant_message(m, i)?,
            Role::Tool => ollama::Message {
                tool_name: Some(answered_name(&names, m.tool_call_id.as_deref(), i)?.to_owned()),
                ..ollama::Message::new("tool", text_only(m, i, "tool results")?)
            },
            Role::Other(r) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?}"),
                ));
            }
        };
        messages.push(out);
    }

    let mut tools = req.tools.clone().filter(|t| !t.is_empty());
    match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => {}
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => tools = None,
        Some(ToolChoice::Mode(ToolChoiceMode::Required) | ToolChoice::Named(_)) => {
            return Err(TranslateError::unsupported(
                "tool_choice",
                "Ollama cannot force a tool call: use `tool_choice` auto or none",
            ));
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Other(s))) => {
            return Err(TranslateError::invalid(
                "tool_choice",
                format!("unknown tool_choice {s:?}"),
            ));
        }
        Some(ToolChoice::Other(_)) => {
            return Err(TranslateError::unsupported(
                "tool_choice",
                "this form of `tool_choice` has no Ollama counterpart",
            ));
        }
    }

    let format = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(json!("json")),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            Some(json_schema.schema.clone().unwrap_or_else(|| json!("json")))
        }
        Some(ResponseFormat::Other(v)) => {
            return Err(TranslateError::unsupported(
                "response_format",
                format!(
                    "response_format of type `{}` has no Ollama counterpart",
                    type_name(v)
                ),
            ));
        }
    };

    let mut options = Map::new();
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            options.insert(k.to_owned(), v);
        }
    };
    set("num_predict", req.max_output_tokens().map(Value::from));
    set("temperature", req.temperature.map(Value::from));
    set("top_p", req.top_p.map(Value::from));
    set("seed", req.seed.map(Value::from));
    set("presence_penalty", req.presence_penalty.map(Value::from));
    set("frequency_penalty", req.frequency_penalty.map(Value::from));
    let stop: Vec<String> = req
        .stop
        .as_ref()
        .map(|s| s.to_vec().into_iter().filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    set("stop", (!stop.is_empty()).then(|| json!(stop)));

    Ok(ollama::ChatRequest {
        model: req.model.clone(),
        messages,
        tools,
        format,
        options: (!options.is_empty()).then_some(options),
        stream: req.is_stream(),
        extra: Map::new(),
    })
}

fn text_only(m: &Message, i: usize, what: &str) -> Result<String> {
    match &m.content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => texts.push(t.text.as_str()),
                    ContentPart::Other(v) if type_name(v) == "refusal" => {
                        texts.push(v.get("refusal").and_then(Value::as_str).unwrap_or(""));
                    }
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("messages[{i}].content[{j}]"),
                            format!("Ollama {what} accept text only"),
                        ));
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

fn user_message(m: &Message, i: usize) -> Result<ollama::Message> {
    let parts = match &m.content {
        Some(MessageContent::Parts(parts)) => parts,
        _ => return Ok(ollama::Message::new("user", m.text_content())),
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let param = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text(t) => texts.push(t.text.as_str()),
            ContentPart::ImageUrl(p) => {
                let (_, data) =
                    inline_image(&p.image_url.url, format!("{param}.image_url.url"), VENDOR)?;
                images.push(data);
            }
            ContentPart::Other(v) => {
                return Err(TranslateError::unsupported(
                    param,
                    format!(
                        "content part type `{}` has no Ollama counterpart",
                        type_name(v)
                    ),
                ));
            }
        }
    }
    Ok(ollama::Message {
        images: (!images.is_empty()).then_some(images),
        ..ollama::Message::new("user", texts.join("\n"))
    })
}

fn assistant_message(m: &Message, i: usize) -> Result<ollama::Message> {
    let mut calls = Vec::new();
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        calls.push(OToolCall {
            id: None,
            function: ToolCallFunction {
                index: None,
                name: call.function.name.clone(),
                arguments: parse_arguments(
                    &call.function.arguments,
                    format!("messages[{i}].tool_calls[{j}].function.arguments"),
                )?,
                extra: Map::new(),
            },
            extra: Map::new(),
        });
    }
    Ok(ollama::Message {
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..ollama::Message::new("assistant", text_only(m, i, "assistant messages")?)
    })
}

fn finish_reason(resp: &ollama::ChatResponse) -> FinishReason {
    match resp.done_reason.as_deref() {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// Ollama's counts as OpenAI usage; `None` when the answer carries neither count.
pub fn ollama_usage_to_openai(resp: &ollama::ChatResponse) -> Option<Usage> {
    if resp.prompt_eval_count.is_none() && resp.eval_count.is_none() {
        return None;
    }
    Some(Usage::new(
        resp.prompt_eval_count.unwrap_or(0),
        resp.eval_count.unwrap_or(0),
    ))
}

/// An Ollama answer in OpenAI's format.
pub fn ollama_response_to_openai(resp: &ollama::ChatResponse, hints: &NativeHints) -> ChatResponse {
    let message = resp.message.as_ref();
    let text = message.map(|m| m.content.clone()).unwrap_or_default();
    let calls: Vec<ToolCall> = message
        .and_then(|m| m.tool_calls.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(n, c)| {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            ToolCall::function(
                c.id.clone()
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| hints.call_id(n)),
                c.function.name.clone(),
                arguments_text(Some(&c.function.arguments)),
            )
        })
        .collect();
    let finish = match finish_reason(resp) {
        FinishReason::Stop if !calls.is_empty() => FinishReason::ToolCalls,
        other => other,
    };
    let content = (!text.is_empty() || calls.is_empty()).then_some(MessageContent::Text(text));
    ChatResponse {
        id: hints.id.clone(),
        object: completion_object(),
        created: hints.created,
        model: if resp.model.is_empty() {
            hints.model.clone()
        } else {
            resp.model.clone()
        },
        choices: vec![Choice {
            index: 0,
            message: Message {
                content,
                tool_calls: (!calls.is_empty()).then_some(calls),
                ..Message::assistant("")
            },
            finish_reason: Some(finish),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: ollama_usage_to_openai(resp),
        system_fingerprint: None,
        extra: Map::new(),
    }
}

/// Turns the lines of an Ollama NDJSON stream into OpenAI chunks as they arrive; the
/// line with `done: true` brings the finish and usage chunks.
#[derive(Debug, Clone)]
pub struct OllamaToOpenAiStream {
    writer: ChunkWriter,
    usage: Option<Usage>,
    done: bool,
}

impl OllamaToOpenAiStream {
    pub fn new(hints: NativeHints, include_usage: bool) -> Self {
        Self {
            writer: ChunkWriter::new(hints, include_usage),
            usage: None,
            done: false,
        }
    }

    /// Translates one line. A line carrying `error` is an upstream failure.
    pub fn push(&mut self, line: &ollama::ChatResponse) -> Result<Vec<ChatChunk>> {
        let mut out = Vec::new();
        if let Some(err) = &line.error {
            return Err(TranslateError::Upstream {
                error_type: "error".to_owned(),
                message: err.clone(),
            });
        }
        if self.done {
            return Ok(out);
        }
        self.writer.ensure_role(&mut out);
        if let Some(m) = &line.message {
            self.writer.text(&m.content, &mut out);
            for call in m.tool_calls.iter().flatten() {
                self.writer.tool_call(
                    call.id.clone(),
                    &call.function.name,
                    arguments_text(Some(&call.function.arguments)),
                    &mut out,
                );
            }
        }
        if line.done {
            self.done = true;
            self.usage = ollama_usage_to_openai(line);
            self.writer
                .end(finish_reason(line), self.usage.as_ref(), &mut out);
        }
        Ok(out)
    }

    /// The upstream body ended: an error unless the `done` line came.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(truncated(VENDOR))
        }
    }

    pub fn usage(&self) -> Option<Usage> {
        self.usage.clone()
    }

    /// True after the `done` line.
    pub fn is_done(&self) -> bool {
        self.done
    }
}
