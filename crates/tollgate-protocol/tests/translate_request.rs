//! Request translation, both directions, one mapping per test.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tollgate_protocol::TranslateError;
use tollgate_protocol::anthropic::MessagesRequest;
use tollgate_protocol::openai::ChatRequest;
use tollgate_protocol::translate::{
    JSON_OBJECT_INSTRUCTION, anthropic_request_to_openai, openai_request_to_anthropic,
};

fn oa(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn an(v: Value) -> MessagesRequest {
    serde_json::from_value(v).unwrap()
}

/// OpenAI request JSON → Anthropic request JSON.
fn to_an(v: Value) -> Value {
    serde_json::to_value(openai_request_to_anthropic(&oa(v), 4096).unwrap()).unwrap()
}

fn to_an_err(v: Value) -> TranslateError {
    openai_request_to_anthropic(&oa(v), 4096).unwrap_err()
}

/// Anthropic request JSON → OpenAI request JSON.
fn to_oa(v: Value) -> Value {
    serde_json::to_value(anthropic_request_to_openai(&an(v)).unwrap()).unwrap()
}

fn to_oa_err(v: Value) -> TranslateError {
    anthropic_request_to_openai(&an(v)).unwrap_err()
}

// ---------- OpenAI → Anthropic ----------

#[test]
fn system_and_developer_messages_become_top_level_system() {
    let out = to_an(json!({"model": "m", "messages": [
        {"role": "system", "content": "one"},
        {"role": "developer", "content": [{"type": "text", "text": "two"}]},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": ""}
    ]}));
    assert_eq!(out["system"], json!("one\n\ntwo"));
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
    assert_eq!(out["max_tokens"], json!(4096));
    assert_eq!(out["model"], json!("m"));
}

#[test]
fn max_tokens_prefers_max_completion_tokens_then_max_tokens() {
    let base = |extra: Value| {
        let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        to_an(v)["max_tokens"].clone()
    };
    assert_eq!(
        base(json!({"max_tokens": 50, "max_completion_tokens": 70})),
        json!(70)
    );
    assert_eq!(base(json!({"max_tokens": 50})), json!(50));
    assert_eq!(base(json!({})), json!(4096));
}

#[test]
fn multi_turn_with_consecutive_same_role_merged() {
    let out = to_an(json!({"model": "m", "messages": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "d"}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}]},
            {"role": "user", "content": [{"type": "text", "text": "d"}]}
        ])
    );
}

#[test]
fn images_base64_and_url() {
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
        ]}]}),
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "what?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
        ])
    );
    let err = to_an_err(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
    );
    assert_eq!(err.param(), Some("messages[0].content[0].image_url.url"));
}

#[test]
fn tools_and_tool_choice() {
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "noargs"}}
        ],
        "tool_choice": "required", "parallel_tool_calls": false}),
    );
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "noargs", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let tc = |choice: Value| {
        to_an(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice}),
        )["tool_choice"]
            .clone()
    };
    assert_eq!(tc(json!("auto")), json!({"type": "auto"}));
    assert_eq!(tc(json!("none")), json!({"type": "none"}));
    assert_eq!(
        tc(json!({"type": "function", "function": {"name": "f"}})),
        json!({"type": "tool", "name": "f"})
    );
    // parallel_tool_calls=false alone still needs a tool_choice to carry it.
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}], "parallel_tool_calls": false}),
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
}

#[test]
fn tool_calls_and_consecutive_tool_results_become_one_user_message() {
    let out = to_an(json!({"model": "m", "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
        {"role": "user", "content": "thanks, and London?"}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "w", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "w", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
                {"type": "text", "text": "thanks, and London?"}
            ]}
        ])
    );
}

#[test]
fn unparsable_or_non_object_arguments_are_errors() {
    for args in ["{not json", "[1,2]"] {
        let err = to_an_err(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]}
        ]}));
        assert!(matches!(err, TranslateError::Invalid { .. }), "{err:?}");
        assert_eq!(
            err.param(),
            Some("messages[1].tool_calls[0].function.arguments")
        );
    }
}

#[test]
fn json_object_mode_appends_an_instruction_to_system() {
    let out = to_an(json!({"model": "m", "messages": [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"}}));
    assert_eq!(
        out["system"],
        json!(format!("You are terse.\n\n{JSON_OBJECT_INSTRUCTION}"))
    );
    assert!(out.get("tools").is_none());
}

#[test]
fn json_schema_mode_forces_a_tool_named_after_the_schema() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]});
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "2+2?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "math", "schema": schema, "strict": true}}}),
    );
    assert_eq!(out["tools"][0]["name"], json!("math"));
    assert_eq!(out["tools"][0]["input_schema"], schema);
    assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "math"}));
    // Next to the client's own tools the model may call those, but must call one.
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "math", "schema": schema}}}),
    );
    assert_eq!(out["tools"].as_array().unwrap().len(), 2);
    assert_eq!(out["tool_choice"], json!({"type": "any"}));
    // A non-object root cannot be a tool input.
    let err = to_an_err(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "list", "schema": {"type": "array"}}}}),
    );
    assert!(matches!(err, TranslateError::Unsupported { .. }));
}

#[test]
fn stop_temperature_top_p_and_user() {
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "stop": "END", "temperature": 1.6, "top_p": 0.8, "user": "u-9", "seed": 3, "stream": true,
        "stream_options": {"include_usage": true}}),
    );
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["temperature"], json!(1.0));
    assert_eq!(out["top_p"], json!(0.8));
    assert_eq!(out["metadata"], json!({"user_id": "u-9"}));
    assert_eq!(out["stream"], json!(true));
    assert!(out.get("seed").is_none());
    assert!(out.get("stream_options").is_none());
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "stop": ["a", "", "b"], "temperature": 0.3, "top_p": 1}),
    );
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
    assert_eq!(out["temperature"], json!(0.3));
    assert!(out.get("top_p").is_none());
}

#[test]
fn answer_changing_features_are_unsupported_not_dropped() {
    let base = |extra: Value| {
        let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        to_an_err(v)
    };
    for (extra, param) in [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"logprobs": true, "top_logprobs": 2}), "logprobs"),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (
            json!({"audio": {"voice": "alloy", "format": "wav"}}),
            "audio",
        ),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"functions": [{"name": "f"}]}), "functions"),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "g"}}]}),
            "tools[0]",
        ),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format",
        ),
    ] {
        let err = base(extra.clone());
        assert!(
            matches!(err, TranslateError::Unsupported { .. }),
            "{extra}: {err:?}"
        );
        assert_eq!(err.param(), Some(param), "{extra}");
    }
    let err = to_an_err(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]}),
    );
    assert_eq!(err.param(), Some("messages[0].content[0]"));
    assert!(matches!(err, TranslateError::Unsupported { .. }));
    // Harmless defaults pass.
    let ok = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "n": 1, "logprobs": false, "modalities": ["text"], "logit_bias": {}, "service_tier": "auto", "store": false});
    assert!(openai_request_to_anthropic(&oa(ok), 10).is_ok());
}

#[test]
fn empty_text_never_produces_empty_blocks() {
    let out = to_an(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "x"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": ""}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "x"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c"}]}
        ])
    );
    let err = to_an_err(
        json!({"model": "m", "messages": [{"role": "system", "content": "only system"}]}),
    );
    assert_eq!(err.param(), Some("messages"));
}

#[test]
fn cache_control_on_openai_text_parts_is_kept() {
    let out = to_an(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}}]}]}),
    );
    assert_eq!(
        out["messages"][0]["content"][0],
        json!({"type": "text", "text": "long doc", "cache_control": {"type": "ephemeral"}})
    );
}

// ---------- Anthropic → OpenAI ----------

#[test]
fn system_string_and_blocks_become_a_system_message() {
    let out = to_oa(
        json!({"model": "c", "max_tokens": 100, "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(
        out["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    );
    assert_eq!(out["max_tokens"], json!(100));
    let out = to_oa(json!({"model": "c", "max_tokens": 100,
        "system": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}],
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        out["messages"][0],
        json!({"role": "system", "content": "a\n\nb"})
    );
}

#[test]
fn multi_turn_text() {
    let out = to_oa(json!({"model": "c", "max_tokens": 10, "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]},
        {"role": "user", "content": [{"type": "text", "text": "d"}, {"type": "text", "text": "e"}]}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "bc"},
            {"role": "user", "content": [{"type": "text", "text": "d"}, {"type": "text", "text": "e"}]}
        ])
    );
}

#[test]
fn images_become_data_and_http_urls() {
    let out = to_oa(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "text", "text": "compare"}
        ]}]}),
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "compare"}
        ])
    );
    let err = to_oa_err(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
    );
    assert_eq!(err.param(), Some("messages[0].content[0].source"));
}

#[test]
fn tools_tool_choice_and_parallel() {
    let out = to_oa(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "w", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}}),
    );
    assert_eq!(
        out["tools"],
        json!([{"type": "function", "function": {"name": "w", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    );
    assert_eq!(out["tool_choice"], json!("required"));
    assert_eq!(out["parallel_tool_calls"], json!(false));
    let tc = |choice: Value| {
        to_oa(
            json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "w", "input_schema": {"type": "object"}}], "tool_choice": choice}),
        )
    };
    assert_eq!(tc(json!({"type": "auto"}))["tool_choice"], json!("auto"));
    assert_eq!(tc(json!({"type": "none"}))["tool_choice"], json!("none"));
    assert_eq!(
        tc(json!({"type": "tool", "name": "w"}))["tool_choice"],
        json!({"type": "function", "function": {"name": "w"}})
    );
    assert!(
        tc(json!({"type": "auto"}))
            .get("parallel_tool_calls")
            .is_none()
    );
}

#[test]
fn tool_use_and_tool_results_become_tool_calls_and_tool_messages() {
    let out = to_oa(json!({"model": "c", "max_tokens": 10, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "let me see", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "w", "input": {"city": "Rome"}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "no data"}], "is_error": true},
            {"type": "text", "text": "and London?"}
        ]}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "content": "sunny", "tool_call_id": "toolu_1"},
            {"role": "tool", "content": "Error: no data", "tool_call_id": "toolu_2"},
            {"role": "user", "content": "and London?"}
        ])
    );
    // An assistant turn of tool calls only has null content, as OpenAI writes it.
    let out = to_oa(json!({"model": "c", "max_tokens": 10, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]}));
    assert_eq!(out["messages"][1]["content"], Value::Null);
    assert_eq!(
        out["messages"][1]["tool_calls"][0]["function"]["arguments"],
        json!("{}")
    );
}

#[test]
fn stop_sequences_sampling_stream_and_user() {
    let out = to_oa(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "stop_sequences": ["###", "END"], "temperature": 0.4, "top_p": 0.7, "top_k": 5, "stream": true,
        "metadata": {"user_id": "u-2"}, "thinking": {"type": "enabled", "budget_tokens": 1024}}),
    );
    assert_eq!(out["stop"], json!(["###", "END"]));
    assert_eq!(out["temperature"], json!(0.4));
    assert_eq!(out["top_p"], json!(0.7));
    assert!(out.get("top_k").is_none());
    assert!(out.get("thinking").is_none());
    assert_eq!(out["stream"], json!(true));
    assert_eq!(out["stream_options"], json!({"include_usage": true}));
    assert_eq!(out["user"], json!("u-2"));
}

#[test]
fn output_format_json_schema_becomes_response_format() {
    let out = to_oa(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "output_format": {"type": "json_schema", "schema": {"type": "object"}}}),
    );
    assert_eq!(out["response_format"]["type"], json!("json_schema"));
    assert_eq!(
        out["response_format"]["json_schema"]["schema"],
        json!({"type": "object"})
    );
}

#[test]
fn anthropic_only_features_are_unsupported() {
    let err = to_oa_err(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
    );
    assert_eq!(err.param(), Some("tools[0]"));
    assert!(matches!(err, TranslateError::Unsupported { .. }));
    let err = to_oa_err(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]}]}),
    );
    assert_eq!(err.param(), Some("messages[0].content[0]"));
    let err = to_oa_err(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
        "mcp_servers": [{"type": "url", "url": "https://m", "name": "m"}]}),
    );
    assert_eq!(err.param(), Some("mcp_servers"));
    let err = to_oa_err(
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://a"}}]}]}]}),
    );
    assert_eq!(err.param(), Some("messages[0].content[0].content[0]"));
}
