//! Starting, checking and stopping the binary; PostgreSQL storage end to end.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn serve_with_no_arguments_runs_on_the_embedded_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve").env_remove("TOLLGATE_ADMIN_PASSWORD");
    let mut gw = Gateway::spawn(cmd, dir, &[]);
    assert_eq!(gw.url, "http://127.0.0.1:8080");
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

    // A second start keeps the user and prints no new password.
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().expect("dir"));
    drop(gw);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve");
    let mut gw = Gateway::spawn(cmd, dir, &[]);
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
