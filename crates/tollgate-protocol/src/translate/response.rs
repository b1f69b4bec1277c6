//! Non-streamed answers, both directions. Responses cannot be refused (the upstream has
//! already answered and been paid), so whatever has no counterpart is dropped: thinking
//! and server-tool blocks of an Anthropic answer, `logprobs` of an OpenAI one.

use serde_json::{Map, Value};

use super::common::{
    ResponseHints, anthropic_usage_to_openai, finish_to_stop_reason, input_to_arguments,
    lenient_arguments, openai_usage_to_anthropic, stop_reason_to_finish,
};
use crate::anthropic::{ContentBlock, MessagesResponse, StopReason};
use crate::openai::{
    ChatResponse, Choice, ContentPart, FinishReason, Message, MessageContent, ToolCall,
    completion_object,
};

/// An OpenAI-format upstream's answer for the Anthropic door. A `refusal` becomes the
/// text with stop reason `refusal`; tool calls become `tool_use` blocks.
pub fn openai_response_to_anthropic(resp: &ChatResponse) -> MessagesResponse {
    let mut out = MessagesResponse::new(resp.id.clone(), resp.model.clone());
    let choice = resp
        .choices
        .iter()
        .find(|c| c.index == 0)
        .or(resp.choices.first());
    let mut refused = false;
    if let Some(choice) = choice {
        let m = &choice.message;
        if let Some(refusal) = m.extra.get("refusal").and_then(Value::as_str)
            && !refusal.is_empty()
        {
            refused = true;
            out.content.push(ContentBlock::text(refusal));
        }
        let text = match &m.content {
            None => String::new(),
            Some(MessageContent::Text(s)) => s.clone(),
            Some(MessageContent::Parts(parts)) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect(),
        };
        if !text.is_empty() {
            out.content.push(ContentBlock::text(text));
        }
        for call in m.tool_calls.iter().flatten() {
            out.content.push(ContentBlock::tool_use(
                call.id.clone(),
                call.function.name.clone(),
                lenient_arguments(&call.function.arguments),
            ));
        }
        out.stop_reason = Some(match &choice.finish_reason {
            _ if refused => StopReason::Refusal,
            Some(f) => finish_to_stop_reason(f),
            None => StopReason::EndTurn,
        });
    } else {
        out.stop_reason = Some(StopReason::EndTurn);
    }
    if let Some(usage) = &resp.usage {
        out.usage = openai_usage_to_anthropic(usage);
    }
    out
}

/// An Anthropic answer for the OpenAI door. Text blocks are joined (Anthropic splits text
/// at citations, without separator); a call of `hints.json_tool` is the answer of a
/// `json_schema` request and becomes the text, with finish reason `stop`.
pub fn anthropic_response_to_openai(
    resp: &MessagesResponse,
    hints: &ResponseHints,
) -> ChatResponse {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in &resp.content {
        match block {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolUse(t) if hints.json_tool.as_deref() == Some(t.name.as_str()) => {
                text.push_str(&input_to_arguments(&t.input));
            }
            ContentBlock::ToolUse(t) => calls.push(ToolCall::function(
                t.id.clone(),
                t.name.clone(),
                input_to_arguments(&t.input),
            )),
            _ => {}
        }
    }
    let finish_reason = resp.stop_reason.as_ref().map(|r| match r {
        StopReason::ToolUse if calls.is_empty() => FinishReason::Stop,
        other => stop_reason_to_finish(other),
    });
    let content = (!text.is_empty() || calls.is_empty()).then_some(MessageContent::Text(text));
    ChatResponse {
        id: resp.id.clone(),
        object: completion_object(),
        created: hints.created,
        model: resp.model.clone(),
        choices: vec![Choice {
            index: 0,
            message: Message {
                content,
                tool_calls: (!calls.is_empty()).then_some(calls),
                ..Message::assistant("")
            },
            finish_reason: Some(finish_reason.unwrap_or(FinishReason::Stop)),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: Some(anthropic_usage_to_openai(&resp.usage)),
        system_fingerprint: None,
        extra: Map::new(),
    }
}
