//! OpenAI door → Anthropic provider: `ChatRequest` → `MessagesRequest`.
//!
//! Refused with [`TranslateError::Unsupported`] because dropping them would change the
//! answer: `n` > 1, `logprobs`/`top_logprobs`, `modalities` other than text, `audio`,
//! a non-empty `logit_bias`, legacy `functions`/`function_call`, `web_search_options`,
//! non-function tools, content parts other than text and images, images in system
//! messages, and a `json_schema` whose root is not an object.
//!
//! Dropped as harmless (no Anthropic counterpart, the answer stays an answer to the same
//! question): `seed`, `presence_penalty`, `frequency_penalty`, `service_tier`, `store`,
//! `metadata`, `reasoning_effort`, `verbosity`, `prediction`, `prompt_cache_key`,
//! `safety_identifier`, `stream_options` (Anthropic always reports usage), message
//! `name`, image `detail`, function `strict`, `top_p: 1` (the default, which newer Claude
//! models refuse alongside `temperature`), and any other unknown field.

use serde_json::{Map, Value, json};

use super::common::JSON_OBJECT_INSTRUCTION;
use super::common::image_url_to_source;
use crate::anthropic::{
    self, Content, ContentBlock, ImageBlock, MessagesRequest, Metadata, Role as ARole, System,
    ToolChoice as AToolChoice, ToolChoiceKind,
};
use crate::error::TranslateError;
use crate::openai::{
    ChatRequest, ContentPart, Message, MessageContent, ResponseFormat, Role, Tool, ToolChoice,
    ToolChoiceMode,
};

type Result<T> = std::result::Result<T, TranslateError>;

/// Translates a chat request for an Anthropic upstream. `max_tokens` comes from
/// `max_completion_tokens`, else `max_tokens`, else `default_max_tokens` (Anthropic
/// requires one). System and developer messages become the top-level `system`; tool
/// messages become `tool_result` blocks of a user message; same-role neighbours merge.
pub fn openai_request_to_anthropic(
    req: &ChatRequest,
    default_max_tokens: u32,
) -> Result<MessagesRequest> {
    super::native::reject_unsupported(req, "Anthropic")?;
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<anthropic::Message> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        match &m.role {
            Role::System | Role::Developer => {
                let text = system_text(m, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            Role::User => push_merged(&mut messages, ARole::User, user_blocks(m, i)?),
            Role::Assistant => {
                push_merged(&mut messages, ARole::Assistant, assistant_blocks(m, i)?);
            }
            Role::Tool => push_merged(&mut messages, ARole::User, vec![tool_result(m, i)?]),
            Role::Other(r) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?}"),
                ));
            }
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::invalid(
            "messages",
            "Anthropic needs at least one user or assistant message with content",
        ));
    }

    let mut tools = function_tools(req)?;
    let mut tool_choice = tool_choice(req)?;
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => system.push(JSON_OBJECT_INSTRUCTION.to_owned()),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = object_schema(json_schema.schema.clone()).ok_or_else(|| {
                TranslateError::unsupported(
                    "response_format.json_schema.schema",
                    "Anthropic can only enforce a JSON schema whose root is an object",
                )
            })?;
            if tools
                .iter()
                .any(|t| matches!(t, anthropic::Tool::Custom(c) if c.name == json_schema.name))
            {
                return Err(TranslateError::invalid(
                    "response_format.json_schema.name",
                    "the schema name is also the name of a tool; rename one of them",
                ));
            }
            let description = json_schema.description.clone().unwrap_or_else(|| {
                "Give the final answer by calling this tool; its input is the answer.".to_owned()
            });
            let user_tools = !tools.is_empty();
            tools.push(anthropic::Tool::custom(
                json_schema.name.clone(),
                Some(description),
                schema,
            ));
            // Alone, the schema tool is forced. Next to the client's tools the model must
            // still be free to call those first, but must end with some tool call.
            tool_choice = Some(match tool_choice {
                Some(c) if c.kind == ToolChoiceKind::Tool => c,
                Some(c) if user_tools && c.kind != ToolChoiceKind::None => AToolChoice {
                    kind: ToolChoiceKind::Any,
                    ..c
                },
                Some(c) => AToolChoice {
                    name: Some(json_schema.name.clone()),
                    kind: ToolChoiceKind::Tool,
                    ..c
                },
                None if user_tools => AToolChoice::new(ToolChoiceKind::Any),
                None => AToolChoice::tool(json_schema.name.clone()),
            });
        }
        Some(ResponseFormat::Other(v)) => {
            return Err(TranslateError::unsupported(
                "response_format",
                format!(
                    "response_format of type `{}` has no Anthropic counterpart",
                    crate::serde_util::type_name(v)
                ),
            ));
        }
    }
    if tools.is_empty() {
        tool_choice = None;
    } else if req.parallel_tool_calls == Some(false) {
        let mut c = tool_choice.unwrap_or_else(|| AToolChoice::new(ToolChoiceKind::Auto));
        if c.kind != ToolChoiceKind::None {
            c.disable_parallel_tool_use = Some(true);
        }
        tool_choice = Some(c);
    }

    let stop: Vec<String> = req
        .stop
        .as_ref()
        .map(|s| s.to_vec().into_iter().filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();

    Ok(MessagesRequest {
        model: req.model.clone(),
        max_tokens: Some(req.max_output_tokens().unwrap_or(default_max_tokens)),
        messages,
        system: (!system.is_empty()).then(|| System::Text(system.join("\n\n"))),
        stop_sequences: (!stop.is_empty()).then_some(stop),
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p.filter(|p| *p < 1.0),
        top_k: None,
        stream: req.stream,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        metadata: req.user.as_ref().map(|u| Metadata {
            user_id: Some(u.clone()),
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
}

/// Appends blocks as a message, or to the previous message when it has the same role
/// (Anthropic wants user and assistant to alternate). Tool results stay ahead of other
/// blocks of a user message, where Anthropic requires them.
fn push_merged(messages: &mut Vec<anthropic::Message>, role: ARole, blocks: Vec<ContentBlock>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut().filter(|m| m.role == role) {
        let mut existing = last.content.to_blocks();
        for block in blocks {
            if matches!(block, ContentBlock::ToolResult(_)) {
                let at = existing
                    .iter()
                    .position(|b| !matches!(b, ContentBlock::ToolResult(_)))
                    .unwrap_or(existing.len());
                existing.insert(at, block);
            } else {
                existing.push(block);
            }
        }
        last.content = Content::Blocks(existing);
        return;
    }
    messages.push(anthropic::Message::new(role, blocks));
}

fn system_text(m: &Message, i: usize) -> Result<String> {
    match &m.content {
        None => Ok(String::new()),
        Some(MessageContent::Text(s)) => Ok(s.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => text.push_str(&t.text),
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("messages[{i}].content[{j}]"),
                            "Anthropic system prompts accept text only",
                        ));
                    }
                }
            }
            Ok(text)
        }
    }
}

/// A text block, or nothing for empty text (Anthropic rejects empty text blocks).
/// `cache_control` on an OpenAI text part is honoured, as OpenRouter and LiteLLM do.
fn text_block(text: &str, part_extra: Option<&Map<String, Value>>) -> Option<ContentBlock> {
    if text.is_empty() {
        return None;
    }
    let mut block = anthropic::TextBlock {
        text: text.to_owned(),
        extra: Map::new(),
    };
    if let Some(cc) = part_extra.and_then(|e| e.get("cache_control")) {
        block.extra.insert("cache_control".to_owned(), cc.clone());
    }
    Some(ContentBlock::Text(block))
}

fn parts_to_blocks(parts: &[ContentPart], param: &str) -> Result<Vec<ContentBlock>> {
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part {
            ContentPart::Text(t) => blocks.extend(text_block(&t.text, Some(&t.extra))),
            ContentPart::ImageUrl(p) => {
                let source = image_url_to_source(&p.image_url.url).ok_or_else(|| {
                    TranslateError::invalid(
                        format!("{param}[{j}].image_url.url"),
                        "an image URL must be http(s) or a base64 data URL (data:<media type>;base64,<data>)",
                    )
                })?;
                blocks.push(ContentBlock::Image(ImageBlock {
                    source,
                    extra: Map::new(),
                }));
            }
            ContentPart::Other(v) => {
                return Err(TranslateError::unsupported(
                    format!("{param}[{j}]"),
                    format!(
                        "content part type `{}` has no Anthropic counterpart",
                        crate::serde_util::type_name(v)
                    ),
                ));
            }
        }
    }
    Ok(blocks)
}

fn user_blocks(m: &Message, i: usize) -> Result<Vec<ContentBlock>> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(s)) => Ok(text_block(s, None).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            parts_to_blocks(parts, &format!("messages[{i}].content"))
        }
    }
}

fn assistant_blocks(m: &Message, i: usize) -> Result<Vec<ContentBlock>> {
    let mut blocks = Vec::new();
    match &m.content {
        None => {}
        Some(MessageContent::Text(s)) => blocks.extend(text_block(s, None)),
        Some(MessageContent::Parts(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => blocks.extend(text_block(&t.text, Some(&t.extra))),
                    // A refusal in the history is what the assistant said.
                    ContentPart::Other(v) if v.get("type") == Some(&json!("refusal")) => {
                        let text = v.get("refusal").and_then(Value::as_str).unwrap_or("");
                        blocks.extend(text_block(text, None));
                    }
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("messages[{i}].content[{j}]"),
                            "Anthropic assistant messages accept text and tool calls only",
                        ));
                    }
                }
            }
        }
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let param = format!("messages[{i}].tool_calls[{j}].function.arguments");
        let input = parse_arguments(&call.function.arguments, &param)?;
        blocks.push(ContentBlock::tool_use(
            call.id.clone(),
            call.function.name.clone(),
            input,
        ));
    }
    Ok(blocks)
}

/// OpenAI arguments (a JSON string) as an Anthropic `input` (a JSON object). Empty
/// arguments, which some clients send for parameterless tools, mean `{}`.
fn parse_arguments(arguments: &str, param: &str) -> Result<Value> {
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

fn tool_result(m: &Message, i: usize) -> Result<ContentBlock> {
    let id = m
        .tool_call_id
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            TranslateError::invalid(
                format!("messages[{i}].tool_call_id"),
                "a tool message needs the `tool_call_id` of the call it answers",
            )
        })?;
    let content = match &m.content {
        None => None,
        Some(MessageContent::Text(s)) => (!s.is_empty()).then(|| Content::Text(s.clone())),
        Some(MessageContent::Parts(parts)) => {
            let blocks = parts_to_blocks(parts, &format!("messages[{i}].content"))?;
            (!blocks.is_empty()).then_some(Content::Blocks(blocks))
        }
    };
    Ok(ContentBlock::tool_result(id, content))
}

fn function_tools(req: &ChatRequest) -> Result<Vec<anthropic::Tool>> {
    let mut out = Vec::new();
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        match tool {
            Tool::Function(f) => {
                let schema = object_schema(f.function.parameters.clone()).ok_or_else(|| {
                    TranslateError::unsupported(
                        format!("tools[{i}].function.parameters"),
                        "Anthropic tools need an object schema for their parameters",
                    )
                })?;
                out.push(anthropic::Tool::custom(
                    f.function.name.clone(),
                    f.function.description.clone(),
                    schema,
                ));
            }
            Tool::Other(v) => {
                return Err(TranslateError::unsupported(
                    format!("tools[{i}]"),
                    format!(
                        "tool type `{}` has no Anthropic counterpart",
                        crate::serde_util::type_name(v)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// A JSON schema usable as an Anthropic `input_schema` (which must describe an object):
/// absent or `{}` becomes an empty object schema, a schema without `type` gets
/// `"type": "object"`, a non-object schema gives `None`.
fn object_schema(schema: Option<Value>) -> Option<Value> {
    match schema {
        None => Some(json!({"type": "object", "properties": {}})),
        Some(Value::Object(mut o)) => match o.get("type") {
            None => {
                o.insert("type".to_owned(), json!("object"));
                Some(Value::Object(o))
            }
            Some(t) if t == "object" => Some(Value::Object(o)),
            Some(_) => None,
        },
        Some(_) => None,
    }
}

fn tool_choice(req: &ChatRequest) -> Result<Option<AToolChoice>> {
    Ok(match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => {
            Some(AToolChoice::new(ToolChoiceKind::Auto))
        }
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => {
            Some(AToolChoice::new(ToolChoiceKind::None))
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => {
            Some(AToolChoice::new(ToolChoiceKind::Any))
        }
        Some(ToolChoice::Named(n)) => Some(AToolChoice::tool(n.function.name.clone())),
        Some(ToolChoice::Mode(ToolChoiceMode::Other(s))) => {
            return Err(TranslateError::invalid(
                "tool_choice",
                format!("unknown tool_choice {s:?}"),
            ));
        }
        Some(ToolChoice::Other(_)) => {
            return Err(TranslateError::unsupported(
                "tool_choice",
                "this form of tool_choice has no Anthropic counterpart",
            ));
        }
    })
}
