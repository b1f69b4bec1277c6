//! Test harness: the real `tollgate` binary on free ports, against the mock provider.

#![allow(dead_code)]

pub mod python;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use tollgate_mock::MockProvider;

pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const KEY_A: &str = "tg-test-key-a";
pub const KEY_B: &str = "tg-test-key-b";
/// A master key for tests that run several nodes on one database.
pub const SHARED_MASTER_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A running `tollgate serve`.
pub struct Gateway {
    pub url: String,
    pub admin_url: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub stdout_lines: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Gateway {
    /// Starts the binary with `config` (YAML) written to a temp dir that is also the
    /// working directory (so the SQLite default and master key stay inside it).
    pub fn start(config: &str) -> Gateway {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tollgate.yaml");
        std::fs::write(&path, config).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("serve").arg("--config").arg(&path);
        Self::spawn(cmd, dir, env)
    }

    pub fn spawn(mut cmd: Command, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Gateway {
        cmd.current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env_remove("TOLLGATE_MASTER_KEY")
            .env_remove("TOLLGATE_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tollgate");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut gw = Gateway {
            url: String::new(),
            admin_url: String::new(),
            dir,
            child,
            stdout_lines: Vec::new(),
            lines: rx,
        };
        while gw.url.is_empty() || gw.admin_url.is_empty() {
            let line = gw
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "tollgate did not start; stdout so far: {:?}",
                        gw.stdout_lines
                    )
                });
            if let Some(u) = line.strip_prefix("tollgate gateway listening on ") {
                gw.url = u.trim().to_string();
            }
            if let Some(u) = line.strip_prefix("tollgate admin listening on ") {
                gw.admin_url = u.trim().to_string();
            }
            gw.stdout_lines.push(line);
        }
        // Lines printed right after the addresses (first-start password).
        while let Ok(line) = gw.lines.recv_timeout(Duration::from_millis(200)) {
            gw.stdout_lines.push(line);
        }
        gw
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Sends SIGHUP (config reload).
    pub fn hangup(&self) {
        let _ = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the process to exit; returns its status code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn gw(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("{}{}", self.admin_url, path)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config with one OpenAI-format and one Anthropic provider on `mock`, models that
/// route to each, and two consumers (A may use everything, B only `gpt-mock`).
pub fn config_for(mock: &MockProvider, extra_models: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
  max_body_bytes: 65536
providers:
  - name: mock-openai
    kind: openai
    base_url: {openai}
    api_keys: ["sk-mock-openai-secret"]
  - name: mock-anthropic
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["sk-ant-mock-secret"]
  - name: mock-compatible
    kind: openai_compatible
    base_url: {openai}
    api_keys: ["compat-key"]
models:
  - name: gpt-mock
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
  - name: claude-mock
    targets: [{{provider: mock-anthropic, model: claude-3-5-haiku}}]
    max_output_tokens: 1024
  - name: compat-mock
    targets: [{{provider: mock-compatible, model: llama-3}}]
{extra_models}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-b
    api_keys: ["{KEY_B}"]
    models: [gpt-mock]
"#,
        openai = mock.openai_base_url(),
        anthropic = mock.anthropic_base_url(),
    )
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// An admin GET with the admin token: status and body text.
pub async fn admin_get(gw: &Gateway, path: &str) -> (u16, String) {
    let res = client()
        .get(gw.admin(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("send");
    (res.status().as_u16(), res.text().await.expect("body"))
}

/// An admin GET that must answer 200 with JSON.
pub async fn admin_json(gw: &Gateway, path: &str) -> serde_json::Value {
    let (status, body) = admin_get(gw, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// SSE `data:` payloads of a body (OpenAI streams).
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| {
            let data: Vec<&str> = ev
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// (event name, data) pairs of a body (Anthropic streams).
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|ev| {
            let mut name = String::new();
            let mut data = String::new();
            for l in ev.lines() {
                if let Some(n) = l.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = l.strip_prefix("data: ") {
                    data = d.to_string();
                }
            }
            (!data.is_empty()).then_some((name, data))
        })
        .collect()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The calling key's own usage document (`GET /tollgate/v1/usage`).
pub async fn usage(gw: &Gateway, key: &str) -> serde_json::Value {
    client()
        .get(gw.gw("/tollgate/v1/usage"))
        .bearer_auth(key)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// Waits (up to 10 s) for the journal, which writes in batches off the request path,
/// to have recorded `n` calls of `key`'s consumer; returns the usage document.
pub async fn wait_requests(gw: &Gateway, key: &str, n: u64) -> serde_json::Value {
    for _ in 0..100 {
        let u = usage(gw, key).await;
        if u["requests"].as_u64().unwrap_or(0) >= n {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    usage(gw, key).await
}

/// The gateway's own database (SQLite under its data directory), to read what it
/// recorded: call records, the credit ledger.
pub async fn open_store(gw: &Gateway) -> tollgate_store::Store {
    let data = gw.path().join("tollgate-data");
    let cipher =
        tollgate_store::SecretCipher::load_or_create_with(&data, None).expect("master key");
    let db = format!("sqlite://{}", data.join("tollgate.db").display());
    tollgate_store::Store::connect(&db, cipher)
        .await
        .expect("store")
}

/// A fresh, empty PostgreSQL schema on the machine's server (127.0.0.1:5432, database
/// `test`), named `{prefix}_{pid}`; returns the database URL that uses it. Dropped by
/// [`drop_pg_schema`].
pub fn fresh_pg_schema(prefix: &str) -> String {
    let schema = format!("{prefix}_{}", std::process::id());
    psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ));
    format!("postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D{schema}")
}

/// Drops the schema of a URL made by [`fresh_pg_schema`].
pub fn drop_pg_schema(url: &str) {
    if let Some(schema) = url.rsplit("search_path%3D").next() {
        psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

/// Runs SQL on the machine's PostgreSQL with `psql`, failing the test on an error.
pub fn psql(sql: &str) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test"])
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs (PostgreSQL client installed)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The gateway's database when it is `url` (PostgreSQL), with the gateway's own master
/// key from its data directory.
pub async fn open_store_at(gw: &Gateway, url: &str) -> tollgate_store::Store {
    let cipher =
        tollgate_store::SecretCipher::load_or_create_with(&gw.path().join("tollgate-data"), None)
            .expect("master key");
    tollgate_store::Store::connect(url, cipher)
        .await
        .expect("store")
}

/// The call record of request `id`, once the batch writer has stored it (within 10 s).
pub async fn record(store: &tollgate_store::Store, id: &str) -> tollgate_store::CallRecord {
    for _ in 0..100 {
        if let Some(r) = store.get_call(id).await.expect("read") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no call record for {id}");
}

/// An answer's status, headers and body (JSON, or the text as a JSON string).
pub async fn json_of(
    res: reqwest::Response,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, headers, body)
}

/// An error answer's `error.code` ("" when there is none).
pub fn code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
