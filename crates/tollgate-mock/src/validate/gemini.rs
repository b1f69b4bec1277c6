//! Gemini `generateContent` / `batchEmbedContents` validation, as strict as Google's
//! proto parsing: unknown fields, roles other than `user`/`model`, empty parts or text,
//! function turns out of order and function responses without a matching call are 400s.

use super::{opt, valid_base64};
use crate::content::{Conversation, count_words};
use crate::errors::GeminiError;
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, GeminiError>;

const TOP_FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];
const PART_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "thought",
    "thoughtSignature",
    "executableCode",
    "codeExecutionResult",
    "videoMetadata",
];
const GENERATION_FIELDS: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "mediaResolution",
];
const DECLARATION_FIELDS: &[&str] = &[
    "name",
    "description",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
    "behavior",
];

/// A validated generateContent request, reduced to what the mock answers.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub conversation: Conversation,
}

fn unknown(name: &str, at: &str) -> GeminiError {
    GeminiError::invalid(format!(
        "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
    ))
}

fn check_fields(o: &Map<String, Value>, known: &[&str], at: &str) -> Result<()> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(unknown(k, at)),
        None => Ok(()),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        GeminiError::invalid(format!(
            "Invalid value at '{at}', starting an object on a scalar field"
        ))
    })
}

/// What one content's parts hold.
#[derive(Default)]
struct Turn {
    role: String,
    text: Vec<String>,
    /// (id, name) of function calls.
    calls: Vec<(Option<String>, String)>,
    /// (id, name, result text) of function responses.
    responses: Vec<(Option<String>, String, String)>,
}

fn parts(v: Option<&Value>, at: &str, role: &str) -> Result<Turn> {
    let list = match v {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(GeminiError::invalid(format!(
                "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
            )));
        }
    };
    let mut turn = Turn {
        role: role.to_owned(),
        ..Turn::default()
    };
    for (j, p) in list.iter().enumerate() {
        let pat = format!("{at}.parts[{j}]");
        let po = object(p, &pat)?;
        check_fields(po, PART_FIELDS, &pat)?;
        let data: Vec<&str> = [
            "text",
            "inlineData",
            "fileData",
            "functionCall",
            "functionResponse",
            "executableCode",
            "codeExecutionResult",
        ]
        .into_iter()
        .filter(|k| po.contains_key(*k))
        .collect();
        if data.len() != 1 {
            return Err(GeminiError::invalid(format!(
                "* GenerateContentRequest.{pat}.data: required oneof field 'data' must have one initialized field\n"
            )));
        }
        if let Some(t) = po.get("text") {
            let Some(t) = t.as_str() else {
                return Err(GeminiError::invalid(format!(
                    "Invalid value at '{pat}.text' (TYPE_STRING)"
                )));
            };
            if t.is_empty() {
                return Err(GeminiError::invalid(
                    "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.",
                ));
            }
            turn.text.push(t.to_owned());
        }
        if let Some(b) = po.get("inlineData") {
            let bo = object(b, &format!("{pat}.inlineData"))?;
            check_fields(bo, &["mimeType", "data"], &format!("{pat}.inline_data"))?;
            let mime = bo.get("mimeType").and_then(Value::as_str).unwrap_or("");
            if mime.is_empty() {
                return Err(GeminiError::invalid(format!(
                    "* GenerateContentRequest.{pat}.inline_data.mime_type: mime_type must be specified\n"
                )));
            }
            let data = bo.get("data").and_then(Value::as_str).unwrap_or("");
            if !valid_base64(data) {
                return Err(GeminiError::invalid(format!(
                    "Invalid value at '{pat}.inline_data.data' (TYPE_BYTES), Base64 decoding failed"
                )));
            }
        }
        if let Some(fc) = po.get("functionCall") {
            let fo = object(fc, &format!("{pat}.functionCall"))?;
            check_fields(fo, &["id", "name", "args"], &format!("{pat}.function_call"))?;
            if role != "model" {
                return Err(GeminiError::invalid(
                    "Please ensure that function call parts are in a model turn.",
                ));
            }
            let name = fo.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return Err(GeminiError::invalid(format!(
                    "* GenerateContentRequest.{pat}.function_call.name: Name cannot be empty.\n"
                )));
            }
            if let Some(a) = opt(fo, "args")
                && !a.is_object()
            {
                return Err(GeminiError::invalid(format!(
                    "Invalid value at '{pat}.function_call.args' (type.googleapis.com/google.protobuf.Struct)"
                )));
            }
            let id = fo.get("id").and_then(Value::as_str).map(str::to_owned);
            turn.calls.push((id, name.to_owned()));
        }
        if let Some(fr) = po.get("functionResponse") {
            let fo = object(fr, &format!("{pat}.functionResponse"))?;
            check_fields(
                fo,
                &[
                    "id",
                    "name",
                    "response",
                    "willContinue",
                    "scheduling",
                    "parts",
                ],
                &format!("{pat}.function_response"),
            )?;
            if role != "user" {
                return Err(GeminiError::invalid(
                    "Please ensure that function response parts are in a user turn.",
                ));
            }
            let name = fo.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                return Err(GeminiError::invalid(format!(
                    "* GenerateContentRequest.{pat}.function_response.name: Name cannot be empty.\n"
                )));
            }
            let text = match fo.get("response") {
                Some(Value::Object(r)) => match r.get("content").or_else(|| r.get("result")) {
                    Some(Value::String(s)) => s.clone(),
                    _ => Value::Object(r.clone()).to_string(),
                },
                _ => {
                    return Err(GeminiError::invalid(format!(
                        "* GenerateContentRequest.{pat}.function_response.response: must be an object\n"
                    )));
                }
            };
            let id = fo.get("id").and_then(Value::as_str).map(str::to_owned);
            turn.responses.push((id, name.to_owned(), text));
        }
    }
    Ok(turn)
}

/// Validate a generateContent body.
pub fn generate(body: &Value) -> Result<GenerateRequest> {
    let obj = object(body, "body")?;
    check_fields(obj, TOP_FIELDS, "")?;
    let contents = match obj.get("contents") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(GeminiError::invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
    };
    let mut conv = Conversation::default();
    let mut words = 0u64;
    if let Some(si) = opt(obj, "systemInstruction") {
        let so = object(si, "system_instruction")?;
        check_fields(so, &["role", "parts"], "system_instruction")?;
        let t = parts(so.get("parts"), "system_instruction", "system")?;
        if !t.calls.is_empty() || !t.responses.is_empty() {
            return Err(GeminiError::invalid(
                "The system instruction may contain text only.",
            ));
        }
        words += t.text.iter().map(|s| count_words(s)).sum::<u64>();
    }
    let mut turns: Vec<Turn> = Vec::with_capacity(contents.len());
    for (i, c) in contents.iter().enumerate() {
        let at = format!("contents[{i}]");
        let co = object(c, &at)?;
        check_fields(co, &["role", "parts"], &at)?;
        let role = match co.get("role") {
            None => "user",
            Some(Value::String(r)) if r == "user" || r == "model" => r.as_str(),
            Some(_) => {
                return Err(GeminiError::invalid(
                    "Please use a valid role: user, model.",
                ));
            }
        };
        let turn = parts(co.get("parts"), &at, role)?;
        // A function call turn comes right after a user turn (or function responses).
        if !turn.calls.is_empty() && turns.last().is_none_or(|p| p.role != "user") {
            return Err(GeminiError::invalid(
                "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
            ));
        }
        if !turn.responses.is_empty() {
            let Some(prev) = turns.last().filter(|p| !p.calls.is_empty()) else {
                return Err(GeminiError::invalid(
                    "Please ensure that function response turn comes immediately after a function call turn.",
                ));
            };
            if prev.calls.len() != turn.responses.len() {
                return Err(GeminiError::invalid(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
                ));
            }
            for (id, name, _) in &turn.responses {
                let matched = prev.calls.iter().any(|(cid, cname)| {
                    cname == name && (id.is_none() || cid.is_none() || cid == id)
                });
                if !matched {
                    return Err(GeminiError::invalid(format!(
                        "Function response for '{name}' does not match any function call of the previous turn."
                    )));
                }
            }
        }
        if let Some(prev) = turns.last()
            && !prev.calls.is_empty()
            && turn.responses.is_empty()
        {
            return Err(GeminiError::invalid(
                "Please ensure that function response turn comes immediately after a function call turn.",
            ));
        }
        words += turn.text.iter().map(|s| count_words(s)).sum::<u64>();
        words += turn
            .responses
            .iter()
            .map(|(_, _, t)| count_words(t))
            .sum::<u64>();
        turns.push(turn);
    }
    if let Some(last) = turns.last()
        && !last.calls.is_empty()
    {
        return Err(GeminiError::invalid(
            "Please ensure that function call turn is followed by a function response turn.",
        ));
    }

    let declared = tools(obj)?;
    let (mode, allowed) = tool_config(obj, &declared)?;
    let (max_tokens, stop, json_mode) = generation_config(obj)?;

    if let Some(last) = turns
        .iter()
        .rev()
        .find(|t| t.role == "user" && !t.text.is_empty())
    {
        conv.last_user_text = last.text.join(" ");
    }
    if let Some(last) = turns.last() {
        if !last.responses.is_empty() {
            let results: Vec<&str> = last.responses.iter().map(|(_, _, t)| t.as_str()).collect();
            conv.tool_result = Some(results.join(" "));
        } else if last.role == "user" && !declared.is_empty() && mode != "NONE" {
            conv.tool_call = allowed
                .first()
                .cloned()
                .or_else(|| declared.first().cloned());
        }
    }
    conv.prompt_words = words;
    conv.max_tokens = max_tokens;
    conv.stop = stop;
    conv.json_mode = json_mode;
    Ok(GenerateRequest { conversation: conv })
}

/// Declared function names.
fn tools(obj: &Map<String, Value>) -> Result<Vec<String>> {
    let Some(list) = opt(obj, "tools") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(GeminiError::invalid("Invalid value at 'tools'"));
    };
    let mut names = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let at = format!("tools[{i}]");
        let to = object(t, &at)?;
        check_fields(
            to,
            &[
                "functionDeclarations",
                "googleSearch",
                "codeExecution",
                "urlContext",
                "googleSearchRetrieval",
            ],
            &at,
        )?;
        for (j, d) in to
            .get("functionDeclarations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let dat = format!("{at}.function_declarations[{j}]");
            let dobj = object(d, &dat)?;
            check_fields(dobj, DECLARATION_FIELDS, &dat)?;
            let name = dobj.get("name").and_then(Value::as_str).unwrap_or("");
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !valid {
                return Err(GeminiError::invalid(format!(
                    "* GenerateContentRequest.{dat}.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots and dashes, with a maximum length of 64.\n"
                )));
            }
            if opt(dobj, "parameters").is_some() && opt(dobj, "parametersJsonSchema").is_some() {
                return Err(GeminiError::invalid(format!(
                    "* GenerateContentRequest.{dat}: parameters and parameters_json_schema are mutually exclusive.\n"
                )));
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// `(mode, allowedFunctionNames)`.
fn tool_config(obj: &Map<String, Value>, declared: &[String]) -> Result<(String, Vec<String>)> {
    let Some(tc) = opt(obj, "toolConfig") else {
        return Ok(("AUTO".into(), Vec::new()));
    };
    let to = object(tc, "tool_config")?;
    check_fields(
        to,
        &["functionCallingConfig", "retrievalConfig"],
        "tool_config",
    )?;
    let Some(fc) = opt(to, "functionCallingConfig") else {
        return Ok(("AUTO".into(), Vec::new()));
    };
    let fo = object(fc, "tool_config.function_calling_config")?;
    check_fields(
        fo,
        &["mode", "allowedFunctionNames"],
        "tool_config.function_calling_config",
    )?;
    let mode = fo.get("mode").and_then(Value::as_str).unwrap_or("AUTO");
    if !matches!(
        mode,
        "AUTO" | "ANY" | "NONE" | "VALIDATED" | "MODE_UNSPECIFIED"
    ) {
        return Err(GeminiError::invalid(format!(
            "Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"{mode}\""
        )));
    }
    let allowed: Vec<String> = fo
        .get("allowedFunctionNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    if !allowed.is_empty() && mode != "ANY" && mode != "VALIDATED" {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: allowed_function_names is only allowed when mode is ANY.\n",
        ));
    }
    if let Some(n) = allowed.iter().find(|n| !declared.contains(n)) {
        return Err(GeminiError::invalid(format!(
            "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: '{n}' is not a declared function.\n"
        )));
    }
    Ok((mode.to_owned(), allowed))
}

/// `(maxOutputTokens, stopSequences, JSON mode)`.
fn generation_config(obj: &Map<String, Value>) -> Result<(Option<u64>, Vec<String>, bool)> {
    let Some(gc) = opt(obj, "generationConfig") else {
        return Ok((None, Vec::new(), false));
    };
    let go = object(gc, "generation_config")?;
    check_fields(go, GENERATION_FIELDS, "generation_config")?;
    let stop: Vec<String> = match opt(go, "stopSequences") {
        None => Vec::new(),
        Some(Value::Array(a)) => {
            if a.len() > 5 {
                return Err(GeminiError::invalid(
                    "* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences are allowed.\n",
                ));
            }
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        }
        Some(_) => {
            return Err(GeminiError::invalid(
                "Invalid value at 'generation_config.stop_sequences'",
            ));
        }
    };
    let mime = go
        .get("responseMimeType")
        .and_then(Value::as_str)
        .unwrap_or("text/plain");
    if !matches!(mime, "text/plain" | "application/json" | "text/x.enum") {
        return Err(GeminiError::invalid(format!(
            "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `text/x.enum`; got {mime}\n"
        )));
    }
    let schema = opt(go, "responseSchema").is_some();
    let json_schema = opt(go, "responseJsonSchema").is_some();
    if schema && json_schema {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.generation_config: response_schema and response_json_schema are mutually exclusive.\n",
        ));
    }
    if (schema || json_schema) && mime != "application/json" {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.generation_config.response_mime_type: a response schema requires response_mime_type application/json.\n",
        ));
    }
    let max = match opt(go, "maxOutputTokens") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n),
            _ => {
                return Err(GeminiError::invalid(
                    "* GenerateContentRequest.generation_config.max_output_tokens: must be positive.\n",
                ));
            }
        },
    };
    if let Some(t) = opt(go, "temperature").and_then(Value::as_f64)
        && !(0.0..=2.0).contains(&t)
    {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.generation_config.temperature: must be in [0, 2].\n",
        ));
    }
    if let Some(n) = opt(go, "candidateCount").and_then(Value::as_u64)
        && n != 1
    {
        return Err(GeminiError::invalid(
            "tollgate-mock supports only candidateCount 1.",
        ));
    }
    Ok((max, stop, mime == "application/json"))
}

/// One input of a validated batchEmbedContents request.
#[derive(Debug, Clone)]
pub struct EmbedRequest {
    pub texts: Vec<String>,
    pub dimensions: Option<usize>,
}

/// Validate a batchEmbedContents body for the URL's `model_path` (`models/...`).
pub fn batch_embed(body: &Value, model_path: &str) -> Result<EmbedRequest> {
    let obj = object(body, "body")?;
    check_fields(obj, &["requests"], "")?;
    let reqs = match obj.get("requests") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(GeminiError::invalid(
                "* BatchEmbedContentsRequest.requests: requests is not specified\n",
            ));
        }
    };
    let mut texts = Vec::new();
    let mut dimensions = None;
    for (i, r) in reqs.iter().enumerate() {
        let at = format!("requests[{i}]");
        let ro = object(r, &at)?;
        check_fields(
            ro,
            &[
                "model",
                "content",
                "taskType",
                "title",
                "outputDimensionality",
            ],
            &at,
        )?;
        let model = ro.get("model").and_then(Value::as_str).unwrap_or("");
        if model != model_path {
            return Err(GeminiError::invalid(format!(
                "* BatchEmbedContentsRequest.{at}.model: the model of each request must be the batch's model ({model_path}), got '{model}'\n"
            )));
        }
        let co = object(
            ro.get("content").unwrap_or(&Value::Null),
            &format!("{at}.content"),
        )?;
        check_fields(co, &["role", "parts"], &format!("{at}.content"))?;
        let t = parts(co.get("parts"), &format!("{at}.content"), "user")?;
        if t.text.is_empty() {
            return Err(GeminiError::invalid(format!(
                "* BatchEmbedContentsRequest.{at}.content: only text can be embedded\n"
            )));
        }
        texts.push(t.text.join(" "));
        if let Some(d) = opt(ro, "outputDimensionality") {
            match d.as_u64().and_then(|d| usize::try_from(d).ok()) {
                Some(d) if d >= 1 => dimensions = Some(d),
                _ => {
                    return Err(GeminiError::invalid(format!(
                        "* BatchEmbedContentsRequest.{at}.output_dimensionality: must be positive\n"
                    )));
                }
            }
        }
    }
    Ok(EmbedRequest { texts, dimensions })
}
