//! Bodies between the door's wire format and the provider's.
//!
//! Same-format traffic is passed through: request bodies keep unknown fields, and
//! stream events are forwarded as they arrive while they are only read for usage.
//! Cross-format traffic goes through `tollgate-protocol`'s translators, event by event.
//! Gemini and Ollama are reached through the OpenAI format (the hub): an Anthropic
//! request is first translated to OpenAI, and their streams become OpenAI chunks, then
//! Anthropic events when the client came through `/v1/messages`. Nothing waits for a
//! whole stream.

use bytes::Bytes;
use serde_json::Value;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::ollama::NdjsonParser;
use tollgate_protocol::sse::{SseEvent, SseParser};
use tollgate_protocol::translate::{
    self, AnthropicToOpenAiStream, GeminiToOpenAiStream, NativeHints, OllamaToOpenAiStream,
    OpenAiToAnthropicStream,
};
use tollgate_protocol::{anthropic, gemini, ollama, openai};
use tollgate_providers::WireFormat;

use crate::pipeline::{DoorRequest, door_of};
use crate::usage::{self, Usage};

/// The request body in the provider's native format, for `upstream_model`.
pub fn native_request(
    request: &DoorRequest,
    native: WireFormat,
    upstream_model: &str,
    default_max_tokens: u32,
) -> Result<Bytes, GatewayError> {
    let json = match (request, native) {
        (DoorRequest::OpenAi(r), WireFormat::OpenAiChat) => {
            let mut r = r.as_ref().clone();
            r.model = upstream_model.to_string();
            ask_for_stream_usage(&mut r);
            serde_json::to_vec(&r)
        }
        (DoorRequest::OpenAi(r), WireFormat::AnthropicMessages) => {
            let mut a = translate::openai_request_to_anthropic(r, default_max_tokens)
                .map_err(translate_error)?;
            a.model = upstream_model.to_string();
            serde_json::to_vec(&a)
        }
        (DoorRequest::Anthropic(r), WireFormat::AnthropicMessages) => {
            let mut r = r.as_ref().clone();
            r.model = upstream_model.to_string();
            serde_json::to_vec(&r)
        }
        (DoorRequest::Anthropic(r), WireFormat::OpenAiChat) => {
            let mut o = translate::anthropic_request_to_openai(r).map_err(translate_error)?;
            o.model = upstream_model.to_string();
            ask_for_stream_usage(&mut o);
            serde_json::to_vec(&o)
        }
        (_, WireFormat::Gemini) => {
            let o = hub_request(request)?;
            let g = translate::openai_request_to_gemini(&o).map_err(translate_error)?;
            serde_json::to_vec(&g)
        }
        (_, WireFormat::Ollama) => {
            let o = hub_request(request)?;
            let mut n = translate::openai_request_to_ollama(&o).map_err(translate_error)?;
            n.model = upstream_model.to_string();
            serde_json::to_vec(&n)
        }
    };
    json.map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the upstream request: {e}")))
}

/// The request in the hub (OpenAI) format, for providers reached through it.
fn hub_request(
    request: &DoorRequest,
) -> Result<std::borrow::Cow<'_, openai::ChatRequest>, GatewayError> {
    match request {
        DoorRequest::OpenAi(r) => Ok(std::borrow::Cow::Borrowed(r.as_ref())),
        DoorRequest::Anthropic(r) => translate::anthropic_request_to_openai(r)
            .map(std::borrow::Cow::Owned)
            .map_err(translate_error),
    }
}

/// Streams are metered from upstream usage, so OpenAI-format upstreams are always
/// asked for the final usage chunk; it is removed again if the client did not ask.
fn ask_for_stream_usage(r: &mut openai::ChatRequest) {
    if r.is_stream() {
        let opts = r.stream_options.get_or_insert_with(Default::default);
        opts.include_usage = Some(true);
    }
}

fn translate_error(e: tollgate_protocol::TranslateError) -> GatewayError {
    match e.param() {
        Some(p) => GatewayError::invalid_param(e.to_string(), p.to_string()),
        None => GatewayError::invalid(e.to_string()),
    }
}

/// A non-stream answer converted to the door's format, with its usage. `Err` is a
/// message about an answer that is not what the provider's format promises.
pub fn door_response(
    request: &DoorRequest,
    native: WireFormat,
    raw: &[u8],
) -> Result<(Bytes, Option<Usage>), String> {
    match (door_of(request), native) {
        (Door::OpenAi, WireFormat::OpenAiChat) => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if !v.get("choices").is_some_and(Value::is_array) {
                return Err("answer has no `choices`".into());
            }
            Ok((
                Bytes::copy_from_slice(raw),
                v.get("usage").and_then(usage::from_openai_value),
            ))
        }
        (Door::Anthropic, WireFormat::AnthropicMessages) => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if !v.get("content").is_some_and(Value::is_array) {
                return Err("answer has no `content`".into());
            }
            Ok((
                Bytes::copy_from_slice(raw),
                v.get("usage").and_then(usage::from_anthropic_value),
            ))
        }
        (Door::OpenAi, WireFormat::AnthropicMessages) => {
            let a: anthropic::MessagesResponse =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            let hints = match request {
                DoorRequest::OpenAi(r) => translate::ResponseHints::for_request(r, unix_now()),
                DoorRequest::Anthropic(_) => translate::ResponseHints::default(),
            };
            let o = translate::anthropic_response_to_openai(&a, &hints);
            let usage = usage_of_openai(&o);
            let body = serde_json::to_vec(&o).map_err(|e| e.to_string())?;
            Ok((Bytes::from(body), usage))
        }
        (Door::Anthropic, WireFormat::OpenAiChat) => {
            let o: openai::ChatResponse = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            let usage = usage_of_openai(&o);
            let a = translate::openai_response_to_anthropic(&o);
            let body = serde_json::to_vec(&a).map_err(|e| e.to_string())?;
            Ok((Bytes::from(body), usage))
        }
        (door, WireFormat::Gemini) => {
            let g: gemini::GenerateContentResponse =
                serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if g.candidates.is_empty() && g.prompt_feedback.is_none() {
                return Err("answer has no `candidates`".into());
            }
            let o = translate::gemini_response_to_openai(&g, &native_hints(request));
            hub_response(door, &o)
        }
        (door, WireFormat::Ollama) => {
            let n: ollama::ChatResponse = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if let Some(e) = &n.error {
                return Err(format!("upstream reported an error: {e}"));
            }
            if n.message.is_none() {
                return Err("answer has no `message`".into());
            }
            let o = translate::ollama_response_to_openai(&n, &native_hints(request));
            hub_response(door, &o)
        }
    }
}

/// Ids and names for an answer translated from a native format.
fn native_hints(request: &DoorRequest) -> NativeHints {
    NativeHints::new(
        format!("chatcmpl-{}", uuid::Uuid::now_v7().simple()),
        request.model(),
        unix_now(),
    )
}

/// A hub (OpenAI) answer in the door's format, with its usage.
fn hub_response(door: Door, o: &openai::ChatResponse) -> Result<(Bytes, Option<Usage>), String> {
    let usage = usage_of_openai(o);
    let body = match door {
        Door::OpenAi => serde_json::to_vec(o),
        Door::Anthropic => serde_json::to_vec(&translate::openai_response_to_anthropic(o)),
    }
    .map_err(|e| e.to_string())?;
    Ok((Bytes::from(body), usage))
}

fn usage_of_openai(o: &openai::ChatResponse) -> Option<Usage> {
    o.usage.as_ref().map(usage::from_openai)
}

/// Converts an upstream event stream into the door's, incrementally.
pub trait Transcoder: Send + 'static {
    /// Upstream bytes in, client bytes out (possibly empty). `Err` is a failure the
    /// upstream reported inside the stream.
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String>;
    /// The upstream body ended: the closing bytes, or `Err` if it ended before the
    /// stream was complete.
    fn finish(&mut self) -> Result<Bytes, String>;
    fn usage(&self) -> Option<Usage>;
}

pub fn stream_transcoder(
    request: &DoorRequest,
    native: WireFormat,
    model: &str,
) -> Box<dyn Transcoder> {
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = unix_now();
    let client_wants_usage = request.wants_usage_chunk();
    let json_tool = match request {
        DoorRequest::OpenAi(r) => translate::json_schema_tool_name(r).map(str::to_owned),
        DoorRequest::Anthropic(_) => None,
    };
    match (door_of(request), native) {
        (Door::OpenAi, WireFormat::OpenAiChat) => Box::new(OpenAiPassthrough {
            parser: SseParser::new(),
            strip_usage_chunk: !client_wants_usage,
            usage: None,
            usage_chunk_seen: false,
            last_head: None,
            done: false,
        }),
        (door, WireFormat::Gemini | WireFormat::Ollama) => {
            let hints = NativeHints::new(id, model, created);
            // The Anthropic door always needs usage for `message_delta`.
            let include_usage = client_wants_usage || door == Door::Anthropic;
            let inner = if native == WireFormat::Gemini {
                Native::Gemini(
                    SseParser::new(),
                    GeminiToOpenAiStream::new(hints, include_usage),
                )
            } else {
                Native::Ollama(
                    NdjsonParser::new(),
                    OllamaToOpenAiStream::new(hints, include_usage),
                )
            };
            Box::new(NativeStream {
                inner,
                to_anthropic: (door == Door::Anthropic).then(|| {
                    OpenAiToAnthropicStream::new(
                        format!("msg_{}", uuid::Uuid::now_v7().simple()),
                        model.to_string(),
                    )
                }),
            })
        }
        (Door::Anthropic, WireFormat::AnthropicMessages) => Box::new(AnthropicPassthrough {
            parser: SseParser::new(),
            usage: Usage::default(),
            seen_usage: false,
            done: false,
        }),
        (Door::OpenAi, WireFormat::AnthropicMessages) => Box::new(AnthropicToOpenAi {
            parser: SseParser::new(),
            inner: AnthropicToOpenAiStream::new(id, model, created, client_wants_usage)
                .with_json_tool(json_tool),
            done: false,
        }),
        (Door::Anthropic, WireFormat::OpenAiChat) => Box::new(OpenAiToAnthropic {
            parser: SseParser::new(),
            inner: OpenAiToAnthropicStream::new(
                format!("msg_{}", uuid::Uuid::now_v7().simple()),
                model.to_string(),
            ),
            done: false,
        }),
    }
}

fn encode_openai_data(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    out
}

/// An error object inside an SSE `data:` payload, as OpenAI-compatible servers send.
fn data_error(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    Some(
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("upstream reported an error")
            .to_string(),
    )
}

/// Whether an OpenAI chunk can be forwarded without reading it: it has choices, no
/// usage (or only `"usage": null`) and no error. Keys are matched with their quotes;
/// inside JSON string values quotes are escaped, so text cannot fake a match (a false
/// "no" only sends the chunk down the slow path).
fn is_plain_content_chunk(data: &str) -> bool {
    fn only_null_usage(data: &str) -> bool {
        let mut rest = data;
        while let Some(i) = rest.find("\"usage\"") {
            let after = rest[i + 7..].trim_start();
            let Some(after) = after.strip_prefix(':') else {
                return false;
            };
            if !after.trim_start().starts_with("null") {
                return false;
            }
            rest = &rest[i + 7..];
        }
        true
    }
    (data.contains("\"choices\":[{") || data.contains("\"choices\": [{"))
        && !data.contains("\"error\"")
        && only_null_usage(data)
}

struct OpenAiPassthrough {
    parser: SseParser,
    strip_usage_chunk: bool,
    usage: Option<Usage>,
    /// The upstream sent OpenAI's usage-only chunk (`choices: []`).
    usage_chunk_seen: bool,
    /// `id`, `created`, `model` of the last chunk, with the usage a content chunk carried
    /// (Mistral and some compatible servers put usage on the last content chunk).
    last_head: Option<(Value, Value, Value, Value)>,
    done: bool,
}

impl Transcoder for OpenAiPassthrough {
    /// Events are forwarded as they come (unknown fields and all), except that usage is
    /// always where OpenAI puts it: in one final chunk with `choices: []`, sent only when
    /// the client asked for it (`stream_options.include_usage`).
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let events = self.parser.push(chunk).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for ev in &events {
            if ev.data.trim() == "[DONE]" {
                self.done = true;
                if !self.strip_usage_chunk
                    && !self.usage_chunk_seen
                    && let Some((id, created, model, usage)) = self.last_head.take()
                {
                    let v = serde_json::json!({
                        "id": id, "object": "chat.completion.chunk", "created": created,
                        "model": model, "choices": [], "usage": usage,
                    });
                    out.extend_from_slice(&encode_openai_data(v.to_string().as_bytes()));
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                continue;
            }
            if is_plain_content_chunk(&ev.data) {
                // The common case needs no JSON parse: forwarded as it came.
                out.extend_from_slice(&encode_openai_data(ev.data.as_bytes()));
                continue;
            }
            let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            if let Some(msg) = data_error(&v) {
                return Err(msg);
            }
            let usage = v.get("usage").and_then(usage::from_openai_value);
            if usage.is_some() {
                self.usage = usage;
            }
            let usage_only = v
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if usage.is_some() && usage_only {
                self.usage_chunk_seen = true;
                if self.strip_usage_chunk {
                    continue;
                }
            }
            // A chunk with neither choices nor usage (Azure's leading
            // `prompt_filter_results`) carries nothing an OpenAI client reads.
            if usage.is_none() && usage_only {
                continue;
            }
            if usage.is_some()
                && !usage_only
                && let Some(o) = v.as_object_mut()
                && let Some(u) = o.remove("usage")
            {
                let field = |k: &str| o.get(k).cloned().unwrap_or(Value::Null);
                self.last_head = Some((field("id"), field("created"), field("model"), u));
                out.extend_from_slice(&encode_openai_data(v.to_string().as_bytes()));
                continue;
            }
            out.extend_from_slice(&encode_openai_data(ev.data.as_bytes()));
        }
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        if self.done {
            Ok(Bytes::new())
        } else {
            Err("upstream stream ended before [DONE]".into())
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

struct AnthropicPassthrough {
    parser: SseParser,
    usage: Usage,
    seen_usage: bool,
    done: bool,
}

impl Transcoder for AnthropicPassthrough {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        for ev in self.parser.push(chunk).map_err(|e| e.to_string())? {
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            match v.get("type").and_then(Value::as_str) {
                Some("message_start") => {
                    if let Some(u) = v
                        .pointer("/message/usage")
                        .and_then(usage::from_anthropic_value)
                    {
                        self.usage = Usage {
                            output: self.usage.output.max(u.output),
                            ..u
                        };
                        self.seen_usage = true;
                    }
                }
                Some("message_delta") => {
                    if let Some(out) = v.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                        self.usage.output = out;
                        self.seen_usage = true;
                    }
                }
                Some("message_stop") => self.done = true,
                Some("error") => {
                    return Err(v
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("upstream reported an error")
                        .to_string());
                }
                _ => {}
            }
        }
        Ok(chunk.clone())
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        if self.done {
            Ok(Bytes::new())
        } else {
            Err("upstream stream ended before message_stop".into())
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.seen_usage.then_some(self.usage)
    }
}

struct AnthropicToOpenAi {
    parser: SseParser,
    inner: AnthropicToOpenAiStream,
    done: bool,
}

impl AnthropicToOpenAi {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), String> {
        let Ok(event) = serde_json::from_str::<anthropic::StreamEvent>(&ev.data) else {
            // Event types this build does not know (and pings) carry nothing to translate.
            return Ok(());
        };
        if matches!(event, anthropic::StreamEvent::MessageStop) {
            self.done = true;
        }
        for chunk in self.inner.push(&event).map_err(|e| e.to_string())? {
            let json = serde_json::to_vec(&chunk).map_err(|e| e.to_string())?;
            out.extend_from_slice(&encode_openai_data(&json));
        }
        Ok(())
    }
}

impl Transcoder for AnthropicToOpenAi {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.push(chunk).map_err(|e| e.to_string())? {
            self.on_event(&ev, &mut out)?;
        }
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.finish().map_err(|e| e.to_string())? {
            self.on_event(&ev, &mut out)?;
        }
        if !self.done {
            return Err("upstream stream ended before message_stop".into());
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Ok(Bytes::from(out))
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().map(|u| usage::from_openai(&u))
    }
}

struct OpenAiToAnthropic {
    parser: SseParser,
    inner: OpenAiToAnthropicStream,
    done: bool,
}

impl OpenAiToAnthropic {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), String> {
        if ev.data.trim() == "[DONE]" {
            self.done = true;
            let events = self.inner.finish();
            return encode_anthropic(&events, out);
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            return Ok(());
        };
        if let Some(msg) = data_error(&v) {
            return Err(msg);
        }
        let chunk: openai::ChatChunk = serde_json::from_value(v).map_err(|e| e.to_string())?;
        let events = self.inner.push(&chunk);
        encode_anthropic(&events, out)
    }
}

fn encode_anthropic(events: &[anthropic::StreamEvent], out: &mut Vec<u8>) -> Result<(), String> {
    for ev in events {
        let json = serde_json::to_string(ev).map_err(|e| e.to_string())?;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(ev.event_name().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    Ok(())
}

impl Transcoder for OpenAiToAnthropic {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.push(chunk).map_err(|e| e.to_string())? {
            self.on_event(&ev, &mut out)?;
        }
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.finish().map_err(|e| e.to_string())? {
            self.on_event(&ev, &mut out)?;
        }
        if !self.done {
            return Err("upstream stream ended before [DONE]".into());
        }
        Ok(Bytes::from(out))
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().map(|u| usage::from_anthropic(&u))
    }
}

/// A Gemini (SSE) or Ollama (NDJSON) stream's decoder and its translator to OpenAI chunks.
enum Native {
    Gemini(SseParser, GeminiToOpenAiStream),
    Ollama(NdjsonParser, OllamaToOpenAiStream),
}

/// A native stream for either door: native → OpenAI chunks (→ Anthropic events).
struct NativeStream {
    inner: Native,
    to_anthropic: Option<OpenAiToAnthropicStream>,
}

impl NativeStream {
    fn chunks(&mut self, bytes: Option<&[u8]>) -> Result<Vec<openai::ChatChunk>, String> {
        let err = |e: tollgate_protocol::TranslateError| e.to_string();
        let mut out = Vec::new();
        match &mut self.inner {
            Native::Gemini(parser, t) => {
                let events = match bytes {
                    Some(b) => parser.push(b),
                    None => parser.finish(),
                }
                .map_err(|e| e.to_string())?;
                for ev in events {
                    let Ok(e) = serde_json::from_str::<gemini::GenerateContentResponse>(&ev.data)
                    else {
                        return Err(format!(
                            "upstream sent an event that is not JSON: {}",
                            ev.data
                        ));
                    };
                    out.extend(t.push(&e).map_err(err)?);
                }
                if bytes.is_none() {
                    out.extend(t.finish().map_err(err)?);
                }
            }
            Native::Ollama(parser, t) => {
                let lines = match bytes {
                    Some(b) => parser.push(b),
                    None => parser.finish(),
                }
                .map_err(|e| e.to_string())?;
                for line in lines {
                    let Ok(l) = serde_json::from_slice::<ollama::ChatResponse>(&line) else {
                        return Err("upstream sent a line that is not JSON".into());
                    };
                    out.extend(t.push(&l).map_err(err)?);
                }
                if bytes.is_none() {
                    out.extend(t.finish().map_err(err)?);
                }
            }
        }
        Ok(out)
    }

    fn encode(&mut self, chunks: &[openai::ChatChunk], end: bool) -> Result<Bytes, String> {
        let mut out = Vec::new();
        match &mut self.to_anthropic {
            None => {
                for c in chunks {
                    let json = serde_json::to_vec(c).map_err(|e| e.to_string())?;
                    out.extend_from_slice(&encode_openai_data(&json));
                }
                if end {
                    out.extend_from_slice(b"data: [DONE]\n\n");
                }
            }
            Some(a) => {
                for c in chunks {
                    encode_anthropic(&a.push(c), &mut out)?;
                }
                if end {
                    encode_anthropic(&a.finish(), &mut out)?;
                }
            }
        }
        Ok(Bytes::from(out))
    }
}

impl Transcoder for NativeStream {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let chunks = self.chunks(Some(chunk))?;
        self.encode(&chunks, false)
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let chunks = self.chunks(None)?;
        self.encode(&chunks, true)
    }

    fn usage(&self) -> Option<Usage> {
        let u = match &self.inner {
            Native::Gemini(_, t) => t.usage(),
            Native::Ollama(_, t) => t.usage(),
        }?;
        Some(usage::from_openai(&u))
    }
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

#[cfg(test)]
mod fast_path_tests {
    use super::is_plain_content_chunk;

    #[test]
    fn only_plain_content_chunks_skip_parsing() {
        assert!(is_plain_content_chunk(
            r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi \"usage\": 5"}}]}"#
        ));
        assert!(is_plain_content_chunk(
            r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#
        ));
        assert!(is_plain_content_chunk(
            r#"{"choices": [{"delta":{"content":"x"}}], "usage": null}"#
        ));
        assert!(!is_plain_content_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#
        ));
        assert!(!is_plain_content_chunk(
            r#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}"#
        ));
        assert!(!is_plain_content_chunk(r#"{"error":{"message":"boom"}}"#));
        assert!(!is_plain_content_chunk(
            r#"{"choices":[],"prompt_filter_results":[]}"#
        ));
    }
}
