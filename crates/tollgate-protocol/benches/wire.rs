//! Micro-benchmarks of the wire work on every chat request: parsing and translating
//! requests and answers between the OpenAI and Anthropic formats, and SSE parsing of a
//! streamed answer (`cargo bench -p tollgate-protocol`).

use divan::{Bencher, black_box};
use serde_json::json;
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::{anthropic, openai, translate};

fn main() {
    divan::main();
}

/// A chat request as a typical SDK sends it: a system prompt and a short exchange.
fn openai_request() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "bench",
        "max_tokens": 256,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "You are a concise assistant for a toll-road operator."},
            {"role": "user", "content": "Write one short paragraph about toll roads."},
            {"role": "assistant", "content": "Toll roads charge drivers for using them."},
            {"role": "user", "content": "And why do they exist?"},
        ],
    }))
    .expect("json")
}

fn anthropic_request() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "bench",
        "max_tokens": 256,
        "system": "You are a concise assistant for a toll-road operator.",
        "messages": [
            {"role": "user", "content": "Write one short paragraph about toll roads."},
            {"role": "assistant", "content": "Toll roads charge drivers for using them."},
            {"role": "user", "content": "And why do they exist?"},
        ],
    }))
    .expect("json")
}

fn words(n: usize) -> String {
    (0..n)
        .map(|i| ["lorem", "ipsum", "dolor", "sit", "amet"][i % 5])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole OpenAI answer of 64 words.
fn openai_response() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": words(64)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 64, "total_tokens": 104},
    }))
    .expect("json")
}

/// An OpenAI stream of 64 one-word chunks, a usage chunk and `[DONE]`.
fn openai_stream() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..64 {
        let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}, "finish_reason": null}]});
        out.extend_from_slice(format!("data: {c}\n\n").as_bytes());
    }
    let u = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "gpt-4o-mini", "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 64, "total_tokens": 104}});
    out.extend_from_slice(format!("data: {u}\n\ndata: [DONE]\n\n").as_bytes());
    out
}

#[divan::bench]
fn parse_openai_request(b: Bencher) {
    let body = openai_request();
    b.bench(|| serde_json::from_slice::<openai::ChatRequest>(black_box(&body)).expect("parse"));
}

#[divan::bench]
fn reserialise_openai_request(b: Bencher) {
    let req: openai::ChatRequest = serde_json::from_slice(&openai_request()).expect("parse");
    b.bench(|| serde_json::to_vec(black_box(&req)).expect("encode"));
}

#[divan::bench]
fn anthropic_request_to_openai(b: Bencher) {
    let req: anthropic::MessagesRequest =
        serde_json::from_slice(&anthropic_request()).expect("parse");
    b.bench(|| translate::anthropic_request_to_openai(black_box(&req)).expect("translate"));
}

#[divan::bench]
fn openai_request_to_anthropic(b: Bencher) {
    let req: openai::ChatRequest = serde_json::from_slice(&openai_request()).expect("parse");
    b.bench(|| translate::openai_request_to_anthropic(black_box(&req), 4096).expect("translate"));
}

#[divan::bench]
fn openai_response_to_anthropic(b: Bencher) {
    let body = openai_response();
    b.bench(|| {
        let r: openai::ChatResponse = serde_json::from_slice(black_box(&body)).expect("parse");
        serde_json::to_vec(&translate::openai_response_to_anthropic(&r)).expect("encode")
    });
}

/// SSE framing of a 66-event stream, fed in 512-byte reads.
#[divan::bench]
fn sse_parse_stream(b: Bencher) {
    let stream = openai_stream();
    b.counter(divan::counter::BytesCount::of_slice(&stream))
        .bench(|| {
            let mut p = SseParser::new();
            let mut n = 0;
            for chunk in stream.chunks(512) {
                n += p.push(black_box(chunk)).expect("sse").len();
            }
            n
        });
}

/// An OpenAI stream translated to Anthropic events, chunk by chunk.
#[divan::bench]
fn openai_stream_to_anthropic(b: Bencher) {
    let stream = openai_stream();
    let mut p = SseParser::new();
    let events = p.push(&stream).expect("sse");
    let chunks: Vec<openai::ChatChunk> = events
        .iter()
        .filter(|e| !e.is_done())
        .map(|e| serde_json::from_str(&e.data).expect("chunk"))
        .collect();
    b.bench(|| {
        let mut t = translate::OpenAiToAnthropicStream::new("msg_1", "bench");
        let mut n = 0;
        for c in &chunks {
            for ev in t.push(black_box(c)) {
                n += serde_json::to_vec(&ev).expect("encode").len();
            }
        }
        n + t.finish().len()
    });
}
