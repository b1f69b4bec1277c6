//! Ollama `/api/chat` and `/api/embed` validation. Ollama decodes JSON into Go structs:
//! unknown fields are ignored, but a field of the wrong type, an unknown role, bad
//! base64 image data, non-object tool arguments or a bad `format` are 400s.

use super::{opt, valid_base64};
use crate::content::{Conversation, count_words};
use crate::errors::OllamaError;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, OllamaError>;

const ROLES: &[&str] = &["system", "user", "assistant", "tool"];

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    /// Ollama streams unless `stream: false`.
    pub stream: bool,
    pub conversation: Conversation,
}

fn go_type_error(field: &str, got: &Value, want: &str) -> OllamaError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    OllamaError::invalid(format!(
        "json: cannot unmarshal {kind} into Go struct field {field} of type {want}"
    ))
}

fn model(obj: &Map<String, Value>) -> Result<String> {
    match obj.get("model") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            Err(go_type_error("ChatRequest.model", v, "string"))
        }
        _ => Err(OllamaError::invalid("model is required")),
    }
}

pub fn chat(body: &Value) -> Result<ChatRequest> {
    let Some(obj) = body.as_object() else {
        return Err(go_type_error("", body, "api.ChatRequest"));
    };
    let model = model(obj)?;
    let messages = match obj.get("messages") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(v @ (Value::Object(_) | Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            return Err(go_type_error("ChatRequest.messages", v, "[]api.Message"));
        }
        _ => return Err(OllamaError::invalid("messages is required")),
    };
    let mut conv = Conversation::default();
    let mut words = 0u64;
    let mut roles: Vec<&str> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for m in messages {
        let Some(mo) = m.as_object() else {
            return Err(go_type_error("ChatRequest.messages", m, "api.Message"));
        };
        let role = match mo.get("role") {
            Some(Value::String(r)) => r.as_str(),
            Some(v) => return Err(go_type_error("ChatRequest.messages.role", v, "string")),
            None => "",
        };
        if !ROLES.contains(&role) {
            return Err(OllamaError::invalid(format!(
                "invalid role {role:?}: must be one of system, user, assistant, tool"
            )));
        }
        let content = match opt(mo, "content") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(go_type_error("ChatRequest.messages.content", v, "string")),
        };
        if let Some(imgs) = opt(mo, "images") {
            let Some(list) = imgs.as_array() else {
                return Err(go_type_error(
                    "ChatRequest.messages.images",
                    imgs,
                    "[]api.ImageData",
                ));
            };
            for (k, img) in list.iter().enumerate() {
                match img.as_str() {
                    Some(s) if valid_base64(s) => {}
                    _ => {
                        return Err(OllamaError::invalid(format!(
                            "illegal base64 data at input byte {k}"
                        )));
                    }
                }
            }
        }
        if let Some(calls) = opt(mo, "tool_calls") {
            let Some(list) = calls.as_array() else {
                return Err(go_type_error(
                    "ChatRequest.messages.tool_calls",
                    calls,
                    "[]api.ToolCall",
                ));
            };
            for c in list {
                let f = c.get("function").and_then(Value::as_object);
                let Some(f) = f else {
                    return Err(OllamaError::invalid("a tool call needs a function"));
                };
                if !f.get("name").is_some_and(Value::is_string) {
                    return Err(OllamaError::invalid("a tool call needs a function name"));
                }
                if let Some(a) = f.get("arguments")
                    && !a.is_object()
                {
                    return Err(go_type_error(
                        "ChatRequest.messages.tool_calls.function.arguments",
                        a,
                        "api.ToolCallFunctionArguments",
                    ));
                }
            }
        }
        words += count_words(&content);
        if role == "user" {
            conv.last_user_text = content.clone();
        }
        roles.push(role);
        texts.push(content);
    }
    let tools: Vec<String> = match opt(obj, "tools") {
        None => Vec::new(),
        Some(Value::Array(a)) => {
            let mut names = Vec::new();
            for t in a {
                let name = t.pointer("/function/name").and_then(Value::as_str);
                match (t.get("type").and_then(Value::as_str), name) {
                    (Some("function"), Some(n)) if !n.is_empty() => names.push(n.to_owned()),
                    _ => {
                        return Err(OllamaError::invalid(
                            "invalid tool: a function tool needs type \"function\" and function.name",
                        ));
                    }
                }
            }
            names
        }
        Some(v) => return Err(go_type_error("ChatRequest.tools", v, "api.Tools")),
    };
    let json_mode = match opt(obj, "format") {
        None => false,
        Some(Value::String(s)) if s == "json" => true,
        Some(Value::String(s)) if s.is_empty() => false,
        Some(Value::Object(_)) => true,
        Some(v) => {
            return Err(OllamaError::invalid(format!(
                "invalid format: {v}; expected \"json\" or a JSON schema"
            )));
        }
    };
    let options = match opt(obj, "options") {
        None => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(v) => {
            return Err(go_type_error(
                "ChatRequest.options",
                v,
                "map[string]interface {}",
            ));
        }
    };
    let stream = match opt(obj, "stream") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(go_type_error("ChatRequest.stream", v, "bool")),
    };
    let last = roles.last().copied().unwrap_or("user");
    if last == "tool" {
        let start = roles
            .iter()
            .rposition(|r| *r != "tool")
            .map_or(0, |i| i + 1);
        conv.tool_result = Some(texts[start..].join(" "));
    } else if last == "user" && !tools.is_empty() {
        conv.tool_call = tools.first().cloned();
    }
    conv.prompt_words = words;
    conv.max_tokens = options
        .get("num_predict")
        .and_then(Value::as_i64)
        .filter(|n| *n > 0)
        .and_then(|n| u64::try_from(n).ok());
    conv.stop = match options.get("stop") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    conv.json_mode = json_mode;
    Ok(ChatRequest {
        model,
        stream,
        conversation: conv,
    })
}

#[derive(Debug, Clone)]
pub struct EmbedRequest {
    pub model: String,
    pub texts: Vec<String>,
    pub dimensions: Option<usize>,
}

pub fn embed(body: &Value) -> Result<EmbedRequest> {
    let Some(obj) = body.as_object() else {
        return Err(go_type_error("", body, "api.EmbedRequest"));
    };
    let model = model(obj)?;
    let texts = match obj.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err(OllamaError::invalid("invalid input type")),
        None => Vec::new(),
    };
    if texts.is_empty() || texts.iter().any(String::is_empty) {
        return Err(OllamaError::invalid(
            "input is required and must not be empty",
        ));
    }
    let dimensions = match opt(obj, "dimensions") {
        None => None,
        Some(v) => match v.as_u64().and_then(|d| usize::try_from(d).ok()) {
            Some(d) if d >= 1 => Some(d),
            _ => return Err(go_type_error("EmbedRequest.dimensions", v, "int")),
        },
    };
    Ok(EmbedRequest {
        model,
        texts,
        dimensions,
    })
}
