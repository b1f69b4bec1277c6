//! The official OpenAI and Anthropic Python SDKs, pointed at the real binary, reach every
//! provider kind (openai, openai_compatible, anthropic, gemini, mistral, ollama,
//! azure_openai) on the strict mock: chat, streams, tool-call round trips, errors and
//! the model lists. The checks themselves are in `tests/sdk/check_sdks.py`.
//!
//! The SDKs live in a virtualenv under the cargo target dir (`target/sdk-venv`), made on
//! first use with `python3 -m venv` and `pip install` of the pinned versions below, and
//! reused afterwards (remade when the pins change). Python 3 and PyPI are requirements
//! of this test: when they are missing it fails, it does not skip.

mod common;

use common::*;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
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

/// The workspace's `target/` (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Runs a setup command; panics with its output when it cannot start or fails.
fn run_setup(what: &str, cmd: &mut Command) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("{what}: could not run {cmd:?}: {e} (this test needs python3 with venv and pip)")
    });
    assert!(
        out.status.success(),
        "{what} failed ({}): {cmd:?}\n--- stdout\n{}\n--- stderr\n{}\nThis test needs python3 (with the venv module and pip) and access to PyPI.",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// The virtualenv with the pinned SDKs: made once, reused while the pins are the same.
/// A lock file serialises its creation across test processes; the marker file holding
/// the pins is written last, so a half-made venv is made again.
fn ensure_venv() -> PathBuf {
    let target = target_dir();
    fs::create_dir_all(&target).expect("create target dir");
    let venv = target.join("sdk-venv");
    let marker = venv.join("tollgate-sdk-requirements.txt");
    let wanted = REQUIREMENTS.join("\n");

    let lock = File::create(target.join("sdk-venv.lock")).expect("create sdk-venv.lock");
    lock.lock().expect("lock sdk-venv.lock");

    let ready =
        fs::read_to_string(&marker).is_ok_and(|s| s == wanted) && venv_python(&venv).exists();
    if !ready {
        eprintln!(
            "sdk test: creating {} with {REQUIREMENTS:?}",
            venv.display()
        );
        if venv.exists() {
            fs::remove_dir_all(&venv).expect("remove the stale sdk-venv");
        }
        run_setup(
            "python3 -m venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        );
        run_setup(
            "pip install",
            Command::new(venv_python(&venv))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                ])
                .args(REQUIREMENTS),
        );
        fs::write(&marker, &wanted).expect("write the sdk-venv marker");
    }
    drop(lock);
    venv
}

/// Runs `cmd` to completion, killing it after `limit`.
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> (Output, bool) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the SDK script");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the SDK script") {
            break s;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed SDK script");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    };
    (out, timed_out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_reach_every_provider_kind() {
    // Blocking, before anything runs on the runtime.
    let venv = ensure_venv();

    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/check_sdks.py");

    let mut cmd = Command::new(venv_python(&venv));
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
        tokio::task::spawn_blocking(move || run_with_timeout(&mut cmd, SCRIPT_TIMEOUT))
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
