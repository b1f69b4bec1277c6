//! The console's traffic pages (call log, dashboards, playground) in headless Chromium,
//! after real traffic through the gateway; and the playground's relay,
//! `POST /admin/v1/playground/chat`, on its own. The browser steps are in
//! `tests/browser/console_traffic.py` (Playwright from `target/console-venv`, Debian's
//! Chromium). Screenshots go to `target/console-traffic-screenshots/`, or to
//! `docs/screenshots/` with `TOLLGATE_UPDATE_SCREENSHOTS=1`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const PASSWORD: &str = "console-traffic-password";

fn config(mock: &MockProvider) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
providers:
  - name: mock-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-mock-openai-secret"]
models:
  - name: gpt-mock
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
"#,
        openai = mock.openai_base_url(),
    )
}

async fn chat(gw: &Gateway, key: &str, model: &str, stream: bool) -> u16 {
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": stream,
                      "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    status
}

fn screenshots(name: &str) -> std::path::PathBuf {
    if std::env::var_os("TOLLGATE_UPDATE_SCREENSHOTS").is_some() {
        repo_root().join("docs/screenshots")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_pages_in_a_browser() {
    let venv = common::python::ensure_venv("console-venv", common::python::BROWSER_REQUIREMENTS);
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start_with_env(&config(&mock), &[("TOLLGATE_ADMIN_PASSWORD", PASSWORD)]);
    // Traffic: plain and streamed calls for two consumers, and one unknown model.
    for stream in [false, true, true] {
        assert_eq!(chat(&gw, KEY_A, "gpt-mock", stream).await, 200);
    }
    for stream in [false, true] {
        assert_eq!(chat(&gw, KEY_B, "gpt-mock", stream).await, 200);
    }
    assert_eq!(chat(&gw, KEY_A, "no-such-model", false).await, 404);

    let shots = screenshots("console-traffic-screenshots");
    let script = repo_root().join("crates/tollgate/tests/browser/console_traffic.py");
    let mut cmd = Command::new(common::python::venv_bin(&venv, "python"));
    cmd.arg(&script)
        .env("ADMIN_URL", &gw.admin_url)
        .env("CONSOLE_PASSWORD", PASSWORD)
        .env("TOLLGATE_SCREENSHOTS", &shots)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let (out, timed_out) = tokio::task::spawn_blocking(move || {
        common::python::run_with_timeout(&mut cmd, Duration::from_secs(300))
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !timed_out && out.status.success(),
        "the browser checks failed (timed out: {timed_out}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        shots.display()
    );
}

async fn relay(gw: &Gateway, token: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.admin("/admin/v1/playground/chat"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send")
}

/// The relay passes the gateway's answer through as it is (JSON, the SSE stream, the
/// gateway's own errors and request id), refuses what it cannot send, and is for
/// operators and admins only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_relays_through_the_gateway() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let hello = json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]});

    let res = relay(&gw, ADMIN_TOKEN, json!({"key": KEY_A, "request": hello})).await;
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let body: Value = res.json().await.expect("json");
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    // The call is the gateway's, recorded under the key's consumer.
    let store = open_store(&gw).await;
    let rec = record(&store, &id).await;
    assert_eq!(rec.consumer.as_deref(), Some("team-a"));
    assert_eq!(
        rec.user_agent.as_deref(),
        Some("tollgate-console-playground")
    );

    let mut streamed = hello.clone();
    streamed["stream"] = json!(true);
    let res = relay(&gw, ADMIN_TOKEN, json!({"key": KEY_B, "request": streamed})).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let text = res.text().await.expect("text");
    assert!(!sse_data(&text).is_empty(), "{text}");
    assert!(text.contains("[DONE]"), "{text}");

    // The gateway's own refusals come back as the gateway said them.
    let res = relay(
        &gw,
        ADMIN_TOKEN,
        json!({"key": "tg-nope", "request": hello}),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("x-request-id"));
    let v: Value = res.json().await.expect("json");
    assert_eq!(code(&v), "invalid_api_key", "{v}");
    let res = relay(
        &gw,
        ADMIN_TOKEN,
        json!({"key": KEY_A, "request": {"model": "nope", "messages": []}}),
    )
    .await;
    assert_eq!(res.status().as_u16() / 100, 4);

    // What the relay itself refuses: 400 naming the field.
    for (body, param) in [
        (json!({"key": "", "request": hello}), "key"),
        (json!({"key": "tg-a\nb", "request": hello}), "key"),
        (json!({"key": "k".repeat(600), "request": hello}), "key"),
        (json!({"key": KEY_A, "request": "not an object"}), "request"),
        (
            json!({"key": KEY_A, "request": hello, "url": "http://elsewhere"}),
            "url",
        ),
        (json!({"request": hello}), "key"),
    ] {
        let res = relay(&gw, ADMIN_TOKEN, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.expect("json");
        // The field is named: as `param`, or in the message of a body that lacks it.
        assert!(
            v["error"]["param"]
                .as_str()
                .unwrap_or_else(|| v["error"]["message"].as_str().unwrap_or_default())
                .contains(param),
            "{body}: {v}"
        );
    }
    let res = client()
        .post(gw.admin("/admin/v1/playground/chat"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 400);

    // Viewers may not spend through it; without credentials, 401.
    let res = client()
        .post(gw.admin("/admin/v1/users"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"username": "vic", "password": "viewer-password-1", "role": "viewer"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let login: Value = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "vic", "password": "viewer-password-1"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let viewer = login["token"].as_str().expect("token");
    let res = relay(&gw, viewer, json!({"key": KEY_A, "request": hello})).await;
    assert_eq!(res.status(), 403);
    let res = client()
        .post(gw.admin("/admin/v1/playground/chat"))
        .json(&json!({"key": KEY_A, "request": hello}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
}
