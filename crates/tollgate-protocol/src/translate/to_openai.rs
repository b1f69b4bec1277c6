//! Anthropic door → OpenAI-format provider: `MessagesRequest` → `ChatRequest`.
//!
//! Refused with [`TranslateError::Unsupported`]: server and versioned tools
//! (`web_search_...`, `bash_...`, ...), `mcp_servers`, `container`, content blocks other
//! than text, images, tool use/results and thinking (documents, search results, server
//! tool blocks...), images inside tool results or assistant messages, and image sources
//! other than base64 and URL.
//!
//! Dropped as harmless: `top_k` (OpenAI has none and rejects unknown fields), `thinking`
//! and thinking blocks of earlier turns (the answer comes without reasoning blocks),
//! `service_tier`, `cache_control` markers, `metadata` other than `user_id`, and any
//! other unknown field. A tool result with `is_error: true` has its text prefixed with
//! `Error: `, since OpenAI tool messages have no error flag.

use serde_json::{Map, Value};

use super::common::{input_to_arguments, source_to_image_url};
use crate::anthropic::{
    Content, ContentBlock, MessagesRequest, Role as ARole, System, Tool as ATool, ToolChoiceKind,
    ToolResultBlock,
};
use crate::error::TranslateError;
use crate::openai::{
    ChatRequest, ContentPart, JsonSchemaFormat, Message, MessageContent, ResponseFormat, Role,
    Stop, StreamOptions, Tool, ToolCall, ToolChoice, ToolChoiceMode,
};
use crate::serde_util::type_name;

type Result<T> = std::result::Result<T, TranslateError>;

/// Translates a Messages request for an OpenAI-format upstream. The system prompt becomes
/// the first message; each user message's `tool_result` blocks become `tool` messages
/// (ahead of the rest of that user message); a stream asks for usage
/// (`stream_options.include_usage`), which metering and `message_delta` need.
/// `max_tokens` is sent as `max_tokens`, which every OpenAI-compatible server knows.
pub fn anthropic_request_to_openai(req: &MessagesRequest) -> Result<ChatRequest> {
    reject_unsupported(req)?;
    let mut messages = Vec::new();
    if let Some(system) = &req.system {
        let text = system_text(system)?;
        if !text.is_empty() {
            messages.push(Message::system(text));
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        match &m.role {
            ARole::User => user_messages(&m.content, i, &mut messages)?,
            ARole::Assistant => messages.push(assistant_message(&m.content, i)?),
            ARole::Other(r) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?}"),
                ));
            }
        }
    }

    let tools = tools(req)?;
    let has_tools = !tools.is_empty();
    let (tool_choice, parallel_tool_calls) = match (&req.tool_choice, has_tools) {
        (Some(c), true) => {
            let choice = match &c.kind {
                ToolChoiceKind::Auto => ToolChoice::Mode(ToolChoiceMode::Auto),
                ToolChoiceKind::Any => ToolChoice::Mode(ToolChoiceMode::Required),
                ToolChoiceKind::None => ToolChoice::Mode(ToolChoiceMode::None),
                ToolChoiceKind::Tool => match &c.name {
                    Some(name) => ToolChoice::named(name.clone()),
                    None => {
                        return Err(TranslateError::invalid(
                            "tool_choice.name",
                            "`tool_choice` of type tool needs a `name`",
                        ));
                    }
                },
                ToolChoiceKind::Other(k) => {
                    return Err(TranslateError::invalid(
                        "tool_choice.type",
                        format!("unknown tool_choice type {k:?}"),
                    ));
                }
            };
            let parallel = (c.disable_parallel_tool_use == Some(true)).then_some(false);
            (Some(choice), parallel)
        }
        _ => (None, None),
    };

    let stop = req.stop_sequences.clone().filter(|s| !s.is_empty());
    Ok(ChatRequest {
        model: req.model.clone(),
        messages,
        stream: req.stream,
        stream_options: req.is_stream().then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: stop.map(Stop::Many),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls,
        response_format: output_format(req)?,
        user: req.metadata.as_ref().and_then(|m| m.user_id.clone()),
        ..ChatRequest::default()
    })
}

fn reject_unsupported(req: &MessagesRequest) -> Result<()> {
    for key in ["mcp_servers", "container"] {
        if req.extra.get(key).is_some_and(|v| !v.is_null()) {
            return Err(TranslateError::unsupported(
                key,
                format!("`{key}` has no counterpart on OpenAI-format models"),
            ));
        }
    }
    Ok(())
}

/// Anthropic's structured-output `output_format: {type: "json_schema", schema}` is
/// OpenAI's `response_format` json_schema.
fn output_format(req: &MessagesRequest) -> Result<Option<ResponseFormat>> {
    let Some(format) = req.extra.get("output_format").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match (
        format.get("type").and_then(Value::as_str),
        format.get("schema"),
    ) {
        (Some("json_schema"), Some(schema)) if schema.is_object() => {
            Ok(Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: "response".to_owned(),
                    description: None,
                    schema: Some(schema.clone()),
                    strict: Some(true),
                    extra: Map::new(),
                },
            }))
        }
        _ => Err(TranslateError::unsupported(
            "output_format",
            "only `output_format` of type json_schema with an object schema is supported",
        )),
    }
}

fn system_text(system: &System) -> Result<String> {
    match system {
        System::Text(s) => Ok(s.clone()),
        System::Blocks(blocks) => {
            let mut texts = Vec::new();
            for (j, b) in blocks.iter().enumerate() {
                match b {
                    ContentBlock::Text(t) if t.text.is_empty() => {}
                    ContentBlock::Text(t) => texts.push(t.text.as_str()),
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("system[{j}]"),
                            "the system prompt may contain text blocks only",
                        ));
                    }
                }
            }
            Ok(texts.join("\n\n"))
        }
    }
}

fn is_thinking(v: &Value) -> bool {
    matches!(type_name(v), "thinking" | "redacted_thinking")
}

fn unsupported_block(param: String, v: &Value) -> TranslateError {
    TranslateError::unsupported(
        param,
        format!(
            "content block type `{}` has no counterpart on OpenAI-format models",
            type_name(v)
        ),
    )
}

fn user_messages(content: &Content, i: usize, out: &mut Vec<Message>) -> Result<()> {
    let blocks = match content {
        Content::Text(s) => {
            out.push(Message::user(s.clone()));
            return Ok(());
        }
        Content::Blocks(b) => b,
    };
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let param = format!("messages[{i}].content[{j}]");
        match block {
            ContentBlock::ToolResult(r) => out.push(tool_message(r, &param)?),
            ContentBlock::Text(t) => parts.push(ContentPart::text(t.text.clone())),
            ContentBlock::Image(img) => {
                let url = source_to_image_url(&img.source).ok_or_else(|| {
                    TranslateError::unsupported(
                        format!("{param}.source"),
                        "only base64 and url image sources can be sent to OpenAI-format models",
                    )
                })?;
                parts.push(ContentPart::image_url(url));
            }
            ContentBlock::Other(v) if is_thinking(v) => {}
            ContentBlock::ToolUse(_) => {
                return Err(TranslateError::invalid(
                    param,
                    "tool_use blocks are only allowed in assistant messages",
                ));
            }
            ContentBlock::Other(v) => return Err(unsupported_block(param, v)),
        }
    }
    if !parts.is_empty() {
        out.push(Message {
            content: Some(simplify(parts)),
            ..Message::user("")
        });
    }
    Ok(())
}

/// One text part is sent as a plain string, which every OpenAI-compatible server accepts.
fn simplify(mut parts: Vec<ContentPart>) -> MessageContent {
    match parts.as_mut_slice() {
        [ContentPart::Text(t)] => MessageContent::Text(std::mem::take(&mut t.text)),
        _ => MessageContent::Parts(parts),
    }
}

fn tool_message(r: &ToolResultBlock, param: &str) -> Result<Message> {
    let mut parts = Vec::new();
    match &r.content {
        None => {}
        Some(Content::Text(s)) => parts.push(ContentPart::text(s.clone())),
        Some(Content::Blocks(blocks)) => {
            for (k, b) in blocks.iter().enumerate() {
                match b {
                    ContentBlock::Text(t) => parts.push(ContentPart::text(t.text.clone())),
                    ContentBlock::Image(_) => {
                        return Err(TranslateError::unsupported(
                            format!("{param}.content[{k}]"),
                            "OpenAI-format tool messages cannot carry images",
                        ));
                    }
                    ContentBlock::Other(v) => {
                        return Err(unsupported_block(format!("{param}.content[{k}]"), v));
                    }
                    _ => {
                        return Err(TranslateError::invalid(
                            format!("{param}.content[{k}]"),
                            "a tool result may contain text and images only",
                        ));
                    }
                }
            }
        }
    }
    if r.is_error == Some(true) {
        match parts.first_mut() {
            Some(ContentPart::Text(t)) => t.text.insert_str(0, "Error: "),
            _ => parts.insert(0, ContentPart::text("Error")),
        }
    }
    let content = match parts.len() {
        0 => MessageContent::Text(String::new()),
        _ => simplify(parts),
    };
    Ok(Message {
        content: Some(content),
        ..Message::tool(r.tool_use_id.clone(), "")
    })
}

fn assistant_message(content: &Content, i: usize) -> Result<Message> {
    let blocks = match content {
        Content::Text(s) => return Ok(Message::assistant(s.clone())),
        Content::Blocks(b) => b,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        match block {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolUse(t) => calls.push(ToolCall::function(
                t.id.clone(),
                t.name.clone(),
                input_to_arguments(&t.input),
            )),
            ContentBlock::Other(v) if is_thinking(v) => {}
            ContentBlock::Other(v) => {
                return Err(unsupported_block(format!("messages[{i}].content[{j}]"), v));
            }
            ContentBlock::Image(_) | ContentBlock::ToolResult(_) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].content[{j}]"),
                    "assistant messages may contain text and tool_use blocks only",
                ));
            }
        }
    }
    let content = (!text.is_empty() || calls.is_empty()).then_some(MessageContent::Text(text));
    Ok(Message {
        role: Role::Assistant,
        content,
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..Message::assistant("")
    })
}

fn tools(req: &MessagesRequest) -> Result<Vec<Tool>> {
    let mut out = Vec::new();
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        match tool {
            ATool::Custom(t) => out.push(Tool::function(
                t.name.clone(),
                t.description.clone(),
                Some(t.input_schema.clone()),
            )),
            ATool::Other(v) => {
                return Err(TranslateError::unsupported(
                    format!("tools[{i}]"),
                    format!(
                        "tool type `{}` is an Anthropic server tool with no counterpart on OpenAI-format models",
                        type_name(v)
                    ),
                ));
            }
        }
    }
    Ok(out)
}
