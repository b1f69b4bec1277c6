//! Data masking against the real binary and the mock provider: prompts masked before
//! the provider sees them (both doors), answers and streams masked (a match split
//! across deltas), `block` on both doors and mid-stream, services (JSON paths), the
//! admin API, `tollgate check`, and no matched value in logs or call records.

mod common;

use common::*;
use serde_json::{Value, json};

const RULES: &str = r#"
masking:
  - name: pii
    detectors: [email, phone, credit_card, iban, ip_address, api_key]
    keywords: ["Project Falcon"]
    regex: ["EMP-[0-9]{6}"]
  - name: stop
    keywords: ["launch code"]
    action: block
  - name: svc
    applies_to: {services: [echo]}
    direction: request
    json_paths: ["$.customer.ssn"]
"#;

const PROMPT: &str = "Mail jane.doe@example.com or call +1 415-555-0132; card 4111 1111 1111 1111, \
    iban GB82WEST12345698765432, host 10.1.2.3, key sk-abcdefghijklmnopqrstuvwxyz012345, \
    Project Falcon, EMP-123456.";
const SECRETS: &[&str] = &[
    "jane.doe@example.com",
    "415-555-0132",
    "4111 1111 1111 1111",
    "GB82WEST12345698765432",
    "10.1.2.3",
    "sk-abcdefghijklmnopqrstuvwxyz012345",
    "Project Falcon",
    "EMP-123456",
];

fn assert_masked(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked in {text}");
    }
}

async fn start(mock: &MockProvider, extra: &str) -> Gateway {
    let config = format!("{}{RULES}{extra}", config_for(mock, ""));
    Gateway::start(&config)
}

fn provider_texts(mock: &MockProvider) -> String {
    mock.requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn prompts_are_masked_before_the_provider_on_both_doors() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = start(&mock, "").await;
    let c = client();
    let res = c
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": PROMPT}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let res = c
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(
            &json!({"model": "claude-mock", "max_tokens": 50, "system": PROMPT,
            "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}]}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let seen = provider_texts(&mock);
    assert_masked(&seen);
    for p in [
        "[EMAIL]",
        "[PHONE]",
        "[CREDIT_CARD]",
        "[IBAN]",
        "[IP_ADDRESS]",
        "[API_KEY]",
        "[MASKED]",
    ] {
        assert!(seen.contains(p), "{p} missing in {seen}");
    }
    let (_, metrics) = admin_get(&gw, "/metrics").await;
    assert!(
        metrics.contains("tollgate_masking_matches_total{rule=\"pii\",detector=\"email\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn answers_and_streams_are_masked_with_matches_split_across_deltas() {
    let mock = MockProvider::start().await.expect("mock");
    let reply = "Call_+1_415-555-0132_about_Project_Falcon_now";
    let extra = format!(
        "  - name: chatty\n    targets: [{{provider: mock-openai, model: \"gpt@reply={reply}\"}}]\n  - name: chatty-claude\n    targets: [{{provider: mock-anthropic, model: \"claude@reply={reply}\"}}]\n"
    );
    let config = config_for(&mock, &extra) + RULES;
    let gw = Gateway::start(&config);
    let c = client();
    // whole, OpenAI door
    let body: Value = c
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "chatty", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(text, "Call [PHONE] about [MASKED] now");
    // streams on both doors: the mock sends a word per delta
    for (path, model) in [
        ("/v1/chat/completions", "chatty"),
        ("/v1/messages", "chatty-claude"),
    ] {
        let res = c
            .post(gw.gw(path))
            .bearer_auth(KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("send");
        let raw = res.text().await.expect("body");
        assert_masked(&raw);
        let joined: String = sse_data(&raw)
            .iter()
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v.pointer("/choices/0/delta/content")
                    .or_else(|| v.pointer("/delta/text"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(joined, "Call [PHONE] about [MASKED] now", "{path}: {raw}");
    }
}

#[tokio::test]
async fn block_refuses_on_both_doors_and_ends_streams() {
    let mock = MockProvider::start().await.expect("mock");
    let extra = "  - name: leaky\n    targets: [{provider: mock-openai, model: \"gpt@reply=the_launch_code_is_0000\"}]\n  - name: leaky-claude\n    targets: [{provider: mock-anthropic, model: \"claude@reply=the_launch_code_is_0000\"}]\n";
    let gw = Gateway::start(&(config_for(&mock, extra) + RULES));
    let c = client();
    let res = c
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "my Launch Code is 1234"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "content_blocked");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("stop") && !msg.to_lowercase().contains("launch code"),
        "{msg}"
    );
    let res = c
        .post(gw.gw("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(&json!({"model": "claude-mock", "max_tokens": 10, "messages": [{"role": "user", "content": "launch code"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        mock.requests().is_empty(),
        "a blocked prompt reached the provider"
    );
    // mid-stream, both doors
    for (path, model) in [
        ("/v1/chat/completions", "leaky"),
        ("/v1/messages", "leaky-claude"),
    ] {
        let raw = c
            .post(gw.gw(path))
            .bearer_auth(KEY_A)
            .json(&json!({"model": model, "max_tokens": 50, "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("body");
        assert!(!raw.contains("launch") && !raw.contains("0000"), "{raw}");
        assert!(
            raw.contains("content_blocked") || raw.contains("event: error"),
            "{path}: {raw}"
        );
        assert!(!raw.contains("[DONE]"), "{raw}");
    }
}

#[tokio::test]
async fn services_mask_json_paths() {
    let mock = MockProvider::start().await.expect("mock");
    let node = tollgate_mock::rest::RestUpstream::start("n1")
        .await
        .expect("rest");
    let extra = format!(
        "services:\n  - name: echo\n    path_prefix: /svc/echo\n    upstream: {{nodes: [{{url: \"{}\"}}]}}\n",
        node.url()
    );
    let gw = start(&mock, &extra).await;
    let res = client()
        .post(gw.gw("/svc/echo/mirror"))
        .bearer_auth(KEY_A)
        .json(&json!({"customer": {"ssn": "123-45-6789", "name": "Ann"}, "note": "mail ann@example.org"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let back: Value = res.json().await.expect("json");
    assert_eq!(back["customer"]["ssn"], "[MASKED]");
    assert_eq!(back["customer"]["name"], "Ann");
    assert_eq!(back["note"], "mail [EMAIL]");
}

#[tokio::test]
async fn admin_crud_and_check_errors() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = start(&mock, "").await;
    let c = client();
    let rule = json!({"name": "emp", "regex": ["EMP-[0-9]{4}"], "direction": "request"});
    let res = c
        .post(gw.admin("/admin/v1/masking"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&rule)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let list = admin_json(&gw, "/admin/v1/masking").await;
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|r| r["name"] == "emp"))
    );
    let bad = json!({"name": "bad", "regex": ["(unclosed"]});
    let res = c
        .post(gw.admin("/admin/v1/masking"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&bad)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);
    // live at once
    c.post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(
            &json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "id EMP-1234"}]}),
        )
        .send()
        .await
        .expect("send");
    assert!(provider_texts(&mock).contains("id [MASKED]"));
    let res = c
        .put(gw.admin("/admin/v1/masking/emp"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "emp", "keywords": ["x"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let res = c
        .delete(gw.admin("/admin/v1/masking/emp"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 204);
    let (status, _) = admin_get(&gw, "/admin/v1/masking/emp").await;
    assert_eq!(status, 404);
    let audit = admin_json(&gw, "/admin/v1/audit").await;
    assert!(audit.to_string().contains("masking rule"));

    // `tollgate check`
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "masking:\n  - name: r\n    regex: [\"(abc\", \"a*\"]\n  - name: r2\n    json_paths: [\"$[\"]\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("check");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":3:") && err.contains("masking[0].regex[0]"),
        "{err}"
    );
    assert!(
        err.contains("masking[0].regex[1]") && err.contains("masking[1].json_paths[0]"),
        "{err}"
    );
}

#[tokio::test]
async fn records_hold_masked_bodies_and_logs_no_values() {
    let mock = MockProvider::start().await.expect("mock");
    let config = config_for(&mock, "").replace(
        "  - name: team-a\n",
        "  - name: team-a\n    log_bodies: true\n",
    ) + RULES;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("tollgate.yaml"), &config).expect("write");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.path().join("tollgate.yaml"));
    let log = dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).expect("log");
    cmd.stderr(file).env("RUST_LOG", "debug");
    let gw = Gateway::spawn(cmd, dir, &[]);
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": PROMPT}]}))
        .send()
        .await
        .expect("send");
    let id = res.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    let store = open_store(&gw).await;
    let rec = record(&store, &id).await;
    let stored = rec.request_body.clone().unwrap_or_default();
    assert!(stored.contains("[EMAIL]"), "{stored}");
    assert_masked(&stored);
    let logs = std::fs::read_to_string(gw.path().join("stderr.log")).unwrap_or_default();
    assert_masked(&logs);
}

/// A whole answer refused by a `block` rule was still made and billed by the
/// provider: the call is charged like any other, and nothing is cached.
#[tokio::test]
async fn a_blocked_answer_is_still_charged() {
    let mock = MockProvider::start().await.expect("mock");
    let extra = "  - name: leaky\n    targets: [{provider: mock-openai, model: \"gpt@reply=the_launch_code_is_0000\"}]\n    price: {input_per_mtok: 1000, output_per_mtok: 1000}\n    cache: {ttl_seconds: 300}\n";
    let gw = Gateway::start(&(config_for(&mock, extra) + RULES));
    let c = client();
    for round in 0..2 {
        let res = c
            .post(gw.gw("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .json(&json!({"model": "leaky", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("send");
        let id = res.headers()["x-request-id"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        let (status, _, body) = json_of(res).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "content_blocked");
        let store = open_store(&gw).await;
        let rec = record(&store, &id).await;
        assert_eq!(rec.error_code.as_deref(), Some("content_blocked"));
        assert!(rec.output_tokens > 0, "round {round}: usage recorded");
        assert!(
            rec.cost_micros > 0,
            "round {round}: the blocked answer is charged"
        );
    }
    // Not cached: the second request went to the provider too.
    assert_eq!(mock.requests().len(), 2);
}
