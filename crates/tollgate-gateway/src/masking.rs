//! The masking body filter of the request lifecycle (PRODUCT.md, "Data masking").
//!
//! When a route knows what a call is for (the model asked, and the service or
//! prompt-API it came through), it picks the rules that apply once
//! ([`Masks::select`]) and puts them on the call ([`Call::set_masks`]). From there
//! every body goes through one filter per direction:
//! - **request**: [`mask_chat_request`] (message texts of both chat doors, the
//!   Responses door and prompt-APIs, which all become a chat request),
//!   [`mask_embeddings`], and for services [`mask_body`] (JSON paths and strings of a
//!   JSON body, or a text body), before anything leaves the gateway;
//! - **response**: [`mask_answer`] for whole answers in the door's format,
//!   [`StreamFilter`] for streamed ones (the relay's output, in the door's format, so
//!   one filter serves every provider), [`mask_body`] for services.
//!
//! A `block` rule's match becomes [`GatewayError::ContentBlocked`] (400, or the door's
//! stream error once a stream has started). Each masked value is counted in
//! `tollgate_masking_matches_total{rule,detector}`; no value is ever logged, and a
//! call record's request body is replaced by the masked one.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};
use tollgate_core::snapshot::Snapshot;
use tollgate_core::{Door, GatewayError};
use tollgate_masking::{Blocked, Hit, Masker, StreamMasker, Way};
use tollgate_protocol::anthropic;
use tollgate_protocol::openai::{self, EmbeddingInput};
use tollgate_protocol::sse::SseParser;
use tollgate_telemetry::names;

use crate::door::DoorRequest;
use crate::lifecycle::Call;

/// The rules that apply to one call, per direction (`None`: nothing to do).
#[derive(Debug, Clone, Default)]
pub struct Masks {
    pub request: Option<Masker>,
    pub response: Option<Masker>,
}

impl Masks {
    /// The rules of `snapshot` for a call on `model` through `service` (a service's
    /// or prompt-API's name).
    pub fn select(snapshot: &Snapshot, model: Option<&str>, service: Option<&str>) -> Masks {
        if snapshot.masking.is_empty() {
            return Masks::default();
        }
        Masks {
            request: snapshot.masking.select(model, service, Way::Request),
            response: snapshot.masking.select(model, service, Way::Response),
        }
    }
}

/// Counts masked values (the values themselves go nowhere).
pub fn count(hits: &[Hit]) {
    for h in hits {
        metrics::counter!(
            names::MASKING_MATCHES_TOTAL,
            "rule" => metrics::SharedString::from(h.rule.to_string()),
            "detector" => h.finder.as_str(),
        )
        .increment(1);
    }
}

/// The error a `block` match becomes; counted like a masked value.
pub fn blocked(b: Blocked) -> GatewayError {
    count(&[Hit {
        rule: b.rule.clone(),
        finder: b.finder,
    }]);
    GatewayError::ContentBlocked {
        rule: b.rule.to_string(),
    }
}

/// The texts of a chat request a prompt can be in: messages (string or text
/// parts), tool results, and the Anthropic system prompt.
fn chat_texts(request: &mut DoorRequest) -> Vec<&mut String> {
    let mut out = Vec::new();
    match request {
        DoorRequest::OpenAi(r) => {
            for m in &mut r.messages {
                match &mut m.content {
                    Some(openai::MessageContent::Text(t)) => out.push(t),
                    Some(openai::MessageContent::Parts(parts)) => {
                        for p in parts {
                            if let openai::ContentPart::Text(t) = p {
                                out.push(&mut t.text);
                            }
                        }
                    }
                    None => {}
                }
            }
        }
        DoorRequest::Anthropic(r) => {
            fn blocks<'a>(list: &'a mut [anthropic::ContentBlock], out: &mut Vec<&'a mut String>) {
                for b in list {
                    match b {
                        anthropic::ContentBlock::Text(t) => out.push(&mut t.text),
                        anthropic::ContentBlock::ToolResult(tr) => match &mut tr.content {
                            Some(anthropic::Content::Text(t)) => out.push(t),
                            Some(anthropic::Content::Blocks(b)) => blocks(b, out),
                            None => {}
                        },
                        _ => {}
                    }
                }
            }
            match &mut r.system {
                Some(anthropic::System::Text(t)) => out.push(t),
                Some(anthropic::System::Blocks(b)) => blocks(b, &mut out),
                None => {}
            }
            for m in &mut r.messages {
                match &mut m.content {
                    anthropic::Content::Text(t) => out.push(t),
                    anthropic::Content::Blocks(b) => blocks(b, &mut out),
                }
            }
        }
    }
    out
}

/// Masks a chat request before it is estimated, cached or sent; a `block` match is
/// the 400. When bodies are logged, the record gets the masked request.
pub fn mask_chat_request(request: &mut DoorRequest, call: &Call) -> Result<(), GatewayError> {
    let Some(masker) = call.masks().request else {
        return Ok(());
    };
    let mut hits = Vec::new();
    let mut result = Ok(());
    for text in chat_texts(request) {
        if let Err(b) = masker.mask_string(text, &mut hits) {
            result = Err(b);
            break;
        }
    }
    count(&hits);
    match result {
        Err(b) => {
            relog_blocked(call, &b);
            Err(blocked(b))
        }
        Ok(()) if hits.is_empty() => Ok(()),
        Ok(()) => {
            let json = match request {
                DoorRequest::OpenAi(r) => serde_json::to_vec(r),
                DoorRequest::Anthropic(r) => serde_json::to_vec(r),
            };
            if let Ok(json) = json {
                relog_request(call, &json);
            }
            Ok(())
        }
    }
}

/// Masks the texts of an embeddings request (token ids are left as they are).
pub fn mask_embeddings(input: &mut EmbeddingInput, call: &Call) -> Result<(), GatewayError> {
    let Some(masker) = call.masks().request else {
        return Ok(());
    };
    let mut hits = Vec::new();
    let texts: Vec<&mut String> = match input {
        EmbeddingInput::Text(t) => vec![t],
        EmbeddingInput::Texts(ts) => ts.iter_mut().collect(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenArrays(_) => Vec::new(),
    };
    for t in texts {
        if let Err(b) = masker.mask_string(t, &mut hits) {
            count(&hits);
            relog_blocked(call, &b);
            return Err(blocked(b));
        }
    }
    count(&hits);
    if !hits.is_empty()
        && let Ok(json) = serde_json::to_vec(&json!({"input": input}))
    {
        relog_request(call, &json);
    }
    Ok(())
}

/// The record's request body becomes the masked one (the received one held values
/// that must not be stored).
fn relog_request(call: &Call, body: &[u8]) {
    if let Some(log) = call.body_log() {
        let mut c = log.capture();
        c.push(body);
        call.log_request_body(c);
    }
}

fn relog_blocked(call: &Call, b: &Blocked) {
    relog_request(
        call,
        format!("[request blocked by the masking rule `{}`]", b.rule).as_bytes(),
    );
}

/// A whole chat answer in `door`'s format, its texts masked.
pub fn mask_answer(door: Door, body: Bytes, call: &Call) -> Result<Bytes, GatewayError> {
    let Some(masker) = call.masks().response else {
        return Ok(body);
    };
    let Ok(mut doc) = serde_json::from_slice::<Value>(&body) else {
        return Ok(body);
    };
    let mut hits = Vec::new();
    let mut texts: Vec<&mut String> = Vec::new();
    match door {
        Door::OpenAi => {
            for choice in doc["choices"].as_array_mut().into_iter().flatten() {
                if let Some(Value::String(t)) = choice.pointer_mut("/message/content") {
                    texts.push(t);
                }
            }
        }
        Door::Anthropic => {
            for block in doc["content"].as_array_mut().into_iter().flatten() {
                if block["type"] == "text"
                    && let Some(Value::String(t)) = block.get_mut("text")
                {
                    texts.push(t);
                }
            }
        }
    }
    for t in texts {
        if let Err(b) = masker.mask_string(t, &mut hits) {
            count(&hits);
            return Err(blocked(b));
        }
    }
    count(&hits);
    if hits.is_empty() {
        return Ok(body);
    }
    serde_json::to_vec(&doc)
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising a masked answer: {e}")))
}

/// A service's body (request or answer): a JSON body gets its JSON paths and
/// strings masked, a text body its text; anything else passes. `Ok(None)`: unchanged.
pub fn mask_body(
    masker: &Masker,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<Bytes>, Blocked> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let json_like = ct.contains("json")
        || (ct.is_empty() && body.first().is_some_and(|b| matches!(b, b'{' | b'[')));
    let mut hits = Vec::new();
    let out = if json_like && let Ok(mut doc) = serde_json::from_slice::<Value>(body) {
        let changed = masker
            .mask_json(&mut doc, &mut hits)
            .inspect_err(|_| count(&hits))?;
        if changed {
            serde_json::to_vec(&doc).ok().map(Bytes::from)
        } else {
            None
        }
    } else if ct.starts_with("text/")
        || ct.contains("xml")
        || ct.contains("x-www-form-urlencoded")
        || json_like
    {
        match std::str::from_utf8(body) {
            Ok(text) => match masker.mask_text(text, &mut hits) {
                Ok(std::borrow::Cow::Owned(s)) => Some(Bytes::from(s)),
                Ok(std::borrow::Cow::Borrowed(_)) => None,
                Err(b) => {
                    count(&hits);
                    return Err(b);
                }
            },
            Err(_) => None,
        }
    } else {
        None
    };
    count(&hits);
    Ok(out)
}

/// Masks a streamed answer in the door's format, event by event. Each content
/// stream (an OpenAI choice, an Anthropic content block) has its own
/// [`StreamMasker`]; its held-back tail goes out with the chunk that finishes the
/// choice (OpenAI) or as a delta just before `content_block_stop` (Anthropic).
pub struct StreamFilter {
    door: Door,
    masker: Masker,
    parser: SseParser,
    streams: BTreeMap<u64, StreamMasker>,
    hits: Vec<Hit>,
}

impl StreamFilter {
    pub fn new(door: Door, masker: Masker) -> StreamFilter {
        StreamFilter {
            door,
            masker,
            parser: SseParser::default(),
            streams: BTreeMap::new(),
            hits: Vec::new(),
        }
    }

    fn stream(&mut self, index: u64) -> &mut StreamMasker {
        let masker = &self.masker;
        self.streams
            .entry(index)
            .or_insert_with(|| StreamMasker::new(masker.clone()))
    }

    /// The door's bytes in, the masked bytes out (whole events only).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Bytes, Blocked> {
        // The relay's transcoder caps events the same way; an overlong one is
        // dropped rather than passed unmasked.
        let events = self.parser.push(bytes).unwrap_or_default();
        let mut out = Vec::new();
        for ev in events {
            let result = match self.door {
                Door::OpenAi => self.openai_event(&ev.data, &mut out),
                Door::Anthropic => self.anthropic_event(ev.event.as_deref(), &ev.data, &mut out),
            };
            if let Err(b) = result {
                count(&self.hits);
                self.hits.clear();
                return Err(b);
            }
        }
        count(&self.hits);
        self.hits.clear();
        Ok(Bytes::from(out))
    }

    fn openai_event(&mut self, data: &str, out: &mut Vec<u8>) -> Result<(), Blocked> {
        let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
            if data == "[DONE]" {
                self.flush_openai(out)?;
            }
            write_event(out, None, data);
            return Ok(());
        };
        let mut changed = false;
        for choice in chunk["choices"].as_array_mut().into_iter().flatten() {
            let index = choice["index"].as_u64().unwrap_or(0);
            let finished = !choice["finish_reason"].is_null();
            let mut text = match choice.pointer("/delta/content") {
                Some(Value::String(t)) => {
                    let t = t.clone();
                    let mut hits = std::mem::take(&mut self.hits);
                    let r = self.stream(index).push(&t, &mut hits);
                    self.hits = hits;
                    Some(r?)
                }
                _ => None,
            };
            if finished && let Some(mut sm) = self.streams.remove(&index) {
                let tail = sm.finish(&mut self.hits)?;
                if !tail.is_empty() {
                    text.get_or_insert_with(String::new).push_str(&tail);
                }
            }
            if let Some(t) = text {
                if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                    delta.insert("content".into(), Value::String(t));
                } else if let Some(c) = choice.as_object_mut() {
                    c.insert("delta".into(), json!({"content": t}));
                }
                changed = true;
            }
        }
        if changed {
            write_event(out, None, &chunk.to_string());
        } else {
            write_event(out, None, data);
        }
        Ok(())
    }

    /// Tails still held when `[DONE]` comes (no choice said it finished).
    fn flush_openai(&mut self, out: &mut Vec<u8>) -> Result<(), Blocked> {
        for (index, mut sm) in std::mem::take(&mut self.streams) {
            let tail = sm.finish(&mut self.hits)?;
            if !tail.is_empty() {
                let chunk = json!({"object": "chat.completion.chunk",
                    "choices": [{"index": index, "delta": {"content": tail}, "finish_reason": null}]});
                write_event(out, None, &chunk.to_string());
            }
        }
        Ok(())
    }

    fn anthropic_event(
        &mut self,
        name: Option<&str>,
        data: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Blocked> {
        let Ok(mut ev) = serde_json::from_str::<Value>(data) else {
            write_event(out, name, data);
            return Ok(());
        };
        let index = ev["index"].as_u64().unwrap_or(0);
        match ev["type"].as_str() {
            Some("content_block_delta") if ev["delta"]["type"] == "text_delta" => {
                if let Some(Value::String(t)) = ev.pointer_mut("/delta/text") {
                    let mut hits = std::mem::take(&mut self.hits);
                    let masked = self.stream(index).push(t, &mut hits);
                    self.hits = hits;
                    *t = masked?;
                }
                write_event(out, name, &ev.to_string());
            }
            Some("content_block_stop") => {
                self.flush_anthropic(Some(index), out)?;
                write_event(out, name, data);
            }
            Some("message_stop") => {
                self.flush_anthropic(None, out)?;
                write_event(out, name, data);
            }
            _ => write_event(out, name, data),
        }
        Ok(())
    }

    fn flush_anthropic(&mut self, only: Option<u64>, out: &mut Vec<u8>) -> Result<(), Blocked> {
        let indexes: Vec<u64> = match only {
            Some(i) => vec![i],
            None => self.streams.keys().copied().collect(),
        };
        for index in indexes {
            let Some(mut sm) = self.streams.remove(&index) else {
                continue;
            };
            let tail = sm.finish(&mut self.hits)?;
            if !tail.is_empty() {
                let ev = json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": tail}});
                write_event(out, Some("content_block_delta"), &ev.to_string());
            }
        }
        Ok(())
    }
}

fn write_event(out: &mut Vec<u8>, name: Option<&str>, data: &str) {
    if let Some(n) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_masking::{MaskingRuleSpec, RuleSet};

    fn masker(rules: Value) -> Masker {
        let specs: Vec<MaskingRuleSpec> = serde_json::from_value(rules).unwrap_or_default();
        let (set, _) = RuleSet::compile(&specs);
        set.select(Some("m"), None, Way::Response)
            .unwrap_or_else(|| panic!("no rule"))
    }

    fn run(f: &mut StreamFilter, stream: &str, cut: usize) -> Result<String, Blocked> {
        let (a, b) = stream.split_at(cut);
        let mut out = f.push(a.as_bytes())?.to_vec();
        out.extend_from_slice(&f.push(b.as_bytes())?);
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn openai_deltas_split_inside_an_email() {
        let mut f = StreamFilter::new(
            Door::OpenAi,
            masker(json!([{"name": "r", "detectors": ["email"]}])),
        );
        let stream = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mail jane@exa\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.com now\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let out = run(&mut f, stream, 50).unwrap_or_default();
        let text: String = out
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, "mail [EMAIL] now");
        assert!(!out.contains("jane"));
        assert!(out.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn anthropic_tail_goes_before_the_block_stop_and_blocks_end_the_stream() {
        let mut f = StreamFilter::new(
            Door::Anthropic,
            masker(json!([{"name": "r", "keywords": ["falcon"]}])),
        );
        let stream = concat!(
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Project Fal\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"con!\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        );
        let out = run(&mut f, stream, 30).unwrap_or_default();
        assert!(out.contains("Project [MASKED]!"), "{out}");
        assert!(out.find("[MASKED]") < out.find("content_block_stop\ndata"));
        let mut f = StreamFilter::new(
            Door::Anthropic,
            masker(json!([{"name": "stop", "keywords": ["falcon"], "action": "block"}])),
        );
        assert_eq!(
            run(&mut f, stream, 100).err().map(|b| b.rule.to_string()),
            Some("stop".into())
        );
    }
}
