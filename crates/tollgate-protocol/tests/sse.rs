//! SSE parser edge cases and the split-anywhere property.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tollgate_protocol::sse::{
    SseEvent, SseParser, encode_data, encode_done, encode_event, encode_json,
};

fn ev(event: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        event: event.map(str::to_owned),
        data: data.to_owned(),
    }
}

fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        out.extend(p.push(c).unwrap());
    }
    out.extend(p.finish().unwrap());
    out
}

#[test]
fn all_line_endings() {
    for sep in ["\n", "\r\n", "\r"] {
        let text = format!("event: a{sep}data: 1{sep}{sep}data: 2{sep}{sep}");
        assert_eq!(
            parse_all(&[text.as_bytes()]),
            vec![ev(Some("a"), "1"), ev(None, "2")],
            "separator {sep:?}"
        );
    }
}

#[test]
fn crlf_split_between_chunks_is_one_line_ending() {
    // "\r" ends the chunk, "\n" starts the next: one line end, not an empty line.
    let out = parse_all(&[b"data: a\r", b"\ndata: b\r\n\r\n"]);
    assert_eq!(out, vec![ev(None, "a\nb")]);
}

#[test]
fn multi_line_data_and_optional_space() {
    let out = parse_all(&[b"data: line1\ndata:line2\ndata:  two spaces\n\n"]);
    assert_eq!(out, vec![ev(None, "line1\nline2\n two spaces")]);
}

#[test]
fn comments_ids_and_unknown_fields_are_ignored() {
    let out = parse_all(&[b": keep-alive\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n: done\n"]);
    assert_eq!(out, vec![ev(None, "x")]);
}

#[test]
fn events_without_data_are_not_dispatched_but_empty_data_is() {
    let out = parse_all(&[b"event: ping\n\ndata\n\ndata:\n\n"]);
    assert_eq!(out, vec![ev(None, ""), ev(None, "")]);
}

#[test]
fn event_name_resets_after_each_event() {
    let out = parse_all(&[b"event: message_start\ndata: {}\n\ndata: {}\n\n"]);
    assert_eq!(out, vec![ev(Some("message_start"), "{}"), ev(None, "{}")]);
}

#[test]
fn utf8_split_inside_a_character() {
    let text = "data: héllo 世界 🎉\n\n".as_bytes();
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for b in text {
        out.extend(p.push(std::slice::from_ref(b)).unwrap());
    }
    assert_eq!(out, vec![ev(None, "héllo 世界 🎉")]);
}

#[test]
fn finish_delivers_a_trailing_event_without_blank_line() {
    let mut p = SseParser::new();
    assert!(p.push(b"data: [DONE]").unwrap().is_empty());
    let out = p.finish().unwrap();
    assert_eq!(out, vec![ev(None, "[DONE]")]);
    assert!(out[0].is_done());
    let mut p = SseParser::new();
    assert!(p.push(b"data: x\n").unwrap().is_empty());
    assert_eq!(p.finish().unwrap(), vec![ev(None, "x")]);
}

#[test]
fn leading_bom_is_dropped() {
    let out = parse_all(&[b"\xEF\xBB", b"\xBFdata: x\n\n"]);
    assert_eq!(out, vec![ev(None, "x")]);
}

#[test]
fn encoders_frame_events() {
    assert_eq!(&encode_data("{\"a\":1}")[..], b"data: {\"a\":1}\n\n");
    assert_eq!(&encode_data("a\nb")[..], b"data: a\ndata: b\n\n");
    assert_eq!(
        &encode_data("a\r\nb\rc")[..],
        b"data: a\ndata: b\ndata: c\n\n"
    );
    assert_eq!(
        &encode_event("ping", "{\"type\":\"ping\"}")[..],
        b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
    );
    assert_eq!(&encode_done()[..], b"data: [DONE]\n\n");
    assert_eq!(
        &encode_json(&serde_json::json!({"x": 1})).unwrap()[..],
        b"data: {\"x\":1}\n\n"
    );
}

#[test]
fn encoded_events_parse_back() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&encode_event("e", "multi\nline"));
    bytes.extend_from_slice(&encode_data("plain"));
    assert_eq!(
        parse_all(&[&bytes]),
        vec![ev(Some("e"), "multi\nline"), ev(None, "plain")]
    );
}

fn arb_event() -> impl Strategy<Value = SseEvent> {
    (
        proptest::option::of("[a-z_]{1,12}"),
        proptest::collection::vec("[^\r\n]{0,20}", 1..4),
    )
        .prop_map(|(event, lines)| SseEvent {
            event,
            data: lines.join("\n"),
        })
}

/// A stream of events written with a random line ending, comments and unicode.
fn arb_stream() -> impl Strategy<Value = (Vec<SseEvent>, Vec<u8>)> {
    (
        proptest::collection::vec(arb_event(), 0..8),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        any::<bool>(),
    )
        .prop_map(|(events, nl, comments)| {
            let mut s = String::new();
            for e in &events {
                if comments {
                    s.push_str(": keep-alive");
                    s.push_str(nl);
                }
                if let Some(name) = &e.event {
                    s.push_str("event: ");
                    s.push_str(name);
                    s.push_str(nl);
                }
                for line in e.data.split('\n') {
                    s.push_str("data: ");
                    s.push_str(line);
                    s.push_str(nl);
                }
                s.push_str(nl);
            }
            (events, s.into_bytes())
        })
}

proptest! {
    #[test]
    fn splitting_anywhere_gives_the_same_events(
        (events, bytes) in arb_stream(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let whole = parse_all(&[&bytes]);
        prop_assert_eq!(&whole, &events);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&bytes[start..p]);
            start = p;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(parse_all(&chunks), events);
    }
}
