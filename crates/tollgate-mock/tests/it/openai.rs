use crate::common::{read_until_error, send, start, user};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn assert_openai_error(body: &Value, kind: &str) {
    let e = &body["error"];
    assert!(e["message"].is_string(), "{body}");
    assert_eq!(e["type"], kind, "{body}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn non_stream_basic() {
    let h = start().await;
    let r = h
        .chat(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "world"}]},
            ],
        }))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let b = r.body;
    assert!(b["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(b["object"], "chat.completion");
    assert!(b["created"].is_u64());
    assert_eq!(b["model"], "gpt-4o-mini");
    let c = &b["choices"][0];
    assert_eq!(c["index"], 0);
    assert_eq!(c["message"]["role"], "assistant");
    assert_eq!(c["message"]["content"], "mock reply to: hello world");
    assert_eq!(c["message"]["refusal"], Value::Null);
    assert!(c["message"].get("tool_calls").is_none());
    assert_eq!(c["logprobs"], Value::Null);
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(
        b["usage"],
        json!({"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9})
    );
}

#[tokio::test]
async fn stream_with_usage() {
    let h = start().await;
    let (head, events) = h
        .chat_stream(json!({
            "model": "gpt-4o-mini@reply=one_two_three",
            "messages": [user("hi")],
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .await;
    assert_eq!(head.status, 200);
    assert!(head.content_type().starts_with("text/event-stream"));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-4o-mini");
        assert!(c.get("usage").is_some(), "every chunk carries usage: {c}");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    // role chunk + 3 words + finish + usage
    assert_eq!(chunks.len(), 6);
    let finish = &chunks[4];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    let last = &chunks[5];
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4})
    );
}

#[tokio::test]
async fn stream_without_usage() {
    let h = start().await;
    let (_, events) = h
        .chat_stream(json!({"model": "gpt-4o", "messages": [user("a b")], "stream": true}))
        .await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    for e in &events[..events.len() - 1] {
        let c = e.json();
        assert!(c.get("usage").is_none(), "{c}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    // no_usage: asked for, but omitted
    let (_, events) = h
        .chat_stream(json!({
            "model": "gpt-4o@no_usage",
            "messages": [user("a b")],
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .await;
    for e in &events[..events.len() - 1] {
        let c = e.json();
        assert!(c.get("usage").is_none(), "{c}");
        assert_ne!(c["choices"], json!([]));
    }
}

#[tokio::test]
async fn auth_failures() {
    let h = start().await;
    let body = json!({"model": "gpt-4o", "messages": [user("hi")]});
    let r = send(h.openai("/chat/completions", None).json(&body)).await;
    assert_eq!(r.status, 401);
    assert_openai_error(&r.body, "invalid_request_error");
    assert_eq!(r.body["error"]["code"], "invalid_api_key");
    assert_eq!(r.body["error"]["param"], Value::Null);

    let r = send(h.openai("/chat/completions", Some("bad-key")).json(&body)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "invalid_api_key");

    let r = send(h.openai("/chat/completions", Some("unpaid-1")).json(&body)).await;
    assert_eq!(r.status, 402);
    assert_openai_error(&r.body, "insufficient_quota");
    assert_eq!(r.body["error"]["code"], "insufficient_quota");

    let r = send(
        h.openai("/chat/completions", Some("forbidden-1"))
            .json(&body),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_openai_error(&r.body, "permission_error");

    let r = send(h.openai("/chat/completions", Some("limited-1")).json(&body)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.body["error"]["code"], "rate_limit_exceeded");

    // Auth is checked before the body: an invalid body with a bad key is a 401.
    let r = send(h.openai("/chat/completions", Some("bad")).body("{nope")).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn status_directives() {
    let h = start().await;
    let cases = [
        (400, "invalid_request_error"),
        (404, "invalid_request_error"),
        (422, "invalid_request_error"),
        (429, "requests"),
        (500, "server_error"),
        (503, "server_error"),
    ];
    for (status, kind) in cases {
        let r = h
            .chat(json!({"model": format!("gpt-4o@status={status}"), "messages": [user("hi")]}))
            .await;
        assert_eq!(r.status.as_u16(), status);
        assert_openai_error(&r.body, kind);
    }
    let r = h
        .chat(json!({"model": "gpt-4o@status=429,retry_after=7", "messages": [user("hi")]}))
        .await;
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(r.body["error"]["code"], "rate_limit_exceeded");

    let r = h
        .chat(json!({"model": "gpt-4o@status=404", "messages": [user("hi")]}))
        .await;
    assert_eq!(r.body["error"]["code"], "model_not_found");

    let r = h
        .chat(json!({"model": "missing-model", "messages": [user("hi")]}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["code"], "model_not_found");

    // Streams fail before any event, with a JSON error.
    let r = h
        .chat(json!({"model": "gpt-4o@status=500", "messages": [user("hi")], "stream": true}))
        .await;
    assert_eq!(r.status, 500);
    assert_openai_error(&r.body, "server_error");

    // A typo in a directive is a 400, not a silent success.
    let r = h
        .chat(json!({"model": "gpt-4o@stauts=500", "messages": [user("hi")]}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["param"], "model");
}

#[tokio::test]
async fn delay_ms() {
    let h = start().await;
    let t = Instant::now();
    let r = h
        .chat(json!({"model": "gpt-4o@delay_ms=200", "messages": [user("hi")]}))
        .await;
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn chunk_delay_paces_stream() {
    let h = start().await;
    let t = Instant::now();
    let (_, events) = h
        .chat_stream(json!({
            "model": "gpt-4o@chunk_delay_ms=20,reply=a_b_c",
            "messages": [user("hi")],
            "stream": true,
        }))
        .await;
    // role + 3 words + finish + [DONE] = 6 events, 5 gaps
    assert_eq!(events.len(), 6);
    assert!(t.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn hang_never_answers() {
    let h = start().await;
    let res = h
        .openai("/chat/completions", Some("sk"))
        .json(&json!({"model": "gpt-4o@hang", "messages": [user("hi")]}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(res.unwrap_err().is_timeout());
    let reqs = h.mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].status, 0, "no answer recorded yet");
}

#[tokio::test]
async fn cut_after_stream_ends_with_error() {
    let h = start().await;
    let resp = h
        .openai("/chat/completions", Some("sk"))
        .json(&json!({
            "model": "gpt-4o@cut_after=2,words=20",
            "messages": [user("hi")],
            "stream": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (text, errored) = read_until_error(resp).await;
    assert!(errored, "body must end with an error");
    let events = crate::common::parse_sse(&text);
    assert_eq!(events.len(), 2, "{text}");
    assert!(!text.contains("[DONE]"));

    // More events asked for than exist: everything but the terminator.
    let resp = h
        .openai("/chat/completions", Some("sk"))
        .json(&json!({"model": "gpt-4o@cut_after=1000", "messages": [user("hi")], "stream": true}))
        .send()
        .await
        .unwrap();
    let (text, errored) = read_until_error(resp).await;
    assert!(errored);
    assert!(text.contains("finish_reason\":\"stop"));
    assert!(!text.contains("[DONE]"));
}

#[tokio::test]
async fn cut_after_non_stream_ends_with_error() {
    let h = start().await;
    let resp = h
        .openai("/chat/completions", Some("sk"))
        .json(&json!({"model": "gpt-4o@cut_after=0", "messages": [user("hi")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (text, errored) = read_until_error(resp).await;
    assert!(errored);
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "partial body"
    );
}

#[tokio::test]
async fn fail_first() {
    let h = start().await;
    let body = json!({"model": "gpt-4o@fail_first=2", "messages": [user("hi")]});
    assert_eq!(h.chat(body.clone()).await.status, 500);
    assert_eq!(h.chat(body.clone()).await.status, 500);
    assert_eq!(h.chat(body.clone()).await.status, 200);
    assert_eq!(h.chat(body.clone()).await.status, 200);
    // Counted per exact model string.
    let other = json!({"model": "gpt-4o@fail_first=1,status=429", "messages": [user("hi")]});
    let r = h.chat(other.clone()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(h.chat(other).await.status, 200);
    // clear() resets the counters.
    h.mock.clear();
    assert_eq!(h.chat(body).await.status, 500);
}

#[tokio::test]
async fn reply_and_words() {
    let h = start().await;
    let r = h
        .chat(json!({"model": "gpt-4o@reply=hi_there%2C_friend%5F", "messages": [user("x")]}))
        .await;
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "hi there, friend_"
    );
    assert_eq!(r.body["usage"]["completion_tokens"], 3);

    let r = h
        .chat(json!({"model": "gpt-4o@words=50", "messages": [user("x")]}))
        .await;
    let text = r.body["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text.split_whitespace().count(), 50);
    assert!(text.starts_with("lorem ipsum"));
    assert_eq!(r.body["usage"]["completion_tokens"], 50);
}

#[tokio::test]
async fn stop_and_max_tokens() {
    let h = start().await;
    let r = h
        .chat(json!({
            "model": "gpt-4o@reply=alpha_beta_END_gamma",
            "messages": [user("x")],
            "stop": ["END"],
        }))
        .await;
    assert_eq!(r.body["choices"][0]["message"]["content"], "alpha beta ");
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.body["usage"]["completion_tokens"], 2);

    let r = h
        .chat(json!({"model": "gpt-4o@words=10", "messages": [user("x")], "max_tokens": 3}))
        .await;
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "lorem ipsum dolor"
    );
    assert_eq!(r.body["choices"][0]["finish_reason"], "length");
    assert_eq!(r.body["usage"]["completion_tokens"], 3);

    let r = h
        .chat(json!({"model": "gpt-4o@words=10", "messages": [user("x")], "max_completion_tokens": 4, "stop": "zzz"}))
        .await;
    assert_eq!(r.body["choices"][0]["finish_reason"], "length");
    assert_eq!(r.body["usage"]["completion_tokens"], 4);
}

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "get_time"}},
    ])
}

#[tokio::test]
async fn tool_call_non_stream() {
    let h = start().await;
    let r = h
        .chat(json!({"model": "gpt-4o", "messages": [user("weather in Paris")], "tools": weather_tools()}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(c["message"]["content"], Value::Null);
    let call = &c["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input": "weather in Paris"}));
    // 1 + words of {"input":"weather in Paris"}
    assert_eq!(r.body["usage"]["completion_tokens"], 4);

    // forced tool
    let r = h
        .chat(json!({
            "model": "gpt-4o",
            "messages": [user("what time")],
            "tools": weather_tools(),
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        }))
        .await;
    assert_eq!(
        r.body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_time"
    );

    // tool_choice none: plain text
    let r = h
        .chat(json!({"model": "gpt-4o", "messages": [user("hi")], "tools": weather_tools(), "tool_choice": "none"}))
        .await;
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "mock reply to: hi"
    );
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn tool_call_stream() {
    let h = start().await;
    let (_, events) = h
        .chat_stream(json!({
            "model": "gpt-4o",
            "messages": [user("weather in Paris")],
            "tools": weather_tools(),
            "stream": true,
        }))
        .await;
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    let first_call = chunks
        .iter()
        .find_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["id"]
                .as_str()
                .map(|_| c.clone())
        })
        .unwrap();
    let tc = &first_call["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(tc["index"], 0);
    assert_eq!(tc["type"], "function");
    assert_eq!(tc["function"]["name"], "get_weather");
    assert_eq!(tc["function"]["arguments"], "");
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"input": "weather in Paris"})
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_result_reply() {
    let h = start().await;
    let r = h
        .chat(json!({
            "model": "gpt-4o",
            "tools": weather_tools(),
            "messages": [
                user("weather?"),
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_9", "content": "sunny and warm"},
            ],
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "tool said: sunny and warm"
    );
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn json_mode() {
    let h = start().await;
    for rf in [
        json!({"type": "json_object"}),
        json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}),
    ] {
        let r = h
            .chat(json!({"model": "gpt-4o", "messages": [user("hi")], "response_format": rf}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let content = r.body["choices"][0]["message"]["content"].as_str().unwrap();
        let parsed: Value = serde_json::from_str(content).unwrap();
        assert_eq!(parsed, json!({"reply": "mock reply to: hi"}));
    }
}

#[tokio::test]
async fn images_accepted() {
    let h = start().await;
    let r = h
        .chat(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ]}]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "mock reply to: what is this"
    );
}

/// (body, expected param, expected code or None, message fragment)
#[tokio::test]
async fn strict_rejections() {
    let h = start().await;
    let m = || json!([{"role": "user", "content": "hi"}]);
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"model": "gpt-4o", "messages": m(), "foo": 1}),
            Value::Null,
            "Unrecognized request argument supplied: foo",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "stream_options": {"include_usage": true}}),
            json!("stream_options"),
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "temperature": 3}),
            json!("temperature"),
            "decimal above maximum value",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "top_p": -0.5}),
            json!("top_p"),
            "decimal below minimum value",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "max_tokens": 0}),
            json!("max_tokens"),
            "integer below minimum value",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "max_tokens": 1.5}),
            json!("max_tokens"),
            "expected an integer",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "n": 2}),
            json!("n"),
            "n=1",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "stream": "yes"}),
            json!("stream"),
            "expected a boolean",
        ),
        (
            json!({"messages": m()}),
            Value::Null,
            "you must provide a model parameter",
        ),
        (
            json!({"model": "gpt-4o"}),
            json!("messages"),
            "Missing required parameter: 'messages'.",
        ),
        (
            json!({"model": "gpt-4o", "messages": []}),
            json!("messages"),
            "empty array",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}),
            json!("messages[0].role"),
            "Invalid value: 'robot'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}),
            json!("messages[0].content"),
            "Invalid type for 'messages[0].content'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user"}]}),
            json!("messages[0].content"),
            "Missing required parameter",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x", "extra": 1}]}),
            json!("messages[0]"),
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]}),
            json!("messages[0].content[0].image_url.url"),
            "Invalid 'messages[0].content[0].image_url.url'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "video"}]}]}),
            json!("messages[0].content[0].type"),
            "Invalid value: 'video'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
            json!("messages[0].content[0].type"),
            "Invalid value: 'image_url'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [user("x"), {"role": "tool", "tool_call_id": "call_1", "content": "r"}]}),
            json!("messages.[1].role"),
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            json!({"model": "gpt-4o", "messages": [
                user("x"),
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                user("y"),
            ]}),
            json!("messages.[1].role"),
            "did not have response messages: call_1",
        ),
        (
            json!({"model": "gpt-4o", "messages": [
                user("x"),
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_2", "content": "r"},
            ]}),
            json!("messages.[2].tool_call_id"),
            "'tool_call_id' of 'call_2' not found",
        ),
        (
            json!({"model": "gpt-4o", "messages": [
                user("x"),
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": {}}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "r"},
            ]}),
            json!("messages[1].tool_calls[0].function.arguments"),
            "expected a string",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "response_format": {"type": "xml"}}),
            json!("response_format.type"),
            "Invalid value: 'xml'",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
            json!("response_format.json_schema.name"),
            "Missing required parameter",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "tools": [{"type": "function", "function": {"name": "bad name"}}]}),
            json!("tools[0].function.name"),
            "does not match pattern",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "tools": [{"type": "retrieval"}]}),
            json!("tools[0].type"),
            "Invalid value: 'retrieval'",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "tools": weather_tools(), "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            json!("tool_choice"),
            "nope",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "tool_choice": "auto"}),
            json!("tool_choice"),
            "only allowed when 'tools' are specified",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "tools": weather_tools(), "tool_choice": "sometimes"}),
            json!("tool_choice"),
            "Invalid value: 'sometimes'",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "stop": ["a", "b", "c", "d", "e"]}),
            json!("stop"),
            "array too long",
        ),
        (
            json!(["not", "an", "object"]),
            Value::Null,
            "expected an object",
        ),
        (
            json!({"model": "gpt-4o", "messages": m(), "parallel_tool_calls": false}),
            json!("parallel_tool_calls"),
            "only allowed when 'tools' are specified",
        ),
    ];
    for (body, param, fragment) in cases {
        let r = h.chat(body.clone()).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.body);
        assert_openai_error(&r.body, "invalid_request_error");
        assert_eq!(r.body["error"]["param"], param, "{body} -> {}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(fragment), "{body}: {msg:?} lacks {fragment:?}");
    }

    // Not JSON at all.
    let r = send(h.openai("/chat/completions", Some("sk")).body("{not json")).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not parse the JSON body")
    );
}

#[tokio::test]
async fn accepts_known_optional_fields() {
    let h = start().await;
    let r = h
        .chat(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "dev"},
                {"role": "user", "content": "hi", "name": "bob"},
                {"role": "assistant", "content": [{"type": "text", "text": "earlier"}]},
                {"role": "user", "content": "again"},
            ],
            "user": "u1", "seed": 7, "logit_bias": {"50256": -100}, "logprobs": false,
            "presence_penalty": 0.5, "frequency_penalty": -0.5,
            "metadata": {"a": "b"}, "store": false, "service_tier": "auto", "reasoning_effort": "low",
            "temperature": 2, "top_p": 1, "n": 1, "stop": null, "verbosity": "low",
            "max_completion_tokens": 100,
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["choices"][0]["message"]["content"],
        "mock reply to: again"
    );
    assert_eq!(r.body["usage"]["prompt_tokens"], 4);
}

#[tokio::test]
async fn models_list() {
    let h = start().await;
    let url = format!("{}/models", h.mock.openai_base_url());
    let r = send(h.http.get(&url).bearer_auth("sk")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"][0]["object"], "model");
    assert!(r.body["data"][0]["id"].is_string());
    let r = send(h.http.get(&url)).await;
    assert_eq!(r.status, 401);
    // Anthropic clients get Anthropic's shape.
    let r = send(
        h.http
            .get(&url)
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"][0]["type"], "model");
    assert_eq!(r.body["has_more"], false);
}

#[tokio::test]
async fn unknown_route_is_json_404() {
    let h = start().await;
    let r = send(h.openai("/completions", Some("sk")).json(&json!({}))).await;
    assert_eq!(r.status, 404);
    assert_openai_error(&r.body, "invalid_request_error");
}
