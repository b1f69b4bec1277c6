//! Ollama NDJSON stream → OpenAI chunks → Anthropic events (both doors in front of an
//! Ollama upstream), as the gateway runs it: bytes cut into chunks → NDJSON splitter →
//! `ChatResponse` → `OllamaToOpenAiStream` → `OpenAiToAnthropicStream`. An error from
//! the transcoder ends the stream. Never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::ollama::{ChatResponse, NdjsonParser};
use tollgate_protocol::translate::{NativeHints, OllamaToOpenAiStream, OpenAiToAnthropicStream};

fuzz_target!(|data: &[u8]| {
    let include_usage = data.first().is_some_and(|b| b & 1 == 1);
    let hints = NativeHints::new("chatcmpl-fuzz", "llama-fuzz", 0);
    let mut t = OllamaToOpenAiStream::new(hints, include_usage);
    let mut anth = OpenAiToAnthropicStream::new("msg_fuzz", "llama-fuzz");
    let mut parser = NdjsonParser::new();
    let mut lines = Vec::new();
    for chunk in tollgate_fuzz::chunks(data) {
        lines.extend(parser.push(chunk).unwrap_or_default());
    }
    lines.extend(parser.finish().unwrap_or_default());
    for line in lines {
        let Ok(resp) = serde_json::from_slice::<ChatResponse>(&line) else {
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
    let _ = t.is_done();
    if let Ok(chunks) = t.finish() {
        for c in &chunks {
            tollgate_fuzz::serialize(&anth.push(c));
        }
        tollgate_fuzz::serialize(&anth.finish());
    }
    let _ = (t.usage(), anth.usage());
});
