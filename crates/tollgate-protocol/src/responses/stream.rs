//! A chat stream as the Responses event sequence, built chunk by chunk:
//!
//! `response.created`, `response.in_progress`; per output item
//! `response.output_item.added`, then for a message `response.content_part.added` and
//! `response.output_text.delta`s, for a function call
//! `response.function_call_arguments.delta`s; at the end, per item in output order,
//! `response.output_text.done` + `response.content_part.done` (or
//! `response.function_call_arguments.done`) and `response.output_item.done`; last
//! `response.completed` (or `response.incomplete` when the answer was cut) with the
//! whole response and its usage. A stream that breaks ends with an `error` event and
//! `response.failed`. Every event carries `sequence_number`, from 0 up by one.
//!
//! The items and the final response equal [`Echo::from_chat`] of the accumulated
//! answer (the property tests check it), so a streamed answer can be stored and
//! continued like a whole one.

use serde_json::{Value, json};

use super::answer::{Echo, output_text, status_of};
use crate::openai::{ChatChunk, FinishReason, ToolCall, Usage};

#[derive(Debug, Clone)]
enum Item {
    Text(String),
    /// A tool call, with the chat stream's `index` it came under.
    Call(u32, Box<ToolCall>),
}

/// Builds the Responses events of one stream.
#[derive(Debug, Clone)]
pub struct ResponsesStream {
    echo: Echo,
    seq: u64,
    started: bool,
    items: Vec<Item>,
    /// The output index of the message item, once text has come. All of the answer's
    /// text goes to it, as in the whole answer (a chat answer has one text); only
    /// when a call comes before any text does the message follow the call.
    open_text: Option<usize>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    ended: bool,
    result: Option<Value>,
}

impl ResponsesStream {
    pub fn new(echo: Echo) -> Self {
        ResponsesStream {
            echo,
            seq: 0,
            started: false,
            items: Vec::new(),
            open_text: None,
            finish: None,
            usage: None,
            ended: false,
            result: None,
        }
    }

    /// The final response object, once the stream has ended (completed, incomplete or
    /// failed).
    pub fn result(&self) -> Option<&Value> {
        self.result.as_ref()
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn event(&mut self, kind: &str, mut v: Value) -> Value {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        v
    }

    fn start(&mut self, out: &mut Vec<Value>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.echo.skeleton("in_progress");
        out.push(self.event("response.created", json!({"response": r})));
        let r = self.echo.skeleton("in_progress");
        out.push(self.event("response.in_progress", json!({"response": r})));
    }

    /// The events the start of the stream makes (`response.created`,
    /// `response.in_progress`), sent before the first chunk arrives.
    pub fn begin(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        self.start(&mut out);
        out
    }

    fn open_message(&mut self, out: &mut Vec<Value>) -> usize {
        if let Some(i) = self.open_text {
            return i;
        }
        let index = self.items.len();
        self.items.push(Item::Text(String::new()));
        self.open_text = Some(index);
        let item = self.echo.message_item(index, "", "in_progress");
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        ));
        let item_id = self.echo.item_id("msg", index);
        out.push(self.event(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": index, "content_index": 0,
                   "part": output_text("")}),
        ));
        index
    }

    /// The events of one chat chunk (choice 0).
    pub fn push(&mut self, chunk: &ChatChunk) -> Vec<Value> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.start(&mut out);
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.as_ref().filter(|t| !t.is_empty()) {
                let index = self.open_message(&mut out);
                if let Some(Item::Text(t)) = self.items.get_mut(index) {
                    t.push_str(text);
                }
                let item_id = self.echo.item_id("msg", index);
                out.push(self.event(
                    "response.output_text.delta",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0,
                           "delta": text, "logprobs": []}),
                ));
            }
            for tc in choice.delta.tool_calls.iter().flatten() {
                // Same rule as the chat accumulator: a fragment naming another id is a
                // new call even when its index repeats.
                let pos = self.items.iter().rposition(|it| match it {
                    Item::Call(i, c) => {
                        *i == tc.index
                            && tc.id.as_ref().is_none_or(|id| id.is_empty() || *id == c.id)
                    }
                    Item::Text(_) => false,
                });
                let index = match pos {
                    Some(p) => p,
                    None => {
                        let index = self.items.len();
                        let call = ToolCall::function(
                            tc.id.clone().unwrap_or_default(),
                            tc.function
                                .as_ref()
                                .and_then(|f| f.name.clone())
                                .unwrap_or_default(),
                            "",
                        );
                        let item = self.echo.call_item(index, &call, "in_progress");
                        self.items.push(Item::Call(tc.index, Box::new(call)));
                        out.push(self.event(
                            "response.output_item.added",
                            json!({"output_index": index, "item": item}),
                        ));
                        index
                    }
                };
                let Some(Item::Call(_, call)) = self.items.get_mut(index) else {
                    continue;
                };
                if let Some(id) = tc.id.as_ref().filter(|id| !id.is_empty()) {
                    call.id.clone_from(id);
                }
                let mut delta = None;
                if let Some(f) = &tc.function {
                    if let Some(name) = f.name.as_ref().filter(|_| call.function.name.is_empty()) {
                        call.function.name.clone_from(name);
                    }
                    if let Some(args) = f.arguments.as_ref().filter(|a| !a.is_empty()) {
                        call.function.arguments.push_str(args);
                        delta = Some(args.clone());
                    }
                }
                if let Some(delta) = delta {
                    let item_id = self.echo.item_id("fc", index);
                    out.push(self.event(
                        "response.function_call_arguments.delta",
                        json!({"item_id": item_id, "output_index": index, "delta": delta}),
                    ));
                }
            }
            if let Some(f) = &choice.finish_reason {
                self.finish = Some(f.clone());
            }
        }
        out
    }

    /// The finished output items.
    fn output(&self, status: &str) -> Vec<Value> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Item::Text(t) => self.echo.message_item(i, t, status),
                Item::Call(_, c) => self.echo.call_item(i, c, status),
            })
            .collect()
    }

    /// The events that close the stream cleanly: every item done, then
    /// `response.completed` (or `response.incomplete`).
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.start(&mut out);
        if self.items.is_empty() {
            self.open_message(&mut out);
        }
        let status = status_of(self.finish.as_ref());
        let items = self.output(status);
        for (index, (it, item)) in self.items.clone().iter().zip(items.iter()).enumerate() {
            match it {
                Item::Text(t) => {
                    let item_id = self.echo.item_id("msg", index);
                    out.push(self.event(
                        "response.output_text.done",
                        json!({"item_id": item_id, "output_index": index, "content_index": 0,
                               "text": t, "logprobs": []}),
                    ));
                    out.push(self.event(
                        "response.content_part.done",
                        json!({"item_id": item_id, "output_index": index, "content_index": 0,
                               "part": output_text(t)}),
                    ));
                }
                Item::Call(_, c) => {
                    let item_id = self.echo.item_id("fc", index);
                    out.push(self.event(
                        "response.function_call_arguments.done",
                        json!({"item_id": item_id, "output_index": index,
                               "name": c.function.name, "arguments": c.function.arguments}),
                    ));
                }
            }
            out.push(self.event(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            ));
        }
        let response = self
            .echo
            .finished(items, self.finish.clone(), self.usage.as_ref());
        let kind = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        out.push(self.event(kind, json!({"response": response})));
        self.ended = true;
        self.result = Some(response);
        out
    }

    /// The events that end a broken stream: `error`, then `response.failed` with what
    /// was produced so far.
    pub fn fail(&mut self, code: &str, message: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.start(&mut out);
        out.push(self.event(
            "error",
            json!({"code": code, "message": message, "param": null}),
        ));
        let response = self.echo.failed(self.output("incomplete"), code, message);
        out.push(self.event("response.failed", json!({"response": response})));
        self.ended = true;
        self.result = Some(response);
        out
    }
}

/// One event as SSE bytes (`event:` line with its type, then `data:`).
pub fn encode(event: &Value) -> bytes::Bytes {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    crate::sse::encode_event(kind, &event.to_string())
}
