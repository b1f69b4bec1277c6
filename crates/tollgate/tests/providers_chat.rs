//! Every provider kind reached through both doors, through the real binary and the
//! strict mock: Gemini (generateContent / SSE), Ollama (/api/chat, NDJSON), Azure OpenAI
//! (deployments, api-version, api-key), Mistral (OpenAI format, strict fields), OpenAI
//! and OpenAI-compatible servers. (Anthropic's cells are in `doors.rs`.)
//! One module per kind, one test per feature: `chat`, `stream`, `tools`, `images`,
//! `json_mode`, `errors` (the README's provider table names these).

mod common;

use common::*;
use serde_json::{Value, json};

fn config(mock: &MockProvider) -> String {
    let mut models = String::new();
    for (kind, provider, target) in [
        ("gemini", "mock-gemini", "gemini-2.0-flash"),
        ("ollama", "mock-ollama", "llama3.2"),
        ("azure", "mock-azure", "my-gpt4o"),
        ("mistral", "mock-mistral", "mistral-small-latest"),
        ("openai", "mock-openai", "gpt-4o-mini"),
        ("compat", "mock-compat", "llama-3"),
    ] {
        for (suffix, directive) in [
            ("chat", ""),
            ("stop", "@reply=alpha_STOP_beta"),
            ("long", "@words=12"),
            ("cut", "@cut_after=2"),
            ("slow", "@chunk_delay_ms=150"),
        ] {
            models.push_str(&format!(
                "  - name: {kind}-{suffix}\n    targets: [{{provider: {provider}, model: \"{target}{directive}\"}}]\n    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}\n"
            ));
        }
    }
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
providers:
  - name: mock-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gem-key"]
  - name: mock-ollama
    kind: ollama
    base_url: {ollama}
  - name: mock-azure
    kind: azure_openai
    base_url: {azure}
    api_version: "2024-10-21"
    api_keys: ["az-key"]
  - name: mock-mistral
    kind: mistral
    base_url: {mistral}
    api_keys: ["mi-key"]
  - name: mock-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-openai"]
  - name: mock-compat
    kind: openai_compatible
    base_url: {openai}
    api_keys: ["sk-compat"]
models:
{models}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
"#,
        gemini = mock.gemini_base_url(),
        ollama = mock.ollama_base_url(),
        azure = mock.azure_base_url(),
        mistral = mock.mistral_base_url(),
        openai = mock.openai_base_url(),
    )
}

struct Env {
    mock: MockProvider,
    gw: Gateway,
}

async fn env() -> Env {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    Env { mock, gw }
}

impl Env {
    async fn openai(&self, body: Value) -> reqwest::Response {
        client()
            .post(self.gw.gw("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .json(&body)
            .send()
            .await
            .expect("send")
    }

    async fn anthropic(&self, body: Value) -> reqwest::Response {
        client()
            .post(self.gw.gw("/v1/messages"))
            .header("x-api-key", KEY_A)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .expect("send")
    }

    /// The last request the mock got for this kind's chat endpoint.
    fn last_upstream(&self, kind: &str) -> tollgate_mock::RecordedRequest {
        self.mock
            .requests()
            .into_iter()
            .rev()
            .find(|r| is_chat_path(kind, &r.path))
            .unwrap_or_else(|| panic!("{kind}: no upstream chat request"))
    }
}

fn is_chat_path(kind: &str, path: &str) -> bool {
    match kind {
        "gemini" => path.starts_with("/v1beta/models/") && path.contains("enerateContent"),
        "ollama" => path == "/api/chat",
        "azure" => path.starts_with("/openai/deployments/") && path.ends_with("/chat/completions"),
        "mistral" => path == "/mistral/v1/chat/completions",
        _ => path == "/v1/chat/completions",
    }
}

/// Text, finish reason, usage and tool calls (id, name, arguments) of an OpenAI stream.
struct Streamed {
    text: String,
    finish: String,
    usage_chunks: Vec<Value>,
    calls: Vec<(String, String, String)>,
    done: bool,
    error: Option<Value>,
}

fn read_openai_stream(body: &str) -> Streamed {
    let mut s = Streamed {
        text: String::new(),
        finish: String::new(),
        usage_chunks: Vec::new(),
        calls: Vec::new(),
        done: false,
        error: None,
    };
    for d in sse_data(body) {
        if d == "[DONE]" {
            s.done = true;
            continue;
        }
        let c: Value = serde_json::from_str(&d).expect("chunk json");
        if c.get("error").is_some() {
            s.error = Some(c["error"].clone());
            continue;
        }
        assert_eq!(c["object"], "chat.completion.chunk", "{d}");
        if c["choices"].as_array().is_some_and(Vec::is_empty) {
            s.usage_chunks.push(c["usage"].clone());
            continue;
        }
        let ch = &c["choices"][0];
        s.text
            .push_str(ch["delta"]["content"].as_str().unwrap_or(""));
        for tc in ch["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let idx = tc["index"].as_u64().unwrap_or(0) as usize;
            if s.calls.len() <= idx {
                s.calls.push(Default::default());
            }
            let call = &mut s.calls[idx];
            if let Some(id) = tc["id"].as_str() {
                call.0 = id.to_string();
            }
            if let Some(n) = tc["function"]["name"].as_str() {
                call.1 = n.to_string();
            }
            call.2
                .push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
        if let Some(f) = ch["finish_reason"].as_str() {
            s.finish = f.to_string();
        }
    }
    s
}

/// Text, stop reason, output tokens and tool_use blocks of an Anthropic stream.
fn read_anthropic_stream(body: &str) -> (String, Value, Value, Vec<(String, String, String)>) {
    let events = sse_events(body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{body}");
    assert_eq!(names.last(), Some(&"message_stop"), "{body}");
    let mut text = String::new();
    let mut stop = Value::Null;
    let mut out_tokens = Value::Null;
    let mut tools: Vec<(String, String, String)> = Vec::new();
    for (name, data) in &events {
        let v: Value = serde_json::from_str(data).expect("event json");
        assert_eq!(v["type"], name.as_str());
        match name.as_str() {
            "content_block_start" if v["content_block"]["type"] == "tool_use" => tools.push((
                v["content_block"]["id"].as_str().unwrap_or("").into(),
                v["content_block"]["name"].as_str().unwrap_or("").into(),
                String::new(),
            )),
            "content_block_delta" => {
                text.push_str(v["delta"]["text"].as_str().unwrap_or(""));
                if let (Some(pj), Some(t)) = (v["delta"]["partial_json"].as_str(), tools.last_mut())
                {
                    t.2.push_str(pj);
                }
            }
            "message_delta" => {
                stop = v["delta"]["stop_reason"].clone();
                out_tokens = v["usage"]["output_tokens"].clone();
            }
            _ => {}
        }
    }
    (text, stop, out_tokens, tools)
}

async fn chat(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    let res = e
        .openai(json!({"model": model, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"}]}))
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    assert!(res.headers().get("x-tollgate-cost-usd").is_some());
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["object"], "chat.completion", "{kind}: {v}");
    assert_eq!(
        v["choices"][0]["message"]["content"], "mock reply to: hello there",
        "{kind}: {v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 5, "{kind}: {v}");
    assert!(
        v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) >= 4,
        "{kind}: {v}"
    );
    let up = e.last_upstream(kind);
    match kind {
        "gemini" => {
            assert_eq!(up.path, "/v1beta/models/gemini-2.0-flash:generateContent");
            assert_eq!(
                up.headers.get("x-goog-api-key").map(String::as_str),
                Some("gem-key")
            );
            assert_eq!(up.body["systemInstruction"]["parts"][0]["text"], "be brief");
            assert_eq!(up.body["contents"][0]["role"], "user");
        }
        "ollama" => {
            assert_eq!(up.body["model"], "llama3.2");
            assert_eq!(up.body["stream"], false);
            assert_eq!(
                up.body["messages"][0],
                json!({"role": "system", "content": "be brief"})
            );
            assert!(!up.headers.contains_key("authorization"));
        }
        "azure" => {
            assert_eq!(up.path, "/openai/deployments/my-gpt4o/chat/completions");
            assert_eq!(up.query.as_deref(), Some("api-version=2024-10-21"));
            assert_eq!(
                up.headers.get("api-key").map(String::as_str),
                Some("az-key")
            );
        }
        "mistral" => {
            assert_eq!(
                up.headers.get("authorization").map(String::as_str),
                Some("Bearer mi-key")
            );
            assert_eq!(up.body["model"], "mistral-small-latest");
        }
        "openai" => {
            assert_eq!(
                up.headers.get("authorization").map(String::as_str),
                Some("Bearer sk-openai")
            );
            assert_eq!(up.body["model"], "gpt-4o-mini");
        }
        _ => assert_eq!(up.body["model"], "llama-3"),
    }

    // The Anthropic door, system prompt top-level.
    let res = e
        .anthropic(
            json!({"model": model, "max_tokens": 100, "system": "be brief",
            "messages": [{"role": "user", "content": "hi claude"}]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["type"], "message", "{kind}: {v}");
    assert_eq!(
        v["content"][0]["text"], "mock reply to: hi claude",
        "{kind}: {v}"
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], 5);
    assert!(
        v["usage"]["input_tokens"].as_u64().unwrap_or(0) >= 4,
        "{kind}: {v}"
    );

    // Stop sequences and max tokens, both doors.
    let v: Value = e
        .openai(json!({"model": format!("{kind}-stop"), "stop": ["STOP"],
            "messages": [{"role": "user", "content": "go"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["choices"][0]["message"]["content"], "alpha ",
        "{kind}: {v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let up = e.last_upstream(kind);
    let stop = match kind {
        "gemini" => &up.body["generationConfig"]["stopSequences"],
        "ollama" => &up.body["options"]["stop"],
        _ => &up.body["stop"],
    };
    assert_eq!(stop, &json!(["STOP"]), "{kind}: {}", up.body);
    let v: Value = e
        .anthropic(
            json!({"model": format!("{kind}-stop"), "max_tokens": 50, "stop_sequences": ["STOP"],
            "messages": [{"role": "user", "content": "go"}]}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["content"][0]["text"], "alpha ", "{kind}: {v}");
    assert_eq!(v["stop_reason"], "end_turn", "{kind}: {v}");
    let v: Value = e
        .openai(json!({"model": format!("{kind}-long"), "max_tokens": 3,
            "messages": [{"role": "user", "content": "go"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "length", "{kind}: {v}");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    let up = e.last_upstream(kind);
    let max = match kind {
        "gemini" => &up.body["generationConfig"]["maxOutputTokens"],
        "ollama" => &up.body["options"]["num_predict"],
        _ => &up.body["max_tokens"],
    };
    assert_eq!(max, &json!(3), "{kind}: {}", up.body);
    let v: Value = e
        .anthropic(json!({"model": format!("{kind}-long"), "max_tokens": 3,
            "messages": [{"role": "user", "content": "go"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["stop_reason"], "max_tokens", "{kind}: {v}");
}

async fn stream(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    for include_usage in [false, true] {
        let mut body = json!({"model": model, "stream": true,
            "messages": [{"role": "user", "content": "stream me please"}]});
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let res = e.openai(body).await;
        assert_eq!(res.status(), 200, "{kind}");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let text = res.text().await.expect("body");
        let s = read_openai_stream(&text);
        assert!(s.done, "{kind}: {text}");
        assert!(s.error.is_none(), "{kind}: {text}");
        assert_eq!(s.text, "mock reply to: stream me please", "{kind}");
        assert_eq!(s.finish, "stop", "{kind}: {text}");
        if include_usage {
            assert_eq!(s.usage_chunks.len(), 1, "{kind}: {text}");
            assert_eq!(s.usage_chunks[0]["completion_tokens"], 6, "{kind}: {text}");
        } else {
            assert!(s.usage_chunks.is_empty(), "{kind}: {text}");
            assert!(
                !text.contains("\"usage\":{"),
                "{kind}: usage not asked for: {text}"
            );
        }
    }
    let up = e.last_upstream(kind);
    match kind {
        "gemini" => {
            assert_eq!(
                up.path,
                "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
            );
            assert_eq!(up.query.as_deref(), Some("alt=sse"));
        }
        "ollama" => assert_eq!(up.body["stream"], true),
        "mistral" => assert!(up.body.get("stream_options").is_none(), "{}", up.body),
        _ => assert_eq!(up.body["stream_options"]["include_usage"], true),
    }

    // The Anthropic door.
    let res = e
        .anthropic(json!({"model": model, "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "stream it"}]}))
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    let (out, stop, tokens, _) = read_anthropic_stream(&text);
    assert_eq!(out, "mock reply to: stream it", "{kind}: {text}");
    assert_eq!(stop, "end_turn");
    assert_eq!(tokens, 5, "{kind}: {text}");

    // Length, streamed.
    let text = e
        .openai(
            json!({"model": format!("{kind}-long"), "stream": true, "max_tokens": 3,
            "messages": [{"role": "user", "content": "go"}]}),
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(read_openai_stream(&text).finish, "length", "{kind}: {text}");
    let text = e
        .anthropic(
            json!({"model": format!("{kind}-long"), "stream": true, "max_tokens": 3,
            "messages": [{"role": "user", "content": "go"}]}),
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(
        read_anthropic_stream(&text).1,
        "max_tokens",
        "{kind}: {text}"
    );

    // Incremental: the first words arrive long before the last.
    let started = std::time::Instant::now();
    let mut res = e
        .openai(json!({"model": format!("{kind}-slow"), "stream": true,
            "messages": [{"role": "user", "content": "one two three four five"}]}))
        .await;
    let mut first = None;
    let mut all = String::new();
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        let piece = String::from_utf8_lossy(&chunk).to_string();
        if first.is_none() && piece.contains("mock") {
            first = Some(started.elapsed());
        }
        all.push_str(&piece);
    }
    let total = started.elapsed();
    let first = first.expect("content arrived");
    assert!(
        total - first >= std::time::Duration::from_millis(600),
        "{kind}: first content at {first:?}, end at {total:?}: the stream was buffered"
    );

    // A stream cut by the provider ends with the door's error, no [DONE].
    let text = e
        .openai(json!({"model": format!("{kind}-cut"), "stream": true,
            "messages": [{"role": "user", "content": "one two three four five six"}]}))
        .await
        .text()
        .await
        .expect("body");
    let s = read_openai_stream(&text);
    assert!(!s.done, "{kind}: {text}");
    assert_eq!(
        s.error.as_ref().map(|e| e["type"].clone()),
        Some(json!("upstream_error")),
        "{kind}: {text}"
    );
    let text = e
        .anthropic(
            json!({"model": format!("{kind}-cut"), "max_tokens": 50, "stream": true,
            "messages": [{"role": "user", "content": "one two three four five six"}]}),
        )
        .await
        .text()
        .await
        .expect("body");
    let events = sse_events(&text);
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("error"),
        "{kind}: {text}"
    );
}

async fn tools(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}}}}]);
    for stream in [false, true] {
        let res = e
            .openai(json!({"model": model, "stream": stream, "tools": tools,
                "messages": [{"role": "user", "content": "weather in Paris"}]}))
            .await;
        assert_eq!(res.status(), 200, "{kind}");
        let (id, name, args, finish) = if stream {
            let text = res.text().await.expect("body");
            let s = read_openai_stream(&text);
            assert_eq!(s.calls.len(), 1, "{kind}: {text}");
            let (id, name, args) = s.calls[0].clone();
            (id, name, args, s.finish)
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
        assert_eq!(name, "get_weather", "{kind} stream={stream}");
        assert_eq!(finish, "tool_calls", "{kind} stream={stream}");
        let parsed: Value = serde_json::from_str(&args).expect("arguments are JSON");
        assert_eq!(parsed["input"], "weather in Paris");
        assert!(!id.is_empty());

        let res = e
            .openai(json!({"model": model, "tools": tools, "messages": [
                {"role": "user", "content": "weather in Paris"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
                    "function": {"name": "get_weather", "arguments": args}}]},
                {"role": "tool", "tool_call_id": id, "content": "sunny 21C"}]}))
            .await;
        assert_eq!(res.status(), 200, "{kind}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(
            v["choices"][0]["message"]["content"], "tool said: sunny 21C",
            "{kind}: {v}"
        );
    }
    let up = e.last_upstream(kind);
    match kind {
        "gemini" => {
            assert_eq!(
                up.body["tools"][0]["functionDeclarations"][0]["name"],
                "get_weather"
            );
            assert_eq!(
                up.body["contents"][1]["parts"][0]["functionCall"]["name"],
                "get_weather"
            );
            assert_eq!(
                up.body["contents"][2]["parts"][0]["functionResponse"]["response"]["content"],
                "sunny 21C"
            );
        }
        "ollama" => {
            assert_eq!(
                up.body["messages"][1]["tool_calls"][0]["function"]["arguments"]["input"],
                "weather in Paris"
            );
            assert_eq!(up.body["messages"][2]["tool_name"], "get_weather");
        }
        _ => assert_eq!(up.body["messages"][2]["role"], "tool"),
    }

    // The Anthropic door: tool_use, then tool_result; streamed too.
    let atools = json!([{"name": "lookup", "description": "look up",
        "input_schema": {"type": "object", "properties": {"input": {"type": "string"}}}}]);
    let v: Value = e
        .anthropic(json!({"model": model, "max_tokens": 50, "tools": atools,
            "messages": [{"role": "user", "content": "find x"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["stop_reason"], "tool_use", "{kind}: {v}");
    let block = v["content"]
        .as_array()
        .and_then(|c| c.iter().find(|b| b["type"] == "tool_use"))
        .expect("tool_use")
        .clone();
    assert_eq!(block["name"], "lookup");
    assert_eq!(block["input"]["input"], "find x");
    let res = e
        .anthropic(json!({"model": model, "max_tokens": 50, "tools": atools, "messages": [
            {"role": "user", "content": "find x"},
            {"role": "assistant", "content": [block]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "x is 42"}]}]}))
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["content"][0]["text"], "tool said: x is 42", "{kind}: {v}");
    let text = e
        .anthropic(
            json!({"model": model, "max_tokens": 50, "stream": true, "tools": atools,
            "messages": [{"role": "user", "content": "find y"}]}),
        )
        .await
        .text()
        .await
        .expect("body");
    let (_, stop, _, calls) = read_anthropic_stream(&text);
    assert_eq!(stop, "tool_use", "{kind}: {text}");
    assert_eq!(calls.len(), 1, "{kind}: {text}");
    assert_eq!(calls[0].1, "lookup");
    let input: Value = serde_json::from_str(&calls[0].2).expect("input json");
    assert_eq!(input["input"], "find y");
}

const PNG: &str = "iVBORw0KGgo=";

async fn images(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    let res = e
        .openai(json!({"model": model, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}}]}]}))
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(
        v["choices"][0]["message"]["content"], "mock reply to: what is this",
        "{kind}: {v}"
    );
    let check = |up: &tollgate_mock::RecordedRequest| match kind {
        "gemini" => assert_eq!(
            up.body["contents"][0]["parts"][1]["inlineData"],
            json!({"mimeType": "image/png", "data": PNG}),
            "{}",
            up.body
        ),
        "ollama" => assert_eq!(
            up.body["messages"][0]["images"],
            json!([PNG]),
            "{}",
            up.body
        ),
        _ => assert_eq!(
            up.body["messages"][0]["content"][1]["image_url"]["url"],
            format!("data:image/png;base64,{PNG}")
        ),
    };
    check(&e.last_upstream(kind));
    let res = e
        .anthropic(json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}))
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    check(&e.last_upstream(kind));

    // Gemini and Ollama do not fetch image URLs: a clear 400, not a silent drop.
    let res = e
        .openai(
            json!({"model": model, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
        )
        .await;
    if kind == "gemini" || kind == "ollama" {
        assert_eq!(res.status(), 400, "{kind}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(
            v["error"]["param"], "messages[0].content[1].image_url.url",
            "{v}"
        );
    } else {
        assert_eq!(res.status(), 200, "{kind}");
    }
}

async fn json_mode(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    let res = e
        .openai(
            json!({"model": model, "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "give json"}]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    let v: Value = res.json().await.expect("json");
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap_or(""))
            .expect("JSON content");
    assert_eq!(content["reply"], "mock reply to: give json");
    let up = e.last_upstream(kind);
    match kind {
        "gemini" => assert_eq!(
            up.body["generationConfig"]["responseMimeType"],
            "application/json"
        ),
        "ollama" => assert_eq!(up.body["format"], "json"),
        _ => assert_eq!(up.body["response_format"]["type"], "json_object"),
    }
    let schema = json!({"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"]});
    let res = e
        .openai(json!({"model": model, "stream": true,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
            "messages": [{"role": "user", "content": "give json"}]}))
        .await;
    let text = res.text().await.expect("body");
    let s = read_openai_stream(&text);
    let content: Value = serde_json::from_str(&s.text).expect("JSON content");
    assert_eq!(content["reply"], "mock reply to: give json", "{kind}");
    let up = e.last_upstream(kind);
    match kind {
        "gemini" => assert_eq!(up.body["generationConfig"]["responseJsonSchema"], schema),
        "ollama" => assert_eq!(up.body["format"], schema),
        _ => assert_eq!(up.body["response_format"]["json_schema"]["schema"], schema),
    }
    // The Anthropic door's structured output.
    let res = e
        .anthropic(json!({"model": model, "max_tokens": 100,
            "output_format": {"type": "json_schema", "schema": schema},
            "messages": [{"role": "user", "content": "give json"}]}))
        .await;
    assert_eq!(res.status(), 200, "{kind}");
    let v: Value = res.json().await.expect("json");
    let content: Value =
        serde_json::from_str(v["content"][0]["text"].as_str().unwrap_or("")).expect("JSON text");
    assert_eq!(content["reply"], "mock reply to: give json", "{kind}: {v}");
}

/// Provider-specific failures reach the client in the door's envelope.
async fn errors(kind: &str) {
    let e = env().await;
    let model = format!("{kind}-chat");
    // What the provider cannot do at all is refused before it is called.
    let res = e
        .openai(json!({"model": model, "logprobs": true,
            "messages": [{"role": "user", "content": "x"}]}))
        .await;
    if kind == "gemini" || kind == "ollama" {
        assert_eq!(res.status(), 400, "{kind}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"]["param"], "logprobs", "{v}");
    } else if kind == "mistral" {
        // Mistral rejects the field itself; its 422 and message go to the client.
        assert_eq!(res.status(), 422, "{kind}");
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["error"]["code"], "upstream_rejected", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("logprobs"),
            "{v}"
        );
    } else {
        assert_eq!(res.status(), 200, "{kind}");
    }
    // A provider's own rejection keeps its status and message, on both doors.
    let res = e
        .anthropic(json!({"model": model, "max_tokens": 10,
            "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "r"}]}]}))
        .await;
    let status = res.status().as_u16();
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["type"], "error", "{kind}: {v}");
    assert!(matches!(status, 400 | 404 | 422), "{kind}: {status} {v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{kind}: {v}");
}

macro_rules! provider_tests {
    ($($kind:ident),*) => {$(
        mod $kind {
            #[tokio::test]
            async fn chat() {
                super::chat(stringify!($kind)).await;
            }
            #[tokio::test]
            async fn stream() {
                super::stream(stringify!($kind)).await;
            }
            #[tokio::test]
            async fn tools() {
                super::tools(stringify!($kind)).await;
            }
            #[tokio::test]
            async fn images() {
                super::images(stringify!($kind)).await;
            }
            #[tokio::test]
            async fn json_mode() {
                super::json_mode(stringify!($kind)).await;
            }
            #[tokio::test]
            async fn errors() {
                super::errors(stringify!($kind)).await;
            }
        }
    )*};
}

provider_tests!(gemini, ollama, azure, mistral, openai, compat);
