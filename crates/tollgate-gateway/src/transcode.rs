//! Bodies between the door's wire format and the provider's.
//!
//! Same-format traffic is passed through: request bodies keep unknown fields, and
//! stream bytes are forwarded as they arrive while the events are only read for
//! usage. Cross-format traffic goes through `tollgate-protocol`'s translators, event
//! by event. Nothing waits for a whole stream.

use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tollgate_core::error::broken_stream_event;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::sse::{SseEvent, SseParser};
use tollgate_protocol::translate::{self, AnthropicToOpenAiStream, OpenAiToAnthropicStream};
use tollgate_protocol::{anthropic, openai};
use tollgate_providers::WireFormat;

use crate::meter::{Meter, Usage};
use crate::pipeline::DoorRequest;

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
    };
    json.map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the upstream request: {e}")))
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
    match (request.door(), native) {
        (Door::OpenAi, WireFormat::OpenAiChat) => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if !v.get("choices").is_some_and(Value::is_array) {
                return Err("answer has no `choices`".into());
            }
            Ok((
                Bytes::copy_from_slice(raw),
                v.get("usage").and_then(Usage::from_openai),
            ))
        }
        (Door::Anthropic, WireFormat::AnthropicMessages) => {
            let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
            if !v.get("content").is_some_and(Value::is_array) {
                return Err("answer has no `content`".into());
            }
            Ok((
                Bytes::copy_from_slice(raw),
                v.get("usage").and_then(Usage::from_anthropic),
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
    }
}

fn usage_of_openai(o: &openai::ChatResponse) -> Option<Usage> {
    o.usage.as_ref().map(|u| Usage {
        input: u.prompt_tokens,
        output: u.completion_tokens,
    })
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
    match (request.door(), native) {
        (Door::OpenAi, WireFormat::OpenAiChat) => Box::new(OpenAiPassthrough {
            parser: SseParser::new(),
            strip_usage_chunk: !client_wants_usage,
            usage: None,
            done: false,
        }),
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

struct OpenAiPassthrough {
    parser: SseParser,
    strip_usage_chunk: bool,
    usage: Option<Usage>,
    done: bool,
}

impl Transcoder for OpenAiPassthrough {
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        let events = self.parser.push(chunk);
        let mut out = Vec::new();
        for ev in &events {
            if ev.data.trim() == "[DONE]" {
                self.done = true;
                out.extend_from_slice(b"data: [DONE]\n\n");
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            if let Some(msg) = data_error(&v) {
                return Err(msg);
            }
            let usage = v.get("usage").and_then(Usage::from_openai);
            if usage.is_some() {
                self.usage = usage;
            }
            let usage_only = v
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty);
            if self.strip_usage_chunk && usage_only && usage.is_some() {
                continue;
            }
            out.extend_from_slice(&encode_openai_data(ev.data.as_bytes()));
        }
        if !self.strip_usage_chunk {
            // Nothing is removed in this mode: forward the upstream bytes exactly as
            // they came. (The modes never mix within a stream: a rebuilt chunk after
            // a raw one could repeat an event split across them.)
            return Ok(chunk.clone());
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
        for ev in self.parser.push(chunk) {
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            match v.get("type").and_then(Value::as_str) {
                Some("message_start") => {
                    if let Some(u) = v.pointer("/message/usage").and_then(Usage::from_anthropic) {
                        self.usage.input = u.input;
                        self.usage.output = u.output;
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
        for ev in self.parser.push(chunk) {
            self.on_event(&ev, &mut out)?;
        }
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.finish() {
            self.on_event(&ev, &mut out)?;
        }
        if !self.done {
            return Err("upstream stream ended before message_stop".into());
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Ok(Bytes::from(out))
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().map(|u| Usage {
            input: u.prompt_tokens,
            output: u.completion_tokens,
        })
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
        for ev in self.parser.push(chunk) {
            self.on_event(&ev, &mut out)?;
        }
        Ok(Bytes::from(out))
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        let mut out = Vec::new();
        for ev in self.parser.finish() {
            self.on_event(&ev, &mut out)?;
        }
        if !self.done {
            return Err("upstream stream ended before [DONE]".into());
        }
        Ok(Bytes::from(out))
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage().map(|u| Usage {
            input: u.input_tokens
                + u.cache_read_input_tokens.unwrap_or(0)
                + u.cache_creation_input_tokens.unwrap_or(0),
            output: u.output_tokens,
        })
    }
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// State of a stream being relayed to the client.
struct Relay {
    upstream: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    transcoder: Box<dyn Transcoder>,
    door: Door,
    idle: Duration,
    deadline: Instant,
    /// Records usage when the relay ends or is dropped (client gone).
    meter: Meter,
    ended: bool,
}

impl Relay {
    fn end_with(&mut self, bytes: Bytes) -> Bytes {
        self.ended = true;
        if let Some(u) = self.transcoder.usage() {
            self.meter.observe(u);
        }
        self.meter.record();
        bytes
    }

    fn broken(&mut self, timeout: bool, message: &str) -> Bytes {
        tracing::warn!(timeout, %message, "upstream stream broke after it started");
        let ev = broken_stream_event(self.door, timeout, message);
        self.end_with(Bytes::from(ev))
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.ended {
                return None;
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            let wait = self.idle.min(left);
            match tokio::time::timeout(wait, self.upstream.next()).await {
                Err(_) => {
                    let msg = if left <= self.idle {
                        "The upstream stream exceeded the total timeout"
                    } else {
                        "The upstream stream went idle for too long"
                    };
                    return Some(self.broken(true, msg));
                }
                Ok(None) => {
                    return Some(match self.transcoder.finish() {
                        Ok(tail) => self.end_with(tail),
                        Err(msg) => self.broken(false, &msg),
                    });
                }
                Ok(Some(Err(e))) => {
                    let msg = format!("The upstream stream broke: {e}");
                    return Some(self.broken(false, &msg));
                }
                Ok(Some(Ok(chunk))) => match self.transcoder.push(&chunk) {
                    Ok(out) => {
                        if let Some(u) = self.transcoder.usage() {
                            self.meter.observe(u);
                        }
                        if !out.is_empty() {
                            return Some(out);
                        }
                    }
                    Err(msg) => return Some(self.broken(false, &msg)),
                },
            }
        }
    }
}

/// The client's body for a streamed answer: relays upstream chunks as they arrive,
/// ends with the door's error event if the upstream breaks or stalls.
pub fn stream_body(
    upstream: reqwest::Response,
    transcoder: Box<dyn Transcoder>,
    door: Door,
    idle: Duration,
    deadline: Instant,
    meter: Meter,
) -> Body {
    let relay = Relay {
        upstream: upstream.bytes_stream().boxed(),
        transcoder,
        door,
        idle,
        deadline,
        meter,
        ended: false,
    };
    let stream = futures::stream::unfold(relay, |mut relay| async move {
        let chunk = relay.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), relay))
    });
    Body::from_stream(stream)
}
