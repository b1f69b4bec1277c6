//! OpenAI (the hub) ↔ Google Gemini: requests, answers and streams.
//!
//! Requests: system and developer messages → `systemInstruction`; user → `user` turns,
//! assistant → `model` turns, tool messages → `functionResponse` parts (named after the
//! call they answer, `response: {"content": <text>}`) in a `user` turn; same-role
//! neighbours merge (Gemini wants a call turn answered by one turn). Images, audio
//! (`input_audio`) and files given as base64 data URLs → `inlineData`. Function tools →
//! `functionDeclarations` with `parametersJsonSchema` (plain JSON Schema, as clients write
//! it); `tool_choice` auto/none/required/named → `AUTO`/`NONE`/`ANY`/`ANY` +
//! `allowedFunctionNames`; `response_format` json_object → `responseMimeType:
//! application/json`, json_schema → that plus `responseJsonSchema`; `stop`,
//! `max_(completion_)tokens`, `temperature`, `top_p`, `seed`, penalties →
//! `generationConfig`. Tool-call ids travel as `functionCall.id` / `functionResponse.id`,
//! and a thought signature Gemini put on a call comes back from the id it was folded into.
//!
//! Refused (400): `n` > 1, logprobs, audio output, `logit_bias`, legacy functions,
//! `web_search_options`, `prediction`, non-function tools, image URLs that are not data
//! URLs (Gemini does not fetch them), content parts it has no counterpart for.
//! Dropped as harmless: `user`, `store`, `metadata`, `service_tier`, `stream_options`
//! (Gemini always reports usage), `parallel_tool_calls` (Gemini has no switch), function
//! `strict`, image `detail`, message `name`, other unknown fields.
//!
//! Answers: non-thought text parts joined; `functionCall` parts → tool calls; finish
//! `STOP` → stop (tool_calls when the model called), `MAX_TOKENS` → length, safety-type
//! reasons (`SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, ...) and a
//! blocked prompt → content_filter; usage: prompt = `promptTokenCount` (+ tool-use
//! prompt), completion = `candidatesTokenCount` + `thoughtsTokenCount`, cached =
//! `cachedContentTokenCount`.

use serde_json::{Map, Value, json};

use super::native::{
    ChunkWriter, NativeHints, Result, answered_name, arguments_text, call_names, inline_image,
    parse_arguments, reject_unsupported, split_signature, truncated, with_signature,
};
use crate::error::TranslateError;
use crate::gemini::{
    Blob, Candidate, Content, FunctionCall, FunctionCallingConfig, FunctionDeclaration,
    FunctionResponse, GenerateContentRequest, GenerateContentResponse, GenerationConfig, Part,
    Tool as GTool, ToolConfig, UsageMetadata,
};
use crate::openai::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ContentPart, FinishReason, Message,
    MessageContent, PromptTokensDetails, ResponseFormat, Role, Tool, ToolCall, ToolChoice,
    ToolChoiceMode, Usage, completion_object,
};
use crate::serde_util::type_name;

const VENDOR: &str = "Gemini";

/// Translates a chat request for Gemini (the model goes into the URL, not the body).
pub fn openai_request_to_gemini(req: &ChatRequest) -> Result<GenerateContentRequest> {
    reject_unsupported(req, VENDOR)?;
    let names = call_names(req);
    let mut system: Vec<Part> = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        match &m.role {
            Role::System | Role::Developer => {
                let text = text_only(m, i, "system prompts")?;
                if !text.is_empty() {
                    system.push(Part::text(text));
                }
            }
            Role::User => push_merged(&mut contents, "user", user_parts(m, i)?),
            Role::Assistant => push_merged(&mut contents, "model", model_parts(m, i)?),
            Role::Tool => {
                let (id, _) = split_signature(m.tool_call_id.as_deref().unwrap_or_default());
                let name = answered_name(&names, m.tool_call_id.as_deref(), i)?;
                let text = text_only(m, i, "tool results")?;
                let part = Part {
                    function_response: Some(FunctionResponse {
                        id: (!id.is_empty()).then(|| id.to_owned()),
                        name: name.to_owned(),
                        response: json!({ "content": text }),
                        extra: Map::new(),
                    }),
                    ..Part::default()
                };
                push_merged(&mut contents, "user", vec![part]);
            }
            Role::Other(r) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?}"),
                ));
            }
        }
    }
    if contents.is_empty() {
        return Err(TranslateError::invalid(
            "messages",
            "Gemini needs at least one user or assistant message with content",
        ));
    }

    let declarations: Vec<FunctionDeclaration> = req
        .tools
        .iter()
        .flatten()
        .filter_map(|t| match t {
            Tool::Function(f) => Some(FunctionDeclaration {
                name: f.function.name.clone(),
                description: f.function.description.clone(),
                parameters: None,
                parameters_json_schema: f.function.parameters.clone(),
                extra: Map::new(),
            }),
            Tool::Other(_) => None,
        })
        .collect();
    let tool_config = match (&req.tool_choice, declarations.is_empty()) {
        (Some(choice), false) => Some(ToolConfig {
            function_calling_config: Some(calling_config(choice)?),
            extra: Map::new(),
        }),
        _ => None,
    };

    Ok(GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then(|| Content {
            role: None,
            parts: system,
            extra: Map::new(),
        }),
        tools: (!declarations.is_empty()).then(|| {
            vec![GTool {
                function_declarations: Some(declarations),
                extra: Map::new(),
            }]
        }),
        tool_config,
        generation_config: Some(generation_config(req)?).filter(|g| !g.is_empty()),
        extra: Map::new(),
    })
}

fn calling_config(choice: &ToolChoice) -> Result<FunctionCallingConfig> {
    let (mode, names) = match choice {
        ToolChoice::Mode(ToolChoiceMode::Auto) => ("AUTO", None),
        ToolChoice::Mode(ToolChoiceMode::None) => ("NONE", None),
        ToolChoice::Mode(ToolChoiceMode::Required) => ("ANY", None),
        ToolChoice::Named(n) => ("ANY", Some(vec![n.function.name.clone()])),
        ToolChoice::Mode(ToolChoiceMode::Other(s)) => {
            return Err(TranslateError::invalid(
                "tool_choice",
                format!("unknown tool_choice {s:?}"),
            ));
        }
        ToolChoice::Other(_) => {
            return Err(TranslateError::unsupported(
                "tool_choice",
                "this form of `tool_choice` has no Gemini counterpart",
            ));
        }
    };
    Ok(FunctionCallingConfig {
        mode: Some(mode.to_owned()),
        allowed_function_names: names,
        extra: Map::new(),
    })
}

fn generation_config(req: &ChatRequest) -> Result<GenerationConfig> {
    let stop: Vec<String> = req
        .stop
        .as_ref()
        .map(|s| s.to_vec().into_iter().filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let (mime, schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json".to_owned()), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            Some("application/json".to_owned()),
            json_schema.schema.clone(),
        ),
        Some(ResponseFormat::Other(v)) => {
            return Err(TranslateError::unsupported(
                "response_format",
                format!(
                    "response_format of type `{}` has no Gemini counterpart",
                    type_name(v)
                ),
            ));
        }
    };
    Ok(GenerationConfig {
        stop_sequences: (!stop.is_empty()).then_some(stop),
        response_mime_type: mime,
        response_json_schema: schema,
        max_output_tokens: req.max_output_tokens(),
        temperature: req.temperature,
        top_p: req.top_p,
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        ..GenerationConfig::default()
    })
}

/// Appends parts as a turn, or to the previous turn when it has the same role.
fn push_merged(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match contents.last_mut() {
        Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content::new(role, parts)),
    }
}

/// The text of a message that may hold text only.
fn text_only(m: &Message, i: usize, what: &str) -> Result<String> {
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
                            format!("Gemini {what} accept text only"),
                        ));
                    }
                }
            }
            Ok(text)
        }
    }
}

fn user_parts(m: &Message, i: usize) -> Result<Vec<Part>> {
    let parts = match &m.content {
        None => return Ok(Vec::new()),
        Some(MessageContent::Text(s)) => {
            return Ok(if s.is_empty() {
                Vec::new()
            } else {
                vec![Part::text(s.clone())]
            });
        }
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let param = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text(t) if t.text.is_empty() => {}
            ContentPart::Text(t) => out.push(Part::text(t.text.clone())),
            ContentPart::ImageUrl(p) => {
                let (mime_type, data) =
                    inline_image(&p.image_url.url, format!("{param}.image_url.url"), VENDOR)?;
                out.push(inline(mime_type, data));
            }
            ContentPart::Other(v) => out.push(other_part(v, &param)?),
        }
    }
    Ok(out)
}

fn inline(mime_type: String, data: String) -> Part {
    Part {
        inline_data: Some(Blob {
            mime_type,
            data,
            extra: Map::new(),
        }),
        ..Part::default()
    }
}

/// `input_audio` and `file` parts with inline data; Gemini reads audio and documents.
fn other_part(v: &Value, param: &str) -> Result<Part> {
    let unsupported = || {
        TranslateError::unsupported(
            param,
            format!(
                "content part type `{}` has no Gemini counterpart",
                type_name(v)
            ),
        )
    };
    match type_name(v) {
        "input_audio" => {
            let data = v.pointer("/input_audio/data").and_then(Value::as_str);
            let format = v.pointer("/input_audio/format").and_then(Value::as_str);
            match (data, format) {
                (Some(d), Some(f)) if !d.is_empty() => {
                    Ok(inline(format!("audio/{f}"), d.to_owned()))
                }
                _ => Err(unsupported()),
            }
        }
        "file" => {
            let url = v
                .pointer("/file/file_data")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    TranslateError::unsupported(
                        format!("{param}.file"),
                        "Gemini takes files inline only: send `file_data` as a base64 data URL",
                    )
                })?;
            let (mime, data) = url
                .strip_prefix("data:")
                .and_then(|r| r.split_once(','))
                .and_then(|(meta, data)| {
                    let mime = meta.strip_suffix(";base64")?;
                    (!mime.is_empty() && !data.is_empty()).then_some((mime, data))
                })
                .ok_or_else(|| {
                    TranslateError::invalid(
                        format!("{param}.file.file_data"),
                        "`file_data` must be a base64 data URL",
                    )
                })?;
            Ok(inline(mime.to_owned(), data.to_owned()))
        }
        _ => Err(unsupported()),
    }
}

fn model_parts(m: &Message, i: usize) -> Result<Vec<Part>> {
    let mut out = Vec::new();
    let text = match &m.content {
        None => String::new(),
        Some(MessageContent::Text(s)) => s.clone(),
        Some(MessageContent::Parts(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => text.push_str(&t.text),
                    ContentPart::Other(v) if type_name(v) == "refusal" => {
                        text.push_str(v.get("refusal").and_then(Value::as_str).unwrap_or(""));
                    }
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("messages[{i}].content[{j}]"),
                            "Gemini model turns accept text and tool calls only",
                        ));
                    }
                }
            }
            text
        }
    };
    if !text.is_empty() {
        out.push(Part::text(text));
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = parse_arguments(
            &call.function.arguments,
            format!("messages[{i}].tool_calls[{j}].function.arguments"),
        )?;
        let (id, signature) = split_signature(&call.id);
        out.push(Part {
            function_call: Some(FunctionCall {
                id: (!id.is_empty()).then(|| id.to_owned()),
                name: call.function.name.clone(),
                args: Some(args),
                extra: Map::new(),
            }),
            thought_signature: signature.map(str::to_owned),
            ..Part::default()
        });
    }
    Ok(out)
}

/// Gemini's finish reason in OpenAI terms (before tool calls turn `stop` into
/// `tool_calls`).
pub fn gemini_finish_reason(reason: &str) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
        | "LANGUAGE" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Gemini usage in OpenAI terms.
pub fn gemini_usage_to_openai(u: &UsageMetadata) -> Usage {
    let prompt = u
        .prompt_token_count
        .saturating_add(u.tool_use_prompt_token_count.unwrap_or(0));
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let mut out = Usage::new(prompt, u.candidates_token_count.saturating_add(thoughts));
    if let Some(cached) = u.cached_content_token_count {
        out.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(cached),
            extra: Map::new(),
        });
    }
    if thoughts > 0 {
        out.extra.insert(
            "completion_tokens_details".to_owned(),
            json!({ "reasoning_tokens": thoughts }),
        );
    }
    out
}

fn first_candidate(resp: &GenerateContentResponse) -> Option<&Candidate> {
    resp.candidates
        .iter()
        .find(|c| c.index.unwrap_or(0) == 0)
        .or(resp.candidates.first())
}

/// A tool call's id: the one Gemini gave, else one derived from the answer's id; with
/// the thought signature folded in.
fn call_id(fc: &FunctionCall, signature: Option<&str>, hints: &NativeHints, n: u32) -> String {
    let id = fc
        .id
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| hints.call_id(n));
    with_signature(id, signature)
}

/// A Gemini answer in OpenAI's format.
pub fn gemini_response_to_openai(
    resp: &GenerateContentResponse,
    hints: &NativeHints,
) -> ChatResponse {
    let candidate = first_candidate(resp);
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in candidate
        .and_then(|c| c.content.as_ref())
        .map(|c| c.parts.as_slice())
        .unwrap_or_default()
    {
        if part.is_thought() {
            continue;
        }
        if let Some(t) = &part.text {
            text.push_str(t);
        }
        if let Some(fc) = &part.function_call {
            let n = u32::try_from(calls.len()).unwrap_or(u32::MAX);
            calls.push(ToolCall::function(
                call_id(fc, part.thought_signature.as_deref(), hints, n),
                fc.name.clone(),
                arguments_text(fc.args.as_ref()),
            ));
        }
    }
    let finish = match candidate.and_then(|c| c.finish_reason.as_deref()) {
        Some(r) => gemini_finish_reason(r),
        None if resp
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some()) =>
        {
            FinishReason::ContentFilter
        }
        None => FinishReason::Stop,
    };
    let finish = match finish {
        FinishReason::Stop if !calls.is_empty() => FinishReason::ToolCalls,
        other => other,
    };
    let content = (!text.is_empty() || calls.is_empty()).then_some(MessageContent::Text(text));
    ChatResponse {
        id: hints.id.clone(),
        object: completion_object(),
        created: hints.created,
        model: resp
            .model_version
            .clone()
            .unwrap_or_else(|| hints.model.clone()),
        choices: vec![Choice {
            index: 0,
            message: Message {
                content,
                tool_calls: (!calls.is_empty()).then_some(calls),
                ..Message::assistant("")
            },
            finish_reason: Some(finish),
            logprobs: None,
            extra: Map::new(),
        }],
        usage: resp.usage_metadata.as_ref().map(gemini_usage_to_openai),
        system_fingerprint: None,
        extra: Map::new(),
    }
}

/// Turns the events of a Gemini stream (`alt=sse`: every event a partial
/// `GenerateContentResponse`) into OpenAI chunks as they arrive. Gemini has no end
/// marker: the finish reason comes on the last event and the body ends, so the finish
/// and usage chunks are written by [`Self::finish`], which fails if no finish reason came.
#[derive(Debug, Clone)]
pub struct GeminiToOpenAiStream {
    writer: ChunkWriter,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    finished: bool,
}

impl GeminiToOpenAiStream {
    pub fn new(hints: NativeHints, include_usage: bool) -> Self {
        Self {
            writer: ChunkWriter::new(hints, include_usage),
            finish_reason: None,
            usage: None,
            finished: false,
        }
    }

    /// Translates one event. An event carrying `error` is an upstream failure.
    pub fn push(&mut self, event: &GenerateContentResponse) -> Result<Vec<ChatChunk>> {
        let mut out = Vec::new();
        if let Some(err) = event.extra.get("error") {
            return Err(TranslateError::Upstream {
                error_type: err
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .to_owned(),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("Gemini reported an error")
                    .to_owned(),
            });
        }
        if let Some(u) = &event.usage_metadata {
            self.usage = Some(gemini_usage_to_openai(u));
        }
        self.writer.ensure_role(&mut out);
        if let Some(candidate) = first_candidate(event) {
            for part in candidate
                .content
                .as_ref()
                .map(|c| c.parts.as_slice())
                .unwrap_or_default()
            {
                if part.is_thought() {
                    continue;
                }
                if let Some(t) = &part.text {
                    self.writer.text(t, &mut out);
                }
                if let Some(fc) = &part.function_call {
                    let id = call_id(
                        fc,
                        part.thought_signature.as_deref(),
                        &self.writer.hints,
                        self.writer.calls,
                    );
                    self.writer.tool_call(
                        Some(id),
                        &fc.name,
                        arguments_text(fc.args.as_ref()),
                        &mut out,
                    );
                }
            }
            if let Some(r) = &candidate.finish_reason {
                self.finish_reason = Some(gemini_finish_reason(r));
            }
        } else if event
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some())
        {
            self.finish_reason = Some(FinishReason::ContentFilter);
        }
        Ok(out)
    }

    /// The upstream body ended: the finish chunk and (if asked) the usage chunk, or an
    /// error if the stream stopped before Gemini said why it finished.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>> {
        let mut out = Vec::new();
        if self.finished {
            return Ok(out);
        }
        let Some(reason) = self.finish_reason.clone() else {
            return Err(truncated(VENDOR));
        };
        self.finished = true;
        self.writer.end(reason, self.usage.as_ref(), &mut out);
        Ok(out)
    }

    /// Usage so far (Gemini repeats it on events; the last one is complete).
    pub fn usage(&self) -> Option<Usage> {
        self.usage.clone()
    }
}
