//! SSE parser: any bytes, cut anywhere, never panic; and the events do not depend on the
//! cutting (one push, the input's own chunks, and one byte at a time agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_protocol::sse::{SseEvent, SseParser};

fn parse_all<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        events.extend(parser.push(piece).unwrap_or_default());
    }
    events.extend(parser.finish().unwrap_or_default());
    events
}

fuzz_target!(|data: &[u8]| {
    let body = data.get(1..).unwrap_or_default();
    let whole = parse_all([body]);
    let chunked = parse_all(tollgate_fuzz::chunks(data));
    assert_eq!(whole, chunked, "events depend on chunk boundaries");
    let bytewise = parse_all(body.chunks(1));
    assert_eq!(whole, bytewise, "events differ when fed one byte at a time");
});
