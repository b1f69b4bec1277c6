//! Starting, checking and stopping the binary; PostgreSQL storage end to end.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The vendor variables `tollgate serve` reads on embedded defaults.
const VENDOR_VARS: [&str; 7] = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "MISTRAL_API_KEY",
    "OLLAMA_HOST",
];

/// With the variables set (Mistral's blank), the start names each provider and its
/// models, the admin API lists them, and a key made through the admin API calls each
/// provider that points at the mock, with the key from the environment upstream.
async fn env_providers_are_ready(gw: &Gateway, mock: &MockProvider, session: &str) {
    for line in [
        "provider `openai` from the environment, models: gpt-4o-mini, gpt-4o",
        "provider `anthropic` from the environment, models: claude-3-5-haiku-latest, claude-sonnet-4-0",
        "provider `gemini` from the environment, models: gemini-2.0-flash, gemini-2.5-flash",
        "provider `ollama` from the environment, models: llama3.2",
    ] {
        assert!(
            gw.stdout_lines.iter().any(|l| l == line),
            "{line:?} not in {:?}",
            gw.stdout_lines
        );
    }
    assert!(
        !gw.stdout_lines.iter().any(|l| l.contains("`mistral`")),
        "a blank key offers nothing: {:?}",
        gw.stdout_lines
    );
    let admin = |method: reqwest::Method, path: &str| {
        client()
            .request(method, gw.admin(path))
            .bearer_auth(session)
    };
    let providers: Value = admin(reqwest::Method::GET, "/admin/v1/providers")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = providers
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names.len(), 4, "{providers}");
    for name in ["openai", "anthropic", "gemini", "ollama"] {
        assert!(names.contains(&name), "{name} missing: {providers}");
    }
    assert!(
        !providers.to_string().contains("sk-from-env"),
        "keys are never shown"
    );
    let res = admin(reqwest::Method::POST, "/admin/v1/consumers")
        .json(&json!({"name": "first-app"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = admin(reqwest::Method::POST, "/admin/v1/consumers/first-app/keys")
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.expect("json")["key"]
        .as_str()
        .expect("key")
        .to_string();
    for (model, upstream_auth) in [
        ("gpt-4o-mini", "Bearer sk-from-env"),
        ("claude-3-5-haiku-latest", "sk-ant-from-env"),
        ("llama3.2", ""),
    ] {
        mock.clear();
        let res = client()
            .post(gw.gw("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("send");
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, 200, "{model}: {body}");
        let seen = mock.requests();
        let req = seen
            .last()
            .unwrap_or_else(|| panic!("{model} reached no upstream"));
        if !upstream_auth.is_empty() {
            let sent = ["authorization", "x-api-key"]
                .iter()
                .filter_map(|h| req.headers.get(*h).map(String::as_str))
                .collect::<Vec<_>>();
            assert!(
                sent.contains(&upstream_auth),
                "{model}: upstream auth {sent:?}"
            );
        }
    }
}

#[tokio::test]
async fn serve_with_no_arguments_runs_on_the_embedded_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve").env_remove("TOLLGATE_ADMIN_PASSWORD");
    for var in VENDOR_VARS {
        cmd.env_remove(var);
    }
    let mut gw = Gateway::spawn(cmd, dir, &[]);
    assert_eq!(gw.url, "http://127.0.0.1:8080");
    assert!(
        !gw.stdout_lines
            .iter()
            .any(|l| l.contains("from the environment")),
        "no vendor variable, no provider: {:?}",
        gw.stdout_lines
    );
    assert_eq!(gw.admin_url, "http://127.0.0.1:8081");
    let password_line = gw
        .stdout_lines
        .iter()
        .find(|l| l.contains("password"))
        .unwrap_or_else(|| panic!("no password printed: {:?}", gw.stdout_lines))
        .clone();
    let password = password_line
        .rsplit(' ')
        .next()
        .expect("password")
        .to_string();
    assert!(password.len() >= 16, "{password_line}");
    assert!(
        gw.path().join("tollgate-data/tollgate.db").exists(),
        "SQLite under ./tollgate-data/"
    );
    assert!(gw.path().join("tollgate-data/master.key").exists());
    let page = client().get(gw.admin("/")).send().await.expect("send");
    assert_eq!(page.status(), 200, "the printed address answers");
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("/admin/v1/openapi.json")
    );
    for url in [gw.gw("/healthz"), gw.admin("/healthz"), gw.admin("/readyz")] {
        assert_eq!(
            client().get(&url).send().await.expect("send").status(),
            200,
            "{url}"
        );
    }
    let res = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    gw.terminate();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));

    // A second start keeps the user and prints no new password; the vendors' usual
    // variables (pointed at the mock) are offered as providers ready to use.
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().expect("dir"));
    drop(gw);
    let mock = MockProvider::start().await.expect("mock");
    let ollama_host = mock.addr().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve");
    for var in VENDOR_VARS {
        cmd.env_remove(var);
    }
    let openai_base = mock.openai_base_url();
    let anthropic_base = mock.anthropic_base_url();
    let env = [
        ("OPENAI_API_KEY", "sk-from-env"),
        ("OPENAI_BASE_URL", openai_base.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-from-env"),
        ("ANTHROPIC_BASE_URL", anthropic_base.as_str()),
        ("GEMINI_API_KEY", "gem-from-env"),
        ("MISTRAL_API_KEY", "  "),
        ("OLLAMA_HOST", ollama_host.as_str()),
    ];
    let mut gw = Gateway::spawn(cmd, dir, &env);
    assert!(
        !gw.stdout_lines.iter().any(|l| l.contains("password")),
        "{:?}",
        gw.stdout_lines
    );
    let res = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let session = res.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    env_providers_are_ready(&gw, &mock, &session).await;
    gw.terminate();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn check_reports_every_error_with_file_line_column_and_path() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "providers:\n  - name: p1\n    kind: openai\nmodels:\n  - name: m1\n    targets:\n      - {provider: nope, model: x}\nconsumers:\n  - name: c1\n    team: ghost\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{file}:7:"))
                && l.contains("models[0].targets[0].provider")),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{file}:10:")) && l.contains("consumers[0].team")),
        "{stderr}"
    );

    // Unset variable: named, non-zero exit.
    std::fs::write(
        &path,
        "server:\n  admin_token: ${TOLLGATE_TEST_UNSET_VAR}\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("TOLLGATE_TEST_UNSET_VAR")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{file}:2:")) && stderr.contains("TOLLGATE_TEST_UNSET_VAR"),
        "{stderr}"
    );

    // A good file passes.
    std::fs::write(&path, "server:\n  admin_token: ${TOLLGATE_TEST_SET_VAR}\nproviders:\n  - {name: o, kind: openai}\nmodels:\n  - {name: m, targets: [{provider: o, model: gpt-4o-mini}]}\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "--config"])
        .arg(&path)
        .env("TOLLGATE_TEST_SET_VAR", "x")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_streams() {
    let mock = MockProvider::start().await.expect("mock");
    let extra = "  - name: slow-stream\n    targets: [{provider: mock-openai, model: \"gpt@chunk_delay_ms=150,words=10\"}]\n";
    let mut gw = Gateway::start(&config_for(&mock, extra));
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "slow-stream", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    // The stream has started; now stop the gateway.
    gw.terminate();
    let text = res.text().await.expect("the stream completes");
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

#[tokio::test]
async fn postgres_storage_end_to_end() {
    let database = fresh_pg_schema("tg_e2e");
    let mock = MockProvider::start().await.expect("mock");
    let config = config_for(&mock, "").replace(
        "providers:\n",
        &format!("storage:\n  database: {database}\nproviders:\n"),
    );
    // Nodes sharing a database share the master key that encrypts provider secrets.
    let shared = [("TOLLGATE_MASTER_KEY", SHARED_MASTER_KEY)];
    let gw = Gateway::start_with_env(&config, &shared);
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(
            &json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "on postgres"}]}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let created: Value = client()
        .post(gw.admin("/admin/v1/consumers/team-b/keys"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "pg"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let key = created["key"].as_str().expect("key");
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "new key"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);

    // A second node on the same database sees a key created on the first within a
    // second, and its revocation too.
    let other = Gateway::start_with_env(&config, &shared);
    let works_on_other =
        |key: String| {
            let url = other.gw("/v1/chat/completions");
            async move {
                client().post(url).bearer_auth(key)
                .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}]}))
                .send().await.expect("send").status().as_u16()
            }
        };
    let created: Value = client()
        .post(gw.admin("/admin/v1/consumers/team-a/keys"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "cross-node"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let key2 = created["key"].as_str().expect("key").to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        works_on_other(key2.clone()).await,
        200,
        "new key live on the other node"
    );
    let id = created["id"].as_str().expect("id");
    let res = client()
        .delete(gw.admin(&format!("/admin/v1/keys/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        works_on_other(key2).await,
        401,
        "revocation live on the other node"
    );
    drop(other);
    drop(gw);
    drop_pg_schema(&database);
}

#[tokio::test]
async fn sighup_reapplies_the_config_file() {
    let mock = MockProvider::start().await.expect("mock");
    let config = config_for(&mock, "");
    let gw = Gateway::start(&config);
    let chat =
        |key: &'static str| {
            let url = gw.gw("/v1/chat/completions");
            async move {
                client().post(url).bearer_auth(key)
                .json(&json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "x"}]}))
                .send().await.expect("send").status().as_u16()
            }
        };
    assert_eq!(chat(KEY_B).await, 200);
    assert_eq!(chat("tg-added-by-reload").await, 401);
    // Team B's key is replaced in the file; the process is told to reload.
    let edited = config.replace(&format!("[\"{KEY_B}\"]"), "[\"tg-added-by-reload\"]");
    std::fs::write(gw.path().join("tollgate.yaml"), edited).expect("write");
    gw.hangup();
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if chat("tg-added-by-reload").await == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the new key works after SIGHUP");
    assert_eq!(
        chat(KEY_B).await,
        401,
        "the key taken out of the file is gone"
    );
}
