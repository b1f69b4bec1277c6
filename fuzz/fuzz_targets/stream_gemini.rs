//! Gemini stream → OpenAI chunks → Anthropic events (both doors in front of a Gemini
//! upstream), as the gateway runs it: bytes cut into chunks → SSE parser →
//! `GenerateContentResponse` → `GeminiToOpenAiStream` → `OpenAiToAnthropicStream`.
//! An error from the transcoder ends the stream. Never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::gemini::GenerateContentResponse;
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::translate::{GeminiToOpenAiStream, NativeHints, OpenAiToAnthropicStream};

fuzz_target!(|data: &[u8]| {
    let include_usage = data.first().is_some_and(|b| b & 1 == 1);
    let hints = NativeHints::new("chatcmpl-fuzz", "gemini-fuzz", 0);
    let mut t = GeminiToOpenAiStream::new(hints, include_usage);
    let mut anth = OpenAiToAnthropicStream::new("msg_fuzz", "gemini-fuzz");
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for chunk in tollgate_fuzz::chunks(data) {
        events.extend(parser.push(chunk).unwrap_or_default());
    }
    events.extend(parser.finish().unwrap_or_default());
    for ev in events {
        let Ok(resp) = serde_json::from_str::<GenerateContentResponse>(&ev.data) else {
            continue;
        };
        match t.push(&resp) {
            Ok(chunks) => {
                for c in &chunks {
                    tollgate_fuzz::serialize(c);
                    tollgate_fuzz::serialize(&anth.push(c));
                }
            }
            Err(_) => return,
        }
    }
    if let Ok(chunks) = t.finish() {
        for c in &chunks {
            tollgate_fuzz::serialize(&anth.push(c));
        }
        tollgate_fuzz::serialize(&anth.finish());
    }
    let _ = (t.usage(), anth.usage());
});
