//! Rebuilds a non-streamed response from stream chunks: what the gateway needs for call
//! logs and for caching a streamed answer, and what tests compare translations with.

use super::chat::{Message, MessageContent, Role, ToolCall};
use super::response::{ChatChunk, ChatResponse, Choice, FinishReason, Usage, completion_object};
use crate::serde_util::Extra;

/// Accumulates the chunks of choice 0 of one stream.
#[derive(Debug, Clone, Default)]
pub struct ChunkAccumulator {
    id: String,
    created: u64,
    model: String,
    system_fingerprint: Option<String>,
    content: String,
    /// Tool calls in order of first appearance, keyed by their stream `index`.
    tool_calls: Vec<(u32, ToolCall)>,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
}

impl ChunkAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, chunk: &ChatChunk) {
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
            self.created = chunk.created;
            self.model.clone_from(&chunk.model);
        }
        if chunk.system_fingerprint.is_some() {
            self.system_fingerprint
                .clone_from(&chunk.system_fingerprint);
        }
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = &choice.delta.content {
                self.content.push_str(text);
            }
            for tc in choice.delta.tool_calls.iter().flatten() {
                // Same rule as the stream translators: a fragment naming another id is
                // a new call even when its index repeats.
                let pos = self.tool_calls.iter().rposition(|(i, c)| {
                    *i == tc.index && tc.id.as_ref().is_none_or(|id| id.is_empty() || *id == c.id)
                });
                let pos = pos.unwrap_or_else(|| {
                    self.tool_calls
                        .push((tc.index, ToolCall::function("", "", "")));
                    self.tool_calls.len() - 1
                });
                let Some((_, call)) = self.tool_calls.get_mut(pos) else {
                    continue;
                };
                if let Some(id) = tc.id.as_ref().filter(|id| !id.is_empty()) {
                    call.id.clone_from(id);
                }
                if let Some(f) = &tc.function {
                    // The name comes whole in the first fragment; some servers repeat it.
                    if let Some(name) = f.name.as_ref().filter(|_| call.function.name.is_empty()) {
                        call.function.name.clone_from(name);
                    }
                    if let Some(args) = &f.arguments {
                        call.function.arguments.push_str(args);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason.clone_from(&choice.finish_reason);
            }
        }
    }

    /// The usage chunk's usage, once seen.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// The response the chunks add up to.
    pub fn finish(self) -> ChatResponse {
        let tool_calls: Vec<ToolCall> = self.tool_calls.into_iter().map(|(_, c)| c).collect();
        let content = if self.content.is_empty() && !tool_calls.is_empty() {
            None
        } else {
            Some(MessageContent::Text(self.content))
        };
        ChatResponse {
            id: self.id,
            object: completion_object(),
            created: self.created,
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message: Message {
                    role: Role::Assistant,
                    content,
                    name: None,
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                    tool_call_id: None,
                    extra: Extra::new(),
                },
                finish_reason: self.finish_reason,
                logprobs: None,
                extra: Extra::new(),
            }],
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            extra: Extra::new(),
        }
    }
}
