//! Incremental scanning of a server-sent-events body, chunk by chunk, as it arrives.
//!
//! The scanner only looks for three things: the first event that carries generated text
//! (for time to first token), the event that ends the stream normally, and an error event.
//! It keeps at most one partial line in memory.

use crate::Door;
use serde_json::Value;

/// A partial line longer than this means the body is not an SSE stream we understand.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct SseScanner {
    door: Door,
    partial: Vec<u8>,
    /// Set by the first event carrying non-empty generated text.
    pub first_token: bool,
    /// Set by `data: [DONE]` (OpenAI) or `message_stop` (Anthropic).
    pub done: bool,
    /// Set by an error event (`data: {"error": ...}` or `event: error`).
    pub error: bool,
    /// Set when a line grows past [`MAX_LINE_BYTES`].
    pub overflow: bool,
}

impl SseScanner {
    pub fn new(door: Door) -> Self {
        SseScanner {
            door,
            partial: Vec::new(),
            first_token: false,
            done: false,
            error: false,
            overflow: false,
        }
    }

    /// Feed one chunk of the body. Returns true when this chunk completed the first
    /// line carrying generated text.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        let had_token = self.first_token;
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(head);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(head);
                self.line(&line);
            }
        }
        if !rest.is_empty() {
            if self.partial.len() + rest.len() > MAX_LINE_BYTES {
                self.overflow = true;
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        !had_token && self.first_token
    }

    /// Call at the end of the body: a last line without its newline still counts.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
    }

    /// Whether the stream ended normally: its end marker seen, no error event.
    pub fn complete(&self) -> bool {
        self.done && !self.error && !self.overflow
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(event) = line.strip_prefix(b"event:") {
            match trim(event) {
                b"message_stop" if self.door == Door::Anthropic => self.done = true,
                b"error" => self.error = true,
                _ => {}
            }
            return;
        }
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = trim(data);
        match self.door {
            Door::Openai => self.openai_data(data),
            Door::Anthropic => self.anthropic_data(data),
            // Refused with `--stream` before any request is sent.
            Door::Rest => {}
        }
    }

    fn openai_data(&mut self, data: &[u8]) {
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        let wants_token = !self.first_token && contains(data, b"\"content\"");
        let maybe_error = contains(data, b"\"error\"");
        if !wants_token && !maybe_error {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if maybe_error && v.get("error").is_some() {
            self.error = true;
        }
        if wants_token {
            let has_text = v
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(|choices| {
                    choices.iter().any(|c| {
                        c.pointer("/delta/content")
                            .and_then(Value::as_str)
                            .is_some_and(|s| !s.is_empty())
                    })
                });
            if has_text {
                self.first_token = true;
            }
        }
    }

    fn anthropic_data(&mut self, data: &[u8]) {
        let wants_token = !self.first_token && contains(data, b"text_delta");
        let maybe_end = contains(data, b"message_stop") || contains(data, b"\"error\"");
        if !wants_token && !maybe_end {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("message_stop") => self.done = true,
            Some("error") => self.error = true,
            Some("content_block_delta") if wants_token => {
                let is_text =
                    v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta");
                let non_empty = v
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                if is_text && non_empty {
                    self.first_token = true;
                }
            }
            _ => {}
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &str = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lorem\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    const ANTHROPIC: &str = concat!(
        "event: message_start\r\n",
        "data: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\r\n\r\n",
        "event: content_block_start\r\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n",
        "event: content_block_delta\r\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lorem\"}}\r\n\r\n",
        "event: message_stop\r\n",
        "data: {\"type\":\"message_stop\"}\r\n\r\n",
    );

    /// Feed `body` split at every possible pair of points; the verdict must not depend on
    /// where the network cut the chunks, and the first token must be reported exactly once.
    fn scan_all_splits(door: Door, body: &str) -> Vec<(bool, bool, bool)> {
        let b = body.as_bytes();
        let mut out = Vec::new();
        for i in 0..=b.len() {
            for j in (i..=b.len()).step_by(7) {
                let mut s = SseScanner::new(door);
                let hits = [s.feed(&b[..i]), s.feed(&b[i..j]), s.feed(&b[j..])]
                    .iter()
                    .filter(|h| **h)
                    .count();
                s.finish();
                assert!(hits <= 1);
                assert_eq!(hits == 1, s.first_token);
                out.push((s.first_token, s.complete(), s.error));
            }
        }
        out
    }

    #[test]
    fn openai_stream_complete_with_first_token() {
        for r in scan_all_splits(Door::Openai, OPENAI) {
            assert_eq!(r, (true, true, false));
        }
    }

    #[test]
    fn openai_empty_role_chunk_is_not_a_token() {
        let mut s = SseScanner::new(Door::Openai);
        let first = OPENAI.lines().next().unwrap_or_default();
        assert!(!s.feed(format!("{first}\n").as_bytes()));
        assert!(!s.first_token);
    }

    #[test]
    fn openai_error_event_breaks_stream() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lorem\"}}]}\n\n",
            "data: {\"error\":{\"type\":\"upstream_error\",\"code\":\"upstream_stream_broken\"}}\n\n",
        );
        for r in scan_all_splits(Door::Openai, body) {
            assert_eq!(r, (true, false, true));
        }
    }

    #[test]
    fn openai_without_done_is_incomplete() {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lorem\"}}]}\n\n";
        for r in scan_all_splits(Door::Openai, body) {
            assert_eq!(r, (true, false, false));
        }
    }

    #[test]
    fn anthropic_stream_complete_with_first_token() {
        for r in scan_all_splits(Door::Anthropic, ANTHROPIC) {
            assert_eq!(r, (true, true, false));
        }
    }

    #[test]
    fn anthropic_error_event_breaks_stream() {
        let body = concat!(
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
            "event: error\n",
            "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}\n\n",
        );
        for r in scan_all_splits(Door::Anthropic, body) {
            assert_eq!(r, (true, false, true));
        }
    }

    #[test]
    fn last_line_without_newline_counts() {
        let mut s = SseScanner::new(Door::Openai);
        s.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]");
        assert!(!s.done);
        s.finish();
        assert!(s.complete());
    }

    #[test]
    fn oversized_line_is_flagged() {
        let mut s = SseScanner::new(Door::Openai);
        let big = vec![b'x'; MAX_LINE_BYTES + 1];
        s.feed(&big);
        s.feed(b"\ndata: [DONE]\n");
        assert!(s.overflow);
        assert!(!s.complete());
    }
}
