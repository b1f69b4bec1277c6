use crate::common::{read_until_error, send, start, user};
use serde_json::{Value, json};

fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn non_stream_basic() {
    let h = start().await;
    let r = h
        .messages(json!({
            "model": "claude-sonnet-4-5@reply=Hello_there",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "you are terse"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi friend"}]}],
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.contains_key("request-id"));
    let b = r.body;
    assert!(b["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(b["type"], "message");
    assert_eq!(b["role"], "assistant");
    assert_eq!(b["model"], "claude-sonnet-4-5");
    assert_eq!(
        b["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(b["stop_reason"], "end_turn");
    assert_eq!(b["stop_sequence"], Value::Null);
    assert_eq!(b["usage"], json!({"input_tokens": 5, "output_tokens": 2}));

    let r = h
        .messages(json!({
            "model": "claude-haiku-4-5", "max_tokens": 10, "system": "sys",
            "messages": [user("hello"), {"role": "assistant", "content": "ok"}, user("and you")],
        }))
        .await;
    assert_eq!(r.body["content"][0]["text"], "mock reply to: and you");
    assert_eq!(r.body["usage"]["input_tokens"], 5);
}

#[tokio::test]
async fn stream_events() {
    let h = start().await;
    let (head, events) = h
        .messages_stream(json!({
            "model": "claude-sonnet-4-5@reply=one_two_three",
            "max_tokens": 100,
            "messages": [user("hi")],
            "stream": true,
        }))
        .await;
    assert_eq!(head.status, 200);
    assert!(head.content_type().starts_with("text/event-stream"));
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for e in &events {
        assert_eq!(e.json()["type"], e.name.as_deref().unwrap());
    }
    let start_ev = events[0].json();
    assert_eq!(start_ev["message"]["content"], json!([]));
    assert_eq!(start_ev["message"]["model"], "claude-sonnet-4-5");
    assert_eq!(
        start_ev["message"]["usage"],
        json!({"input_tokens": 1, "output_tokens": 1})
    );
    assert_eq!(
        events[2].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "one two three");
    let md = events[7].json();
    assert_eq!(
        md["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(md["usage"], json!({"output_tokens": 3}));
}

#[tokio::test]
async fn auth_failures() {
    let h = start().await;
    let body = json!({"model": "claude-x", "max_tokens": 5, "messages": [user("hi")]});
    let r = send(h.anthropic(None, true).json(&body)).await;
    assert_eq!(r.status, 401);
    assert_anthropic_error(&r.body, "authentication_error");

    let r = send(h.anthropic(Some("bad-key"), true).json(&body)).await;
    assert_eq!(r.status, 401);
    assert_anthropic_error(&r.body, "authentication_error");

    let r = send(h.anthropic(Some("sk-ant"), false).json(&body)).await;
    assert_eq!(r.status, 400);
    assert_anthropic_error(&r.body, "invalid_request_error");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anthropic-version")
    );

    let r = send(h.anthropic(Some("unpaid"), true).json(&body)).await;
    assert_eq!(r.status, 402);
    assert_anthropic_error(&r.body, "billing_error");

    let r = send(h.anthropic(Some("forbidden"), true).json(&body)).await;
    assert_eq!(r.status, 403);
    assert_anthropic_error(&r.body, "permission_error");

    let r = send(h.anthropic(Some("limited"), true).json(&body)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_anthropic_error(&r.body, "rate_limit_error");

    // An OpenAI-style bearer token is not an Anthropic key.
    let r = send(h.anthropic(None, true).bearer_auth("sk").json(&body)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn status_directives() {
    let h = start().await;
    for (status, kind) in [
        (400, "invalid_request_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let r = h
            .messages(json!({"model": format!("claude@status={status}"), "max_tokens": 5, "messages": [user("hi")]}))
            .await;
        assert_eq!(r.status.as_u16(), status);
        assert_anthropic_error(&r.body, kind);
    }
    let r = h
        .messages(json!({"model": "missing-claude", "max_tokens": 5, "messages": [user("hi")]}))
        .await;
    assert_eq!(r.status, 404);
    assert_anthropic_error(&r.body, "not_found_error");

    let body = json!({"model": "claude@fail_first=1,status=529", "max_tokens": 5, "messages": [user("hi")]});
    assert_eq!(h.messages(body.clone()).await.status.as_u16(), 529);
    assert_eq!(h.messages(body).await.status, 200);
}

#[tokio::test]
async fn cut_after_stream() {
    let h = start().await;
    let resp = h
        .anthropic(Some("k"), true)
        .json(&json!({"model": "claude@cut_after=3,words=10", "max_tokens": 100, "messages": [user("hi")], "stream": true}))
        .send()
        .await
        .unwrap();
    let (text, errored) = read_until_error(resp).await;
    assert!(errored);
    let events = crate::common::parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["message_start", "ping", "content_block_start"]);
}

#[tokio::test]
async fn stop_sequences_and_max_tokens() {
    let h = start().await;
    let r = h
        .messages(json!({
            "model": "claude@reply=alpha_beta_STOP_gamma",
            "max_tokens": 100,
            "stop_sequences": ["STOP", "gamma"],
            "messages": [user("x")],
        }))
        .await;
    assert_eq!(r.body["content"][0]["text"], "alpha beta ");
    assert_eq!(r.body["stop_reason"], "stop_sequence");
    assert_eq!(r.body["stop_sequence"], "STOP");

    let r = h
        .messages(json!({"model": "claude@words=30", "max_tokens": 5, "messages": [user("x")]}))
        .await;
    assert_eq!(r.body["stop_reason"], "max_tokens");
    assert_eq!(r.body["usage"]["output_tokens"], 5);
    assert_eq!(r.body["content"][0]["text"], "lorem ipsum dolor sit amet");

    let (_, events) = h
        .messages_stream(json!({"model": "claude@words=30", "max_tokens": 5, "messages": [user("x")], "stream": true}))
        .await;
    let md = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(md["delta"]["stop_reason"], "max_tokens");
    assert_eq!(md["usage"]["output_tokens"], 5);
}

fn tools() -> Value {
    json!([
        {"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {}}},
        {"name": "get_time", "input_schema": {"type": "object"}},
    ])
}

#[tokio::test]
async fn tool_use() {
    let h = start().await;
    let r = h
        .messages(json!({"model": "claude", "max_tokens": 50, "tools": tools(), "messages": [user("weather in Rome")]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["stop_reason"], "tool_use");
    let block = &r.body["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"input": "weather in Rome"}));

    let r = h
        .messages(json!({
            "model": "claude", "max_tokens": 50, "tools": tools(),
            "tool_choice": {"type": "tool", "name": "get_time"},
            "messages": [user("time?")],
        }))
        .await;
    assert_eq!(r.body["content"][0]["name"], "get_time");

    let r = h
        .messages(json!({
            "model": "claude", "max_tokens": 50, "tools": tools(),
            "tool_choice": {"type": "none"}, "messages": [user("hi")],
        }))
        .await;
    assert_eq!(r.body["stop_reason"], "end_turn");

    // stream
    let (_, events) = h
        .messages_stream(json!({"model": "claude", "max_tokens": 50, "tools": tools(), "messages": [user("weather in Rome")], "stream": true}))
        .await;
    let start_block = events
        .iter()
        .find(|e| e.name.as_deref() == Some("content_block_start"))
        .unwrap()
        .json();
    assert_eq!(start_block["content_block"]["type"], "tool_use");
    assert_eq!(start_block["content_block"]["name"], "get_weather");
    assert_eq!(start_block["content_block"]["input"], json!({}));
    let partial: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        json!({"input": "weather in Rome"})
    );
    let md = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(md["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_result_reply() {
    let h = start().await;
    let r = h
        .messages(json!({
            "model": "claude", "max_tokens": 50, "tools": tools(),
            "messages": [
                user("weather?"),
                {"role": "assistant", "content": [
                    {"type": "text", "text": "let me check"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rainy"}]},
                ]},
            ],
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["content"][0]["text"], "tool said: rainy");
    assert_eq!(r.body["stop_reason"], "end_turn");
}

#[tokio::test]
async fn images_accepted() {
    let h = start().await;
    let r = h
        .messages(json!({"model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "text", "text": "describe"},
        ]}]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["content"][0]["text"], "mock reply to: describe");
}

#[tokio::test]
async fn strict_rejections() {
    let h = start().await;
    let ok = || json!([{"role": "user", "content": "hi"}]);
    let tu = |id: &str| json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "get_weather", "input": {}}]});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "foo": 1}),
            "foo: Extra inputs are not permitted",
        ),
        (
            json!({"model": "c", "messages": ok()}),
            "max_tokens: Field required",
        ),
        (
            json!({"model": "c", "max_tokens": 0, "messages": ok()}),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            json!({"model": "c", "max_tokens": "5", "messages": ok()}),
            "max_tokens: Input should be a valid integer",
        ),
        (
            json!({"max_tokens": 5, "messages": ok()}),
            "model: Field required",
        ),
        (
            json!({"model": "c", "max_tokens": 5}),
            "messages: Field required",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": []}),
            "at least one message",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "s"}, user("hi")]}),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": ""}]}),
            "non-empty content",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            "text content blocks must be non-empty",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x", "name": "bob"}]}),
            "messages.0.name: Extra inputs are not permitted",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [user("x"), {"role": "assistant", "content": "trailing "}]}),
            "trailing whitespace",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "temperature": 1.5}),
            "temperature: Input should be less than or equal to 1",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "top_k": -1}),
            "top_k",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "stop_sequences": "END"}),
            "stop_sequences: Input should be a valid list",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "system": 5}),
            "system",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "metadata": {"session": "x"}}),
            "metadata.session: Extra inputs are not permitted",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "aGk="}}]}]}),
            "media_type: Input should be 'image/jpeg'",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
            "Input tag 'audio'",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "tool_use", "id": "t", "name": "n", "input": {}}]}]}),
            "can only be in `assistant` messages",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": [user("x"), {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_9", "content": "r"}]}]}),
            "unexpected `tool_use_id`",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "tools": tools(), "messages": [user("x"), tu("toolu_1"), user("y")]}),
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "tools": tools(), "messages": [user("x"), tu("toolu_1"), {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_2"}]}]}),
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "tools": [{"name": "t", "input_schema": {"type": "array"}}]}),
            "input_schema.type: Input should be 'object'",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "tools": [{"name": "t"}]}),
            "input_schema: Field required",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "tools": [{"name": "bad name", "input_schema": {"type": "object"}}]}),
            "String should match pattern",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "tools": tools(), "tool_choice": {"type": "tool", "name": "nope"}}),
            "nope",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "tools": tools(), "tool_choice": {"type": "sometimes"}}),
            "Input tag 'sometimes'",
        ),
        (
            json!({"model": "c", "max_tokens": 5, "messages": ok(), "stream": "yes"}),
            "stream: Input should be a valid boolean",
        ),
    ];
    for (body, fragment) in cases {
        let r = h.messages(body.clone()).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.body);
        assert_anthropic_error(&r.body, "invalid_request_error");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(fragment), "{body}: {msg:?} lacks {fragment:?}");
    }
    let r = send(h.anthropic(Some("k"), true).body("nope")).await;
    assert_eq!(r.status, 400);
    assert_anthropic_error(&r.body, "invalid_request_error");
}

#[tokio::test]
async fn accepts_known_optional_fields() {
    let h = start().await;
    let r = h
        .messages(json!({
            "model": "claude", "max_tokens": 2048, "messages": [user("hi"), {"role": "assistant", "content": "Sure"}],
            "metadata": {"user_id": "u1"}, "temperature": 1, "top_p": 0.9, "top_k": 5,
            "thinking": {"type": "enabled", "budget_tokens": 1024}, "service_tier": "auto",
            "stop_sequences": [], "stream": false,
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
