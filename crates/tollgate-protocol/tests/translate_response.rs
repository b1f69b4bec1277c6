//! Non-streamed answers, both directions: content, tool calls, stop reasons, usage.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tollgate_protocol::anthropic::MessagesResponse;
use tollgate_protocol::openai::{ChatRequest, ChatResponse};
use tollgate_protocol::translate::{
    ResponseHints, anthropic_response_to_openai, openai_response_to_anthropic,
};

fn oa_resp(message: Value, finish: &str, usage: Value) -> ChatResponse {
    serde_json::from_value(
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "gpt",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}),
    )
    .unwrap()
}

fn an_resp(content: Value, stop: &str, usage: Value) -> MessagesResponse {
    serde_json::from_value(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage}),
    )
    .unwrap()
}

fn to_oa(resp: &MessagesResponse) -> Value {
    serde_json::to_value(anthropic_response_to_openai(
        resp,
        &ResponseHints {
            created: 99,
            json_tool: None,
        },
    ))
    .unwrap()
}

fn to_an(resp: &ChatResponse) -> Value {
    serde_json::to_value(openai_response_to_anthropic(resp)).unwrap()
}

#[test]
fn openai_text_answer_to_anthropic() {
    let out = to_an(&oa_resp(
        json!({"role": "assistant", "content": "Hello!", "refusal": null}),
        "stop",
        json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}),
    ));
    assert_eq!(
        out,
        json!({"id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt",
            "content": [{"type": "text", "text": "Hello!"}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 3}})
    );
}

#[test]
fn openai_tool_calls_to_anthropic_tool_use() {
    let out = to_an(&oa_resp(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": "{broken"}}]}),
        "tool_calls",
        json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "prompt_tokens_details": {"cached_tokens": 60}}),
    ));
    assert_eq!(
        out["content"],
        json!([
            {"type": "tool_use", "id": "call_1", "name": "w", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "w", "input": "{broken"}
        ])
    );
    assert_eq!(out["stop_reason"], json!("tool_use"));
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 40, "output_tokens": 20, "cache_read_input_tokens": 60})
    );
}

#[test]
fn finish_reasons_to_stop_reasons() {
    for (finish, stop) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
    ] {
        let out = to_an(&oa_resp(
            json!({"role": "assistant", "content": "x"}),
            finish,
            json!({}),
        ));
        assert_eq!(out["stop_reason"], json!(stop), "{finish}");
    }
    let out = to_an(&oa_resp(
        json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
        "stop",
        json!({}),
    ));
    assert_eq!(out["stop_reason"], json!("refusal"));
    assert_eq!(out["content"][0]["text"], json!("I can't help with that."));
}

#[test]
fn anthropic_text_answer_to_openai() {
    let out = to_oa(&an_resp(
        json!([{"type": "thinking", "thinking": "hmm", "signature": "s"},
               {"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}]),
        "end_turn",
        json!({"input_tokens": 10, "output_tokens": 4}),
    ));
    assert_eq!(
        out,
        json!({"id": "msg_1", "object": "chat.completion", "created": 99, "model": "claude",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}})
    );
}

#[test]
fn anthropic_tool_use_to_openai_tool_calls() {
    let out = to_oa(&an_resp(
        json!([{"type": "text", "text": "Let me check."},
               {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}}]),
        "tool_use",
        json!({"input_tokens": 10, "output_tokens": 30, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50}),
    ));
    let choice = &out["choices"][0];
    assert_eq!(choice["message"]["content"], json!("Let me check."));
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(choice["finish_reason"], json!("tool_calls"));
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 160, "completion_tokens": 30, "total_tokens": 190,
            "prompt_tokens_details": {"cached_tokens": 100}})
    );
    let only_tools = to_oa(&an_resp(
        json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}}]),
        "tool_use",
        json!({}),
    ));
    assert_eq!(only_tools["choices"][0]["message"]["content"], Value::Null);
}

#[test]
fn stop_reasons_to_finish_reasons() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
    ] {
        let out = to_oa(&an_resp(
            json!([{"type": "text", "text": "x"}]),
            stop,
            json!({}),
        ));
        assert_eq!(out["choices"][0]["finish_reason"], json!(finish), "{stop}");
    }
}

#[test]
fn json_schema_tool_call_becomes_plain_text() {
    let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [{"role": "user", "content": "2+2"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "math", "schema": {"type": "object"}}}}))
    .unwrap();
    let hints = ResponseHints::for_request(&req, 7);
    assert_eq!(hints.json_tool.as_deref(), Some("math"));
    let resp = an_resp(
        json!([{"type": "tool_use", "id": "toolu_1", "name": "math", "input": {"answer": 4}}]),
        "tool_use",
        json!({"input_tokens": 1, "output_tokens": 1}),
    );
    let out = serde_json::to_value(anthropic_response_to_openai(&resp, &hints)).unwrap();
    assert_eq!(
        out["choices"][0]["message"]["content"],
        json!("{\"answer\":4}")
    );
    assert!(out["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(out["choices"][0]["finish_reason"], json!("stop"));
    assert_eq!(out["created"], json!(7));
}
