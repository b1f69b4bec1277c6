//! Relaying a streamed answer to the client as it arrives.
//!
//! The relay pulls upstream chunks, passes them through the [`Transcoder`] and hands
//! each non-empty result to hyper at once (nothing waits for the whole stream). It
//! ends the stream with the door's error event when the upstream breaks, goes idle
//! or runs past the total deadline. Its [`Meter`] closes the request's books when the
//! stream ends, or when the relay is dropped because the client went away; if the
//! upstream never said how many tokens it produced, what was delivered is counted
//! with the tokenizer.

use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tollgate_cache::{CachedAnswer, FillGuard, StreamRecorder};
use tollgate_core::Door;
use tollgate_core::error::broken_stream_event;
use tollgate_protocol::sse::SseParser;

use crate::meter::{Meter, Usage};
use crate::tokens;
use crate::transcode::Transcoder;

/// Output kept to count tokens when the upstream sends no usage: bounded, so that many
/// long streams cannot hold much memory (past it, the count covers the first part).
const MAX_COUNTED_BYTES: usize = 1024 * 1024;

/// Records a stream for the response cache; stored only if the stream ends cleanly.
pub struct StreamTap {
    pub recorder: StreamRecorder,
    pub guard: FillGuard,
    pub ttl: Duration,
}

struct Relay {
    upstream: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    transcoder: Box<dyn Transcoder>,
    door: Door,
    idle: Duration,
    deadline: Instant,
    meter: Meter,
    /// What went out, for counting tokens if no usage arrives.
    /// Reference-counted handles to the chunks sent (no copy), up to the bound.
    delivered: Vec<Bytes>,
    delivered_len: usize,
    /// Input tokens estimated before forwarding (used if no usage arrives).
    prompt_estimate: u64,
    tap: Option<StreamTap>,
    ended: bool,
}

impl Relay {
    fn deliver(&mut self, out: Bytes) -> Bytes {
        if self.delivered_len + out.len() <= MAX_COUNTED_BYTES {
            self.delivered_len += out.len();
            self.delivered.push(out.clone());
        }
        if let Some(tap) = self.tap.as_mut()
            && !tap.recorder.push(&out)
        {
            // Too large to cache: stop recording, keep streaming.
            self.tap = None;
        }
        out
    }

    /// The usage to book: the upstream's, else the estimate and a count of the text
    /// that was delivered.
    fn usage(&self) -> Usage {
        match self.transcoder.usage() {
            Some(u) if u.output > 0 || self.delivered.is_empty() => u,
            other => Usage {
                input: other.map_or(self.prompt_estimate, |u| u.input.max(self.prompt_estimate)),
                output: count_delivered(self.door, &self.delivered.concat()),
            },
        }
    }

    fn end(&mut self, tail: Bytes, error_code: Option<&str>) -> Bytes {
        self.ended = true;
        let tail = if tail.is_empty() {
            tail
        } else {
            self.deliver(tail)
        };
        let usage = self.usage();
        self.meter.observe(usage);
        self.meter.outcome(None, 200, error_code);
        self.meter.record();
        if let Some(tap) = self.tap.take() {
            if error_code.is_none() {
                let answer = tap.recorder.finish(
                    200,
                    "text/event-stream",
                    Bytes::new(),
                    (usage.input, usage.output),
                );
                match answer {
                    Some(a) => tap.guard.finish_in_background(a, tap.ttl),
                    None => tap.guard.abandon(),
                }
            } else {
                tap.guard.abandon();
            }
        }
        tail
    }

    fn broken(&mut self, timeout: bool, message: &str) -> Bytes {
        tracing::warn!(timeout, %message, "upstream stream broke after it started");
        let code = if timeout {
            "upstream_timeout"
        } else {
            "upstream_stream_broken"
        };
        let mut ev = broken_stream_event(self.door, timeout, message);
        if self.door == Door::Anthropic {
            // The Anthropic passthrough forwards upstream bytes as they come, so the
            // stream may stop mid-line: a blank line first ends that partial event,
            // and the error is then read as an event of its own.
            ev.insert_str(0, "\n\n");
        }
        let ev = Bytes::from(ev);
        self.end(ev, Some(code))
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
                        Ok(tail) => self.end(tail, None),
                        Err(msg) => self.broken(false, &msg),
                    });
                }
                Ok(Some(Err(e))) => {
                    let msg = format!("The upstream stream broke: {e}");
                    return Some(self.broken(false, &msg));
                }
                Ok(Some(Ok(chunk))) => match self.transcoder.push(&chunk) {
                    Ok(out) if out.is_empty() => {}
                    Ok(out) => return Some(self.deliver(out)),
                    Err(msg) => return Some(self.broken(false, &msg)),
                },
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.ended {
            // The client went away: book what was delivered.
            let usage = self.usage();
            self.meter.observe(usage);
            self.meter.record();
        }
    }
}

/// The tokens of the text in a door-format event stream.
fn count_delivered(door: Door, bytes: &[u8]) -> u64 {
    let mut parser = SseParser::new();
    // What was delivered is bounded (MAX_COUNTED_BYTES), so the caps are never hit.
    let mut events = parser.push(bytes).unwrap_or_default();
    events.extend(parser.finish().unwrap_or_default());
    let mut text = String::new();
    for ev in events {
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            continue;
        };
        match door {
            Door::OpenAi => {
                if let Some(choices) = v.get("choices").and_then(Value::as_array) {
                    for c in choices {
                        let d = &c["delta"];
                        if let Some(t) = d.get("content").and_then(Value::as_str) {
                            text.push_str(t);
                        }
                        if let Some(calls) = d.get("tool_calls").and_then(Value::as_array) {
                            for call in calls {
                                for k in ["name", "arguments"] {
                                    if let Some(t) = call["function"].get(k).and_then(Value::as_str)
                                    {
                                        text.push_str(t);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Door::Anthropic => {
                let d = &v["delta"];
                for k in ["text", "partial_json", "thinking"] {
                    if let Some(t) = d.get(k).and_then(Value::as_str) {
                        text.push_str(t);
                    }
                }
            }
        }
    }
    tokens::count(&text)
}

/// How a stream is relayed: the door it goes out through, its timeouts, and the
/// prompt estimate booked if the upstream reports no usage.
pub struct RelaySpec {
    pub door: Door,
    pub idle: Duration,
    pub deadline: Instant,
    pub prompt_estimate: u64,
}

/// The client's body for a streamed answer.
pub fn stream_body(
    upstream: reqwest::Response,
    transcoder: Box<dyn Transcoder>,
    spec: RelaySpec,
    meter: Meter,
    tap: Option<StreamTap>,
) -> Body {
    let relay = Relay {
        upstream: upstream.bytes_stream().boxed(),
        transcoder,
        door: spec.door,
        idle: spec.idle,
        deadline: spec.deadline,
        meter,
        delivered: Vec::new(),
        delivered_len: 0,
        prompt_estimate: spec.prompt_estimate,
        tap,
        ended: false,
    };
    let stream = futures::stream::unfold(relay, |mut relay| async move {
        let chunk = relay.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), relay))
    });
    Body::from_stream(stream)
}

/// A cached stream played back as a stream, chunk by chunk.
pub fn replay_body(answer: &CachedAnswer) -> Body {
    let chunks: Vec<Result<Bytes, std::convert::Infallible>> = answer
        .stream
        .clone()
        .unwrap_or_else(|| vec![answer.body.clone()])
        .into_iter()
        .map(Ok)
        .collect();
    Body::from_stream(futures::stream::iter(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_text_is_counted_per_door() {
        let openai = b"data: {\"choices\":[{\"delta\":{\"content\":\"hello world\"}}]}\n\n";
        assert_eq!(count_delivered(Door::OpenAi, openai), 2);
        let anthropic = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hello world\"}}\n\n";
        assert_eq!(count_delivered(Door::Anthropic, anthropic), 2);
    }
}
