//! `POST /v1/chat/completions` validation, with OpenAI's messages, `param` and `code`.

use super::{opt, quoted_list, valid_image_url, valid_tool_name};
use crate::content::{Conversation, count_words};
use crate::errors::{OpenAiError, openai_type_name};
use serde_json::{Map, Value};
use std::collections::HashSet;

type Result<T> = std::result::Result<T, OpenAiError>;

/// Top-level fields the chat completions endpoint knows.
const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "response_format",
    "tools",
    "tool_choice",
    "user",
    "seed",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "metadata",
    "store",
    "service_tier",
    "reasoning_effort",
    "prediction",
    "modalities",
    "audio",
    "stop",
    "web_search_options",
    "verbosity",
    "prompt_cache_key",
    "safety_identifier",
];

const ROLES: &[&str] = &["system", "assistant", "user", "tool", "developer"];

/// A validated chat request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub conversation: Conversation,
}

pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> OpenAiError {
    OpenAiError::invalid(format!(
        "Invalid type for '{param}': expected {expected}, but got {} instead.",
        openai_type_name(got)
    ))
    .param(param)
    .code("invalid_type")
}

pub(crate) fn missing(param: &str) -> OpenAiError {
    OpenAiError::invalid(format!("Missing required parameter: '{param}'."))
        .param(param)
        .code("missing_required_parameter")
}

fn invalid_value(param: &str, value: &str, supported: &[&str]) -> OpenAiError {
    OpenAiError::invalid(format!(
        "Invalid value: '{value}'. Supported values are: {}.",
        quoted_list(supported)
    ))
    .param(param)
    .code("invalid_value")
}

fn empty_array(param: &str) -> OpenAiError {
    OpenAiError::invalid(format!(
        "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
    ))
    .param(param)
    .code("empty_array")
}

pub(crate) fn unrecognized(name: &str) -> OpenAiError {
    OpenAiError::invalid(format!("Unrecognized request argument supplied: {name}"))
}

fn extra_property(param_dotted: &str, param: &str, key: &str) -> OpenAiError {
    OpenAiError::invalid(format!(
        "Additional properties are not allowed ('{key}' was unexpected) - '{param_dotted}'"
    ))
    .param(param)
}

fn get_str<'a>(obj: &'a Map<String, Value>, key: &str, param: &str) -> Result<&'a str> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(missing(param)),
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(invalid_type(param, "a string", v)),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(invalid_type(key, "a string", v)),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid_type(key, "a boolean", v)),
    }
}

fn opt_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(v) => Err(invalid_type(key, "an object", v)),
    }
}

/// A number in `[min, max]`.
fn opt_decimal(obj: &Map<String, Value>, key: &str, min: f64, max: f64) -> Result<Option<f64>> {
    let Some(v) = opt(obj, key) else {
        return Ok(None);
    };
    let Some(x) = v.as_f64() else {
        return Err(invalid_type(key, "a decimal", v));
    };
    if x < min {
        return Err(OpenAiError::invalid(format!(
            "Invalid '{key}': decimal below minimum value. Expected a value >= {min}, but got {v} instead."
        ))
        .param(key)
        .code("decimal_below_min_value"));
    }
    if x > max {
        return Err(OpenAiError::invalid(format!(
            "Invalid '{key}': decimal above maximum value. Expected a value <= {max}, but got {v} instead."
        ))
        .param(key)
        .code("decimal_above_max_value"));
    }
    Ok(Some(x))
}

/// An integer `>= min` (and `<= max` when given).
pub(crate) fn opt_integer(
    obj: &Map<String, Value>,
    key: &str,
    min: i64,
    max: Option<i64>,
) -> Result<Option<i64>> {
    let Some(v) = opt(obj, key) else {
        return Ok(None);
    };
    let n = match v.as_i64() {
        Some(n) => n,
        None if v.as_u64().is_some() => i64::MAX,
        None => return Err(invalid_type(key, "an integer", v)),
    };
    if n < min {
        return Err(OpenAiError::invalid(format!(
            "Invalid '{key}': integer below minimum value. Expected a value >= {min}, but got {v} instead."
        ))
        .param(key)
        .code("integer_below_min_value"));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(OpenAiError::invalid(format!(
            "Invalid '{key}': integer above maximum value. Expected a value <= {max}, but got {v} instead."
        ))
        .param(key)
        .code("integer_above_max_value"));
    }
    Ok(Some(n))
}

/// Validate a chat completions body and reduce it to a [`ChatRequest`].
pub fn chat(body: &Value) -> Result<ChatRequest> {
    let Some(obj) = body.as_object() else {
        return Err(OpenAiError::invalid(format!(
            "Invalid type for 'body': expected an object, but got {} instead.",
            openai_type_name(body)
        ))
        .code("invalid_type"));
    };
    if let Some(k) = obj.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(unrecognized(k));
    }
    let model = match obj.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_))) => {
            return Err(invalid_type("model", "a string", v));
        }
        _ => return Err(OpenAiError::invalid("you must provide a model parameter")),
    };

    // --- messages ---
    let messages = match obj.get("messages") {
        None | Some(Value::Null) => return Err(missing("messages")),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(invalid_type("messages", "an array", v)),
    };
    if messages.is_empty() {
        return Err(empty_array("messages"));
    }
    let mut conv = Conversation::default();
    let mut prompt_words = 0u64;
    let mut last_user_text = String::new();
    // Tool-call ids of the latest assistant message that tool messages may answer.
    let mut answerable: HashSet<String> = HashSet::new();
    // (assistant index, ids) still waiting for a tool message.
    let mut pending: Option<(usize, Vec<String>)> = None;
    let mut roles: Vec<&str> = Vec::with_capacity(messages.len());
    let mut texts: Vec<String> = Vec::with_capacity(messages.len());

    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        let Some(mo) = m.as_object() else {
            return Err(invalid_type(&p, "an object", m));
        };
        let role = get_str(mo, "role", &format!("{p}.role"))?;
        if !ROLES.contains(&role) {
            return Err(invalid_value(&format!("{p}.role"), role, ROLES));
        }
        let allowed: &[&str] = match role {
            "system" | "developer" | "user" => &["role", "content", "name"],
            "assistant" => &[
                "role",
                "content",
                "name",
                "tool_calls",
                "refusal",
                "audio",
                "function_call",
            ],
            _ => &["role", "content", "tool_call_id"],
        };
        if let Some(k) = mo.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(extra_property(&format!("messages.{i}"), &p, k));
        }
        if let Some(v) = mo.get("name")
            && !v.is_string()
        {
            return Err(invalid_type(&format!("{p}.name"), "a string", v));
        }

        // A tool message must follow an assistant message with tool_calls (or another tool
        // message answering the same assistant message); anything else closes that window.
        if role != "tool" {
            if let Some((ai, ids)) = pending.take() {
                return Err(unanswered_tool_calls(ai, &ids));
            }
            answerable.clear();
        }

        let cp = format!("{p}.content");
        let text = match role {
            "system" | "developer" => content(&cp, require(mo, "content", &cp)?, &["text"])?,
            "user" => content(
                &cp,
                require(mo, "content", &cp)?,
                &["text", "image_url", "input_audio", "file"],
            )?,
            "tool" => {
                let id = get_str(mo, "tool_call_id", &format!("{p}.tool_call_id"))?;
                if answerable.is_empty() {
                    return Err(OpenAiError::invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    )
                    .param(format!("messages.[{i}].role")));
                }
                if !answerable.contains(id) {
                    return Err(OpenAiError::invalid(format!(
                        "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
                    ))
                    .param(format!("messages.[{i}].tool_call_id")));
                }
                if let Some((_, ids)) = pending.as_mut() {
                    ids.retain(|x| x != id);
                    if ids.is_empty() {
                        pending = None;
                    }
                }
                content(&cp, require(mo, "content", &cp)?, &["text"])?
            }
            _ => {
                // assistant
                let ids = tool_calls(&p, mo)?;
                let text = match opt(mo, "content") {
                    Some(c) => content(&cp, c, &["text", "refusal"])?,
                    None if !ids.is_empty()
                        || opt(mo, "function_call").is_some()
                        || opt(mo, "audio").is_some() =>
                    {
                        String::new()
                    }
                    None => return Err(missing(&cp)),
                };
                if let Some(v) = opt(mo, "refusal")
                    && !v.is_string()
                {
                    return Err(invalid_type(&format!("{p}.refusal"), "a string", v));
                }
                if !ids.is_empty() {
                    answerable = ids.iter().cloned().collect();
                    pending = Some((i, ids));
                }
                text
            }
        };
        prompt_words += count_words(&text);
        if role == "user" {
            last_user_text = text.clone();
        }
        roles.push(role);
        texts.push(text);
    }
    if let Some((ai, ids)) = pending.take() {
        return Err(unanswered_tool_calls(ai, &ids));
    }

    // --- parameters ---
    opt_decimal(obj, "temperature", 0.0, 2.0)?;
    opt_decimal(obj, "top_p", 0.0, 1.0)?;
    opt_decimal(obj, "presence_penalty", -2.0, 2.0)?;
    opt_decimal(obj, "frequency_penalty", -2.0, 2.0)?;
    let max_tokens = opt_integer(obj, "max_tokens", 1, None)?;
    let max_completion_tokens = opt_integer(obj, "max_completion_tokens", 1, None)?;
    if let Some(n) = opt_integer(obj, "n", 1, Some(128))?
        && n != 1
    {
        return Err(
            OpenAiError::invalid(format!("tollgate-mock supports only n=1 (got {n})."))
                .param("n")
                .code("invalid_value"),
        );
    }
    opt_integer(obj, "seed", i64::MIN, None)?;
    opt_integer(obj, "top_logprobs", 0, Some(20))?;
    opt_bool(obj, "logprobs")?;
    opt_bool(obj, "parallel_tool_calls")?;
    opt_bool(obj, "store")?;
    opt_str(obj, "user")?;
    opt_str(obj, "service_tier")?;
    opt_str(obj, "reasoning_effort")?;
    opt_str(obj, "verbosity")?;
    opt_str(obj, "prompt_cache_key")?;
    opt_str(obj, "safety_identifier")?;
    opt_object(obj, "logit_bias")?;
    opt_object(obj, "prediction")?;
    opt_object(obj, "audio")?;
    opt_object(obj, "web_search_options")?;
    if let Some(meta) = opt_object(obj, "metadata")? {
        for (k, v) in meta {
            if !v.is_string() {
                return Err(invalid_type(&format!("metadata.{k}"), "a string", v));
            }
        }
    }
    if let Some(v) = opt(obj, "modalities")
        && !v.is_array()
    {
        return Err(invalid_type("modalities", "an array", v));
    }

    let stream = opt_bool(obj, "stream")?.unwrap_or(false);
    let mut include_usage = false;
    if let Some(so) = opt(obj, "stream_options") {
        if !stream {
            return Err(OpenAiError::invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            )
            .param("stream_options")
            .code("invalid_value"));
        }
        let Some(so) = so.as_object() else {
            return Err(invalid_type("stream_options", "an object", so));
        };
        if let Some(k) = so
            .keys()
            .find(|k| !matches!(k.as_str(), "include_usage" | "include_obfuscation"))
        {
            return Err(unrecognized(&format!("stream_options.{k}")));
        }
        include_usage = match opt(so, "include_usage") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(invalid_type("stream_options.include_usage", "a boolean", v));
            }
        };
        if let Some(v) = opt(so, "include_obfuscation")
            && !v.is_boolean()
        {
            return Err(invalid_type(
                "stream_options.include_obfuscation",
                "a boolean",
                v,
            ));
        }
    }

    let stop = stop_sequences(obj)?;
    let json_mode = response_format(obj)?;
    let tool_names = tools(obj)?;
    let choice = tool_choice(obj, &tool_names)?;
    if tool_names.is_empty() && opt(obj, "parallel_tool_calls").is_some() {
        return Err(OpenAiError::invalid(
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
        )
        .param("parallel_tool_calls"));
    }

    // --- reduce ---
    let last_role = roles.last().copied().unwrap_or("user");
    if last_role == "tool" {
        let start = roles
            .iter()
            .rposition(|r| *r != "tool")
            .map_or(0, |i| i + 1);
        conv.tool_result = Some(texts[start..].join(" "));
    } else if last_role == "user" && !tool_names.is_empty() {
        conv.tool_call = match choice {
            ToolChoice::None => None,
            ToolChoice::Named(n) => Some(n),
            ToolChoice::Default => tool_names.first().cloned(),
        };
    }
    conv.prompt_words = prompt_words;
    conv.last_user_text = last_user_text;
    conv.max_tokens = max_completion_tokens
        .or(max_tokens)
        .and_then(|n| u64::try_from(n).ok());
    conv.stop = stop;
    conv.json_mode = json_mode;
    Ok(ChatRequest {
        model,
        stream,
        include_usage,
        conversation: conv,
    })
}

fn require<'a>(mo: &'a Map<String, Value>, key: &str, param: &str) -> Result<&'a Value> {
    opt(mo, key).ok_or_else(|| missing(param))
}

fn unanswered_tool_calls(assistant_index: usize, ids: &[String]) -> OpenAiError {
    OpenAiError::invalid(format!(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
        ids.join(", ")
    ))
    .param(format!("messages.[{assistant_index}].role"))
}

/// A message's content: a string or an array of parts of the allowed types.
/// Returns the text (text parts joined by spaces).
fn content(param: &str, v: &Value, allowed: &[&str]) -> Result<String> {
    let parts = match v {
        Value::String(s) => return Ok(s.clone()),
        Value::Array(a) => a,
        other => {
            return Err(invalid_type(
                param,
                "one of a string or array of objects",
                other,
            ));
        }
    };
    if parts.is_empty() {
        return Err(empty_array(param));
    }
    let mut texts = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{param}[{j}]");
        let Some(po) = part.as_object() else {
            return Err(invalid_type(&pp, "an object", part));
        };
        let ty = get_str(po, "type", &format!("{pp}.type"))?;
        if !allowed.contains(&ty) {
            return Err(invalid_value(&format!("{pp}.type"), ty, allowed));
        }
        match ty {
            "text" => texts.push(get_str(po, "text", &format!("{pp}.text"))?.to_string()),
            "refusal" => {
                get_str(po, "refusal", &format!("{pp}.refusal"))?;
            }
            "image_url" => {
                let ip = format!("{pp}.image_url");
                let io = match po.get("image_url") {
                    None | Some(Value::Null) => return Err(missing(&ip)),
                    Some(Value::Object(o)) => o,
                    Some(v) => return Err(invalid_type(&ip, "an object", v)),
                };
                let up = format!("{ip}.url");
                let url = get_str(io, "url", &up)?;
                if !valid_image_url(url) {
                    return Err(OpenAiError::invalid(format!(
                        "Invalid '{up}'. Expected a valid URL or a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value."
                    ))
                    .param(up)
                    .code("invalid_value"));
                }
                if let Some(d) = opt(io, "detail") {
                    let dp = format!("{ip}.detail");
                    let Some(d) = d.as_str() else {
                        return Err(invalid_type(&dp, "a string", d));
                    };
                    if !matches!(d, "auto" | "low" | "high") {
                        return Err(invalid_value(&dp, d, &["auto", "low", "high"]));
                    }
                }
            }
            "input_audio" => {
                let ap = format!("{pp}.input_audio");
                let ao = match po.get("input_audio") {
                    None | Some(Value::Null) => return Err(missing(&ap)),
                    Some(Value::Object(o)) => o,
                    Some(v) => return Err(invalid_type(&ap, "an object", v)),
                };
                get_str(ao, "data", &format!("{ap}.data"))?;
                let fp = format!("{ap}.format");
                let f = get_str(ao, "format", &fp)?;
                if !matches!(f, "wav" | "mp3") {
                    return Err(invalid_value(&fp, f, &["wav", "mp3"]));
                }
            }
            _ => {
                // file
                let fp = format!("{pp}.file");
                match po.get("file") {
                    Some(Value::Object(_)) => {}
                    None | Some(Value::Null) => return Err(missing(&fp)),
                    Some(v) => return Err(invalid_type(&fp, "an object", v)),
                }
            }
        }
    }
    Ok(texts.join(" "))
}

/// An assistant message's `tool_calls`; returns their ids.
fn tool_calls(p: &str, mo: &Map<String, Value>) -> Result<Vec<String>> {
    let tp = format!("{p}.tool_calls");
    let calls = match opt(mo, "tool_calls") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(invalid_type(&tp, "an array", v)),
    };
    if calls.is_empty() {
        return Err(empty_array(&tp));
    }
    let mut ids = Vec::with_capacity(calls.len());
    for (k, c) in calls.iter().enumerate() {
        let cp = format!("{tp}[{k}]");
        let Some(co) = c.as_object() else {
            return Err(invalid_type(&cp, "an object", c));
        };
        let id = get_str(co, "id", &format!("{cp}.id"))?;
        let ty = get_str(co, "type", &format!("{cp}.type"))?;
        if ty != "function" {
            return Err(invalid_value(&format!("{cp}.type"), ty, &["function"]));
        }
        let fp = format!("{cp}.function");
        let fo = match co.get("function") {
            None | Some(Value::Null) => return Err(missing(&fp)),
            Some(Value::Object(o)) => o,
            Some(v) => return Err(invalid_type(&fp, "an object", v)),
        };
        get_str(fo, "name", &format!("{fp}.name"))?;
        get_str(fo, "arguments", &format!("{fp}.arguments"))?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

fn stop_sequences(obj: &Map<String, Value>) -> Result<Vec<String>> {
    match opt(obj, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => {
            if a.len() > 4 {
                return Err(OpenAiError::invalid(format!(
                    "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.",
                    a.len()
                ))
                .param("stop")
                .code("array_above_max_length"));
            }
            a.iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid_type(&format!("stop[{i}]"), "a string", other)),
                })
                .collect()
        }
        Some(v) => Err(invalid_type(
            "stop",
            "one of a string or array of strings",
            v,
        )),
    }
}

/// Returns whether JSON mode is on.
fn response_format(obj: &Map<String, Value>) -> Result<bool> {
    let Some(rf) = opt_object(obj, "response_format")? else {
        return Ok(false);
    };
    let ty = get_str(rf, "type", "response_format.type")?;
    match ty {
        "text" => Ok(false),
        "json_object" => Ok(true),
        "json_schema" => {
            let sp = "response_format.json_schema";
            let so = match rf.get("json_schema") {
                None | Some(Value::Null) => return Err(missing(sp)),
                Some(Value::Object(o)) => o,
                Some(v) => return Err(invalid_type(sp, "an object", v)),
            };
            let np = "response_format.json_schema.name";
            let name = get_str(so, "name", np)?;
            if !valid_tool_name(name) {
                return Err(OpenAiError::invalid(format!(
                    "Invalid '{np}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                ))
                .param(np)
                .code("invalid_value"));
            }
            if let Some(s) = opt(so, "schema")
                && !s.is_object()
            {
                return Err(invalid_type(
                    "response_format.json_schema.schema",
                    "an object",
                    s,
                ));
            }
            Ok(true)
        }
        other => Err(invalid_value(
            "response_format.type",
            other,
            &["json_object", "json_schema", "text"],
        )),
    }
}

/// Validate `tools`; returns the function names in order.
fn tools(obj: &Map<String, Value>) -> Result<Vec<String>> {
    let list = match opt(obj, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(invalid_type("tools", "an array", v)),
    };
    if list.is_empty() {
        return Err(empty_array("tools"));
    }
    let mut names = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let p = format!("tools[{i}]");
        let Some(to) = t.as_object() else {
            return Err(invalid_type(&p, "an object", t));
        };
        if let Some(k) = to
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "function"))
        {
            return Err(extra_property(&format!("tools.{i}"), &p, k));
        }
        let ty = get_str(to, "type", &format!("{p}.type"))?;
        if ty != "function" {
            return Err(invalid_value(&format!("{p}.type"), ty, &["function"]));
        }
        let fp = format!("{p}.function");
        let fo = match to.get("function") {
            None | Some(Value::Null) => return Err(missing(&fp)),
            Some(Value::Object(o)) => o,
            Some(v) => return Err(invalid_type(&fp, "an object", v)),
        };
        if let Some(k) = fo
            .keys()
            .find(|k| !matches!(k.as_str(), "name" | "description" | "parameters" | "strict"))
        {
            return Err(extra_property(&format!("tools.{i}.function"), &fp, k));
        }
        let np = format!("{fp}.name");
        let name = get_str(fo, "name", &np)?;
        if name.len() > 64 {
            return Err(OpenAiError::invalid(format!(
                "Invalid '{np}': string too long. Expected a string with maximum length 64, but got a string with length {} instead.",
                name.len()
            ))
            .param(np)
            .code("string_above_max_length"));
        }
        if !valid_tool_name(name) {
            return Err(OpenAiError::invalid(format!(
                "Invalid '{np}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
            ))
            .param(np)
            .code("invalid_value"));
        }
        if let Some(v) = opt(fo, "description")
            && !v.is_string()
        {
            return Err(invalid_type(&format!("{fp}.description"), "a string", v));
        }
        if let Some(v) = opt(fo, "parameters")
            && !v.is_object()
        {
            return Err(invalid_type(&format!("{fp}.parameters"), "an object", v));
        }
        if let Some(v) = opt(fo, "strict")
            && !v.is_boolean()
        {
            return Err(invalid_type(&format!("{fp}.strict"), "a boolean", v));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

enum ToolChoice {
    /// Absent, `auto` or `required`: the first tool.
    Default,
    None,
    Named(String),
}

fn tool_choice(obj: &Map<String, Value>, tools: &[String]) -> Result<ToolChoice> {
    let Some(tc) = opt(obj, "tool_choice") else {
        return Ok(ToolChoice::Default);
    };
    let choice = match tc {
        Value::String(s) => match s.as_str() {
            "none" => return Ok(ToolChoice::None),
            "auto" | "required" => ToolChoice::Default,
            other => {
                return Err(invalid_value(
                    "tool_choice",
                    other,
                    &["none", "auto", "required"],
                ));
            }
        },
        Value::Object(o) => {
            let ty = get_str(o, "type", "tool_choice.type")?;
            if ty != "function" {
                return Err(invalid_value("tool_choice.type", ty, &["function"]));
            }
            let fo = match o.get("function") {
                None | Some(Value::Null) => return Err(missing("tool_choice.function")),
                Some(Value::Object(f)) => f,
                Some(v) => return Err(invalid_type("tool_choice.function", "an object", v)),
            };
            let name = get_str(fo, "name", "tool_choice.function.name")?;
            ToolChoice::Named(name.to_string())
        }
        other => {
            return Err(invalid_type(
                "tool_choice",
                "one of a string or object",
                other,
            ));
        }
    };
    if tools.is_empty() {
        return Err(OpenAiError::invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        )
        .param("tool_choice"));
    }
    if let ToolChoice::Named(n) = &choice
        && !tools.contains(n)
    {
        return Err(OpenAiError::invalid(format!(
            "Invalid value for 'tool_choice': no function named '{n}' was specified in the 'tools' parameter."
        ))
        .param("tool_choice"));
    }
    Ok(choice)
}
