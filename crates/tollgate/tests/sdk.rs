//! The official OpenAI and Anthropic Python SDKs, pointed at the real binary, reach every
//! provider kind (openai, openai_compatible, anthropic, gemini, mistral, ollama,
//! azure_openai) on the strict mock: chat, streams, tool-call round trips, the OpenAI
//! SDK's Responses API (`client.responses.create`, `.parse`, `.stream`, `.retrieve`,
//! `.delete`, `previous_response_id`), errors and the model lists. The checks themselves are in `tests/sdk/check_sdks.py`.
//!
//! The SDKs live in a virtualenv under the cargo target dir (`target/sdk-venv`), made on
//! first use with `python3 -m venv` and `pip install` of the pinned versions below, and
//! reused afterwards (remade when the pins change). Python 3 and PyPI are requirements
//! of this test: when they are missing it fails, it does not skip.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The SDK versions the gateway is checked against.
const REQUIREMENTS: &[&str] = &["openai==3.57.0", "anthropic==2.13.0"];

/// How long the script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// (gateway model, provider, target model): one model per provider kind.
const MODELS: &[(&str, &str, &str)] = &[
    ("via-openai", "mock-openai", "gpt-4o-mini"),
    ("via-openai-compatible", "mock-compat", "llama-3"),
    ("via-anthropic", "mock-anthropic", "claude-3-5-haiku"),
    ("via-gemini", "mock-gemini", "gemini-2.0-flash"),
    ("via-mistral", "mock-mistral", "mistral-small-latest"),
    ("via-ollama", "mock-ollama", "llama3.2"),
    ("via-azure-openai", "mock-azure", "my-gpt4o"),
];

fn config(mock: &MockProvider) -> String {
    let mut models = String::new();
    for (name, provider, target) in MODELS {
        models.push_str(&format!(
            "  - name: {name}\n    targets: [{{provider: {provider}, model: \"{target}\"}}]\n    max_output_tokens: 1024\n    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}\n"
        ));
    }
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
    api_keys: ["sk-openai"]
  - name: mock-compat
    kind: openai_compatible
    base_url: {openai}
    api_keys: ["sk-compat"]
  - name: mock-anthropic
    kind: anthropic
    base_url: {anthropic}
    api_keys: ["sk-ant-mock"]
  - name: mock-gemini
    kind: gemini
    base_url: {gemini}
    api_keys: ["gem-key"]
  - name: mock-mistral
    kind: mistral
    base_url: {mistral}
    api_keys: ["mi-key"]
  - name: mock-ollama
    kind: ollama
    base_url: {ollama}
  - name: mock-azure
    kind: azure_openai
    base_url: {azure}
    api_version: "2024-10-21"
    api_keys: ["az-key"]
models:
{models}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
"#,
        openai = mock.openai_base_url(),
        anthropic = mock.anthropic_base_url(),
        gemini = mock.gemini_base_url(),
        mistral = mock.mistral_base_url(),
        ollama = mock.ollama_base_url(),
        azure = mock.azure_base_url(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_reach_every_provider_kind() {
    // Blocking, before anything runs on the runtime.
    let venv = python::ensure_venv("sdk-venv", REQUIREMENTS);

    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/check_sdks.py");

    let mut cmd = Command::new(python::venv_bin(&venv, "python"));
    cmd.arg("-u")
        .arg(&script)
        .arg("--gateway")
        .arg(&gw.url)
        .arg("--key")
        .arg(KEY_A)
        .args(MODELS.iter().map(|(name, _, _)| *name))
        // The SDKs read their base URL, keys and extra headers from the environment:
        // only the arguments count here. The gateway is local: no proxy.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("OPENAI_") || k.starts_with("ANTHROPIC_") || k.starts_with("AZURE_OPENAI")
        {
            cmd.env_remove(k);
        }
    }

    let started = Instant::now();
    let (out, timed_out) =
        tokio::task::spawn_blocking(move || python::run_with_timeout(&mut cmd, SCRIPT_TIMEOUT))
            .await
            .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let took = started.elapsed();
    assert!(
        !timed_out,
        "check_sdks.py did not finish within {SCRIPT_TIMEOUT:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        out.status.success(),
        "check_sdks.py failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    // Shown with --nocapture.
    println!("{stdout}sdk checks took {took:.1?}");
    drop(gw);
}
