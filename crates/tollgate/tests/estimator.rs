//! Token estimates of large inputs through the real binary: a 4 MiB embeddings input
//! and a large `count_tokens` body are counted with the real tokenizer (a string
//! without spaces is its tokens, not an "image"), and a small request sent alongside
//! them is still served. `count_tokens` keeps the body limit.

mod common;

use common::*;
use serde_json::{Value, json};
use tollgate_gateway::tokens;

const MIB: usize = 1024 * 1024;

fn config(mock: &MockProvider) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
  max_body_bytes: {limit}
providers:
  - name: p-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gem-key"]
  - name: p-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-openai"]
  - name: p-anthropic
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["sk-ant"]
models:
  - name: gemini-embed
    targets: [{{provider: p-gemini, model: text-embedding-004}}]
  - name: gpt-mock
    targets: [{{provider: p-openai, model: gpt-4o-mini}}]
  - name: claude-mock
    targets: [{{provider: p-anthropic, model: claude-3-5-haiku}}]
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
"#,
        limit = 8 * MIB,
        gemini = mock.gemini_base_url(),
        openai = mock.openai_base_url(),
        anthropic = mock.anthropic_base_url(),
    )
}

/// `bytes` of minified JSON-like text: no whitespace at all.
fn no_space(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 64);
    let mut i = 0u64;
    while s.len() < bytes {
        s.push_str(&format!("{{\"id\":{i},\"v\":\"k{}\"}},", i * 7919 % 10007));
        i += 1;
    }
    s
}

/// `bytes` of ordinary prose.
fn prose(bytes: usize) -> String {
    let words = [
        "budgets",
        "limits",
        "and",
        "tokens",
        "are",
        "counted",
        "before",
        "the",
        "request",
        "goes",
        "upstream.",
        "Each",
        "word",
        "costs",
        "about",
        "one",
        "token;",
    ];
    let mut s = String::with_capacity(bytes + 16);
    let mut i = 3usize;
    while s.len() < bytes {
        s.push_str(words[i % words.len()]);
        s.push(' ');
        i = (i * 13 + 5) % 10_007;
    }
    s
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .expect("client")
        .post(gw.gw(path))
        .bearer_auth(KEY_A)
        .header("x-api-key", KEY_A)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_inputs_are_counted_while_a_small_request_is_served() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));

    let embed_input = no_space(4 * MIB);
    let doc = prose(MIB);
    let message = no_space(2 * MIB);
    let (embed_expected, doc_tokens, message_tokens) = {
        let (e, d, m) = (embed_input.clone(), doc.clone(), message.clone());
        tokio::task::spawn_blocking(move || {
            (tokens::count(&e), tokens::count(&d), tokens::count(&m))
        })
        .await
        .expect("count")
    };
    assert!(embed_expected > 100_000, "{embed_expected}");

    let embed_body = json!({"model": "gemini-embed", "input": embed_input});
    let count_body = json!({"model": "claude-mock", "system": "Summarise the document.", "messages": [
        {"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": doc}},
            {"type": "text", "text": message},
        ]},
    ]});
    let small_body = json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]});

    let ((e_status, e), (c_status, c), (s_status, s)) = tokio::join!(
        post(&gw, "/v1/embeddings", &embed_body),
        post(&gw, "/v1/messages/count_tokens", &count_body),
        async {
            // Sent once the large bodies are on their way.
            tokio::task::yield_now().await;
            post(&gw, "/v1/chat/completions", &small_body).await
        },
    );

    assert_eq!(s_status, 200, "{s}");
    assert!(s["choices"][0]["message"]["content"].is_string(), "{s}");

    assert_eq!(e_status, 200, "{e}");
    assert_eq!(e["data"].as_array().map(Vec::len), Some(1));
    // Gemini reports no usage: the gateway's count of the whole input is the usage.
    assert_eq!(
        e["usage"]["prompt_tokens"].as_u64(),
        Some(embed_expected),
        "{}",
        e["usage"]
    );

    assert_eq!(c_status, 200, "{c}");
    let n = c["input_tokens"].as_u64().expect("input_tokens");
    let text = doc_tokens + message_tokens;
    assert!(
        n >= text && n < text + 50,
        "count_tokens {n}: the document ({doc_tokens}) and the message ({message_tokens}) are counted once each"
    );
}

/// The body limit applies before anything is read or counted: a request announcing
/// a body over it is answered 413 in Anthropic's envelope. (Raw TCP: the announced
/// body is never sent, so no client write races the early answer.)
#[tokio::test]
async fn count_tokens_keeps_the_body_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let addr = gw.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/messages/count_tokens HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {KEY_A}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        9 * MIB
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: Value = serde_json::from_str(body).expect("json body");
    assert_eq!(v["type"], "error", "Anthropic's envelope: {v}");
    assert_eq!(v["error"]["type"], "request_too_large", "{v}");
    assert!(mock.requests().is_empty());
}
