//! `POST /v1/messages` validation, with Anthropic's `path: message` errors.

use super::{opt, valid_base64, valid_tool_name};
use crate::content::{Conversation, count_words};
use crate::errors::AnthropicError;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, AnthropicError>;

const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
];

const MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "search_result",
];

/// A validated messages request.
#[derive(Debug, Clone)]
pub struct MessagesRequest {
    pub model: String,
    pub stream: bool,
    pub conversation: Conversation,
}

fn err(path: &str, msg: &str) -> AnthropicError {
    AnthropicError::invalid(format!("{path}: {msg}"))
}

fn extra(path: &str) -> AnthropicError {
    err(path, "Extra inputs are not permitted")
}

fn required(path: &str) -> AnthropicError {
    err(path, "Field required")
}

fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(extra(&format!("{path}.{k}"))),
        None => Ok(()),
    }
}

fn get_str<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str> {
    match obj.get(key) {
        None => Err(required(path)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(err(path, "Input should be a valid string")),
    }
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| err(path, "Input should be a valid dictionary"))
}

fn non_empty_content() -> AnthropicError {
    AnthropicError::invalid(
        "messages: all messages must have non-empty content except for the optional final assistant message",
    )
}

fn opt_number(obj: &Map<String, Value>, key: &str, min: f64, max: f64) -> Result<()> {
    let Some(v) = opt(obj, key) else {
        return Ok(());
    };
    let Some(x) = v.as_f64() else {
        return Err(err(key, "Input should be a valid number"));
    };
    if x < min {
        return Err(err(
            key,
            &format!("Input should be greater than or equal to {min}"),
        ));
    }
    if x > max {
        return Err(err(
            key,
            &format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn text_of_block(path: &str, bo: &Map<String, Value>) -> Result<String> {
    check_keys(bo, path, &["type", "text", "cache_control", "citations"])?;
    let text = get_str(bo, "text", &format!("{path}.text"))?;
    if text.is_empty() {
        return Err(AnthropicError::invalid(
            "messages: text content blocks must be non-empty",
        ));
    }
    if text.trim().is_empty() {
        return Err(AnthropicError::invalid(
            "messages: text content blocks must contain non-whitespace text",
        ));
    }
    Ok(text.to_string())
}

fn image_block(path: &str, bo: &Map<String, Value>) -> Result<()> {
    check_keys(bo, path, &["type", "source", "cache_control"])?;
    let sp = format!("{path}.source");
    let so = as_object(bo.get("source").ok_or_else(|| required(&sp))?, &sp)?;
    let ty = get_str(so, "type", &format!("{sp}.type"))?;
    match ty {
        "base64" => {
            let p = format!("{sp}.base64");
            check_keys(so, &p, &["type", "media_type", "data"])?;
            let mt = get_str(so, "media_type", &format!("{p}.media_type"))?;
            if !MEDIA_TYPES.contains(&mt) {
                return Err(err(
                    &format!("{p}.media_type"),
                    "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
                ));
            }
            let data = get_str(so, "data", &format!("{p}.data"))?;
            if !valid_base64(data) {
                return Err(err(&format!("{p}.data"), "Invalid base64 data"));
            }
        }
        "url" => {
            let p = format!("{sp}.url");
            check_keys(so, &p, &["type", "url"])?;
            let url = get_str(so, "url", &format!("{p}.url"))?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(err(&format!("{p}.url"), "Input should be a valid URL"));
            }
        }
        "file" => {
            let p = format!("{sp}.file");
            check_keys(so, &p, &["type", "file_id"])?;
            get_str(so, "file_id", &format!("{p}.file_id"))?;
        }
        other => {
            return Err(err(
                &sp,
                &format!(
                    "Input tag '{other}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"
                ),
            ));
        }
    }
    Ok(())
}

/// A `tool_result` block; returns (tool_use_id, text).
fn tool_result_block(path: &str, bo: &Map<String, Value>) -> Result<(String, String)> {
    check_keys(
        bo,
        path,
        &[
            "type",
            "tool_use_id",
            "content",
            "is_error",
            "cache_control",
        ],
    )?;
    let id = get_str(bo, "tool_use_id", &format!("{path}.tool_use_id"))?;
    if let Some(v) = opt(bo, "is_error")
        && !v.is_boolean()
    {
        return Err(err(
            &format!("{path}.is_error"),
            "Input should be a valid boolean",
        ));
    }
    let cp = format!("{path}.content");
    let text = match opt(bo, "content") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            for (k, b) in blocks.iter().enumerate() {
                let bp = format!("{cp}.{k}");
                let bo = as_object(b, &bp)?;
                let ty = get_str(bo, "type", &format!("{bp}.type"))?;
                match ty {
                    "text" => texts.push(text_of_block(&format!("{bp}.text"), bo)?),
                    "image" => image_block(&format!("{bp}.image"), bo)?,
                    "document" | "search_result" => {}
                    other => {
                        return Err(err(
                            &bp,
                            &format!(
                                "Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', 'image', 'search_result', 'document'"
                            ),
                        ));
                    }
                }
            }
            texts.join(" ")
        }
        Some(_) => return Err(err(&cp, "Input should be a valid list")),
    };
    Ok((id.to_string(), text))
}

#[derive(Default)]
struct MessageInfo {
    text: String,
    tool_use_ids: Vec<String>,
    tool_results: Vec<(String, String)>,
}

fn message_content(i: usize, role: &str, content: &Value, is_last: bool) -> Result<MessageInfo> {
    let path = format!("messages.{i}.content");
    let final_assistant = is_last && role == "assistant";
    let blocks = match content {
        Value::String(s) => {
            if s.is_empty() && !final_assistant {
                return Err(non_empty_content());
            }
            if final_assistant && s.ends_with(char::is_whitespace) {
                return Err(AnthropicError::invalid(
                    "messages: final assistant content cannot end with trailing whitespace",
                ));
            }
            return Ok(MessageInfo {
                text: s.clone(),
                ..MessageInfo::default()
            });
        }
        Value::Array(a) => a,
        _ => return Err(err(&path, "Input should be a valid list")),
    };
    if blocks.is_empty() && !final_assistant {
        return Err(non_empty_content());
    }
    let mut info = MessageInfo::default();
    let mut texts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let bp = format!("{path}.{j}");
        let bo = as_object(b, &bp)?;
        let ty = get_str(bo, "type", &format!("{bp}.type"))?;
        match ty {
            "text" => {
                let t = text_of_block(&format!("{bp}.text"), bo)?;
                if final_assistant && j + 1 == blocks.len() && t.ends_with(char::is_whitespace) {
                    return Err(AnthropicError::invalid(
                        "messages: final assistant content cannot end with trailing whitespace",
                    ));
                }
                texts.push(t);
            }
            "image" => image_block(&format!("{bp}.image"), bo)?,
            "document" => {
                let p = format!("{bp}.document");
                check_keys(
                    bo,
                    &p,
                    &[
                        "type",
                        "source",
                        "title",
                        "context",
                        "citations",
                        "cache_control",
                    ],
                )?;
                as_object(
                    bo.get("source")
                        .ok_or_else(|| required(&format!("{p}.source")))?,
                    &format!("{p}.source"),
                )?;
            }
            "tool_use" => {
                if role != "assistant" {
                    return Err(err(
                        &bp,
                        "`tool_use` blocks can only be in `assistant` messages",
                    ));
                }
                let p = format!("{bp}.tool_use");
                check_keys(bo, &p, &["type", "id", "name", "input", "cache_control"])?;
                let id = get_str(bo, "id", &format!("{p}.id"))?;
                get_str(bo, "name", &format!("{p}.name"))?;
                let ip = format!("{p}.input");
                as_object(bo.get("input").ok_or_else(|| required(&ip))?, &ip)?;
                info.tool_use_ids.push(id.to_string());
            }
            "tool_result" => {
                if role != "user" {
                    return Err(err(
                        &bp,
                        "`tool_result` blocks can only be in `user` messages",
                    ));
                }
                let r = tool_result_block(&format!("{bp}.tool_result"), bo)?;
                info.tool_results.push(r);
            }
            "thinking" => {
                if role != "assistant" {
                    return Err(err(
                        &bp,
                        "`thinking` blocks can only be in `assistant` messages",
                    ));
                }
                let p = format!("{bp}.thinking");
                check_keys(bo, &p, &["type", "thinking", "signature"])?;
                get_str(bo, "thinking", &format!("{p}.thinking"))?;
                get_str(bo, "signature", &format!("{p}.signature"))?;
            }
            "redacted_thinking" => {
                let p = format!("{bp}.redacted_thinking");
                check_keys(bo, &p, &["type", "data"])?;
                get_str(bo, "data", &format!("{p}.data"))?;
            }
            "server_tool_use" | "web_search_tool_result" | "search_result" => {}
            other => {
                let tags: Vec<String> = BLOCK_TYPES.iter().map(|t| format!("'{t}'")).collect();
                return Err(err(
                    &bp,
                    &format!(
                        "Input tag '{other}' found using 'type' does not match any of the expected tags: {}",
                        tags.join(", ")
                    ),
                ));
            }
        }
    }
    info.text = texts.join(" ");
    Ok(info)
}

fn unanswered(i: usize, ids: &[String]) -> AnthropicError {
    AnthropicError::invalid(format!(
        "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
        ids.join(", ")
    ))
}

/// Validate a messages body and reduce it to a [`MessagesRequest`].
pub fn messages(body: &Value) -> Result<MessagesRequest> {
    let Some(obj) = body.as_object() else {
        return Err(AnthropicError::invalid(
            "Input should be a valid dictionary",
        ));
    };
    if let Some(k) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(extra(k));
    }
    let model = match obj.get("model") {
        None => return Err(required("model")),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => {
            return Err(err("model", "String should have at least 1 character"));
        }
        Some(_) => return Err(err("model", "Input should be a valid string")),
    };
    let max_tokens = match obj.get("max_tokens") {
        None => return Err(required("max_tokens")),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => n,
            Some(_) => {
                return Err(err(
                    "max_tokens",
                    "Input should be greater than or equal to 1",
                ));
            }
            None if v.as_u64().is_some() => i64::MAX,
            None => return Err(err("max_tokens", "Input should be a valid integer")),
        },
    };
    let msgs = match obj.get("messages") {
        None => return Err(required("messages")),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err("messages", "Input should be a valid list")),
    };
    if msgs.is_empty() {
        return Err(AnthropicError::invalid(
            "messages: at least one message is required",
        ));
    }

    // --- system ---
    let mut prompt_words = 0u64;
    match opt(obj, "system") {
        None => {}
        Some(Value::String(s)) => prompt_words += count_words(s),
        Some(Value::Array(blocks)) => {
            for (j, b) in blocks.iter().enumerate() {
                let bp = format!("system.{j}");
                let bo = as_object(b, &bp)?;
                let ty = get_str(bo, "type", &format!("{bp}.type"))?;
                if ty != "text" {
                    return Err(err(&format!("{bp}.type"), "Input should be 'text'"));
                }
                let t = text_of_block(&bp, bo).map_err(|e| {
                    if e.message.starts_with("messages: ") {
                        AnthropicError::invalid(e.message.replacen("messages: ", "system: ", 1))
                    } else {
                        e
                    }
                })?;
                prompt_words += count_words(&t);
            }
        }
        Some(_) => return Err(err("system", "Input should be a valid string")),
    }

    // --- messages ---
    let mut infos: Vec<(&str, MessageInfo)> = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let p = format!("messages.{i}");
        let mo = as_object(m, &p)?;
        check_keys(mo, &p, &["role", "content"])?;
        let role = get_str(mo, "role", &format!("{p}.role"))?;
        if role != "user" && role != "assistant" {
            return Err(err(
                &format!("{p}.role"),
                "Input should be 'user' or 'assistant'",
            ));
        }
        let content = mo
            .get("content")
            .ok_or_else(|| required(&format!("{p}.content")))?;
        let info = message_content(i, role, content, i + 1 == msgs.len())?;
        prompt_words += count_words(&info.text);
        for (_, t) in &info.tool_results {
            prompt_words += count_words(t);
        }

        // tool_use / tool_result pairing with the previous message.
        let prev = i
            .checked_sub(1)
            .and_then(|pi| infos.get(pi).map(|x| (pi, x)));
        let prev_ids: &[String] = match prev {
            Some((_, ("assistant", pinfo))) => &pinfo.tool_use_ids,
            _ => &[],
        };
        for (id, _) in &info.tool_results {
            if !prev_ids.contains(id) {
                return Err(AnthropicError::invalid(format!(
                    "messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )));
            }
        }
        if let Some((pi, _)) = prev
            && !prev_ids.is_empty()
        {
            let missing: Vec<String> = prev_ids
                .iter()
                .filter(|id| !info.tool_results.iter().any(|(r, _)| r == *id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(unanswered(pi, &missing));
            }
        }
        infos.push((role, info));
    }
    if let Some((role, last)) = infos.last()
        && *role == "assistant"
        && !last.tool_use_ids.is_empty()
    {
        return Err(unanswered(infos.len() - 1, &last.tool_use_ids));
    }

    // --- parameters ---
    opt_number(obj, "temperature", 0.0, 1.0)?;
    opt_number(obj, "top_p", 0.0, 1.0)?;
    if let Some(v) = opt(obj, "top_k") {
        match v.as_i64() {
            Some(n) if n >= 0 => {}
            Some(_) => return Err(err("top_k", "Input should be greater than or equal to 0")),
            None if v.as_u64().is_some() => {}
            None => return Err(err("top_k", "Input should be a valid integer")),
        }
    }
    let stream = match opt(obj, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err("stream", "Input should be a valid boolean")),
    };
    let stop = match opt(obj, "stop_sequences") {
        None => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, s) in a.iter().enumerate() {
                match s {
                    Value::String(s) => out.push(s.clone()),
                    _ => {
                        return Err(err(
                            &format!("stop_sequences.{i}"),
                            "Input should be a valid string",
                        ));
                    }
                }
            }
            out
        }
        Some(_) => return Err(err("stop_sequences", "Input should be a valid list")),
    };
    if let Some(v) = opt(obj, "metadata") {
        let mo = as_object(v, "metadata")?;
        check_keys(mo, "metadata", &["user_id"])?;
        if let Some(u) = opt(mo, "user_id")
            && !u.is_string()
        {
            return Err(err("metadata.user_id", "Input should be a valid string"));
        }
    }
    if let Some(v) = opt(obj, "service_tier") {
        match v.as_str() {
            Some("auto" | "standard_only") => {}
            _ => {
                return Err(err(
                    "service_tier",
                    "Input should be 'auto' or 'standard_only'",
                ));
            }
        }
    }
    if let Some(v) = opt(obj, "thinking") {
        let to = as_object(v, "thinking")?;
        let ty = get_str(to, "type", "thinking.type")?;
        match ty {
            "enabled" => {
                check_keys(to, "thinking.enabled", &["type", "budget_tokens"])?;
                let bp = "thinking.enabled.budget_tokens";
                let budget = match to.get("budget_tokens") {
                    None => return Err(required(bp)),
                    Some(b) => b
                        .as_i64()
                        .ok_or_else(|| err(bp, "Input should be a valid integer"))?,
                };
                if budget < 1024 {
                    return Err(err(bp, "Input should be greater than or equal to 1024"));
                }
                if max_tokens <= budget {
                    return Err(AnthropicError::invalid(
                        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                    ));
                }
            }
            "disabled" => check_keys(to, "thinking.disabled", &["type"])?,
            "adaptive" => {}
            other => {
                return Err(err(
                    "thinking",
                    &format!(
                        "Input tag '{other}' found using 'type' does not match any of the expected tags: 'enabled', 'disabled'"
                    ),
                ));
            }
        }
    }
    if let Some(v) = opt(obj, "mcp_servers")
        && !v.is_array()
    {
        return Err(err("mcp_servers", "Input should be a valid list"));
    }

    let tool_names = tools(obj)?;
    let choice = tool_choice(obj, &tool_names)?;

    // --- reduce ---
    let mut conv = Conversation {
        prompt_words,
        max_tokens: u64::try_from(max_tokens).ok(),
        stop,
        ..Conversation::default()
    };
    if let Some((_, info)) = infos.iter().rev().find(|(r, _)| *r == "user") {
        conv.last_user_text = info.text.clone();
    }
    if let Some((role, info)) = infos.last()
        && *role == "user"
    {
        if info.tool_results.is_empty() {
            if !tool_names.is_empty() {
                conv.tool_call = match choice {
                    Choice::None => None,
                    Choice::Named(n) => Some(n),
                    Choice::Default => tool_names.first().cloned(),
                };
            }
        } else {
            let texts: Vec<&str> = info.tool_results.iter().map(|(_, t)| t.as_str()).collect();
            conv.tool_result = Some(texts.join(" "));
        }
    }
    Ok(MessagesRequest {
        model,
        stream,
        conversation: conv,
    })
}

/// Validate `tools`; returns the names in order.
fn tools(obj: &Map<String, Value>) -> Result<Vec<String>> {
    let list = match opt(obj, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err("tools", "Input should be a valid list")),
    };
    let mut names = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let p = format!("tools.{i}");
        let to = as_object(t, &p)?;
        let ty = match opt(to, "type") {
            None => "custom",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(err(&format!("{p}.type"), "Input should be a valid string")),
        };
        if ty != "custom" {
            // A server tool (web_search_20250305, bash_20250124, ...): only the name is checked.
            names.push(get_str(to, "name", &format!("{p}.{ty}.name"))?.to_string());
            continue;
        }
        let p = format!("{p}.custom");
        check_keys(
            to,
            &p,
            &[
                "type",
                "name",
                "description",
                "input_schema",
                "cache_control",
            ],
        )?;
        let name = get_str(to, "name", &format!("{p}.name"))?;
        if !valid_tool_name(name) {
            return Err(err(
                &format!("{p}.name"),
                "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
            ));
        }
        if let Some(v) = opt(to, "description")
            && !v.is_string()
        {
            return Err(err(
                &format!("{p}.description"),
                "Input should be a valid string",
            ));
        }
        let sp = format!("{p}.input_schema");
        let schema = as_object(to.get("input_schema").ok_or_else(|| required(&sp))?, &sp)?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(err(&format!("{sp}.type"), "Input should be 'object'"));
        }
        if names.iter().any(|n| n == name) {
            return Err(AnthropicError::invalid("tools: Tool names must be unique."));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

enum Choice {
    Default,
    None,
    Named(String),
}

fn tool_choice(obj: &Map<String, Value>, tools: &[String]) -> Result<Choice> {
    let Some(v) = opt(obj, "tool_choice") else {
        return Ok(Choice::Default);
    };
    let to = as_object(v, "tool_choice")?;
    let ty = get_str(to, "type", "tool_choice.type")?;
    let p = format!("tool_choice.{ty}");
    let choice = match ty {
        "auto" | "any" => {
            check_keys(to, &p, &["type", "disable_parallel_tool_use"])?;
            Choice::Default
        }
        "none" => {
            check_keys(to, &p, &["type"])?;
            return Ok(Choice::None);
        }
        "tool" => {
            check_keys(to, &p, &["type", "name", "disable_parallel_tool_use"])?;
            let name = get_str(to, "name", &format!("{p}.name"))?;
            if !tools.iter().any(|t| t == name) {
                return Err(AnthropicError::invalid(format!(
                    "tool_choice: Tool '{name}' not found in tools"
                )));
            }
            Choice::Named(name.to_string())
        }
        other => {
            return Err(err(
                "tool_choice",
                &format!(
                    "Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
                ),
            ));
        }
    };
    if let Some(d) = opt(to, "disable_parallel_tool_use")
        && !d.is_boolean()
    {
        return Err(err(
            &format!("{p}.disable_parallel_tool_use"),
            "Input should be a valid boolean",
        ));
    }
    if ty == "any" && tools.is_empty() {
        return Err(AnthropicError::invalid(
            "tool_choice: `tool_choice.type` of `any` requires `tools` to be provided",
        ));
    }
    Ok(choice)
}
