//! The Responses request (`POST /v1/responses`) and its translation to a Chat
//! Completions request, the gateway's hub format: every provider kind is then reached
//! the way `/v1/chat/completions` reaches it.
//!
//! What maps: `input` (a string, or items: messages with `input_text` / `output_text` /
//! `input_image` / `input_file` parts, `function_call` and `function_call_output`),
//! `instructions` (a leading system message), function `tools` and `tool_choice`,
//! `text.format` (`response_format`), `max_output_tokens` (`max_tokens`),
//! `temperature`, `top_p`, `parallel_tool_calls`, `user`, and `reasoning.effort`
//! (`reasoning_effort`). Hosted tools (web search, file search, ...) and item
//! references have no counterpart behind a chat upstream: they are a 400 naming the
//! field, never silently dropped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ProtocolError;
use crate::openai::{
    ChatRequest, ContentPart, FunctionDef, FunctionTool, JsonSchemaFormat, Message, MessageContent,
    ResponseFormat, Role, StreamOptions, Tool, ToolCall, ToolChoice, ToolChoiceMode,
};
use crate::serde_util::Extra;

/// A Responses request as the door receives it. `input`, `tools`, `tool_choice` and
/// `text` are kept as JSON: they are echoed back in the response object as sent, and
/// read field by field by [`ResponsesRequest::to_chat`] (which names the offending
/// field of a bad one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Whether the gateway keeps the response (OpenAI's default: `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResponsesRequest {
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the response is to be kept (`store`, default `true` as in OpenAI).
    pub fn wants_store(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// The conversation of this request's `input`, as chat messages (no
    /// `instructions`): what a stored response keeps for `previous_response_id`.
    pub fn input_messages(&self) -> Result<Vec<Message>, ProtocolError> {
        input_messages(&self.input)
    }

    /// The chat request the pipeline runs: `instructions` as a system message, then
    /// `history` (a stored conversation continued with `previous_response_id`), then
    /// this request's `input`. A stream always asks for the usage chunk: the
    /// Responses stream ends with the usage.
    pub fn to_chat(&self, history: Vec<Message>) -> Result<ChatRequest, ProtocolError> {
        if self.model.is_empty() {
            return Err(ProtocolError::new("model", "`model` is required"));
        }
        let mut messages = Vec::new();
        if let Some(i) = self.instructions.as_ref().filter(|i| !i.is_empty()) {
            messages.push(Message::system(i.clone()));
        }
        messages.extend(history);
        messages.extend(self.input_messages()?);
        if messages.is_empty() {
            return Err(ProtocolError::new(
                "input",
                "`input` is required: a string or a non-empty array of input items",
            ));
        }
        if self.max_output_tokens == Some(0) {
            return Err(ProtocolError::new(
                "max_output_tokens",
                "`max_output_tokens` must be at least 1",
            ));
        }
        let mut extra = Extra::new();
        if let Some(effort) = self.reasoning.as_ref().and_then(|r| r.get("effort")) {
            match effort {
                Value::String(_) => {
                    extra.insert("reasoning_effort".into(), effort.clone());
                }
                Value::Null => {}
                _ => {
                    return Err(ProtocolError::new(
                        "reasoning.effort",
                        "`reasoning.effort` must be a string",
                    ));
                }
            }
        }
        let stream = self.is_stream();
        Ok(ChatRequest {
            model: self.model.clone(),
            messages,
            stream: stream.then_some(true),
            stream_options: stream.then(|| StreamOptions {
                include_usage: Some(true),
                extra: Extra::new(),
            }),
            max_tokens: self.max_output_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            tools: self.chat_tools()?,
            tool_choice: self.chat_tool_choice()?,
            parallel_tool_calls: self.parallel_tool_calls.filter(|_| self.tools.is_some()),
            response_format: self.response_format()?,
            user: self.user.clone(),
            extra,
            ..ChatRequest::default()
        })
    }

    fn chat_tools(&self) -> Result<Option<Vec<Tool>>, ProtocolError> {
        let Some(tools) = &self.tools else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            let p = format!("tools[{i}]");
            let o = object(t, &p)?;
            match str_field(o, "type", &p)? {
                "function" => {}
                other => {
                    return Err(ProtocolError::new(
                        format!("{p}.type"),
                        format!(
                            "Tool type `{other}` is not supported by the gateway; only `function` tools are"
                        ),
                    ));
                }
            }
            let name = str_field(o, "name", &p)?;
            out.push(Tool::Function(FunctionTool {
                function: FunctionDef {
                    name: name.to_string(),
                    description: o
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    parameters: o.get("parameters").filter(|v| !v.is_null()).cloned(),
                    strict: o.get("strict").and_then(Value::as_bool),
                    extra: Extra::new(),
                },
                extra: Extra::new(),
            }));
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn chat_tool_choice(&self) -> Result<Option<ToolChoice>, ProtocolError> {
        let p = "tool_choice";
        match &self.tool_choice {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => match s.as_str() {
                "auto" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Auto))),
                "none" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::None))),
                "required" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Required))),
                other => Err(ProtocolError::new(
                    p,
                    format!("`tool_choice` must be `auto`, `none` or `required`, got `{other}`"),
                )),
            },
            Some(v) => {
                let o = object(v, p)?;
                match str_field(o, "type", p)? {
                    "function" => Ok(Some(ToolChoice::named(str_field(o, "name", p)?))),
                    other => Err(ProtocolError::new(
                        format!("{p}.type"),
                        format!("`tool_choice` of type `{other}` is not supported by the gateway"),
                    )),
                }
            }
        }
    }

    fn response_format(&self) -> Result<Option<ResponseFormat>, ProtocolError> {
        let Some(format) = self.text.as_ref().and_then(|t| t.get("format")) else {
            return Ok(None);
        };
        let p = "text.format";
        if format.is_null() {
            return Ok(None);
        }
        let o = object(format, p)?;
        Ok(match str_field(o, "type", p)? {
            "text" => None,
            "json_object" => Some(ResponseFormat::JsonObject),
            "json_schema" => Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: str_field(o, "name", p)?.to_string(),
                    description: o
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    schema: o.get("schema").filter(|v| !v.is_null()).cloned(),
                    strict: o.get("strict").and_then(Value::as_bool),
                    extra: Extra::new(),
                },
            }),
            other => {
                return Err(ProtocolError::new(
                    format!("{p}.type"),
                    format!(
                        "`text.format.type` must be `text`, `json_object` or `json_schema`, got `{other}`"
                    ),
                ));
            }
        })
    }
}

fn object<'a>(v: &'a Value, p: &str) -> Result<&'a Map<String, Value>, ProtocolError> {
    v.as_object()
        .ok_or_else(|| ProtocolError::new(p, format!("`{p}` must be an object")))
}

fn str_field<'a>(o: &'a Map<String, Value>, key: &str, p: &str) -> Result<&'a str, ProtocolError> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ProtocolError::new(
            format!("{p}.{key}"),
            format!("`{p}.{key}` is required"),
        )),
        Some(_) => Err(ProtocolError::new(
            format!("{p}.{key}"),
            format!("`{p}.{key}` must be a string"),
        )),
    }
}

/// `input` as chat messages: a string is one user message; items are read in order.
/// Consecutive `function_call` items join the assistant message before them (one
/// assistant turn with several tool calls, as chat upstreams expect).
fn input_messages(input: &Value) -> Result<Vec<Message>, ProtocolError> {
    let items = match input {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![Message::user(s.clone())]),
        Value::Array(items) => items,
        _ => {
            return Err(ProtocolError::new(
                "input",
                "`input` must be a string or an array of input items",
            ));
        }
    };
    let mut out: Vec<Message> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = format!("input[{i}]");
        let o = object(item, &p)?;
        let kind = match o.get("type") {
            None | Some(Value::Null) => "message",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(ProtocolError::new(
                    format!("{p}.type"),
                    format!("`{p}.type` must be a string"),
                ));
            }
        };
        match kind {
            "message" => out.push(message_item(o, &p)?),
            "function_call" => {
                let call = ToolCall::function(
                    str_field(o, "call_id", &p)?,
                    str_field(o, "name", &p)?,
                    match o.get("arguments") {
                        Some(Value::String(s)) => s.clone(),
                        None | Some(Value::Null) => String::new(),
                        Some(other) => other.to_string(),
                    },
                );
                match out.last_mut() {
                    Some(last) if last.role == Role::Assistant => {
                        last.tool_calls.get_or_insert_with(Vec::new).push(call);
                    }
                    _ => out.push(Message {
                        role: Role::Assistant,
                        content: None,
                        name: None,
                        tool_calls: Some(vec![call]),
                        tool_call_id: None,
                        extra: Extra::new(),
                    }),
                }
            }
            "function_call_output" => {
                let call_id = str_field(o, "call_id", &p)?;
                let output = match o.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|part| part.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(""),
                    _ => {
                        return Err(ProtocolError::new(
                            format!("{p}.output"),
                            format!("`{p}.output` must be a string"),
                        ));
                    }
                };
                out.push(Message::tool(call_id, output));
            }
            "reasoning" => {
                // Reasoning items of an earlier answer carry nothing a chat upstream reads.
            }
            other => {
                return Err(ProtocolError::new(
                    format!("{p}.type"),
                    format!("Input items of type `{other}` are not supported by the gateway"),
                ));
            }
        }
    }
    Ok(out)
}

fn message_item(o: &Map<String, Value>, p: &str) -> Result<Message, ProtocolError> {
    let role = match str_field(o, "role", p)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        "developer" => Role::Developer,
        other => {
            return Err(ProtocolError::new(
                format!("{p}.role"),
                format!(
                    "`{p}.role` must be `user`, `assistant`, `system` or `developer`, got `{other}`"
                ),
            ));
        }
    };
    let content = match o.get("content") {
        Some(Value::String(s)) => MessageContent::Text(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                out.push(content_part(part, &format!("{p}.content[{j}]"))?);
            }
            // A text-only content goes as a plain string: every upstream takes that
            // (an assistant turn with parts is not accepted everywhere).
            if out.iter().all(|c| matches!(c, ContentPart::Text(_))) {
                MessageContent::Text(MessageContent::Parts(out).joined_text())
            } else {
                MessageContent::Parts(out)
            }
        }
        _ => {
            return Err(ProtocolError::new(
                format!("{p}.content"),
                format!("`{p}.content` must be a string or an array of content parts"),
            ));
        }
    };
    Ok(Message {
        role,
        content: Some(content),
        name: None,
        tool_calls: None,
        tool_call_id: None,
        extra: Extra::new(),
    })
}

fn content_part(part: &Value, p: &str) -> Result<ContentPart, ProtocolError> {
    let o = object(part, p)?;
    match str_field(o, "type", p)? {
        "input_text" | "output_text" | "text" => Ok(ContentPart::text(str_text(o, p)?)),
        "refusal" => Ok(ContentPart::text(
            o.get("refusal").and_then(Value::as_str).unwrap_or_default(),
        )),
        "input_image" => {
            let Some(url) = o.get("image_url").and_then(Value::as_str) else {
                return Err(ProtocolError::new(
                    format!("{p}.image_url"),
                    "`input_image` needs an `image_url` (an http(s) or data: URL); uploaded `file_id`s are not supported by the gateway",
                ));
            };
            let mut c = ContentPart::image_url(url);
            if let (ContentPart::ImageUrl(img), Some(d)) =
                (&mut c, o.get("detail").and_then(Value::as_str))
            {
                img.image_url.detail = Some(d.to_string());
            }
            Ok(c)
        }
        "input_file" => {
            let Some(data) = o.get("file_data").and_then(Value::as_str) else {
                return Err(ProtocolError::new(
                    format!("{p}.file_data"),
                    "`input_file` needs `file_data` (a data: URL); uploaded `file_id`s and `file_url`s are not supported by the gateway",
                ));
            };
            let mut file = Map::new();
            file.insert("file_data".into(), Value::String(data.to_string()));
            if let Some(name) = o.get("filename").and_then(Value::as_str) {
                file.insert("filename".into(), Value::String(name.to_string()));
            }
            Ok(ContentPart::Other(serde_json::json!({
                "type": "file", "file": Value::Object(file),
            })))
        }
        other => Err(ProtocolError::new(
            format!("{p}.type"),
            format!("Content parts of type `{other}` are not supported by the gateway"),
        )),
    }
}

fn str_text<'a>(o: &'a Map<String, Value>, p: &str) -> Result<&'a str, ProtocolError> {
    match o.get("text") {
        Some(Value::String(s)) => Ok(s),
        _ => Err(ProtocolError::new(
            format!("{p}.text"),
            format!("`{p}.text` must be a string"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> ResponsesRequest {
        serde_json::from_value(v).expect("request")
    }

    #[test]
    fn string_input_and_instructions() {
        let r = req(
            json!({"model": "m", "input": "hi", "instructions": "be brief",
            "max_output_tokens": 20, "temperature": 0.5}),
        );
        let c = r.to_chat(Vec::new()).expect("chat");
        assert_eq!(c.messages.len(), 2);
        assert_eq!(c.messages[0].role, Role::System);
        assert_eq!(c.messages[1].text_content(), "hi");
        assert_eq!(c.max_tokens, Some(20));
        assert_eq!(c.temperature, Some(0.5));
        assert!(c.stream.is_none());
    }

    #[test]
    fn tool_round_trip_items() {
        let r = req(json!({"model": "m", "stream": true, "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "get", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": "rain"}
        ], "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
           "tool_choice": {"type": "function", "name": "get"},
           "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}));
        let c = r.to_chat(Vec::new()).expect("chat");
        assert_eq!(c.messages.len(), 4);
        assert_eq!(c.messages[1].tool_calls.as_ref().map(Vec::len), Some(2));
        assert_eq!(c.messages[2].tool_call_id.as_deref(), Some("c1"));
        assert!(c.include_usage());
        assert!(matches!(
            c.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert!(matches!(c.tool_choice, Some(ToolChoice::Named(_))));
    }

    #[test]
    fn refusals_name_the_field() {
        let e = req(json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}))
            .to_chat(Vec::new())
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = req(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}))
            .to_chat(Vec::new())
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].type"));
        let e = req(json!({"model": "m", "input": 5}))
            .to_chat(Vec::new())
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = req(json!({"model": "m"})).to_chat(Vec::new()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
    }
}
