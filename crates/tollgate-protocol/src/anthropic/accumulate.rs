//! Rebuilds a non-streamed Messages answer from stream events: for call logs, caching a
//! streamed answer, and tests comparing streamed and non-streamed translations.

use serde_json::Value;

use super::request::ContentBlock;
use super::response::MessagesResponse;
use super::stream::{BlockDelta, StreamEvent};

/// Accumulates the events of one stream.
#[derive(Debug, Clone, Default)]
pub struct EventAccumulator {
    message: Option<MessagesResponse>,
    /// Blocks by stream index, with the raw `partial_json` of tool_use blocks.
    blocks: Vec<(u32, ContentBlock, String)>,
}

impl EventAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::MessageStart { message } => self.message = Some(message.clone()),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self
                .blocks
                .push((*index, content_block.clone(), String::new())),
            StreamEvent::ContentBlockDelta { index, delta } => {
                if let Some((_, block, json)) = self.blocks.iter_mut().find(|(i, ..)| i == index) {
                    apply_delta(block, json, delta);
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                let m = self
                    .message
                    .get_or_insert_with(|| MessagesResponse::new("", ""));
                m.stop_reason.clone_from(&delta.stop_reason);
                m.stop_sequence.clone_from(&delta.stop_sequence);
                m.usage.output_tokens = usage.output_tokens;
                if let Some(n) = usage.input_tokens {
                    m.usage.input_tokens = n;
                }
                if usage.cache_read_input_tokens.is_some() {
                    m.usage.cache_read_input_tokens = usage.cache_read_input_tokens;
                }
                if usage.cache_creation_input_tokens.is_some() {
                    m.usage.cache_creation_input_tokens = usage.cache_creation_input_tokens;
                }
            }
            StreamEvent::ContentBlockStop { .. }
            | StreamEvent::MessageStop
            | StreamEvent::Ping
            | StreamEvent::Error { .. }
            | StreamEvent::Other(_) => {}
        }
    }

    /// The message the events add up to. Tool inputs whose JSON never completed are kept
    /// as the string received, so nothing is lost silently.
    pub fn finish(self) -> MessagesResponse {
        let mut message = self
            .message
            .unwrap_or_else(|| MessagesResponse::new("", ""));
        message.content = self
            .blocks
            .into_iter()
            .map(|(_, mut block, json)| {
                if let ContentBlock::ToolUse(t) = &mut block
                    && !json.is_empty()
                {
                    t.input = serde_json::from_str(&json).unwrap_or(Value::String(json));
                }
                block
            })
            .collect();
        message
    }
}

fn apply_delta(block: &mut ContentBlock, json: &mut String, delta: &BlockDelta) {
    match (block, delta) {
        (ContentBlock::Text(t), BlockDelta::TextDelta { text }) => t.text.push_str(text),
        (ContentBlock::ToolUse(_), BlockDelta::InputJsonDelta { partial_json }) => {
            json.push_str(partial_json);
        }
        (ContentBlock::Other(Value::Object(o)), BlockDelta::ThinkingDelta { thinking }) => {
            let prev = o.get("thinking").and_then(Value::as_str).unwrap_or("");
            let joined = format!("{prev}{thinking}");
            o.insert("thinking".to_owned(), Value::String(joined));
        }
        (ContentBlock::Other(Value::Object(o)), BlockDelta::SignatureDelta { signature }) => {
            o.insert("signature".to_owned(), Value::String(signature.clone()));
        }
        _ => {}
    }
}
