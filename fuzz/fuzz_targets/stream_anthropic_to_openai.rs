//! Anthropic stream → OpenAI chunks (OpenAI door, Anthropic upstream), as the gateway
//! runs it: bytes cut into chunks → SSE parser → `StreamEvent` → transcoder. Events
//! that are not valid JSON are skipped (as the gateway does); an error from the
//! transcoder ends the stream. Never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::anthropic::{EventAccumulator, StreamEvent};
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::translate::AnthropicToOpenAiStream;

fuzz_target!(|data: &[u8]| {
    let flags = data.first().copied().unwrap_or(0);
    let mut t = AnthropicToOpenAiStream::new("chatcmpl-fuzz", "model", 0, flags & 1 == 1)
        .with_json_tool((flags & 2 == 2).then(|| "answer".to_string()));
    let mut acc = EventAccumulator::new();
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for chunk in tollgate_fuzz::chunks(data) {
        events.extend(parser.push(chunk).unwrap_or_default());
    }
    events.extend(parser.finish().unwrap_or_default());
    for ev in events {
        let Ok(event) = serde_json::from_str::<StreamEvent>(&ev.data) else {
            continue;
        };
        tollgate_fuzz::serialize(&event);
        acc.push(&event);
        match t.push(&event) {
            Ok(chunks) => tollgate_fuzz::serialize(&chunks),
            Err(_) => break,
        }
    }
    let _ = (t.usage(), t.finish_reason(), t.is_done());
    tollgate_fuzz::serialize(&acc.finish());
});
