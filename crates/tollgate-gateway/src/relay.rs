//! Relaying a streamed answer to the client as it arrives.
//!
//! The relay pulls upstream chunks, passes them through the [`Transcoder`] and hands
//! each non-empty result to hyper at once (nothing waits for the whole stream). It
//! ends the stream with the door's error event when the upstream breaks, goes idle
//! or runs past the total deadline. Its [`Call`] closes the request's books when the
//! stream ends, or when the relay is dropped because the client went away; if the
//! upstream never said how many tokens it produced, what was delivered is counted
//! with the tokenizer.

use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use tollgate_cache::{CachedAnswer, FillGuard, StreamRecorder};
use tollgate_core::Door;
use tollgate_core::error::broken_stream_event;
use tracing::Instrument;

use crate::body_log::Capture;
use crate::forward::Candidate;
use crate::lifecycle::Call;
use crate::masking::StreamFilter;
use crate::tokens;
use crate::usage::{self, Usage, billed};
use crate::wire::Transcoder;

/// Output kept to count tokens when the upstream sends no usage: bounded, so that many
/// long streams cannot hold much memory (past it, the count covers the first part).
const MAX_COUNTED_BYTES: usize = 1024 * 1024;

const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// Records a stream for the response cache; stored only if the stream ends cleanly.
pub struct StreamTap {
    pub recorder: StreamRecorder,
    pub guard: FillGuard,
    pub ttl: Duration,
}

struct Relay {
    upstream: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    transcoder: Box<dyn Transcoder>,
    spec: RelaySpec,
    cand: Candidate,
    call: Call,
    /// What went out, for counting tokens if no usage arrives.
    /// Reference-counted handles to the chunks sent (no copy), up to the bound.
    delivered: Vec<Bytes>,
    delivered_len: usize,
    /// An OpenAI client asked for the usage chunk and the upstream's `[DONE]` came
    /// before any usage: `[DONE]` is held back until the estimated usage goes out.
    held_done: bool,
    tap: Option<StreamTap>,
    /// The stream as the client gets it, up to the cap, when bodies are logged.
    capture: Option<Capture>,
    /// The response's masking filter, when a rule applies ([`crate::masking`]).
    filter: Option<StreamFilter>,
    ended: bool,
}

impl Relay {
    fn deliver(&mut self, mut out: Bytes) -> Bytes {
        if self.spec.door == Door::OpenAi
            && self.spec.wants_usage_chunk
            && out.ends_with(DONE_EVENT)
            && self.transcoder.usage().is_none()
        {
            out.truncate(out.len() - DONE_EVENT.len());
            self.held_done = true;
        }
        if self.delivered.is_empty() && !out.is_empty() {
            self.call.first_token();
        }
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
        if let Some(c) = self.capture.as_mut() {
            c.push(&out);
        }
        out
    }

    /// Hands the captured stream to the call's record.
    fn log_body(&mut self) {
        if let Some(c) = self.capture.take() {
            self.call.log_response_body(c);
        }
    }

    /// The usage to book: the upstream's, else `prompt_tokens` (the estimate) and
    /// `delivered_tokens` (a count of the text that went out); output capped at what
    /// was reserved.
    fn book(&self, prompt_tokens: u64, delivered_tokens: u64) -> Usage {
        let (usage, cost) = billed(&self.cand, self.transcoder.usage(), || {
            Usage::new(prompt_tokens, delivered_tokens)
        });
        self.call.set_usage(usage, cost);
        usage
    }

    /// The text delivered so far, when it has to be counted (no upstream usage).
    fn delivered_text(&self) -> Option<String> {
        match usage::usable(self.transcoder.usage()) {
            Some(_) => None,
            None => Some(usage::delivered_text(
                self.spec.door,
                &self.delivered.concat(),
            )),
        }
    }

    /// OpenAI's usage chunk, for a client that asked for one when the upstream sent
    /// none, then the `[DONE]` that was held back.
    fn usage_chunk(&self, u: Usage) -> Bytes {
        let chunk = serde_json::json!({
            "id": format!("chatcmpl-{}", self.call.request_id()),
            "object": "chat.completion.chunk",
            "created": chrono::Utc::now().timestamp(),
            "model": self.spec.model,
            "choices": [],
            "usage": {
                "prompt_tokens": u.prompt_total(),
                "completion_tokens": u.output,
                "total_tokens": u.total(),
            },
        });
        let mut out = format!("data: {chunk}\n\n").into_bytes();
        out.extend_from_slice(DONE_EVENT);
        Bytes::from(out)
    }

    async fn end(&mut self, tail: Bytes, error_code: Option<&str>) -> Bytes {
        self.ended = true;
        let mut tail = if tail.is_empty() {
            tail
        } else {
            self.deliver(tail)
        };
        // Counting a large text runs off the async executor.
        let (prompt, delivered) = match self.delivered_text() {
            Some(text) => (
                self.spec.prompt_estimate.count().await,
                tokens::count_async(text).await,
            ),
            None => (0, 0),
        };
        let usage = self.book(prompt, delivered);
        if error_code.is_none() && self.held_done {
            // The estimated usage chunk and the held-back `[DONE]` (recorded for the
            // cache too: the tail itself was recorded by `deliver`).
            let extra = self.usage_chunk(usage);
            if let Some(tap) = self.tap.as_mut()
                && !tap.recorder.push(&extra)
            {
                self.tap = None;
            }
            if let Some(c) = self.capture.as_mut() {
                c.push(&extra);
            }
            let mut t = tail.to_vec();
            t.extend_from_slice(&extra);
            tail = Bytes::from(t);
        }
        if let Some(code) = error_code {
            self.call.set_outcome(200, Some(code));
        }
        if let Some(tap) = self.tap.take() {
            if error_code.is_none() {
                let answer = tap.recorder.finish(
                    200,
                    "text/event-stream",
                    Bytes::new(),
                    (usage.prompt_total(), usage.output),
                );
                match answer {
                    Some(a) => tap.guard.finish_in_background(a, tap.ttl),
                    None => tap.guard.abandon(),
                }
            } else {
                tap.guard.abandon();
            }
        }
        self.log_body();
        // The record and charge are in the journal before the last bytes go out.
        self.call.finish().await;
        tail
    }

    /// Passes the door's bytes through the masking filter; `Err` is the stream's end
    /// when a `block` rule matched.
    async fn filtered(&mut self, out: Bytes) -> Result<Bytes, Bytes> {
        let Some(filter) = self.filter.as_mut() else {
            return Ok(out);
        };
        match filter.push(&out) {
            Ok(masked) => Ok(masked),
            Err(b) => {
                // What the filter held back is never sent.
                self.filter = None;
                let e = crate::masking::blocked(b);
                tracing::warn!(code = "content_blocked", "a masking rule ended the stream");
                let ev = e.stream_event(self.spec.door);
                Err(self.end(Bytes::from(ev), Some("content_blocked")).await)
            }
        }
    }

    async fn broken(&mut self, timeout: bool, message: &str) -> Bytes {
        tracing::warn!(timeout, %message, "upstream stream broke after it started");
        let code = if timeout {
            "upstream_timeout"
        } else {
            "upstream_stream_broken"
        };
        let mut ev = broken_stream_event(self.spec.door, timeout, message);
        if self.spec.door == Door::Anthropic {
            // The Anthropic passthrough forwards upstream bytes as they come, so the
            // stream may stop mid-line: a blank line first ends that partial event,
            // and the error is then read as an event of its own.
            ev.insert_str(0, "\n\n");
        }
        self.end(Bytes::from(ev), Some(code)).await
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.ended {
                return None;
            }
            let left = self.spec.deadline.saturating_duration_since(Instant::now());
            let wait = self.spec.idle.min(left);
            match tokio::time::timeout(wait, self.upstream.next()).await {
                Err(_) => {
                    let msg = if left <= self.spec.idle {
                        "The upstream stream exceeded the total timeout"
                    } else {
                        "The upstream stream went idle for too long"
                    };
                    return Some(self.broken(true, msg).await);
                }
                Ok(None) => {
                    return Some(match self.transcoder.finish() {
                        Ok(tail) => match self.filtered(tail).await {
                            Ok(tail) => self.end(tail, None).await,
                            Err(ended) => ended,
                        },
                        Err(msg) => self.broken(false, &msg).await,
                    });
                }
                Ok(Some(Err(e))) => {
                    let msg = format!("The upstream stream broke: {e}");
                    return Some(self.broken(false, &msg).await);
                }
                Ok(Some(Ok(chunk))) => match self.transcoder.push(&chunk) {
                    Ok(out) if out.is_empty() => {}
                    Ok(out) => {
                        let out = match self.filtered(out).await {
                            Ok(out) => out,
                            Err(ended) => return Some(ended),
                        };
                        if out.is_empty() {
                            continue;
                        }
                        let out = self.deliver(out);
                        if !out.is_empty() {
                            return Some(out);
                        }
                    }
                    Err(msg) => return Some(self.broken(false, &msg).await),
                },
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.ended {
            // The client went away: book what was delivered; the call finishes (as
            // `client_closed`) when its last handle goes, right after this. Drop cannot
            // wait, so a large text is estimated at four bytes a token.
            let (prompt, delivered) = self.delivered_text().map_or((0, 0), |text| {
                let delivered = if text.len() <= tokens::OFF_EXECUTOR_BYTES {
                    tokens::count(&text)
                } else {
                    (text.len() as u64).div_ceil(4)
                };
                (self.spec.prompt_estimate.count_now(), delivered)
            });
            self.book(prompt, delivered);
            self.log_body();
        }
    }
}

/// How a stream is relayed: the door it goes out through, its timeouts, and what to
/// book if the upstream reports no usage.
pub struct RelaySpec {
    pub door: Door,
    pub idle: Duration,
    pub deadline: Instant,
    /// The prompt estimate, booked (and only then counted) if no usage arrives.
    pub prompt_estimate: tokens::PromptEstimate,
    /// An OpenAI client asked for the final usage chunk.
    pub wants_usage_chunk: bool,
    /// The model name the client asked for (for a usage chunk the gateway writes).
    pub model: String,
}

/// The client's body for a streamed answer from `cand`, booked on `call`.
pub fn stream_body(
    upstream: reqwest::Response,
    transcoder: Box<dyn Transcoder>,
    spec: RelaySpec,
    cand: Candidate,
    call: Call,
    tap: Option<StreamTap>,
) -> Body {
    let capture = call.body_log().map(|log| log.capture());
    let filter = call
        .masks()
        .response
        .map(|m| StreamFilter::new(spec.door, m));
    let relay = Relay {
        upstream: upstream.bytes_stream().boxed(),
        transcoder,
        spec,
        cand,
        call,
        delivered: Vec::new(),
        delivered_len: 0,
        held_done: false,
        tap,
        capture,
        filter,
        ended: false,
    };
    // The stream is polled by hyper, outside the request's span: each chunk's work
    // goes under a `relay` span of its own request.
    let span = tracing::info_span!(parent: relay.call.span(), "relay");
    let stream = futures::stream::unfold((relay, span), |(mut relay, span)| async move {
        let chunk = relay.next_chunk().instrument(span.clone()).await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), (relay, span)))
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
