//! OpenAI chunks → Anthropic stream events, for the Anthropic door in front of an
//! OpenAI-format provider.

use serde_json::{Map, Value};

use super::common::{finish_to_stop_reason, openai_usage_to_anthropic};
use crate::anthropic::{
    self, BlockDelta, ContentBlock, DeltaUsage, MessageDelta, MessagesResponse, StopReason,
    StreamEvent,
};
use crate::openai::{ChatChunk, ToolCallDelta, Usage};

/// Turns OpenAI chunks into Anthropic events as they arrive: `message_start`, then per
/// block `content_block_start`/`_delta`/`_stop` with increasing indexes (text blocks,
/// `tool_use` blocks fed by `input_json_delta`), and on [`Self::finish`] `message_delta`
/// (stop reason, usage) and `message_stop`.
///
/// OpenAI reports usage only at the end, so `message_start` says 0 input tokens and the
/// real counts come in `message_delta` (as newer Anthropic versions also send them). The
/// upstream request should set `stream_options.include_usage` (as
/// [`super::anthropic_request_to_openai`] does).
#[derive(Debug, Clone)]
pub struct OpenAiToAnthropicStream {
    id: String,
    model: String,
    started: bool,
    /// Index of the open block and whether it is a text block.
    open: Option<(u32, bool)>,
    next_block: u32,
    /// OpenAI tool-call index and id → Anthropic block index.
    tools: Vec<(u32, String, u32)>,
    stop_reason: Option<StopReason>,
    refused: bool,
    usage: Option<Usage>,
    finished: bool,
}

impl OpenAiToAnthropicStream {
    /// `id` and `model` go into `message_start` (the door's public values).
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            started: false,
            open: None,
            next_block: 0,
            tools: Vec::new(),
            stop_reason: None,
            refused: false,
            usage: None,
            finished: false,
        }
    }

    /// Translates one chunk (choice 0; `n` > 1 is refused before a request goes out).
    pub fn push(&mut self, chunk: &ChatChunk) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.ensure_started(&mut out);
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let delta = &choice.delta;
            if let Some(refusal) = delta.extra.get("refusal").and_then(Value::as_str)
                && !refusal.is_empty()
            {
                self.refused = true;
                self.text(refusal, &mut out);
            }
            if let Some(text) = &delta.content {
                self.text(text, &mut out);
            }
            for call in delta.tool_calls.iter().flatten() {
                self.tool_call(call, &mut out);
            }
            if let Some(reason) = &choice.finish_reason {
                self.stop_reason = Some(finish_to_stop_reason(reason));
            }
        }
        out
    }

    /// Ends the message; call it once the upstream ended cleanly (`data: [DONE]` or end of
    /// body after a finish reason). On a broken upstream send an error event instead.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.ensure_started(&mut out);
        self.close(&mut out);
        self.finished = true;
        let usage = self.usage();
        let stop_reason = match &self.stop_reason {
            _ if self.refused => StopReason::Refusal,
            Some(r) => r.clone(),
            None => StopReason::EndTurn,
        };
        out.push(StreamEvent::MessageDelta {
            delta: MessageDelta {
                stop_reason: Some(stop_reason),
                stop_sequence: None,
                extra: Map::new(),
            },
            usage: DeltaUsage {
                output_tokens: usage.as_ref().map_or(0, |u| u.output_tokens),
                input_tokens: usage.as_ref().map(|u| u.input_tokens),
                cache_creation_input_tokens: None,
                cache_read_input_tokens: usage.as_ref().and_then(|u| u.cache_read_input_tokens),
                extra: Map::new(),
            },
        });
        out.push(StreamEvent::MessageStop);
        out
    }

    /// The upstream's usage, once its usage chunk arrived, in Anthropic terms.
    pub fn usage(&self) -> Option<anthropic::Usage> {
        self.usage.as_ref().map(openai_usage_to_anthropic)
    }

    /// The stop reason, once the upstream sent a finish reason.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop_reason.clone()
    }

    fn ensure_started(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                message: MessagesResponse::new(self.id.clone(), self.model.clone()),
            });
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    fn open_block(
        &mut self,
        block: ContentBlock,
        is_text: bool,
        out: &mut Vec<StreamEvent>,
    ) -> u32 {
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, is_text));
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block: block,
        });
        index
    }

    fn text(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        let index = match self.open {
            Some((index, true)) => index,
            _ => self.open_block(ContentBlock::text(""), true, out),
        };
        out.push(StreamEvent::ContentBlockDelta {
            index,
            delta: BlockDelta::TextDelta {
                text: text.to_owned(),
            },
        });
    }

    fn tool_call(&mut self, call: &ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let function = call.function.as_ref();
        // A fragment belongs to the call with its index, unless it names another id:
        // some OpenAI-compatible servers send every call with index 0.
        let known = self.tools.iter().rev().find(|(i, id, _)| {
            *i == call.index && call.id.as_ref().is_none_or(|c| c.is_empty() || c == id)
        });
        let index = match known {
            Some((_, _, block)) => *block,
            None => {
                let id = call
                    .id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("toolu_{}_{}", self.id, self.tools.len()));
                let name = function.and_then(|f| f.name.clone()).unwrap_or_default();
                let block = ContentBlock::tool_use(id.clone(), name, Value::Object(Map::new()));
                let index = self.open_block(block, false, out);
                self.tools.push((call.index, id, index));
                index
            }
        };
        // Fragments of an earlier, already closed call (an upstream interleaving calls)
        // still go to that call's block: Anthropic clients accumulate by index.
        if let Some(args) = function.and_then(|f| f.arguments.as_ref())
            && !args.is_empty()
        {
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::InputJsonDelta {
                    partial_json: args.clone(),
                },
            });
        }
    }
}
