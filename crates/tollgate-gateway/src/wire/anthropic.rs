//! The Anthropic Messages format: passed through for the Anthropic door, translated
//! for the OpenAI door.

use bytes::Bytes;
use serde_json::Value;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::anthropic;
use tollgate_protocol::sse::{SseEvent, SseParser};
use tollgate_protocol::translate::{self, AnthropicToOpenAiStream};

use super::{
    OutputCap, Transcoder, WireAdapter, chat_id, encode_openai_data, request_body, translate_error,
    unix_now, usage_of_openai,
};
use crate::door::{DoorRequest, door_of};
use crate::usage::{self, Usage};

pub(super) struct AnthropicMessages;

impl WireAdapter for AnthropicMessages {
    fn request(
        &self,
        request: &DoorRequest,
        upstream_model: &str,
        cap: OutputCap,
    ) -> Result<Bytes, GatewayError> {
        // Anthropic requires `max_tokens`: the cap fills it when the client set none.
        let mut a = match request {
            DoorRequest::OpenAi(r) => {
                translate::openai_request_to_anthropic(r, cap.tokens).map_err(translate_error)?
            }
            DoorRequest::Anthropic(r) => r.as_ref().clone(),
        };
        a.model = upstream_model.to_string();
        request_body(serde_json::to_vec(&a))
    }

    fn response(
        &self,
        request: &DoorRequest,
        raw: &[u8],
    ) -> Result<(Bytes, Option<Usage>), String> {
        match request {
            DoorRequest::Anthropic(_) => {
                let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                if !v.get("content").is_some_and(Value::is_array) {
                    return Err("answer has no `content`".into());
                }
                Ok((
                    Bytes::copy_from_slice(raw),
                    v.get("usage").and_then(usage::from_anthropic_value),
                ))
            }
            DoorRequest::OpenAi(r) => {
                let a: anthropic::MessagesResponse =
                    serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                let hints = translate::ResponseHints::for_request(r, unix_now());
                let o = translate::anthropic_response_to_openai(&a, &hints);
                let usage = usage_of_openai(&o);
                let body = serde_json::to_vec(&o).map_err(|e| e.to_string())?;
                Ok((Bytes::from(body), usage))
            }
        }
    }

    fn stream(&self, request: &DoorRequest, model: &str) -> Box<dyn Transcoder> {
        match door_of(request) {
            Door::Anthropic => Box::new(AnthropicPassthrough {
                parser: SseParser::new(),
                usage: Usage::default(),
                seen_usage: false,
                done: false,
            }),
            Door::OpenAi => {
                let json_tool = match request {
                    DoorRequest::OpenAi(r) => {
                        translate::json_schema_tool_name(r).map(str::to_owned)
                    }
                    DoorRequest::Anthropic(_) => None,
                };
                Box::new(AnthropicToOpenAi {
                    parser: SseParser::new(),
                    inner: AnthropicToOpenAiStream::new(
                        chat_id(),
                        model,
                        unix_now(),
                        request.wants_usage_chunk(),
                    )
                    .with_json_tool(json_tool),
                    done: false,
                })
            }
        }
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
