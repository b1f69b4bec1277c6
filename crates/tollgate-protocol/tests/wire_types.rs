//! Wire types: parsing real payloads and keeping every field on the way back out.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tollgate_protocol::anthropic::{
    self, BlockDelta, ContentBlock, ImageSource, MessagesRequest, MessagesResponse, StopReason,
    StreamEvent,
};
use tollgate_protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, ContentPart, EmbeddingInput, EmbeddingsRequest,
    EmbeddingsResponse, FinishReason, MessageContent, ResponseFormat, Role, Stop, Tool, ToolChoice,
    ToolChoiceMode,
};

fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
    let parsed: T = serde_json::from_value(v.clone()).unwrap();
    serde_json::to_value(&parsed).unwrap()
}

#[test]
fn chat_request_keeps_every_field() {
    let req = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "developer", "content": "be brief", "x_msg": 1},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "what is this?", "x_part": true},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low", "x_img": 2}},
                {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}
            ]},
            {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"}
        ],
        "stream": true,
        "stream_options": {"include_usage": true, "x_so": "k"},
        "max_tokens": 100,
        "max_completion_tokens": 90,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": "END",
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": true}},
            {"type": "custom", "custom": {"name": "grammar"}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": false,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": true}},
        "n": 1,
        "user": "u-1",
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "logprobs": false,
        "service_tier": "auto",
        "metadata": {"k": "v"},
        "reasoning_effort": "low",
        "some_vendor_field": {"nested": [1, 2, 3]}
    });
    assert_eq!(roundtrip::<ChatRequest>(&req), req);

    let parsed: ChatRequest = serde_json::from_value(req).unwrap();
    assert_eq!(parsed.stop, Some(Stop::One("END".into())));
    assert!(parsed.extra.contains_key("some_vendor_field"));
    assert_eq!(parsed.messages[0].role, Role::Developer);
    assert!(matches!(
        &parsed.messages[1].content,
        Some(MessageContent::Parts(p)) if matches!(p[2], ContentPart::Other(_))
    ));
    assert!(matches!(&parsed.tools.as_ref().unwrap()[1], Tool::Other(_)));
    assert!(matches!(parsed.tool_choice, Some(ToolChoice::Named(_))));
    assert!(matches!(
        parsed.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
}

#[test]
fn none_fields_are_skipped_and_stop_array_stays_array() {
    let req = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b"], "tool_choice": "required"});
    let out = roundtrip::<ChatRequest>(&req);
    assert_eq!(out, req);
    let parsed: ChatRequest = serde_json::from_value(req).unwrap();
    assert_eq!(parsed.stop, Some(Stop::Many(vec!["a".into(), "b".into()])));
    assert_eq!(
        parsed.tool_choice,
        Some(ToolChoice::Mode(ToolChoiceMode::Required))
    );
}

#[test]
fn unknown_role_parses_so_validation_can_name_it() {
    let req: ChatRequest = serde_json::from_value(
        json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
    )
    .unwrap();
    assert_eq!(req.messages[0].role, Role::Other("robot".into()));
}

#[test]
fn bad_content_type_is_a_parse_error_with_a_clear_message() {
    let err = serde_json::from_value::<ChatRequest>(
        json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("string or an array"), "{err}");
}

#[test]
fn object_arguments_from_lenient_servers_become_json_text() {
    let resp: ChatResponse = serde_json::from_value(json!({
        "id": "x", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}}]
    }))
    .unwrap();
    let call = &resp.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.arguments, r#"{"a":1}"#);
}

#[test]
fn chat_response_round_trip() {
    let resp = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null, "annotations": []},
            "logprobs": {"content": []}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}},
        "system_fingerprint": "fp_1", "service_tier": "default"
    });
    assert_eq!(roundtrip::<ChatResponse>(&resp), resp);
    let parsed: ChatResponse = serde_json::from_value(resp).unwrap();
    assert_eq!(parsed.usage.as_ref().unwrap().cached_tokens(), 4);
    assert_eq!(parsed.choices[0].finish_reason, Some(FinishReason::Stop));
}

#[test]
fn chunks_with_null_usage_and_the_final_usage_chunk_parse() {
    let first: ChatChunk = serde_json::from_str(
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    )
    .unwrap();
    assert!(first.usage.is_none());
    assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
    let last: ChatChunk = serde_json::from_str(
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#,
    )
    .unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.unwrap().total_tokens, 8);
    let tool: ChatChunk = serde_json::from_str(
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]},"finish_reason":null}]}"#,
    )
    .unwrap();
    let tc = &tool.choices[0].delta.tool_calls.as_ref().unwrap()[0];
    assert_eq!(tc.id.as_deref(), Some("call_1"));
    assert_eq!(tc.function.as_ref().unwrap().name.as_deref(), Some("get"));
}

#[test]
fn chunk_serializes_finish_reason_null_like_openai() {
    let chunk: ChatChunk = serde_json::from_str(
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#,
    )
    .unwrap();
    let v = serde_json::to_value(&chunk).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], Value::Null);
    assert!(v.get("usage").is_none());
}

#[test]
fn embeddings_round_trip_all_input_shapes() {
    for input in [
        json!("one"),
        json!(["a", "b"]),
        json!([1, 2, 3]),
        json!([[1, 2], [3]]),
    ] {
        let req = json!({"model": "e", "input": input, "encoding_format": "float", "dimensions": 256, "x": 1});
        assert_eq!(roundtrip::<EmbeddingsRequest>(&req), req);
    }
    let parsed: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": [[1, 2], [3]]})).unwrap();
    assert_eq!(
        parsed.input,
        EmbeddingInput::TokenArrays(vec![vec![1, 2], vec![3]])
    );
    assert_eq!(parsed.input.len(), 2);
    let resp = json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292]}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}});
    assert_eq!(roundtrip::<EmbeddingsResponse>(&resp), resp);
    let b64 = json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": "AAAA"}], "model": "m"});
    assert_eq!(roundtrip::<EmbeddingsResponse>(&b64), b64);
}

#[test]
fn embeddings_validation() {
    let bad: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": []})).unwrap();
    assert_eq!(bad.validate().unwrap_err().param.as_deref(), Some("input"));
    let bad: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": "x", "encoding_format": "int8"}))
            .unwrap();
    assert_eq!(
        bad.validate().unwrap_err().param.as_deref(),
        Some("encoding_format")
    );
    let ok: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": ["x"]})).unwrap();
    assert!(ok.validate().is_ok());
}

#[test]
fn messages_request_keeps_every_field() {
    let req = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "42"}], "is_error": false}
            ]}
        ],
        "stop_sequences": ["###"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stream": false,
        "tools": [
            {"name": "f", "description": "d", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
            {"type": "custom", "name": "g", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "service_tier": "auto"
    });
    assert_eq!(roundtrip::<MessagesRequest>(&req), req);

    let parsed: MessagesRequest = serde_json::from_value(req).unwrap();
    let tools = parsed.tools.as_ref().unwrap();
    assert!(matches!(tools[0], anthropic::Tool::Custom(_)));
    assert!(matches!(tools[1], anthropic::Tool::Custom(_)));
    assert!(matches!(tools[2], anthropic::Tool::Other(_)));
    let anthropic::Content::Blocks(blocks) = &parsed.messages[0].content else {
        panic!("blocks expected");
    };
    assert!(matches!(
        &blocks[1],
        ContentBlock::Image(i) if matches!(i.source, ImageSource::Base64 { .. })
    ));
    assert!(matches!(blocks[3], ContentBlock::Other(_)));
    assert!(parsed.extra.contains_key("thinking"));
}

#[test]
fn malformed_custom_tool_is_an_error() {
    let err = serde_json::from_value::<MessagesRequest>(json!({
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "f"}]
    }))
    .unwrap_err();
    assert!(err.to_string().contains("input_schema"), "{err}");
}

#[test]
fn messages_response_round_trip_writes_nulls_like_anthropic() {
    let resp = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 5,
            "service_tier": "standard"}
    });
    assert_eq!(roundtrip::<MessagesResponse>(&resp), resp);
    let parsed: MessagesResponse = serde_json::from_value(resp).unwrap();
    assert_eq!(parsed.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(parsed.usage.total_input_tokens(), 15);
    let newer: MessagesResponse = serde_json::from_value(json!({"id": "m", "type": "message", "role": "assistant",
        "model": "c", "content": [], "stop_reason": "model_context_window_exceeded", "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1}}))
    .unwrap();
    assert_eq!(
        newer.stop_reason,
        Some(StopReason::Other("model_context_window_exceeded".into()))
    );
}

#[test]
fn anthropic_stream_events_parse_and_serialize_back() {
    let events = [
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"ping"}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get","input":{}}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"x"}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"s"}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}),
        json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}),
        json!({"type":"message_stop"}),
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        json!({"type":"some_future_event","x":1}),
    ];
    for e in &events {
        assert_eq!(&roundtrip::<StreamEvent>(e), e);
    }
    let parsed: Vec<StreamEvent> = events
        .iter()
        .map(|e| serde_json::from_value(e.clone()).unwrap())
        .collect();
    assert!(matches!(parsed[0], StreamEvent::MessageStart { .. }));
    assert!(matches!(parsed[2], StreamEvent::Ping));
    assert!(matches!(
        &parsed[6],
        StreamEvent::ContentBlockDelta {
            delta: BlockDelta::InputJsonDelta { .. },
            ..
        }
    ));
    assert!(matches!(
        &parsed[9],
        StreamEvent::ContentBlockDelta {
            delta: BlockDelta::Other(_),
            ..
        }
    ));
    assert!(matches!(parsed[11], StreamEvent::MessageStop));
    assert!(matches!(parsed[12], StreamEvent::Error { .. }));
    assert!(matches!(parsed[13], StreamEvent::Other(_)));
    assert_eq!(parsed[13].event_name(), "some_future_event");
    assert_eq!(parsed[4].event_name(), "content_block_stop");
}
