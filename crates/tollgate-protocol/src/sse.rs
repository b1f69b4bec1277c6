//! Server-Sent Events: an incremental parser for upstream streams and encoders for the
//! client side. The parser works on bytes and decodes a line only once it is complete,
//! so network chunks may split anything, a UTF-8 character or a `\r\n` included.
//!
//! The parser holds at most one line and one event in memory, each capped
//! ([`MAX_LINE_BYTES`], [`MAX_EVENT_BYTES`]): an upstream that sends a line without a
//! line break (or an endless event) gets a [`StreamLimitError`] instead of making the
//! gateway buffer it without bound. The gateway then ends the client's stream with
//! `upstream_stream_broken`.

use bytes::Bytes;
use serde::Serialize;

/// One dispatched event. `data` lines are joined with `\n`, as the SSE spec says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the event had a non-empty one.
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// OpenAI's end-of-stream sentinel `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// One dispatched event, borrowed from the parser's buffers: what
/// [`SseParser::push_each`] hands out, without an allocation per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The `event:` field, when the event had a non-empty one.
    pub event: Option<&'a str>,
    pub data: &'a str,
}

impl SseEventRef<'_> {
    /// An owned copy.
    pub fn to_event(&self) -> SseEvent {
        SseEvent {
            event: self.event.map(str::to_string),
            data: self.data.to_string(),
        }
    }
}

/// Buffers larger than this are released after use rather than kept for the next
/// line or event (one huge event must not pin its memory for the stream's life).
const KEEP_BUFFER_BYTES: usize = 64 * 1024;

/// Appends `bytes` as text: as it is when it is UTF-8 (the usual case, checked
/// without building anything), with U+FFFD for invalid sequences otherwise.
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Longest line the parsers buffer (an SSE line, an NDJSON line): 4 MiB. Large enough
/// for the largest single lines real upstreams send (a Gemini image comes as inline
/// base64 in one `data:` line), small enough that many streams cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Largest SSE event (the joined `data:` lines of one event): 8 MiB.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// The upstream stream broke a size cap; the stream cannot be read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamLimitError {
    #[error("the upstream sent a stream line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("the upstream sent a stream event larger than {limit} bytes")]
    EventTooLarge { limit: usize },
}

/// Incremental SSE parser: feed it bytes as they arrive, get the complete events.
#[derive(Debug, Clone)]
pub struct SseParser {
    /// Bytes of the current, unterminated line.
    line: Vec<u8>,
    /// The last chunk ended with `\r`: a `\n` starting the next chunk belongs to it.
    skip_lf: bool,
    /// No line has been processed yet (a leading BOM is dropped from the first one).
    started: bool,
    /// The `event:` field of the event being read (empty: none).
    event: String,
    data: String,
    has_data: bool,
    max_line: usize,
    max_event: usize,
    /// Set once a cap was exceeded: every later call returns it (the stream is dead).
    failed: Option<StreamLimitError>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limits(MAX_LINE_BYTES, MAX_EVENT_BYTES)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with other caps than [`MAX_LINE_BYTES`] / [`MAX_EVENT_BYTES`].
    pub fn with_limits(max_line: usize, max_event: usize) -> Self {
        Self {
            line: Vec::new(),
            skip_lf: false,
            started: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
            max_line,
            max_event,
            failed: None,
        }
    }

    /// Feeds bytes; returns the events completed by them (possibly none), or the cap
    /// the stream broke (then and on every later call: the stream cannot be resumed).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, StreamLimitError> {
        let mut out = Vec::new();
        self.push_each(bytes, |ev| out.push(ev.to_event()))?;
        Ok(out)
    }

    /// [`SseParser::push`], handing each completed event to `emit` as it is borrowed
    /// from the parser's buffers (no copy of it is made). On a broken cap, the events
    /// completed before it have been handed out.
    pub fn push_each(
        &mut self,
        bytes: &[u8],
        mut emit: impl FnMut(SseEventRef<'_>),
    ) -> Result<(), StreamLimitError> {
        let result = self.push_inner(bytes, &mut emit);
        self.fail_on(result)
    }

    /// Remembers the first cap broken and frees the buffers: nothing more is parsed.
    fn fail_on<T>(&mut self, result: Result<T, StreamLimitError>) -> Result<T, StreamLimitError> {
        if let Err(e) = &result
            && self.failed.is_none()
        {
            self.failed = Some(*e);
            self.line = Vec::new();
            self.data = String::new();
        }
        result
    }

    fn line_fits(&self, more: usize) -> Result<(), StreamLimitError> {
        if self.line.len().saturating_add(more) > self.max_line {
            return Err(StreamLimitError::LineTooLong {
                limit: self.max_line,
            });
        }
        Ok(())
    }

    fn push_inner(
        &mut self,
        bytes: &[u8],
        emit: &mut dyn FnMut(SseEventRef<'_>),
    ) -> Result<(), StreamLimitError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut rest = bytes;
        if self.skip_lf
            && let Some((&first, tail)) = rest.split_first()
        {
            if first == b'\n' {
                rest = tail;
            }
            self.skip_lf = false;
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) {
            let (head, tail) = rest.split_at(pos);
            let after = match tail {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.skip_lf = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
            self.line_fits(head.len())?;
            if self.line.is_empty() {
                // The whole line is in this chunk: read it where it is.
                self.process_line(head, emit)?;
            } else {
                self.line.extend_from_slice(head);
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, emit)?;
                // Keep the allocation for the next line (unless it was a big one).
                if line.capacity() <= KEEP_BUFFER_BYTES {
                    self.line = line;
                    self.line.clear();
                }
            }
            rest = after;
        }
        self.line_fits(rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(())
    }

    /// Ends the stream: a last line without terminator and an event without the closing
    /// blank line are still delivered (some servers end that way).
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, StreamLimitError> {
        let result = self.finish_inner();
        self.fail_on(result)
    }

    fn finish_inner(&mut self) -> Result<Vec<SseEvent>, StreamLimitError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut out = Vec::new();
        let mut emit = |ev: SseEventRef<'_>| out.push(ev.to_event());
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut emit)?;
        }
        self.process_line(b"", &mut emit)?;
        self.skip_lf = false;
        Ok(out)
    }

    fn process_line(
        &mut self,
        mut line: &[u8],
        emit: &mut dyn FnMut(SseEventRef<'_>),
    ) -> Result<(), StreamLimitError> {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(emit);
            return Ok(());
        }
        if line.first() == Some(&b':') {
            return Ok(()); // comment, e.g. a keep-alive
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let (f, v) = line.split_at(i);
                let v = v.get(1..).unwrap_or_default();
                (f, v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.data.len().saturating_add(value.len() + 1) > self.max_event {
                    return Err(StreamLimitError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                push_lossy(&mut self.data, value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                push_lossy(&mut self.event, value);
            }
            _ => {} // id, retry and unknown fields do not matter to a proxy
        }
        Ok(())
    }

    fn dispatch(&mut self, emit: &mut dyn FnMut(SseEventRef<'_>)) {
        if std::mem::take(&mut self.has_data) {
            let data = self.data.strip_suffix('\n').unwrap_or(&self.data);
            let event = (!self.event.is_empty()).then_some(self.event.as_str());
            emit(SseEventRef { event, data });
        } // else: the spec drops events without data
        self.event.clear();
        self.data.clear();
        // The buffers are kept for the next event, unless one was a big one.
        if self.data.capacity() > KEEP_BUFFER_BYTES {
            self.data = String::new();
        }
        if self.event.capacity() > KEEP_BUFFER_BYTES {
            self.event = String::new();
        }
    }
}

/// `data: <data>\n\n` (one `data:` line per line of `data`).
pub fn encode_data(data: &str) -> Bytes {
    let mut s = String::with_capacity(data.len() + 8);
    push_data_lines(&mut s, data);
    s.push('\n');
    Bytes::from(s)
}

/// `event: <event>\ndata: <data>\n\n`, the framing of Anthropic streams.
pub fn encode_event(event: &str, data: &str) -> Bytes {
    let mut s = String::with_capacity(event.len() + data.len() + 16);
    s.push_str("event: ");
    s.push_str(event);
    s.push('\n');
    push_data_lines(&mut s, data);
    s.push('\n');
    Bytes::from(s)
}

/// OpenAI's `data: [DONE]\n\n`.
pub fn encode_done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// A value as one `data:` event (OpenAI chunks, error objects).
pub fn encode_json<T: Serialize>(value: &T) -> Result<Bytes, serde_json::Error> {
    Ok(encode_data(&serde_json::to_string(value)?))
}

/// An Anthropic stream event with its `event:` name.
pub fn encode_anthropic(event: &crate::anthropic::StreamEvent) -> Result<Bytes, serde_json::Error> {
    Ok(encode_event(
        event.event_name(),
        &serde_json::to_string(event)?,
    ))
}

fn push_data_lines(out: &mut String, data: &str) {
    let normalized;
    let data = if data.contains('\r') {
        normalized = data.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        data
    };
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_line_without_a_break_hits_the_line_cap() {
        let mut p = SseParser::with_limits(16, 64);
        assert_eq!(p.push(b"data: 0123456789").map(|v| v.len()), Ok(0));
        assert_eq!(
            p.push(b"x"),
            Err(StreamLimitError::LineTooLong { limit: 16 })
        );
        // Dead for good: later input, even well-formed, is refused.
        assert!(p.push(b"\n\ndata: ok\n\n").is_err());
        assert!(p.finish().is_err());
    }

    #[test]
    fn a_line_at_the_cap_passes() {
        let mut p = SseParser::with_limits(16, 64);
        let events = p.push(b"data: 0123456789\n\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "0123456789");
        // The cap is per line, not per stream.
        for _ in 0..100 {
            assert_eq!(p.push(b"data: 0123456789\n\n").unwrap().len(), 1);
        }
    }

    #[test]
    fn many_short_data_lines_hit_the_event_cap() {
        let mut p = SseParser::with_limits(16, 64);
        let mut result = Ok(Vec::new());
        for _ in 0..20 {
            result = p.push(b"data: 0123456789\n");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(StreamLimitError::EventTooLarge { limit: 64 }));
    }

    #[test]
    fn the_cap_holds_when_the_line_is_split_across_chunks() {
        let mut p = SseParser::new();
        let chunk = vec![b'x'; 64 * 1024];
        let mut pushed = 0usize;
        let err = loop {
            match p.push(&chunk) {
                Ok(_) => pushed += chunk.len(),
                Err(e) => break e,
            }
            assert!(pushed <= MAX_LINE_BYTES, "no error past the cap");
        };
        assert_eq!(
            err,
            StreamLimitError::LineTooLong {
                limit: MAX_LINE_BYTES
            }
        );
        assert!(p.line.capacity() == 0, "the buffer is released");
    }

    #[test]
    fn push_each_lends_the_events_push_returns() {
        let input: &[&[u8]] = &[
            b"event: a\ndata: one\n\nda",
            b"ta: two\r\ndata: 2\r\n\r",
            b"\ndata: caf\xC3",
            b"\xA9\n\n: keep-alive\n\nevent: b\ndata: bad \xFF\n\n",
        ];
        let (mut owned, mut lent) = (SseParser::new(), SseParser::new());
        let mut from_push = Vec::new();
        let mut from_each = Vec::new();
        for chunk in input {
            from_push.extend(owned.push(chunk).unwrap());
            lent.push_each(chunk, |ev| from_each.push(ev.to_event()))
                .unwrap();
        }
        assert_eq!(from_push, from_each);
        let datas: Vec<&str> = from_each.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(datas, ["one", "two\n2", "caf\u{e9}", "bad \u{FFFD}"]);
        assert_eq!(from_each[0].event.as_deref(), Some("a"));
        assert_eq!(
            from_each[1].event, None,
            "an event name does not carry over"
        );
        assert_eq!(from_each[3].event.as_deref(), Some("b"));
    }

    #[test]
    fn ndjson_lines_are_capped_too() {
        let mut p = crate::ollama::NdjsonParser::with_limit(8);
        assert_eq!(p.push(b"{\"a\":1}\n").unwrap().len(), 1);
        assert!(p.push(b"{\"a\":").unwrap().is_empty());
        assert_eq!(
            p.push(b"12345"),
            Err(StreamLimitError::LineTooLong { limit: 8 })
        );
        assert!(p.finish().is_err());
    }
}
