//! The Gemini, Ollama, Azure and Mistral routes: strict like the real APIs, with the
//! same directives and deterministic content as the OpenAI and Anthropic routes.

use crate::common::{send, start};
use serde_json::{Value, json};

fn gemini_url(h: &crate::common::Harness, model: &str, action: &str) -> String {
    format!(
        "{}/v1beta/models/{model}:{action}",
        h.mock.gemini_base_url()
    )
}

#[tokio::test]
async fn gemini_answers_and_rejects_what_google_rejects() {
    let h = start().await;
    let post = |model: &str, body: Value| {
        h.http
            .post(gemini_url(&h, model, "generateContent"))
            .header("x-goog-api-key", "gk")
            .json(&body)
    };
    let r = send(post(
        "gemini-2.0-flash",
        json!({
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}),
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"],
        "mock reply to: hello there"
    );
    assert_eq!(r.body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(r.body["usageMetadata"]["candidatesTokenCount"], 5);

    let bad = [
        json!({"contents": []}),
        json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
        json!({"contents": [{"role": "user", "parts": []}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": ""}]}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "bogus": 1}),
        json!({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}),
        json!({"contents": [
            {"role": "user", "parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]}]}),
        json!({"contents": [
            {"role": "user", "parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"text": "no answer"}]}]}),
        json!({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "***"}}]}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}],
            "generationConfig": {"responseJsonSchema": {"type": "object"}}}),
    ];
    for body in bad {
        let r = send(post("gemini-2.0-flash", body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT", "{}", r.body);
    }

    // Keys and directives.
    let ok = json!({"contents": [{"parts": [{"text": "x"}]}]});
    let r = send(
        h.http
            .post(gemini_url(&h, "g", "generateContent"))
            .json(&ok),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = send(
        h.http
            .post(gemini_url(&h, "g", "generateContent"))
            .header("x-goog-api-key", "bad1")
            .json(&ok),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let r = send(post("g@status=429", ok.clone())).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["status"].clone()),
        (429, json!("RESOURCE_EXHAUSTED"))
    );
    let r = send(post("g@reply=hi_you", ok.clone())).await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"],
        "hi you"
    );

    // Tools: a call, then the answer to its result.
    let tools = json!([{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": {"type": "object"}}]}]);
    let r = send(post(
        "g",
        json!({"tools": tools, "contents": [{"role": "user", "parts": [{"text": "in Paris"}]}]}),
    ))
    .await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"name": "get_weather", "args": {"input": "in Paris"}})
    );
    let r = send(post("g", json!({"tools": tools, "contents": [
        {"role": "user", "parts": [{"text": "in Paris"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}]}]}))).await;
    assert_eq!(
        r.body["candidates"][0]["content"]["parts"][0]["text"], "tool said: sunny",
        "{}",
        r.body
    );

    // Streams: SSE, no end marker, finishReason and usage on the last event.
    let text = h
        .http
        .post(format!(
            "{}?alt=sse",
            gemini_url(&h, "g", "streamGenerateContent")
        ))
        .header("x-goog-api-key", "gk")
        .json(&json!({"contents": [{"parts": [{"text": "a b"}]}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<Value> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let joined: String = events
        .iter()
        .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, "mock reply to: a b");
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(
        events.last().unwrap()["usageMetadata"]["candidatesTokenCount"],
        5
    );

    // Embeddings.
    let r = send(h.http.post(gemini_url(&h, "e", "batchEmbedContents")).header("x-goog-api-key", "gk")
        .json(&json!({"requests": [{"model": "models/e", "content": {"parts": [{"text": "x"}]}, "outputDimensionality": 3}]}))).await;
    assert_eq!(
        r.body["embeddings"][0]["values"].as_array().map(Vec::len),
        Some(3),
        "{}",
        r.body
    );
    let r = send(h.http.post(gemini_url(&h, "e", "batchEmbedContents")).header("x-goog-api-key", "gk")
        .json(&json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]}))).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn ollama_chat_and_embed() {
    let h = start().await;
    let url = |p: &str| format!("{}{p}", h.mock.ollama_base_url());
    let r = send(
        h.http
            .post(url("/api/chat"))
            .json(&json!({"model": "llama3.2", "stream": false,
        "messages": [{"role": "user", "content": "hi there"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"]["content"], "mock reply to: hi there");
    assert_eq!(
        (r.body["done"].clone(), r.body["done_reason"].clone()),
        (json!(true), json!("stop"))
    );
    assert_eq!(r.body["eval_count"], 5);
    for body in [
        json!({"model": "m", "stream": false, "messages": [{"role": "developer", "content": "x"}]}),
        json!({"model": "m", "stream": false, "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
        json!({"model": "m", "stream": false, "messages": [{"role": "user", "content": "x", "images": ["***"]}]}),
        json!({"model": "m", "stream": false, "format": 3, "messages": [{"role": "user", "content": "x"}]}),
        json!({"stream": false, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "stream": false, "messages": [{"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]}),
    ] {
        let r = send(h.http.post(url("/api/chat")).json(&body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body["error"].is_string());
    }
    let r = send(
        h.http
            .post(url("/api/chat"))
            .json(&json!({"model": "missing-model", "stream": false,
        "messages": [{"role": "user", "content": "x"}]})),
    )
    .await;
    assert_eq!(r.status, 404);
    // Streams by default: NDJSON, the last line done with the counts.
    let text = h
        .http
        .post(url("/api/chat"))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.last().unwrap()["done"], true);
    assert_eq!(lines.last().unwrap()["prompt_eval_count"], 1);
    let r = send(
        h.http
            .post(url("/api/embed"))
            .json(&json!({"model": "nomic", "input": ["a", "b c"]})),
    )
    .await;
    assert_eq!(
        r.body["embeddings"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.body
    );
    assert_eq!(r.body["prompt_eval_count"], 3);
}

#[tokio::test]
async fn azure_needs_api_version_and_api_key() {
    let h = start().await;
    let url = |q: &str| {
        format!(
            "{}/openai/deployments/my-dep/chat/completions{q}",
            h.mock.azure_base_url()
        )
    };
    let body = json!({"messages": [{"role": "user", "content": "hi"}]});
    let r = send(h.http.post(url("")).header("api-key", "k").json(&body)).await;
    assert_eq!(r.status, 404);
    let r = send(
        h.http
            .post(url("?api-version=2024-10-21"))
            .bearer_auth("k")
            .json(&body),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(
        h.http
            .post(url("?api-version=2024-10-21"))
            .header("api-key", "k")
            .json(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["model"], "my-dep");
    assert!(r.body["prompt_filter_results"].is_array());
}

#[tokio::test]
async fn mistral_rejects_unknown_fields_and_foreign_tool_ids() {
    let h = start().await;
    let url = format!("{}/chat/completions", h.mock.mistral_base_url());
    let post = |body: Value| h.http.post(&url).bearer_auth("mk").json(&body);
    let r = send(post(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    ))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (body, status) in [
        (
            json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
            422,
        ),
        (
            json!({"model": "m", "seed": 1, "messages": [{"role": "user", "content": "hi"}]}),
            422,
        ),
        (
            json!({"model": "m", "messages": [{"role": "developer", "content": "hi"}]}),
            422,
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_123456789", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_123456789", "content": "r"}]}),
            400,
        ),
    ] {
        let r = send(post(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.body["object"], "error");
    }
    let r = send(post(
        json!({"model": "m", "random_seed": 1, "tool_choice": "any",
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "messages": [{"role": "user", "content": "hi"}]}),
    ))
    .await;
    let id = r.body["choices"][0]["message"]["tool_calls"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 9);
    // Streams end with usage on the finish chunk.
    let text = h
        .http
        .post(&url)
        .bearer_auth("mk")
        .json(&json!({"model": "m", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let finish = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|c| c["choices"][0]["finish_reason"].is_string())
        .unwrap();
    assert_eq!(finish["usage"]["completion_tokens"], 4);
}
