//! Both front doors against both provider kinds, stream and non-stream, through the
//! real binary and the mock provider.

mod common;

use common::*;
use serde_json::{Value, json};

fn extra() -> &'static str {
    r#"
  - name: gpt-stop
    targets: [{provider: mock-openai, model: "gpt-4o-mini@reply=alpha_STOP_beta"}]
  - name: claude-stop
    targets: [{provider: mock-anthropic, model: "claude-3@reply=alpha_STOP_beta"}]
  - name: gpt-long
    targets: [{provider: mock-openai, model: "gpt-4o-mini@words=12"}]
  - name: claude-long
    targets: [{provider: mock-anthropic, model: "claude-3@words=12"}]
"#
}

async fn post(gw: &Gateway, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.gw(path))
        .bearer_auth(KEY_A)
        .json(&body)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn openai_door_reaches_openai_and_anthropic_non_stream() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    for model in ["gpt-mock", "claude-mock", "compat-mock"] {
        let res = post(&gw, "/v1/chat/completions", json!({
            "model": model,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
        })).await;
        assert_eq!(res.status(), 200, "{model}");
        assert!(res.headers().get("x-request-id").is_some());
        assert!(res.headers().get("x-tollgate-cost-usd").is_some());
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["object"], "chat.completion", "{model}: {v}");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(
            v["choices"][0]["message"]["content"], "mock reply to: hello there",
            "{model}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(
            v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) >= 4,
            "{v}"
        );
        assert_eq!(v["usage"]["completion_tokens"], 5);
    }
    // The Anthropic provider got the system prompt top-level, and the target model.
    let reqs = mock.requests();
    let a = reqs
        .iter()
        .find(|r| r.path == "/v1/messages")
        .expect("anthropic call");
    assert_eq!(a.body["system"], "be brief");
    assert_eq!(a.body["model"], "claude-3-5-haiku");
    assert_eq!(a.body["max_tokens"], 1024, "model's max_output_tokens used");
    assert_eq!(
        a.headers.get("x-api-key").map(String::as_str),
        Some("sk-ant-mock-secret")
    );
    let o = reqs
        .iter()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("openai call");
    assert_eq!(o.body["model"], "gpt-4o-mini");
    assert_eq!(
        o.headers.get("authorization").map(String::as_str),
        Some("Bearer sk-mock-openai-secret")
    );
}

#[tokio::test]
async fn cost_header_follows_the_price() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let res = post(
        &gw,
        "/v1/chat/completions",
        json!({
            "model": "gpt-mock", "messages": [{"role": "user", "content": "one two three"}]
        }),
    )
    .await;
    let cost = res.headers()["x-tollgate-cost-usd"]
        .to_str()
        .expect("ascii")
        .to_string();
    let v: Value = res.json().await.expect("json");
    let (i, o) = (
        v["usage"]["prompt_tokens"].as_u64().expect("in"),
        v["usage"]["completion_tokens"].as_u64().expect("out"),
    );
    // 1 USD/Mtok in, 2 USD/Mtok out = 1 and 2 micro-USD per token.
    let expected = (i + 2 * o) as f64 / 1e6;
    assert_eq!(cost.parse::<f64>().expect("number"), expected, "{cost}");
}

#[tokio::test]
async fn openai_door_streams_from_both_provider_kinds() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    for model in ["gpt-mock", "claude-mock"] {
        for include_usage in [false, true] {
            let mut body = json!({
                "model": model, "stream": true,
                "messages": [{"role": "user", "content": "stream me please"}]
            });
            if include_usage {
                body["stream_options"] = json!({"include_usage": true});
            }
            let res = post(&gw, "/v1/chat/completions", body).await;
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["content-type"], "text/event-stream");
            let text = res.text().await.expect("body");
            let data = sse_data(&text);
            assert_eq!(
                data.last().map(String::as_str),
                Some("[DONE]"),
                "{model}: {text}"
            );
            let chunks: Vec<Value> = data[..data.len() - 1]
                .iter()
                .map(|d| serde_json::from_str(d).expect("chunk json"))
                .collect();
            let content: String = chunks
                .iter()
                .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
                .collect();
            assert_eq!(content, "mock reply to: stream me please", "{model}");
            assert!(
                chunks
                    .iter()
                    .all(|c| c["object"] == "chat.completion.chunk")
            );
            assert!(
                chunks
                    .iter()
                    .any(|c| c["choices"][0]["finish_reason"] == "stop"),
                "{model}: {text}"
            );
            let usage_chunks: Vec<&Value> = chunks
                .iter()
                .filter(|c| c["choices"].as_array().is_some_and(|a| a.is_empty()))
                .collect();
            if include_usage {
                assert_eq!(usage_chunks.len(), 1, "{model}: {text}");
                assert_eq!(usage_chunks[0]["usage"]["completion_tokens"], 6);
            } else {
                assert!(
                    usage_chunks.is_empty(),
                    "{model}: usage chunk not asked for: {text}"
                );
            }
        }
    }
    // OpenAI-format upstreams are always asked for usage, so streams can be metered.
    let streamed = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect::<Vec<_>>();
    assert!(
        streamed
            .iter()
            .all(|r| r.body["stream_options"]["include_usage"] == true)
    );
}

#[tokio::test]
async fn anthropic_door_reaches_both_provider_kinds() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    for model in ["claude-mock", "gpt-mock"] {
        let res = client()
            .post(gw.gw("/v1/messages"))
            .header("x-api-key", KEY_A)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({
                "model": model, "max_tokens": 100, "system": "be brief",
                "messages": [{"role": "user", "content": "hi claude"}]
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 200, "{model}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["type"], "message", "{v}");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["content"][0]["type"], "text");
        assert_eq!(v["content"][0]["text"], "mock reply to: hi claude");
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(v["usage"]["output_tokens"], 5);
    }
    let o = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("openai call");
    assert_eq!(o.body["messages"][0]["role"], "system");
    assert_eq!(o.body["messages"][0]["content"], "be brief");
    assert_eq!(
        o.body["max_tokens"]
            .as_u64()
            .or(o.body["max_completion_tokens"].as_u64()),
        Some(100)
    );
}

#[tokio::test]
async fn anthropic_door_streams_from_both_provider_kinds() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    for model in ["claude-mock", "gpt-mock"] {
        let res = client()
            .post(gw.gw("/v1/messages"))
            .header("authorization", format!("Bearer {KEY_A}"))
            .json(&json!({
                "model": model, "max_tokens": 100, "stream": true,
                "messages": [{"role": "user", "content": "stream it"}]
            }))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 200);
        let text = res.text().await.expect("body");
        let events = sse_events(&text);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"message_start"), "{model}: {text}");
        assert_eq!(names.last(), Some(&"message_stop"), "{model}: {text}");
        assert!(names.contains(&"content_block_start") && names.contains(&"content_block_stop"));
        let mut textout = String::new();
        let mut stop_reason = Value::Null;
        let mut output_tokens = Value::Null;
        for (name, data) in &events {
            let v: Value = serde_json::from_str(data).expect("event json");
            assert_eq!(v["type"], name.as_str(), "event name matches its type");
            if name == "content_block_delta" {
                textout.push_str(v["delta"]["text"].as_str().unwrap_or(""));
            }
            if name == "message_delta" {
                stop_reason = v["delta"]["stop_reason"].clone();
                output_tokens = v["usage"]["output_tokens"].clone();
            }
        }
        assert_eq!(textout, "mock reply to: stream it", "{model}");
        assert_eq!(stop_reason, "end_turn");
        assert_eq!(output_tokens, 5, "{model}: {text}");
    }
}

#[tokio::test]
async fn tools_round_trip_through_the_openai_door_to_anthropic_and_back() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}}}}]);
    for model in ["claude-mock", "gpt-mock"] {
        for stream in [false, true] {
            let res = post(
                &gw,
                "/v1/chat/completions",
                json!({
                    "model": model, "stream": stream, "tools": tools,
                    "messages": [{"role": "user", "content": "weather in Paris"}]
                }),
            )
            .await;
            assert_eq!(res.status(), 200);
            let (call_id, name, args, finish) = if stream {
                let text = res.text().await.expect("body");
                let mut id = String::new();
                let mut name = String::new();
                let mut args = String::new();
                let mut finish = String::new();
                for d in sse_data(&text).iter().filter(|d| *d != "[DONE]") {
                    let c: Value = serde_json::from_str(d).expect("chunk");
                    if let Some(tc) = c["choices"][0]["delta"]["tool_calls"][0].as_object() {
                        if let Some(i) = tc.get("id").and_then(Value::as_str) {
                            id = i.to_string();
                        }
                        if let Some(n) = tc["function"].get("name").and_then(Value::as_str) {
                            name = n.to_string();
                        }
                        args.push_str(
                            tc["function"]
                                .get("arguments")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        );
                    }
                    if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
                        finish = f.to_string();
                    }
                }
                (id, name, args, finish)
            } else {
                let v: Value = res.json().await.expect("json");
                let tc = &v["choices"][0]["message"]["tool_calls"][0];
                (
                    tc["id"].as_str().unwrap_or("").to_string(),
                    tc["function"]["name"].as_str().unwrap_or("").to_string(),
                    tc["function"]["arguments"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    v["choices"][0]["finish_reason"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            };
            assert_eq!(name, "get_weather", "{model} stream={stream}");
            assert_eq!(finish, "tool_calls", "{model} stream={stream}");
            let parsed: Value = serde_json::from_str(&args).expect("arguments are JSON");
            assert_eq!(parsed["input"], "weather in Paris");
            assert!(!call_id.is_empty());

            // Second turn: the tool's result goes back; the model answers with it.
            let res = post(&gw, "/v1/chat/completions", json!({
                "model": model, "tools": tools,
                "messages": [
                    {"role": "user", "content": "weather in Paris"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
                        "function": {"name": "get_weather", "arguments": args}}]},
                    {"role": "tool", "tool_call_id": call_id, "content": "sunny 21C"}
                ]
            })).await;
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.expect("json");
            assert_eq!(
                v["choices"][0]["message"]["content"], "tool said: sunny 21C",
                "{model}"
            );
        }
    }
    let a = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/messages")
        .expect("anthropic");
    assert_eq!(a.body["tools"][0]["name"], "get_weather");
    assert_eq!(a.body["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(a.body["messages"][2]["content"][0]["type"], "tool_result");
}

#[tokio::test]
async fn tools_round_trip_through_the_anthropic_door_to_openai() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    let tools = json!([{"name": "lookup", "description": "look up", "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}}}]);
    for model in ["gpt-mock", "claude-mock"] {
        let res = client()
            .post(gw.gw("/v1/messages"))
            .header("x-api-key", KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "tools": tools,
                "messages": [{"role": "user", "content": "find x"}]}))
            .send()
            .await
            .expect("send");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["stop_reason"], "tool_use", "{model}: {v}");
        let block = v["content"]
            .as_array()
            .and_then(|c| c.iter().find(|b| b["type"] == "tool_use"))
            .expect("tool_use")
            .clone();
        assert_eq!(block["name"], "lookup");
        assert_eq!(block["input"]["input"], "find x");
        let res = client().post(gw.gw("/v1/messages")).header("x-api-key", KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "tools": tools, "messages": [
                {"role": "user", "content": "find x"},
                {"role": "assistant", "content": [block]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "x is 42"}]}
            ]}))
            .send().await.expect("send");
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.expect("json");
        assert_eq!(
            v["content"][0]["text"], "tool said: x is 42",
            "{model}: {v}"
        );
    }
    let o = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("openai");
    assert_eq!(o.body["tools"][0]["function"]["name"], "lookup");
    assert_eq!(o.body["messages"][2]["role"], "tool");
}

#[tokio::test]
async fn images_json_mode_stop_sequences_and_limits_are_translated() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, extra()));
    let png = "data:image/png;base64,iVBORw0KGgo=";
    let res = post(
        &gw,
        "/v1/chat/completions",
        json!({
            "model": "claude-mock", "temperature": 1.5, "top_p": 0.9,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": png}}]}]
        }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let a = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/messages")
        .expect("anthropic");
    let blocks = a.body["messages"][0]["content"]
        .as_array()
        .expect("blocks")
        .clone();
    let image = blocks
        .iter()
        .find(|b| b["type"] == "image")
        .expect("image block");
    assert_eq!(image["source"]["type"], "base64");
    assert_eq!(image["source"]["media_type"], "image/png");
    assert_eq!(image["source"]["data"], "iVBORw0KGgo=");
    assert_eq!(
        a.body["temperature"], 1.0,
        "OpenAI 0..2 clamped to Anthropic 0..1"
    );
    assert!(
        a.body["system"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("json"),
        "JSON mode asked in the system prompt"
    );

    // Stop sequences: cut before the sequence; both doors see their own stop reason.
    for model in ["gpt-stop", "claude-stop"] {
        let v: Value = post(
            &gw,
            "/v1/chat/completions",
            json!({
                "model": model, "stop": ["STOP"], "messages": [{"role": "user", "content": "go"}]
            }),
        )
        .await
        .json()
        .await
        .expect("json");
        assert_eq!(
            v["choices"][0]["message"]["content"], "alpha ",
            "{model}: {v}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        let v: Value = client().post(gw.gw("/v1/messages")).header("x-api-key", KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "stop_sequences": ["STOP"], "messages": [{"role": "user", "content": "go"}]}))
            .send().await.expect("send").json().await.expect("json");
        // OpenAI's answer does not say whether a stop sequence or the natural end
        // stopped it, so only a native Anthropic answer can report `stop_sequence`.
        let expected = if model == "claude-stop" {
            "stop_sequence"
        } else {
            "end_turn"
        };
        assert_eq!(v["stop_reason"], expected, "{model}: {v}");
        assert_eq!(v["content"][0]["text"], "alpha ");
    }
    // max_tokens: length / max_tokens.
    for model in ["gpt-long", "claude-long"] {
        let v: Value = post(
            &gw,
            "/v1/chat/completions",
            json!({
                "model": model, "max_tokens": 3, "messages": [{"role": "user", "content": "go"}]
            }),
        )
        .await
        .json()
        .await
        .expect("json");
        assert_eq!(v["choices"][0]["finish_reason"], "length", "{model}: {v}");
        assert_eq!(v["usage"]["completion_tokens"], 3);
        let v: Value = client().post(gw.gw("/v1/messages")).header("x-api-key", KEY_A)
            .json(&json!({"model": model, "max_tokens": 3, "messages": [{"role": "user", "content": "go"}]}))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(v["stop_reason"], "max_tokens", "{model}: {v}");
    }
}

#[tokio::test]
async fn unknown_fields_reach_same_format_upstreams() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let res = post(
        &gw,
        "/v1/chat/completions",
        json!({
            "model": "gpt-mock", "logit_bias": {"50256": -100}, "seed": 7,
            "messages": [{"role": "user", "content": "x"}]
        }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = client()
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(
            &json!({"model": "claude-mock", "max_tokens": 10, "service_tier": "auto",
            "metadata": {"user_id": "u1"}, "messages": [{"role": "user", "content": "x"}]}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let reqs = mock.requests();
    let o = reqs
        .iter()
        .find(|r| r.path == "/v1/chat/completions")
        .expect("openai");
    assert_eq!(o.body["logit_bias"]["50256"], -100);
    assert_eq!(o.body["seed"], 7);
    let a = reqs
        .iter()
        .find(|r| r.path == "/v1/messages")
        .expect("anthropic");
    assert_eq!(a.body["service_tier"], "auto");
    assert_eq!(a.body["metadata"]["user_id"], "u1");
}

#[tokio::test]
async fn models_list_shows_what_the_key_may_use() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let v: Value = client()
        .get(gw.gw("/v1/models"))
        .bearer_auth(KEY_A)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["claude-mock", "compat-mock", "gpt-mock"]);
    let v: Value = client()
        .get(gw.gw("/v1/models"))
        .header("api-key", KEY_B)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["gpt-mock"]);
    let res = client()
        .get(gw.gw("/v1/models"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn anthropic_extras_count_tokens_request_id_and_model_lifecycle() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config_for(&mock, ""));
    let res = client()
        .post(gw.gw("/v1/messages/count_tokens"))
        .header("x-api-key", KEY_A)
        .json(&json!({"model": "claude-mock", "system": "be brief", "messages": [{"role": "user", "content": "hello there, how are you?"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"].clone();
    assert_eq!(
        res.headers()["request-id"],
        id,
        "Anthropic's SDK reads request-id"
    );
    let v: Value = res.json().await.expect("json");
    let n = v["input_tokens"].as_u64().expect("count");
    assert!((5..60).contains(&n), "{v}");
    assert!(
        mock.requests().is_empty(),
        "counted locally, no upstream call"
    );
    // Same contract as the door: unknown model 404, no key 401.
    let res = client()
        .post(gw.gw("/v1/messages/count_tokens"))
        .header("x-api-key", KEY_A)
        .json(&json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404);
    let res = client()
        .post(gw.gw("/v1/messages/count_tokens"))
        .json(&json!({"model": "claude-mock", "messages": []}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
    let v: Value = client()
        .get(gw.gw("/v1/models"))
        .header("x-api-key", KEY_A)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|m| m["lifecycle"] == "active" && m["type"] == "model")
    );
}
