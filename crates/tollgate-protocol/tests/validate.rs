//! Door validation: each rule rejects with the right `param`, and a good request passes.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tollgate_protocol::anthropic::MessagesRequest;
use tollgate_protocol::openai::ChatRequest;

fn openai_param(mut patch: Value) -> Option<String> {
    let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let (obj, p) = (req.as_object_mut().unwrap(), patch.as_object_mut().unwrap());
    for (k, v) in std::mem::take(p) {
        obj.insert(k, v);
    }
    let req: ChatRequest = serde_json::from_value(req).unwrap();
    req.validate().err().map(|e| e.param.unwrap_or_default())
}

fn anthropic_param(mut patch: Value) -> Option<String> {
    let mut req =
        json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let (obj, p) = (req.as_object_mut().unwrap(), patch.as_object_mut().unwrap());
    for (k, v) in std::mem::take(p) {
        if v.is_null() {
            obj.remove(&k);
        } else {
            obj.insert(k, v);
        }
    }
    let req: MessagesRequest = serde_json::from_value(req).unwrap();
    req.validate().err().map(|e| e.param.unwrap_or_default())
}

#[test]
fn openai_accepts_a_complete_valid_request() {
    assert_eq!(
        openai_param(json!({
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "https://a/b.png"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}
            ],
            "temperature": 2.0, "top_p": 0.0, "n": 1, "max_tokens": 1,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}},
            "stream": true, "stream_options": {"include_usage": true}
        })),
        None
    );
}

#[test]
fn openai_rejections_name_the_field() {
    let cases = [
        (json!({"messages": []}), "messages"),
        (json!({"model": ""}), "model"),
        (
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "bot", "content": "c"}]}),
            "messages[2].role",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": null}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": null}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}),
            "messages[0].tool_calls",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
            "messages[0].tool_calls[0].id",
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://a"}}]}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0]",
        ),
        (json!({"temperature": 2.5}), "temperature"),
        (json!({"temperature": -0.1}), "temperature"),
        (json!({"top_p": 1.5}), "top_p"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"max_completion_tokens": 0}), "max_completion_tokens"),
        (json!({"n": 2}), "n"),
        (json!({"n": 0}), "n"),
        (json!({"presence_penalty": 3}), "presence_penalty"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (
            json!({"stream_options": {"include_usage": true}}),
            "stream_options",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "bad name"}}]}),
            "tools[0].function.name",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}),
            "tools[0].function.parameters",
        ),
        (json!({"tool_choice": "required"}), "tool_choice"),
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}),
            "tool_choice.function.name",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": ""}}}),
            "response_format.json_schema.name",
        ),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format",
        ),
    ];
    for (patch, param) in cases {
        assert_eq!(
            openai_param(patch.clone()).as_deref(),
            Some(param),
            "patch {patch}"
        );
    }
}

#[test]
fn anthropic_accepts_a_complete_valid_request() {
    assert_eq!(
        anthropic_param(json!({
            "system": [{"type": "text", "text": "s"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
            ],
            "temperature": 1.0, "top_p": 0.5,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "f"}
        })),
        None
    );
}

#[test]
fn anthropic_rejections_name_the_field() {
    let cases = [
        (json!({"max_tokens": null}), "max_tokens"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}),
            "messages[1].role",
        ),
        (
            json!({"messages": [{"role": "user", "content": []}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AA"}}]}]}),
            "messages[0].content[1].source.media_type",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"system": [{"type": "image", "source": {"type": "url", "url": "https://a"}}]}),
            "system[0]",
        ),
        (json!({"temperature": 1.5}), "temperature"),
        (json!({"top_p": -1}), "top_p"),
        (
            json!({"tools": [{"name": "f", "input_schema": "nope"}]}),
            "tools[0].input_schema",
        ),
        (
            json!({"tools": [{"name": "", "input_schema": {}}]}),
            "tools[0].name",
        ),
        (json!({"tool_choice": {"type": "tool"}}), "tool_choice.name"),
        (
            json!({"tool_choice": {"type": "maybe"}}),
            "tool_choice.type",
        ),
    ];
    for (patch, param) in cases {
        assert_eq!(
            anthropic_param(patch.clone()).as_deref(),
            Some(param),
            "patch {patch}"
        );
    }
}

#[test]
fn error_message_is_human_readable() {
    let req: ChatRequest =
        serde_json::from_value(json!({"model": "m", "messages": [], "n": 3})).unwrap();
    let err = req.validate().unwrap_err();
    assert!(err.to_string().contains("at least one message"), "{err}");
}
