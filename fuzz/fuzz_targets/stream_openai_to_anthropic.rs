//! OpenAI stream → Anthropic events (Anthropic door, OpenAI-format upstream), as the
//! gateway runs it: bytes cut into chunks → SSE parser → `[DONE]` or `ChatChunk` →
//! transcoder, and `finish` at `[DONE]` and again at the end of the body. Never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::openai::{ChatChunk, ChunkAccumulator};
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::translate::OpenAiToAnthropicStream;

fuzz_target!(|data: &[u8]| {
    let mut t = OpenAiToAnthropicStream::new("msg_fuzz", "model");
    let mut acc = ChunkAccumulator::new();
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for chunk in tollgate_fuzz::chunks(data) {
        events.extend(parser.push(chunk).unwrap_or_default());
    }
    events.extend(parser.finish().unwrap_or_default());
    for ev in events {
        if ev.data.trim() == "[DONE]" {
            tollgate_fuzz::serialize(&t.finish());
            continue;
        }
        let Ok(chunk) = serde_json::from_str::<ChatChunk>(&ev.data) else {
            continue;
        };
        acc.push(&chunk);
        tollgate_fuzz::serialize(&t.push(&chunk));
    }
    tollgate_fuzz::serialize(&t.finish());
    let _ = (t.usage(), t.stop_reason(), acc.usage().cloned());
    tollgate_fuzz::serialize(&acc.finish());
});
