//! A chat answer as a Responses object: `output` items (an assistant `message` with
//! `output_text`, `function_call` items), `status` (`incomplete` with
//! `incomplete_details.reason` when the answer was cut), and `usage` with cached and
//! reasoning tokens.
//!
//! Item ids derive from the response id and the item's place in `output`, so a
//! streamed answer and a whole one carry the same items.

use serde_json::{Value, json};

use super::request::ResponsesRequest;
use crate::openai::{ChatResponse, FinishReason, ToolCall, Usage};

/// What a response object repeats of its request, and its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    /// `resp_...`.
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    pub request: ResponsesRequest,
}

impl Echo {
    pub fn new(id: String, created_at: u64, request: &ResponsesRequest) -> Self {
        // The input is not part of a response object: drop it rather than clone it.
        let request = ResponsesRequest {
            input: Value::Null,
            ..request.clone()
        };
        Echo {
            id,
            created_at,
            request,
        }
    }

    /// The id of the output item at `index`.
    pub fn item_id(&self, prefix: &str, index: usize) -> String {
        let base = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{base}_{index}")
    }

    /// The response object with `status`, no output and no usage yet.
    pub fn skeleton(&self, status: &str) -> Value {
        let r = &self.request;
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "instructions": r.instructions,
            "max_output_tokens": r.max_output_tokens,
            "model": r.model,
            "output": [],
            "parallel_tool_calls": r.parallel_tool_calls.unwrap_or(true),
            "previous_response_id": r.previous_response_id,
            "reasoning": r.reasoning.clone().unwrap_or_else(|| json!({"effort": null, "summary": null})),
            "store": r.wants_store(),
            "temperature": r.temperature.unwrap_or(1.0),
            "text": r.text.clone().unwrap_or_else(|| json!({"format": {"type": "text"}})),
            "tool_choice": r.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            "tools": r.tools.clone().unwrap_or_default(),
            "top_p": r.top_p.unwrap_or(1.0),
            "truncation": "disabled",
            "usage": null,
            "user": r.user,
            "metadata": r.metadata.clone().unwrap_or_else(|| json!({})),
        })
    }

    /// The finished response object.
    pub fn finished(
        &self,
        output: Vec<Value>,
        finish: Option<FinishReason>,
        usage: Option<&Usage>,
    ) -> Value {
        let mut v = self.skeleton(status_of(finish.as_ref()));
        if let Some(reason) = incomplete_reason(finish.as_ref()) {
            v["incomplete_details"] = json!({"reason": reason});
        }
        v["output"] = Value::Array(output);
        if let Some(u) = usage {
            v["usage"] = usage_object(u);
        }
        v
    }

    /// The response object of a stream that broke.
    pub fn failed(&self, output: Vec<Value>, code: &str, message: &str) -> Value {
        let mut v = self.skeleton("failed");
        v["output"] = Value::Array(output);
        v["error"] = json!({"code": code, "message": message});
        v
    }

    /// An assistant message item with one `output_text` part.
    pub fn message_item(&self, index: usize, text: &str, status: &str) -> Value {
        json!({
            "id": self.item_id("msg", index),
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": if status == "in_progress" {
                json!([])
            } else {
                json!([output_text(text)])
            },
        })
    }

    /// A `function_call` item.
    pub fn call_item(&self, index: usize, call: &ToolCall, status: &str) -> Value {
        json!({
            "id": self.item_id("fc", index),
            "type": "function_call",
            "status": status,
            "call_id": call.id,
            "name": call.function.name,
            "arguments": call.function.arguments,
        })
    }

    /// `output` of a whole chat answer: the text message (unless the answer is only
    /// tool calls), then one item per tool call.
    pub fn output_items(
        &self,
        text: &str,
        calls: &[ToolCall],
        finish: Option<&FinishReason>,
    ) -> Vec<Value> {
        let status = item_status(finish);
        let mut out = Vec::with_capacity(1 + calls.len());
        if !text.is_empty() || calls.is_empty() {
            out.push(self.message_item(out.len(), text, status));
        }
        for c in calls {
            out.push(self.call_item(out.len(), c, status));
        }
        out
    }

    /// The Responses object of a whole chat answer (choice 0).
    pub fn from_chat(&self, chat: &ChatResponse) -> Value {
        let choice = chat
            .choices
            .iter()
            .find(|c| c.index == 0)
            .or(chat.choices.first());
        let (text, calls, finish) = match choice {
            Some(c) => (
                c.message.text_content(),
                c.message.tool_calls.clone().unwrap_or_default(),
                c.finish_reason.clone(),
            ),
            None => (String::new(), Vec::new(), None),
        };
        let output = self.output_items(&text, &calls, finish.as_ref());
        self.finished(output, finish, chat.usage.as_ref())
    }
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

fn incomplete_reason(finish: Option<&FinishReason>) -> Option<&'static str> {
    match finish {
        Some(FinishReason::Length) => Some("max_output_tokens"),
        Some(FinishReason::ContentFilter) => Some("content_filter"),
        _ => None,
    }
}

/// The response's status for the chat answer's finish reason.
pub fn status_of(finish: Option<&FinishReason>) -> &'static str {
    if incomplete_reason(finish).is_some() {
        "incomplete"
    } else {
        "completed"
    }
}

/// An output item's status for the chat answer's finish reason.
pub fn item_status(finish: Option<&FinishReason>) -> &'static str {
    status_of(finish)
}

/// Responses usage from chat usage: cached input tokens and reasoning output tokens
/// where the upstream reported them.
pub fn usage_object(u: &Usage) -> Value {
    let reasoning = u
        .extra
        .get("completion_tokens_details")
        .and_then(|d| d.get("reasoning_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens(), "cache_write_tokens": 0},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
    })
}

/// The chat messages of a response's `output`, for a stored conversation: its text
/// and tool calls as one assistant turn.
pub fn output_messages(output: &[Value]) -> Vec<crate::openai::Message> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for item in output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default());
                }
            }
            Some("function_call") => calls.push(ToolCall::function(
                item["call_id"].as_str().unwrap_or_default(),
                item["name"].as_str().unwrap_or_default(),
                item["arguments"].as_str().unwrap_or_default(),
            )),
            _ => {}
        }
    }
    let mut m = crate::openai::Message::assistant(text.clone());
    if text.is_empty() && !calls.is_empty() {
        m.content = None;
    }
    if !calls.is_empty() {
        m.tool_calls = Some(calls);
    }
    vec![m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Echo {
        let r: ResponsesRequest =
            serde_json::from_value(json!({"model": "m", "input": "hi", "max_output_tokens": 3}))
                .expect("req");
        Echo::new("resp_abc".into(), 7, &r)
    }

    #[test]
    fn text_answer_and_usage() {
        let chat: ChatResponse = serde_json::from_value(json!({
            "id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hey"},
            "finish_reason": "length"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7,
              "prompt_tokens_details": {"cached_tokens": 2},
              "completion_tokens_details": {"reasoning_tokens": 1}}
        }))
        .expect("chat");
        let v = echo().from_chat(&chat);
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(v["output"][0]["content"][0]["text"], "hey");
        assert_eq!(v["output"][0]["id"], "msg_abc_0");
        assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 2);
        assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 1);
        assert_eq!(v["usage"]["total_tokens"], 7);
        assert_eq!(v["max_output_tokens"], 3);
    }

    #[test]
    fn tool_calls_become_items_and_messages() {
        let chat: ChatResponse = serde_json::from_value(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
              "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]},
            "finish_reason": "tool_calls"}]
        }))
        .expect("chat");
        let v = echo().from_chat(&chat);
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["output"][0]["type"], "function_call");
        assert_eq!(v["output"][0]["call_id"], "c1");
        let m = output_messages(v["output"].as_array().expect("output"));
        assert_eq!(m[0].tool_calls.as_ref().map(Vec::len), Some(1));
        assert!(m[0].content.is_none());
    }
}
