//! Schemathesis against the admin API of the real binary: every operation of
//! `/admin/v1/openapi.json`, all checks (`--checks all`: status codes, content types,
//! response schemas, schema-valid data accepted, schema-invalid data rejected, auth
//! ignored, use after free, ...), the examples, coverage, fuzzing and stateful phases
//! (the stateful one follows the document's OpenAPI links). Any failure fails the test.
//!
//! Schemathesis lives in a virtualenv under the cargo target dir
//! (`target/schemathesis-venv`), made on first use with `python3 -m venv` and `pip
//! install` of the pinned version below, and reused afterwards (remade when the pin
//! changes), as the SDK test does. Python 3 and PyPI are requirements of this test:
//! when they are missing it fails, it does not skip. Its configuration (the few
//! operations whose validity a JSON Schema cannot express) is
//! `tests/schemathesis/schemathesis.toml`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The schemathesis version the admin API is checked with.
const REQUIREMENTS: &[&str] = &["schemathesis==4.32.5"];

/// Test cases per operation and phase: enough to find the bugs the document hides,
/// few enough for CI on two cores.
const MAX_EXAMPLES: &str = "20";

/// Fixed, so a failure is reproducible.
const SEED: &str = "1";

/// How long the run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Resources of every kind, so the reads and the stateful phase start from something.
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
teams:
  - name: platform
    budget: {{usd: 100, period: monthly}}
consumers:
  - name: team-a
    team: platform
    api_keys: ["{KEY_A}"]
    credits_usd: 5
services:
  - name: weather
    path_prefix: /svc/weather
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
    routes:
      - name: forecast
        methods: [GET]
        path: "/forecast/{{city}}"
        docs:
          summary: A forecast
          parameters: [{{name: city, in: path, required: true, schema: {{type: string}}}}]
"#,
        openai = mock.openai_base_url(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_conforms_to_its_openapi_document() {
    // Blocking, before anything runs on the runtime.
    let venv = python::ensure_venv("schemathesis-venv", REQUIREMENTS);

    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let report = tempfile::tempdir().expect("report dir");

    let mut cmd = Command::new(python::venv_bin(&venv, "schemathesis"));
    cmd.arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("--no-color")
        .arg("run")
        .arg(gw.admin("/admin/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--workers", "1"])
        // Timing is not under test (and debug builds hash passwords slowly on shared
        // cores): the response-time check `--checks all` includes only catches hangs.
        .args(["--request-timeout", "120", "--max-response-time", "120"])
        .arg("--report-dir")
        .arg(report.path())
        // The gateway is local: no proxy. No analytics from a test.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(report.path());

    let started = Instant::now();
    let (out, timed_out) =
        tokio::task::spawn_blocking(move || python::run_with_timeout(&mut cmd, RUN_TIMEOUT))
            .await
            .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let took = started.elapsed();
    assert!(
        !timed_out,
        "schemathesis did not finish within {RUN_TIMEOUT:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        out.status.success(),
        "schemathesis found failures ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // Nothing failed, and every operation of the document was tested.
    assert!(!stdout.contains("Failures:"), "{stdout}");
    let figure = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{stdout}"))
    };
    let selected = figure("Selected:");
    let tested = figure("Tested:");
    let (chosen, total) = selected.split_once('/').expect("Selected: n/m");
    assert_eq!(chosen, total, "every operation selected:\n{stdout}");
    assert_eq!(tested, total, "every operation tested:\n{stdout}");
    // Shown with --nocapture.
    println!("{stdout}schemathesis took {took:.1?}");
    drop(gw);
}
