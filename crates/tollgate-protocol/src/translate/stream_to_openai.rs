//! Anthropic stream → OpenAI chunks, for the OpenAI door in front of an Anthropic provider.

use serde_json::{Map, Value};

use super::common::{anthropic_usage_to_openai, input_to_arguments, stop_reason_to_finish};
use crate::anthropic::{self, BlockDelta, ContentBlock, StopReason, StreamEvent};
use crate::error::TranslateError;
use crate::openai::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Role, ToolCallDelta, Usage,
    chunk_object, function_type,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// A tool call, with its OpenAI `tool_calls[].index`.
    Tool(u32),
    /// The forced tool standing in for `json_schema`: its input is streamed as text.
    JsonTool,
    /// Thinking and anything else OpenAI chunks cannot carry.
    Ignored,
}

/// Turns Anthropic stream events into OpenAI chunks as they arrive: a first chunk with
/// role `assistant`, content and tool-call deltas (index, id and name first, then argument
/// fragments), a chunk with `finish_reason`, and with `include_usage` a last chunk with
/// `choices: []` and the usage. The gateway writes `data: [DONE]` after [`Self::is_done`].
#[derive(Debug, Clone)]
pub struct AnthropicToOpenAiStream {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    json_tool: Option<String>,
    role_sent: bool,
    blocks: Vec<(u32, Block)>,
    tool_calls: u32,
    usage: anthropic::Usage,
    usage_seen: bool,
    finish_reason: Option<FinishReason>,
    done: bool,
}

impl AnthropicToOpenAiStream {
    /// `id`, `model` and `created` are written into every chunk (the door's public values).
    pub fn new(
        id: impl Into<String>,
        model: impl Into<String>,
        created: u64,
        include_usage: bool,
    ) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            created,
            include_usage,
            json_tool: None,
            role_sent: false,
            blocks: Vec::new(),
            tool_calls: 0,
            usage: anthropic::Usage::default(),
            usage_seen: false,
            finish_reason: None,
            done: false,
        }
    }

    /// The tool that stands in for `response_format: json_schema`
    /// ([`super::ResponseHints::json_tool`]): its input is streamed as content.
    pub fn with_json_tool(mut self, name: Option<String>) -> Self {
        self.json_tool = name;
        self
    }

    /// Translates one event. An upstream `error` event is returned as
    /// [`TranslateError::Upstream`] so the gateway can end the stream in the door's format.
    pub fn push(&mut self, event: &StreamEvent) -> Result<Vec<ChatChunk>, TranslateError> {
        let mut out = Vec::new();
        match event {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage.clone();
                self.usage_seen = true;
                self.ensure_role(&mut out);
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                self.ensure_role(&mut out);
                self.start_block(*index, content_block, &mut out);
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                self.ensure_role(&mut out);
                self.delta(*index, delta, &mut out);
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.ensure_role(&mut out);
                self.usage.output_tokens = usage.output_tokens;
                if let Some(n) = usage.input_tokens {
                    self.usage.input_tokens = n;
                }
                if usage.cache_read_input_tokens.is_some() {
                    self.usage.cache_read_input_tokens = usage.cache_read_input_tokens;
                }
                if usage.cache_creation_input_tokens.is_some() {
                    self.usage.cache_creation_input_tokens = usage.cache_creation_input_tokens;
                }
                self.usage_seen = true;
                let reason = match &delta.stop_reason {
                    // Only the JSON stand-in tool was called: to the client it is text.
                    Some(StopReason::ToolUse) if self.tool_calls == 0 => FinishReason::Stop,
                    Some(r) => stop_reason_to_finish(r),
                    None => FinishReason::Stop,
                };
                self.finish_reason = Some(reason.clone());
                out.push(self.chunk(Delta::default(), Some(reason)));
            }
            StreamEvent::MessageStop => {
                if self.include_usage
                    && !self.done
                    && let Some(usage) = self.usage()
                {
                    out.push(ChatChunk {
                        choices: Vec::new(),
                        usage: Some(usage),
                        ..self.chunk(Delta::default(), None)
                    });
                }
                self.done = true;
            }
            StreamEvent::Error { error } => {
                return Err(TranslateError::Upstream {
                    error_type: error.kind.clone(),
                    message: error.message.clone(),
                });
            }
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping | StreamEvent::Other(_) => {}
        }
        Ok(out)
    }

    /// Usage so far (complete once `message_delta` has arrived), in OpenAI terms.
    pub fn usage(&self) -> Option<Usage> {
        self.usage_seen
            .then(|| anthropic_usage_to_openai(&self.usage))
    }

    /// The finish reason, once `message_delta` has arrived.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish_reason.clone()
    }

    /// True after `message_stop`: the upstream ended cleanly.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn ensure_role(&mut self, out: &mut Vec<ChatChunk>) {
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

    fn start_block(&mut self, index: u32, block: &ContentBlock, out: &mut Vec<ChatChunk>) {
        let kind = match block {
            ContentBlock::Text(t) => {
                self.text(&t.text, out);
                Block::Text
            }
            ContentBlock::ToolUse(t) if self.json_tool.as_deref() == Some(t.name.as_str()) => {
                if let Some(text) = initial_input(&t.input) {
                    self.text(&text, out);
                }
                Block::JsonTool
            }
            ContentBlock::ToolUse(t) => {
                let call = self.tool_calls;
                self.tool_calls += 1;
                out.push(self.tool_chunk(ToolCallDelta {
                    index: call,
                    id: Some(t.id.clone()),
                    kind: Some(function_type()),
                    function: Some(FunctionCallDelta {
                        name: Some(t.name.clone()),
                        arguments: Some(initial_input(&t.input).unwrap_or_default()),
                        extra: Map::new(),
                    }),
                    extra: Map::new(),
                }));
                Block::Tool(call)
            }
            _ => Block::Ignored,
        };
        self.blocks.retain(|(i, _)| *i != index);
        self.blocks.push((index, kind));
    }

    fn delta(&mut self, index: u32, delta: &BlockDelta, out: &mut Vec<ChatChunk>) {
        let kind = self
            .blocks
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(Block::Ignored, |(_, k)| *k);
        match (kind, delta) {
            (Block::Text, BlockDelta::TextDelta { text }) => self.text(text, out),
            (Block::JsonTool, BlockDelta::InputJsonDelta { partial_json }) => {
                self.text(partial_json, out);
            }
            (Block::Tool(call), BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                out.push(self.tool_chunk(ToolCallDelta {
                    index: call,
                    function: Some(FunctionCallDelta {
                        arguments: Some(partial_json.clone()),
                        ..FunctionCallDelta::default()
                    }),
                    ..ToolCallDelta::default()
                }));
            }
            _ => {}
        }
    }

    fn text(&self, text: &str, out: &mut Vec<ChatChunk>) {
        if !text.is_empty() {
            out.push(self.chunk(
                Delta {
                    content: Some(text.to_owned()),
                    ..Delta::default()
                },
                None,
            ));
        }
    }

    fn tool_chunk(&self, call: ToolCallDelta) -> ChatChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
        )
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: chunk_object(),
            created: self.created,
            model: self.model.clone(),
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

/// The input a `tool_use` block starts with, as argument text: Anthropic starts with `{}`
/// and streams the JSON, so only a non-empty start input is worth sending.
fn initial_input(input: &Value) -> Option<String> {
    match input {
        Value::Object(o) if o.is_empty() => None,
        Value::Null => None,
        other => Some(input_to_arguments(other)),
    }
}
