//! OpenAI ↔ Gemini and OpenAI ↔ Ollama: requests, answers, streams and embeddings.
//! Properties: a native stream split at arbitrary byte boundaries gives the same chunks
//! as the whole stream, and adds up to the translated non-stream answer; a request built
//! from a translated answer (tool calls and their results) translates back to the same
//! calls, and the answer keeps text, tool calls, stop reason and usage.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_protocol::TranslateError;
use tollgate_protocol::gemini::{GenerateContentRequest, GenerateContentResponse};
use tollgate_protocol::ollama::{self, NdjsonParser};
use tollgate_protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, ChunkAccumulator, EmbeddingVector, EmbeddingsRequest,
    FinishReason, MessageContent,
};
use tollgate_protocol::sse::SseParser;
use tollgate_protocol::translate::embeddings::{
    decode_embedding, encode_embedding, gemini_embeddings_to_openai, openai_embeddings_to_gemini,
    openai_embeddings_to_ollama, set_encoding,
};
use tollgate_protocol::translate::{
    GeminiToOpenAiStream, NativeHints, OllamaToOpenAiStream, gemini_response_to_openai,
    ollama_response_to_openai, openai_request_to_gemini, openai_request_to_ollama,
};

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn hints() -> NativeHints {
    NativeHints::new("chatcmpl-abc", "pub-model", 42)
}

const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

fn conversation() -> Value {
    json!({
        "model": "m",
        "max_completion_tokens": 50, "temperature": 0.5, "top_p": 0.9, "seed": 3,
        "stop": ["END"],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "w",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "and kind"}]},
            {"role": "user", "content": [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": PNG}}]},
            {"role": "assistant", "content": "let me check", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2__ts__c2ln", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2__ts__c2ln", "content": [{"type": "text", "text": "rainy"}]},
            {"role": "user", "content": "thanks"}
        ]
    })
}

#[test]
fn openai_request_to_gemini_maps_every_feature() {
    let g = openai_request_to_gemini(&req(conversation())).unwrap();
    let v = serde_json::to_value(&g).unwrap();
    assert_eq!(
        v["systemInstruction"],
        json!({"parts": [{"text": "be brief"}, {"text": "and kind"}]})
    );
    assert_eq!(
        v["contents"],
        json!([
            {"role": "user", "parts": [{"text": "what is this"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
            {"role": "model", "parts": [
                {"text": "let me check"},
                {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_2", "name": "get_weather", "args": {}}, "thoughtSignature": "c2ln"}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"content": "sunny"}}},
                {"functionResponse": {"id": "call_2", "name": "get_weather", "response": {"content": "rainy"}}},
                {"text": "thanks"}]}
        ])
    );
    assert_eq!(
        v["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["additionalProperties"],
        false
    );
    assert_eq!(
        v["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert_eq!(
        v["generationConfig"],
        json!({"stopSequences": ["END"], "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object"}, "maxOutputTokens": 50,
            "temperature": 0.5, "topP": 0.9, "seed": 3})
    );
    // It parses back as the same request (the mock reads it with these types).
    let back: GenerateContentRequest = serde_json::from_value(v).unwrap();
    assert_eq!(back, g);
}

#[test]
fn openai_request_to_ollama_maps_every_feature() {
    let mut r = req(conversation());
    r.tool_choice = None;
    r.stream = Some(true);
    let o = openai_request_to_ollama(&r).unwrap();
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["stream"], true);
    assert_eq!(v["model"], "m");
    assert_eq!(
        v["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        v["messages"][1],
        json!({"role": "system", "content": "and kind"})
    );
    assert_eq!(
        v["messages"][2],
        json!({"role": "user", "content": "what is this", "images": ["iVBORw0KGgo="]})
    );
    assert_eq!(
        v["messages"][3]["tool_calls"],
        json!([{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
               {"function": {"name": "get_weather", "arguments": {}}}])
    );
    assert_eq!(
        v["messages"][4],
        json!({"role": "tool", "content": "sunny", "tool_name": "get_weather"})
    );
    assert_eq!(v["format"], json!({"type": "object"}));
    assert_eq!(
        v["options"],
        json!({"num_predict": 50, "temperature": 0.5, "top_p": 0.9, "seed": 3, "stop": ["END"]})
    );
    assert_eq!(v["tools"][0]["function"]["name"], "get_weather");
    // json_object → "json"; tool_choice none → no tools; non-stream is explicit.
    let o = openai_request_to_ollama(&req(json!({"model": "m",
        "response_format": {"type": "json_object"}, "tool_choice": "none",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "messages": [{"role": "user", "content": "x"}]})))
    .unwrap();
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["format"], "json");
    assert!(v.get("tools").is_none());
    assert_eq!(v["stream"], false);
}

#[test]
fn what_has_no_counterpart_is_refused_with_a_param() {
    let base = |extra: Value| {
        let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        req(v)
    };
    let cases = [
        json!({"logprobs": true}),
        json!({"n": 2}),
        json!({"logit_bias": {"1": 2}}),
        json!({"modalities": ["text", "audio"]}),
        json!({"tools": [{"type": "web_search"}]}),
        json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
    ];
    for case in cases {
        let r = base(case.clone());
        for result in [
            openai_request_to_gemini(&r).map(|_| ()),
            openai_request_to_ollama(&r).map(|_| ()),
        ] {
            let e = result.expect_err(&case.to_string());
            assert!(
                matches!(e, TranslateError::Unsupported { .. }),
                "{case}: {e:?}"
            );
            assert!(e.param().is_some(), "{case}");
        }
    }
    let forced = base(json!({"tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "f"}}]}));
    let e = openai_request_to_ollama(&forced).unwrap_err();
    assert_eq!(e.param(), Some("tool_choice"));
    assert!(openai_request_to_gemini(&forced).is_ok());
    // A tool result must answer a call the request contains (its name is needed).
    let orphan = base(json!({"messages": [{"role": "user", "content": "x"},
        {"role": "tool", "tool_call_id": "nope", "content": "r"}]}));
    let e = openai_request_to_gemini(&orphan).unwrap_err();
    assert_eq!(e.param(), Some("messages[1].tool_call_id"));
    assert!(openai_request_to_ollama(&orphan).is_err());
    let only_system = base(json!({"messages": [{"role": "system", "content": "x"}]}));
    assert!(openai_request_to_gemini(&only_system).is_err());
}

#[test]
fn gemini_answers_translate_with_reasons_and_usage() {
    let resp: GenerateContentResponse = serde_json::from_value(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": true},
            {"text": "Hello "}, {"text": "world"},
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 2,
            "cachedContentTokenCount": 4, "totalTokenCount": 17},
        "modelVersion": "gemini-2.5-flash", "responseId": "r1"
    }))
    .unwrap();
    let o = gemini_response_to_openai(&resp, &hints());
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["id"], "chatcmpl-abc");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello world");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0],
        json!({"id": "call_abc_0__ts__sig", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens"], 10);
    assert_eq!(v["usage"]["completion_tokens"], 7);
    assert_eq!(v["usage"]["total_tokens"], 17);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        2
    );

    for (reason, expected) in [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("STOP", "stop"),
        ("OTHER", "stop"),
    ] {
        let resp: GenerateContentResponse = serde_json::from_value(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": reason}]
        }))
        .unwrap();
        let o = gemini_response_to_openai(&resp, &hints());
        assert_eq!(
            o.choices[0]
                .finish_reason
                .as_ref()
                .map(FinishReason::as_str),
            Some(expected),
            "{reason}"
        );
    }
    let blocked: GenerateContentResponse =
        serde_json::from_value(json!({"promptFeedback": {"blockReason": "SAFETY"}})).unwrap();
    let o = gemini_response_to_openai(&blocked, &hints());
    assert_eq!(
        o.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(o.model, "pub-model");
}

#[test]
fn ollama_answers_translate_with_reasons_and_usage() {
    let resp: ollama::ChatResponse = serde_json::from_value(json!({
        "model": "llama3.2", "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "f", "arguments": {"a": 1}}}]},
        "done": true, "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 3
    }))
    .unwrap();
    let o = ollama_response_to_openai(&resp, &hints());
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["model"], "llama3.2");
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "f", "arguments": "{\"a\":1}"})
    );
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_abc_0"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        (
            v["usage"]["prompt_tokens"].clone(),
            v["usage"]["completion_tokens"].clone()
        ),
        (json!(12), json!(3))
    );
    let long: ollama::ChatResponse = serde_json::from_value(json!({
        "model": "m", "message": {"role": "assistant", "content": "abc"}, "done": true, "done_reason": "length"
    }))
    .unwrap();
    let o = ollama_response_to_openai(&long, &hints());
    assert_eq!(o.choices[0].finish_reason, Some(FinishReason::Length));
    assert_eq!(o.usage, None);
}

#[test]
fn stream_errors_and_truncation_are_upstream_errors() {
    let mut g = GeminiToOpenAiStream::new(hints(), true);
    let ev: GenerateContentResponse = serde_json::from_value(
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}]}),
    )
    .unwrap();
    assert!(!g.push(&ev).unwrap().is_empty());
    assert!(matches!(g.finish(), Err(TranslateError::Upstream { .. })));
    let err: GenerateContentResponse = serde_json::from_value(
        json!({"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}),
    )
    .unwrap();
    assert!(
        matches!(g.push(&err), Err(TranslateError::Upstream { message, .. }) if message == "boom")
    );

    let mut o = OllamaToOpenAiStream::new(hints(), false);
    let line: ollama::ChatResponse =
        serde_json::from_value(json!({"error": "model crashed"})).unwrap();
    assert!(matches!(
        o.push(&line),
        Err(TranslateError::Upstream { .. })
    ));
    assert!(o.finish().is_err());
}

#[test]
fn ndjson_parser_handles_crlf_blank_lines_and_a_missing_last_newline() {
    let mut p = NdjsonParser::new();
    let mut lines = p.push(b"{\"a\":1}\r\n\n  \n{\"b\"").unwrap();
    lines.extend(p.push(b":2}\n{\"c\":3}").unwrap());
    lines.extend(p.finish().unwrap());
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    assert_eq!(lines, vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
}

#[test]
fn embeddings_to_native_and_back() {
    let r: EmbeddingsRequest = serde_json::from_value(
        json!({"model": "e", "input": ["a b", "c"], "dimensions": 3, "encoding_format": "base64"}),
    )
    .unwrap();
    let g = serde_json::to_value(openai_embeddings_to_gemini(&r, "text-embedding-004").unwrap())
        .unwrap();
    assert_eq!(
        g,
        json!({"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a b"}]}, "outputDimensionality": 3},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "c"}]}, "outputDimensionality": 3}]})
    );
    let o = serde_json::to_value(openai_embeddings_to_ollama(&r, "nomic").unwrap()).unwrap();
    assert_eq!(
        o,
        json!({"model": "nomic", "input": ["a b", "c"], "dimensions": 3})
    );
    let tokens: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": [1, 2, 3]})).unwrap();
    assert!(matches!(
        openai_embeddings_to_gemini(&tokens, "x"),
        Err(TranslateError::Unsupported { .. })
    ));
    assert!(openai_embeddings_to_ollama(&tokens, "x").is_err());

    let resp =
        serde_json::from_value(json!({"embeddings": [{"values": [0.5, -1.0, 0.25]}]})).unwrap();
    let out = gemini_embeddings_to_openai(&resp, "text-embedding-004", true);
    let EmbeddingVector::Base64(b64) = &out.data[0].embedding else {
        panic!("base64 expected")
    };
    assert_eq!(decode_embedding(b64).unwrap(), vec![0.5, -1.0, 0.25]);
    let mut out2 = out.clone();
    set_encoding(&mut out2, false).unwrap();
    assert_eq!(
        out2.data[0].embedding,
        EmbeddingVector::Float(vec![0.5, -1.0, 0.25])
    );
    set_encoding(&mut out2, true).unwrap();
    assert_eq!(out2, out);
    assert_eq!(encode_embedding(&[1.0]), "AACAPw==");
}

// ---- properties ----

#[derive(Debug, Clone)]
struct Answer {
    pieces: Vec<String>,
    calls: Vec<(String, Value)>,
    /// Gemini finish reason / Ollama done_reason.
    finish: usize,
    usage: (u64, u64),
    cuts: Vec<prop::sample::Index>,
}

const GEMINI_REASONS: [&str; 3] = ["STOP", "MAX_TOKENS", "SAFETY"];
const OLLAMA_REASONS: [&str; 3] = ["stop", "length", "stop"];

fn arb_answer() -> impl Strategy<Value = Answer> {
    (
        proptest::collection::vec("[a-zé€😀 ,.\"\\\\]{0,8}", 0..5),
        proptest::collection::vec(
            (
                "[a-z_]{1,8}",
                proptest::collection::btree_map("[a-z]{1,4}", "[a-zé😀\"]{0,5}", 0..3),
            ),
            0..3,
        ),
        0usize..3,
        (0u64..10_000, 0u64..10_000),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    )
        .prop_map(|(pieces, calls, finish, usage, cuts)| Answer {
            pieces,
            calls: calls
                .into_iter()
                .map(|(n, args)| (n, serde_json::to_value(args).unwrap()))
                .collect(),
            finish,
            usage,
            cuts,
        })
}

fn split_bytes(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for a in at {
        out.push(bytes[prev..a].to_vec());
        prev = a;
    }
    out.push(bytes[prev..].to_vec());
    out
}

impl Answer {
    fn text(&self) -> String {
        self.pieces.concat()
    }

    fn gemini_events(&self) -> Vec<Value> {
        let mut evs: Vec<Value> = self
            .pieces
            .iter()
            .map(|p| json!({"candidates": [{"content": {"role": "model", "parts": [{"text": p}]}, "index": 0}],
                "usageMetadata": {"promptTokenCount": self.usage.0}}))
            .collect();
        for (name, args) in &self.calls {
            evs.push(json!({"candidates": [{"content": {"role": "model",
                "parts": [{"functionCall": {"name": name, "args": args}}]}, "index": 0}]}));
        }
        evs.push(json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
            "finishReason": GEMINI_REASONS[self.finish], "index": 0}],
            "usageMetadata": {"promptTokenCount": self.usage.0, "candidatesTokenCount": self.usage.1,
                "totalTokenCount": self.usage.0 + self.usage.1}}));
        evs
    }

    fn gemini_whole(&self) -> GenerateContentResponse {
        let mut parts: Vec<Value> = vec![json!({"text": self.text()})];
        for (name, args) in &self.calls {
            parts.push(json!({"functionCall": {"name": name, "args": args}}));
        }
        serde_json::from_value(json!({"candidates": [{"content": {"role": "model", "parts": parts},
            "finishReason": GEMINI_REASONS[self.finish], "index": 0}],
            "usageMetadata": {"promptTokenCount": self.usage.0, "candidatesTokenCount": self.usage.1,
                "totalTokenCount": self.usage.0 + self.usage.1}}))
        .unwrap()
    }

    fn gemini_sse(&self) -> Vec<u8> {
        self.gemini_events()
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn ollama_lines(&self) -> Vec<Value> {
        let mut lines: Vec<Value> = self
            .pieces
            .iter()
            .map(|p| json!({"model": "llama", "created_at": "t", "message": {"role": "assistant", "content": p}, "done": false}))
            .collect();
        if !self.calls.is_empty() {
            let calls: Vec<Value> = self
                .calls
                .iter()
                .map(|(n, a)| json!({"function": {"name": n, "arguments": a}}))
                .collect();
            lines.push(json!({"model": "llama", "created_at": "t",
                "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": false}));
        }
        lines.push(json!({"model": "llama", "created_at": "t", "message": {"role": "assistant", "content": ""},
            "done": true, "done_reason": OLLAMA_REASONS[self.finish],
            "prompt_eval_count": self.usage.0, "eval_count": self.usage.1}));
        lines
    }

    fn ollama_whole(&self) -> ollama::ChatResponse {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|(n, a)| json!({"function": {"name": n, "arguments": a}}))
            .collect();
        let mut message = json!({"role": "assistant", "content": self.text()});
        if !calls.is_empty() {
            message["tool_calls"] = json!(calls);
        }
        serde_json::from_value(json!({"model": "llama", "message": message, "done": true,
            "done_reason": OLLAMA_REASONS[self.finish],
            "prompt_eval_count": self.usage.0, "eval_count": self.usage.1}))
        .unwrap()
    }

    fn expected_finish(&self, gemini: bool) -> FinishReason {
        let base = match (gemini, self.finish) {
            (_, 1) => FinishReason::Length,
            (true, 2) => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        };
        match base {
            FinishReason::Stop if !self.calls.is_empty() => FinishReason::ToolCalls,
            other => other,
        }
    }
}

fn run_gemini(chunks: &[Vec<u8>], include_usage: bool) -> Vec<ChatChunk> {
    let mut parser = SseParser::new();
    let mut t = GeminiToOpenAiStream::new(hints(), include_usage);
    let mut out = Vec::new();
    let mut events = Vec::new();
    for c in chunks {
        events.extend(parser.push(c).unwrap());
    }
    events.extend(parser.finish().unwrap());
    for ev in events {
        let e: GenerateContentResponse = serde_json::from_str(&ev.data).unwrap();
        out.extend(t.push(&e).unwrap());
    }
    out.extend(t.finish().unwrap());
    assert!(t.finish().unwrap().is_empty(), "finish is idempotent");
    out
}

fn run_ollama(chunks: &[Vec<u8>], include_usage: bool) -> Vec<ChatChunk> {
    let mut parser = NdjsonParser::new();
    let mut t = OllamaToOpenAiStream::new(hints(), include_usage);
    let mut lines = Vec::new();
    for c in chunks {
        lines.extend(parser.push(c).unwrap());
    }
    lines.extend(parser.finish().unwrap());
    let mut out = Vec::new();
    for l in lines {
        let line: ollama::ChatResponse = serde_json::from_slice(&l).unwrap();
        out.extend(t.push(&line).unwrap());
    }
    out.extend(t.finish().unwrap());
    out
}

fn accumulate(chunks: &[ChatChunk]) -> ChatResponse {
    let mut acc = ChunkAccumulator::new();
    chunks.iter().for_each(|c| acc.push(c));
    acc.finish()
}

/// Text, calls (name, parsed arguments), finish reason and usage of an answer.
type Essentials = (
    String,
    Vec<(String, Value)>,
    Option<FinishReason>,
    Option<(u64, u64)>,
);

fn essentials(r: &ChatResponse) -> Essentials {
    let m = &r.choices[0].message;
    let text = match &m.content {
        Some(MessageContent::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let calls = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| {
            (
                c.function.name.clone(),
                serde_json::from_str(&c.function.arguments).unwrap(),
            )
        })
        .collect();
    (
        text,
        calls,
        r.choices[0].finish_reason.clone(),
        r.usage
            .as_ref()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
    )
}

/// The next request of the conversation: the answer as an assistant message, a result
/// for each call, and a user message.
fn follow_up(answer: &ChatResponse) -> ChatRequest {
    let mut messages = vec![json!({"role": "user", "content": "q"})];
    let m = serde_json::to_value(&answer.choices[0].message).unwrap();
    messages.push(m);
    for c in answer.choices[0].message.tool_calls.iter().flatten() {
        messages
            .push(json!({"role": "tool", "tool_call_id": c.id, "content": format!("r-{}", c.id)}));
    }
    messages.push(json!({"role": "user", "content": "next"}));
    req(json!({"model": "m", "messages": messages}))
}

proptest! {
    #[test]
    fn gemini_stream_splits_never_change_the_answer(a in arb_answer(), include_usage in any::<bool>()) {
        let bytes = a.gemini_sse();
        let whole = run_gemini(std::slice::from_ref(&bytes), include_usage);
        let split = run_gemini(&split_bytes(&bytes, &a.cuts), include_usage);
        prop_assert_eq!(&split, &whole);
        let streamed = essentials(&accumulate(&split));
        let expected = essentials(&gemini_response_to_openai(&a.gemini_whole(), &hints()));
        prop_assert_eq!(&streamed.0, &expected.0);
        prop_assert_eq!(&streamed.1, &expected.1);
        prop_assert_eq!(&streamed.2, &expected.2);
        if include_usage {
            prop_assert_eq!(streamed.3, expected.3);
        }
        prop_assert_eq!(expected.0, a.text());
        prop_assert_eq!(&expected.1, &a.calls);
        prop_assert_eq!(expected.2, Some(a.expected_finish(true)));
        prop_assert_eq!(expected.3, Some(a.usage));
    }

    #[test]
    fn ollama_stream_splits_never_change_the_answer(a in arb_answer(), include_usage in any::<bool>()) {
        let bytes: Vec<u8> = a.ollama_lines().iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
        let whole = run_ollama(std::slice::from_ref(&bytes), include_usage);
        let split = run_ollama(&split_bytes(&bytes, &a.cuts), include_usage);
        prop_assert_eq!(&split, &whole);
        let streamed = essentials(&accumulate(&split));
        let expected = essentials(&ollama_response_to_openai(&a.ollama_whole(), &hints()));
        prop_assert_eq!(&streamed.0, &expected.0);
        prop_assert_eq!(&streamed.1, &expected.1);
        prop_assert_eq!(&streamed.2, &expected.2);
        if include_usage {
            prop_assert_eq!(streamed.3, expected.3);
        }
        prop_assert_eq!(expected.0, a.text());
        prop_assert_eq!(&expected.1, &a.calls);
        prop_assert_eq!(expected.2, Some(a.expected_finish(false)));
        prop_assert_eq!(expected.3, Some(a.usage));
    }

    #[test]
    fn a_translated_answer_goes_back_to_the_provider_unchanged(a in arb_answer()) {
        // Gemini: the calls of the answer come back as the same functionCall parts,
        // each result as a functionResponse naming its call.
        let answer = gemini_response_to_openai(&a.gemini_whole(), &hints());
        let g = openai_request_to_gemini(&follow_up(&answer)).unwrap();
        let model_turn = g.contents.iter().find(|c| c.role.as_deref() == Some("model"));
        let sent_calls: Vec<(String, Value)> = model_turn
            .map(|t| t.parts.iter().filter_map(|p| p.function_call.as_ref())
                .map(|fc| (fc.name.clone(), fc.args.clone().unwrap())).collect())
            .unwrap_or_default();
        prop_assert_eq!(&sent_calls, &a.calls);
        let sent_text: String = model_turn
            .map(|t| t.parts.iter().filter_map(|p| p.text.clone()).collect())
            .unwrap_or_default();
        prop_assert_eq!(sent_text, a.text());
        let responses: Vec<String> = g.contents.iter().flat_map(|c| c.parts.iter())
            .filter_map(|p| p.function_response.as_ref()).map(|r| r.name.clone()).collect();
        let names: Vec<String> = a.calls.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(responses, names);
        let first_role = g.contents.first().and_then(|c| c.role.clone());
        prop_assert_eq!(first_role.as_deref(), Some("user"));

        // Ollama: same calls as argument objects, each result naming its function.
        let answer = ollama_response_to_openai(&a.ollama_whole(), &hints());
        let o = openai_request_to_ollama(&follow_up(&answer)).unwrap();
        let calls: Vec<(String, Value)> = o.messages.iter().flat_map(|m| m.tool_calls.iter().flatten())
            .map(|c| (c.function.name.clone(), c.function.arguments.clone())).collect();
        prop_assert_eq!(&calls, &a.calls);
        let tool_names: Vec<String> = o.messages.iter().filter(|m| m.role == "tool")
            .filter_map(|m| m.tool_name.clone()).collect();
        let names: Vec<String> = a.calls.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(tool_names, names);
    }
}

// ---- the Responses door: a provider's stream as Responses events ----

#[path = "support/responses.rs"]
mod responses_support;

proptest! {
    #[test]
    fn gemini_stream_as_responses_events_equals_the_whole_answer(a in arb_answer()) {
        use responses_support::{echo, essentials, run};
        let chs = run_gemini(&split_bytes(&a.gemini_sse(), &a.cuts), true);
        let echo = echo();
        let streamed = run(&chs, &echo);
        let whole = echo.from_chat(&gemini_response_to_openai(&a.gemini_whole(), &hints()));
        prop_assert_eq!(essentials(&streamed, true), essentials(&whole, true));
    }

    #[test]
    fn ollama_stream_as_responses_events_equals_the_whole_answer(a in arb_answer()) {
        use responses_support::{echo, essentials, run};
        let bytes: Vec<u8> = a.ollama_lines().iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
        let chs = run_ollama(&split_bytes(&bytes, &a.cuts), true);
        let echo = echo();
        let streamed = run(&chs, &echo);
        let whole = echo.from_chat(&ollama_response_to_openai(&a.ollama_whole(), &hints()));
        prop_assert_eq!(essentials(&streamed, true), essentials(&whole, true));
    }
}
