//! Python tools for tests (the official SDKs, schemathesis): one virtualenv per tool
//! under the target directory, created from PyPI on first use and reused until its
//! pinned requirements change; commands run with a time limit.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Playwright's Python package, for the browser tests (console and portal): they share
/// one virtualenv (`target/console-venv`) and drive Debian's Chromium, never a
/// downloaded browser.
pub const BROWSER_REQUIREMENTS: &[&str] = &["playwright==1.49.1"];

fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// A program of the virtualenv (`python`, `schemathesis`, ...).
pub fn venv_bin(venv: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join(format!("{name}.exe"))
    } else {
        venv.join("bin").join(name)
    }
}

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

/// `target/{name}` with exactly `requirements` installed. Blocking: call it before
/// anything runs on the test's runtime. A file lock keeps concurrent test binaries
/// from building the same virtualenv twice.
pub fn ensure_venv(name: &str, requirements: &[&str]) -> PathBuf {
    let target = target_dir();
    fs::create_dir_all(&target).expect("create target dir");
    let venv = target.join(name);
    let marker = venv.join("tollgate-requirements.txt");
    let wanted = requirements.join("\n");

    let lock = File::create(target.join(format!("{name}.lock"))).expect("create the venv lock");
    lock.lock().expect("lock the venv lock");
    let ready = fs::read_to_string(&marker).is_ok_and(|s| s == wanted)
        && venv_bin(&venv, "python").exists();
    if !ready {
        eprintln!("creating {} with {requirements:?}", venv.display());
        if venv.exists() {
            fs::remove_dir_all(&venv).expect("remove the stale venv");
        }
        run_setup(
            "python3 -m venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        );
        run_setup(
            "pip install",
            Command::new(venv_bin(&venv, "python"))
                .args(["-m", "pip", "install", "--quiet"])
                .args(["--disable-pip-version-check", "--no-input"])
                .args(requirements),
        );
        fs::write(&marker, &wanted).expect("write the venv marker");
    }
    drop(lock);
    venv
}

/// Runs `cmd` to completion, killing it after `limit`; the output and whether it was
/// killed.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> (Output, bool) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
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
        if let Some(s) = child.try_wait().expect("wait for the command") {
            break s;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed command");
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
