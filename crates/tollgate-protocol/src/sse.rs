//! Server-Sent Events: an incremental parser for upstream streams and encoders for the
//! client side. The parser works on bytes and decodes a line only once it is complete,
//! so network chunks may split anything, a UTF-8 character or a `\r\n` included.

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

/// Incremental SSE parser: feed it bytes as they arrive, get the complete events.
#[derive(Debug, Clone, Default)]
pub struct SseParser {
    /// Bytes of the current, unterminated line.
    line: Vec<u8>,
    /// The last chunk ended with `\r`: a `\n` starting the next chunk belongs to it.
    skip_lf: bool,
    /// No line has been processed yet (a leading BOM is dropped from the first one).
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them (possibly none).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.skip_lf
            && let Some((&first, tail)) = rest.split_first()
        {
            if first == b'\n' {
                rest = tail;
            }
            self.skip_lf = false;
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            self.line.extend_from_slice(head);
            rest = match tail {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.skip_lf = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out);
        }
        self.line.extend_from_slice(rest);
        out
    }

    /// Ends the stream: a last line without terminator and an event without the closing
    /// blank line are still delivered (some servers end that way).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut out);
        }
        self.process_line(b"", &mut out);
        self.skip_lf = false;
        out
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if !self.started {
            self.started = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.first() == Some(&b':') {
            return; // comment, e.g. a keep-alive
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
                self.data.push_str(&String::from_utf8_lossy(value));
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
            }
            _ => {} // id, retry and unknown fields do not matter to a proxy
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return; // the spec drops events without data
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseEvent { event, data });
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
