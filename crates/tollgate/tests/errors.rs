//! PRODUCT.md's error table, row by row, through both doors, and its precedence.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const EXTRA: &str = r#"
  - name: reject-400
    targets: [{provider: mock-openai, model: "gpt@status=400"}]
  - name: reject-422
    targets: [{provider: mock-anthropic, model: "claude@status=422"}]
  - name: down-500
    targets: [{provider: mock-openai, model: "gpt@status=500"}]
  - name: slow
    targets: [{provider: mock-anthropic, model: "claude@delay_ms=3000"}]
    timeouts: {first_byte_ms: 300}
  - name: cut-openai
    targets: [{provider: mock-openai, model: "gpt@cut_after=3,words=20"}]
  - name: cut-anthropic
    targets: [{provider: mock-anthropic, model: "claude@cut_after=4,words=20"}]
  - name: stall
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=2000,words=5"}]
    timeouts: {idle_ms: 300}
  - name: unpaid
    targets: [{provider: mock-unpaid, model: "gpt"}]
  - name: fails-over
    targets: [{provider: mock-unpaid, model: "gpt"}]
    fallbacks: [gpt-mock]
"#;

fn config(mock: &MockProvider) -> String {
    config_for(mock, EXTRA).replace(
        "models:\n",
        &format!(
            "  - name: mock-unpaid\n    kind: openai\n    base_url: {}\n    api_keys: [\"unpaid-key\"]\nmodels:\n",
            mock.openai_base_url()
        ),
    )
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// Sends `body` (raw bytes) to `path` with `key`, returns status and JSON body.
async fn call(gw: &Gateway, path: &str, key: Option<&str>, body: Vec<u8>) -> Answer {
    let mut req = client()
        .post(gw.gw(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Answer {
        status,
        headers,
        body,
    }
}

fn openai_chat(model: &str) -> Vec<u8> {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes()
}

fn anthropic_msg(model: &str) -> Vec<u8> {
    json!({"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes()
}

/// Asserts the OpenAI envelope with `status`, `type`, `code`.
fn openai_err(a: &Answer, status: u16, kind: &str, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(a.headers.get("x-request-id").is_some());
    assert_eq!(a.body["error"]["type"], kind, "{}", a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(a.body["error"].get("param").is_some());
}

/// Asserts the Anthropic envelope with `status` and `type`.
fn anthropic_err(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(a.headers.get("x-request-id").is_some());
    assert_eq!(a.body["type"], "error", "{}", a.body);
    assert_eq!(a.body["error"]["type"], kind, "{}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn client_error_rows_on_both_doors() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let (o, a) = ("/v1/chat/completions", "/v1/messages");

    // 401: missing and unknown key.
    openai_err(
        &call(&gw, o, None, openai_chat("gpt-mock")).await,
        401,
        "authentication_error",
        "invalid_api_key",
    );
    openai_err(
        &call(&gw, o, Some("tg-nope"), openai_chat("gpt-mock")).await,
        401,
        "authentication_error",
        "invalid_api_key",
    );
    anthropic_err(
        &call(&gw, a, None, anthropic_msg("gpt-mock")).await,
        401,
        "authentication_error",
    );
    anthropic_err(
        &call(&gw, a, Some("tg-nope"), anthropic_msg("gpt-mock")).await,
        401,
        "authentication_error",
    );

    // 403: key B may only use gpt-mock.
    openai_err(
        &call(&gw, o, Some(KEY_B), openai_chat("claude-mock")).await,
        403,
        "permission_error",
        "model_not_allowed",
    );
    anthropic_err(
        &call(&gw, a, Some(KEY_B), anthropic_msg("claude-mock")).await,
        403,
        "permission_error",
    );

    // 404: unknown model and unknown path.
    openai_err(
        &call(&gw, o, Some(KEY_A), openai_chat("no-such-model")).await,
        404,
        "invalid_request_error",
        "model_not_found",
    );
    anthropic_err(
        &call(&gw, a, Some(KEY_A), anthropic_msg("no-such-model")).await,
        404,
        "not_found_error",
    );
    openai_err(
        &call(&gw, "/v1/nothing/here", Some(KEY_A), b"{}".to_vec()).await,
        404,
        "invalid_request_error",
        "not_found",
    );
    anthropic_err(
        &call(&gw, "/v1/messages/batches/x", Some(KEY_A), b"{}".to_vec()).await,
        404,
        "not_found_error",
    );

    // 400: malformed JSON, invalid field (with its param), missing required field.
    openai_err(
        &call(&gw, o, Some(KEY_A), b"{not json".to_vec()).await,
        400,
        "invalid_request_error",
        "invalid_request",
    );
    let bad = call(
        &gw,
        o,
        Some(KEY_A),
        json!({"model": "gpt-mock", "messages": "nope"})
            .to_string()
            .into_bytes(),
    )
    .await;
    openai_err(&bad, 400, "invalid_request_error", "invalid_request");
    assert_eq!(bad.body["error"]["param"], "messages");
    let bad = call(&gw, o, Some(KEY_A), json!({"model": "gpt-mock", "temperature": 7, "messages": [{"role": "user", "content": "x"}]}).to_string().into_bytes()).await;
    openai_err(&bad, 400, "invalid_request_error", "invalid_request");
    assert_eq!(bad.body["error"]["param"], "temperature");
    anthropic_err(
        &call(&gw, a, Some(KEY_A), b"[1,2".to_vec()).await,
        400,
        "invalid_request_error",
    );
    anthropic_err(
        &call(
            &gw,
            a,
            Some(KEY_A),
            json!({"model": "claude-mock", "messages": [{"role": "user", "content": "x"}]})
                .to_string()
                .into_bytes(),
        )
        .await,
        400,
        "invalid_request_error",
    );

    // 413 at max_body_bytes (64 KiB in the test config).
    let big =
        json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "x".repeat(70_000)}]})
            .to_string()
            .into_bytes();
    openai_err(
        &call(&gw, o, Some(KEY_A), big.clone()).await,
        413,
        "invalid_request_error",
        "request_too_large",
    );
    anthropic_err(
        &call(&gw, a, Some(KEY_A), big).await,
        413,
        "request_too_large",
    );

    // Nothing reached the provider.
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
}

#[tokio::test]
async fn precedence_follows_the_contract() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let o = "/v1/chat/completions";
    let mut big_bad = b"{not json ".to_vec();
    big_bad.extend(std::iter::repeat_n(b'x', 70_000));
    // 401 beats 413.
    assert_eq!(call(&gw, o, None, big_bad.clone()).await.status, 401);
    // 413 beats 400.
    assert_eq!(call(&gw, o, Some(KEY_A), big_bad).await.status, 413);
    // 400 beats 404 (invalid field on an unknown model).
    let a = call(
        &gw,
        o,
        Some(KEY_A),
        json!({"model": "nope", "temperature": 9, "messages": [{"role": "user", "content": "x"}]})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(a.status, 400);
    // 404 beats 403 (key B asking for an unknown model).
    assert_eq!(
        call(&gw, o, Some(KEY_B), openai_chat("nope")).await.status,
        404
    );
    // Unknown path without a key: 401 first.
    assert_eq!(
        call(&gw, "/v2/whatever", None, b"{}".to_vec()).await.status,
        401
    );
}

#[tokio::test]
async fn upstream_rows_on_both_doors() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let (o, a) = ("/v1/chat/completions", "/v1/messages");

    // The provider's own 400/422: its status, `upstream_rejected`, its message; not retried.
    let r = call(&gw, o, Some(KEY_A), openai_chat("reject-400")).await;
    openai_err(&r, 400, "invalid_request_error", "upstream_rejected");
    let r = call(&gw, a, Some(KEY_A), anthropic_msg("reject-422")).await;
    anthropic_err(&r, 422, "invalid_request_error");
    let r = call(&gw, o, Some(KEY_A), openai_chat("reject-422")).await;
    openai_err(&r, 422, "invalid_request_error", "upstream_rejected");
    let rejected = mock
        .requests()
        .iter()
        .filter(|r| {
            r.body["model"]
                .as_str()
                .is_some_and(|m| m.contains("status=4"))
        })
        .count();
    assert_eq!(
        rejected, 3,
        "each rejected request reached the provider once"
    );

    // 5xx: 502 upstream_unavailable, never the raw body.
    let r = call(&gw, o, Some(KEY_A), openai_chat("down-500")).await;
    openai_err(&r, 502, "upstream_error", "upstream_unavailable");
    anthropic_err(
        &call(&gw, a, Some(KEY_A), anthropic_msg("down-500")).await,
        502,
        "api_error",
    );

    // Timeout: 504 upstream_timeout.
    openai_err(
        &call(&gw, o, Some(KEY_A), openai_chat("slow")).await,
        504,
        "upstream_error",
        "upstream_timeout",
    );
    anthropic_err(
        &call(&gw, a, Some(KEY_A), anthropic_msg("slow")).await,
        504,
        "api_error",
    );

    // The provider's 402 is never passed on as 402.
    let r = call(&gw, o, Some(KEY_A), openai_chat("unpaid")).await;
    openai_err(&r, 502, "upstream_error", "upstream_payment_required");
    assert!(
        !r.body.to_string().contains("unpaid-key"),
        "no credentials in errors"
    );
    // ...and with a fallback the client does not even notice.
    let r = call(&gw, o, Some(KEY_A), openai_chat("fails-over")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn broken_streams_end_with_the_door_error_event() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    for model in ["cut-openai", "cut-anthropic", "stall"] {
        // OpenAI door: a data error event, no [DONE].
        let text = client().post(gw.gw("/v1/chat/completions")).bearer_auth(KEY_A)
            .json(&json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
            .send().await.expect("send").text().await.expect("body");
        let data = sse_data(&text);
        assert!(!data.iter().any(|d| d == "[DONE]"), "{model}: {text}");
        let last: Value = serde_json::from_str(data.last().expect("events")).expect("json");
        assert_eq!(last["error"]["type"], "upstream_error", "{model}: {text}");
        let code = if model == "stall" {
            "upstream_timeout"
        } else {
            "upstream_stream_broken"
        };
        assert_eq!(last["error"]["code"], code, "{model}: {text}");
        assert!(data.len() >= 2, "some content came first: {text}");

        // Anthropic door: event: error with api_error, no message_stop.
        let text = client().post(gw.gw("/v1/messages")).header("x-api-key", KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "x"}]}))
            .send().await.expect("send").text().await.expect("body");
        let events = sse_events(&text);
        let (name, data) = events.last().expect("events");
        assert_eq!(name, "error", "{model}: {text}");
        let v: Value = serde_json::from_str(data).expect("json");
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "api_error");
        assert!(
            !events.iter().any(|(n, _)| n == "message_stop"),
            "{model}: {text}"
        );
    }
}

#[tokio::test]
async fn no_input_takes_the_gateway_down() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let bodies: Vec<Vec<u8>> = vec![
        vec![], b"null".to_vec(), b"[]".to_vec(), b"\"str\"".to_vec(), b"{}".to_vec(),
        vec![0xff, 0xfe, 0x00], b"{\"model\": 5}".to_vec(),
        b"{\"model\":\"gpt-mock\",\"messages\":[{}]}".to_vec(),
        b"{\"model\":\"gpt-mock\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}".to_vec(),
        b"{\"model\":\"gpt-mock\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"nope\"}]}]}".to_vec(),
        b"{\"model\":\"gpt-mock\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":-1}".to_vec(),
        b"{\"model\":\"gpt-mock\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}".to_vec(),
        b"{\"model\":\"claude-mock\",\"max_tokens\":1e99,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}".to_vec(),
        "{\"model\":\"gpt-mock\",\"messages\":[{\"role\":\"user\",\"content\":\"\u{0000}\u{ffff}\"}]}".as_bytes().to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
    ];
    for path in ["/v1/chat/completions", "/v1/messages"] {
        for body in &bodies {
            let res = client()
                .post(gw.gw(path))
                .header("x-api-key", KEY_A)
                .body(body.clone())
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            assert!(
                status < 500,
                "{path} {:?} -> {status}",
                String::from_utf8_lossy(body)
            );
            let _ = res.text().await;
        }
    }
    // Still serving.
    let res = client().post(gw.gw("/v1/chat/completions")).bearer_auth(KEY_A)
        .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "still there?"}]}))
        .send().await.expect("send");
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(10)).await;
}
