//! The OpenAI Chat Completions format (also Mistral, Azure OpenAI and compatible
//! servers): passed through for the OpenAI door, translated for the Anthropic door.

use bytes::Bytes;
use serde_json::Value;
use tollgate_core::{Door, GatewayError};
use tollgate_protocol::openai;
use tollgate_protocol::sse::{SseEvent, SseParser};
use tollgate_protocol::translate::{self, OpenAiToAnthropicStream};

use super::{
    OutputCap, Transcoder, WireAdapter, data_error, encode_anthropic, message_id, push_openai_data,
    request_body, translate_error, usage_of_openai,
};
use crate::door::{DoorRequest, door_of};
use crate::usage::{self, Usage};

pub(super) struct OpenAiChat;

impl WireAdapter for OpenAiChat {
    fn request(
        &self,
        request: &DoorRequest,
        upstream_model: &str,
        cap: OutputCap,
    ) -> Result<Bytes, GatewayError> {
        let mut o = match request {
            DoorRequest::OpenAi(r) => r.as_ref().clone(),
            DoorRequest::Anthropic(r) => {
                translate::anthropic_request_to_openai(r).map_err(translate_error)?
            }
        };
        o.model = upstream_model.to_string();
        cap.apply(&mut o);
        ask_for_stream_usage(&mut o);
        request_body(serde_json::to_vec(&o))
    }

    fn response(
        &self,
        request: &DoorRequest,
        raw: &[u8],
    ) -> Result<(Bytes, Option<Usage>), String> {
        match door_of(request) {
            Door::OpenAi => {
                let head: AnswerHead = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                if !head.choices_is_array {
                    return Err("answer has no `choices`".into());
                }
                Ok((
                    Bytes::copy_from_slice(raw),
                    head.usage.as_ref().and_then(usage::from_openai_value),
                ))
            }
            Door::Anthropic => {
                let o: openai::ChatResponse =
                    serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                let usage = usage_of_openai(&o);
                let a = translate::openai_response_to_anthropic(&o);
                let body = serde_json::to_vec(&a).map_err(|e| e.to_string())?;
                Ok((Bytes::from(body), usage))
            }
        }
    }

    fn stream(&self, request: &DoorRequest, model: &str) -> Box<dyn Transcoder> {
        match door_of(request) {
            Door::OpenAi => Box::new(OpenAiPassthrough {
                parser: SseParser::new(),
                state: PassState {
                    strip_usage_chunk: !request.wants_usage_chunk(),
                    usage: None,
                    usage_chunk_seen: false,
                    last_head: None,
                    done: false,
                },
            }),
            Door::Anthropic => Box::new(OpenAiToAnthropic {
                parser: SseParser::new(),
                inner: OpenAiToAnthropicStream::new(message_id(), model.to_string()),
                done: false,
            }),
        }
    }
}

/// What the OpenAI door reads of a whole answer it forwards as it came: whether
/// `choices` is an array, and the usage. The rest of the answer is checked to be JSON
/// but not built into a tree (as with a `Value`, the last of repeated keys wins).
struct AnswerHead {
    choices_is_array: bool,
    usage: Option<Value>,
}

impl<'de> serde::Deserialize<'de> for AnswerHead {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = AnswerHead;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnswerHead, A::Error> {
                let mut head = AnswerHead {
                    choices_is_array: false,
                    usage: None,
                };
                while let Some(key) = map.next_key::<HeadKey>()? {
                    match key {
                        HeadKey::Choices => {
                            let raw: &'de serde_json::value::RawValue = map.next_value()?;
                            head.choices_is_array = raw.get().starts_with('[');
                        }
                        HeadKey::Usage => head.usage = Some(map.next_value()?),
                        HeadKey::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
            // Any other JSON value is an answer without `choices`.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<AnswerHead, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(AnswerHead::none())
            }
            fn visit_str<E>(self, _: &str) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
            fn visit_bool<E>(self, _: bool) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
            fn visit_i64<E>(self, _: i64) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
            fn visit_u64<E>(self, _: u64) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
            fn visit_f64<E>(self, _: f64) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
            fn visit_unit<E>(self) -> Result<AnswerHead, E> {
                Ok(AnswerHead::none())
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A key of the answer's top level, read without allocating.
enum HeadKey {
    Choices,
    Usage,
    Other,
}

impl<'de> serde::Deserialize<'de> for HeadKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = HeadKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, k: &str) -> Result<HeadKey, E> {
                Ok(match k {
                    "choices" => HeadKey::Choices,
                    "usage" => HeadKey::Usage,
                    _ => HeadKey::Other,
                })
            }
        }
        d.deserialize_str(Visit)
    }
}

impl AnswerHead {
    fn none() -> Self {
        AnswerHead {
            choices_is_array: false,
            usage: None,
        }
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

/// Whether an OpenAI chunk can be forwarded without reading it: it has choices, no
/// usage (or only `"usage": null`) and no error. Keys are matched with their quotes;
/// inside JSON string values quotes are escaped, so text cannot fake a match (a false
/// "no" only sends the chunk down the slow path). The searchers are built once: this
/// runs on every event of every stream.
fn is_plain_content_chunk(data: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static CHOICES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"choices\":[{"));
    static CHOICES_SPACED: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new("\"choices\": [{"));
    static ERROR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"error\""));
    static USAGE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("\"usage\""));
    fn only_null_usage(data: &str) -> bool {
        let mut rest = data;
        while let Some(i) = USAGE.find(rest.as_bytes()) {
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
    let bytes = data.as_bytes();
    (CHOICES.find(bytes).is_some() || CHOICES_SPACED.find(bytes).is_some())
        && ERROR.find(bytes).is_none()
        && only_null_usage(data)
}

struct OpenAiPassthrough {
    parser: SseParser,
    state: PassState,
}

/// What the passthrough keeps beside its parser.
struct PassState {
    strip_usage_chunk: bool,
    usage: Option<Usage>,
    /// The upstream sent OpenAI's usage-only chunk (`choices: []`).
    usage_chunk_seen: bool,
    /// `id`, `created`, `model` of the last chunk, with the usage a content chunk carried
    /// (Mistral and some compatible servers put usage on the last content chunk).
    last_head: Option<(Value, Value, Value, Value)>,
    done: bool,
}

impl PassState {
    /// One upstream event, forwarded (or not) into `out`.
    fn on_event(&mut self, data: &str, out: &mut Vec<u8>) -> Result<(), String> {
        if data.trim() == "[DONE]" {
            self.done = true;
            if !self.strip_usage_chunk
                && !self.usage_chunk_seen
                && let Some((id, created, model, usage)) = self.last_head.take()
            {
                let v = serde_json::json!({
                    "id": id, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [], "usage": usage,
                });
                push_openai_data(out, v.to_string().as_bytes());
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            return Ok(());
        }
        if is_plain_content_chunk(data) {
            // The common case needs no JSON parse: forwarded as it came.
            push_openai_data(out, data.as_bytes());
            return Ok(());
        }
        let Ok(mut v) = serde_json::from_str::<Value>(data) else {
            return Ok(());
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
                return Ok(());
            }
        }
        // A chunk with neither choices nor usage (Azure's leading
        // `prompt_filter_results`) carries nothing an OpenAI client reads.
        if usage.is_none() && usage_only {
            return Ok(());
        }
        if usage.is_some()
            && !usage_only
            && let Some(o) = v.as_object_mut()
            && let Some(u) = o.remove("usage")
        {
            let field = |k: &str| o.get(k).cloned().unwrap_or(Value::Null);
            self.last_head = Some((field("id"), field("created"), field("model"), u));
            push_openai_data(out, v.to_string().as_bytes());
            return Ok(());
        }
        push_openai_data(out, data.as_bytes());
        Ok(())
    }
}

impl Transcoder for OpenAiPassthrough {
    /// Events are forwarded as they come (unknown fields and all), except that usage is
    /// always where OpenAI puts it: in one final chunk with `choices: []`, sent only when
    /// the client asked for it (`stream_options.include_usage`). Events are read where
    /// the parser holds them, not copied out one by one.
    fn push(&mut self, chunk: &Bytes) -> Result<Bytes, String> {
        // Sized to the input, which a passthrough forwards as it came: the chunk may be
        // kept (to count tokens) until the stream ends, so spare capacity is not free.
        let mut out = Vec::with_capacity(chunk.len());
        let mut failed = None;
        let state = &mut self.state;
        self.parser
            .push_each(chunk, |ev| {
                if failed.is_none()
                    && let Err(e) = state.on_event(ev.data, &mut out)
                {
                    failed = Some(e);
                }
            })
            .map_err(|e| e.to_string())?;
        match failed {
            Some(e) => Err(e),
            None => Ok(Bytes::from(out)),
        }
    }

    fn finish(&mut self) -> Result<Bytes, String> {
        if self.state.done {
            Ok(Bytes::new())
        } else {
            Err("upstream stream ended before [DONE]".into())
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.state.usage
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

#[cfg(test)]
mod answer_head_tests {
    use serde_json::Value;

    use super::AnswerHead;
    use crate::usage;

    /// What the door read before: a whole `Value` tree.
    fn by_tree(raw: &str) -> Result<(bool, Option<usage::Usage>), ()> {
        let v: Value = serde_json::from_str(raw).map_err(|_| ())?;
        Ok((
            v.get("choices").is_some_and(Value::is_array),
            v.get("usage").and_then(usage::from_openai_value),
        ))
    }

    fn by_head(raw: &str) -> Result<(bool, Option<usage::Usage>), ()> {
        let h: AnswerHead = serde_json::from_str(raw).map_err(|_| ())?;
        Ok((
            h.choices_is_array,
            h.usage.as_ref().and_then(usage::from_openai_value),
        ))
    }

    #[test]
    fn reads_what_a_value_tree_reads() {
        let cases = [
            r#"{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi \"usage\""}}],"usage":{"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}"#,
            r#"{"choices":[],"usage":null}"#,
            r#"{"choices":{"0":1}}"#,
            r#"{"choices":[1],"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
            r#"{"choices":[1],"choices":"no"}"#,
            r#"{"usage":{"prompt_tokens":1}}"#,
            r#"{"ch\u006fices":[]}"#,
            r#"[1,2]"#,
            r#""text""#,
            r#"42"#,
            r#"null"#,
            r#"{"choices":[1]"#,
            r#"{"choices":[1]} trailing"#,
            "",
        ];
        for raw in cases {
            assert_eq!(by_head(raw), by_tree(raw), "{raw}");
        }
    }
}
