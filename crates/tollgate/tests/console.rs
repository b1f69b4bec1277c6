//! The web console (PRODUCT.md, "Console") on the real binary.
//!
//! - `console_in_a_browser`: headless Debian Chromium (`/usr/bin/chromium`, installed by
//!   `scripts/chromium.sh`) driven by Playwright (the Python package, in
//!   `target/console-venv`, never `playwright install`) runs
//!   `tests/console/check_console.py` against a fresh install and the mock provider:
//!   login, the first-run path, a key made in the UI used on the gateway, every page,
//!   approving a subscription, CSRF, a viewer's rights, session end. Any browser
//!   console error fails it. Screenshots go to `target/console-screenshots/`, and to
//!   `docs/screenshots/` when `TOLLGATE_UPDATE_SCREENSHOTS=1`.
//! - the other tests check the server's side without a browser: the CSRF rule, the
//!   page's headers and caching, `GET /admin/v1/session`, logout.
//!
//! Chromium and Python are requirements of this test: when they are missing it fails,
//! it does not skip.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Playwright drives the system Chromium through CDP; no browser is downloaded.
const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(480);
const PASSWORD: &str = "console-admin-password";

/// A fresh install: no provider, model or consumer (the console's first-run path).
fn bare_config() -> String {
    format!(
        "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  admin_token: {ADMIN_TOKEN}\n"
    )
}

fn start_bare() -> Gateway {
    Gateway::start_with_env(&bare_config(), &[("TOLLGATE_ADMIN_PASSWORD", PASSWORD)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/chromium.sh (Debian's chromium package)"
    );
    // Blocking, before anything runs on the runtime.
    let venv = python::ensure_venv("console-venv", python::BROWSER_REQUIREMENTS);
    let mock = MockProvider::start().await.expect("mock");
    let gw = start_bare();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map_or_else(
        || PathBuf::from("console-screenshots"),
        |t| t.join("console-screenshots"),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/check_console.py");

    let mut cmd = Command::new(python::venv_bin(&venv, "python"));
    cmd.arg("-u")
        .arg(&script)
        .args(["--admin", &gw.admin_url, "--gateway", &gw.url])
        .args(["--token", ADMIN_TOKEN, "--password", PASSWORD])
        .args(["--mock-openai", &mock.openai_base_url()])
        .arg("--screenshots")
        .arg(&shots)
        .args(["--chromium", CHROMIUM])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // Playwright must use the system browser only.
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let started = Instant::now();
    let (out, timed_out) =
        tokio::task::spawn_blocking(move || python::run_with_timeout(&mut cmd, SCRIPT_TIMEOUT))
            .await
            .expect("run the console script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !timed_out,
        "check_console.py did not finish within {SCRIPT_TIMEOUT:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        out.status.success() && stdout.contains("console checks passed"),
        "check_console.py failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}console checks took {:.1?}", started.elapsed());
    if std::env::var_os("TOLLGATE_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = repo_root().join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("docs/screenshots");
        for entry in std::fs::read_dir(&shots).expect("screenshots") {
            let path = entry.expect("entry").path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, docs.join(name)).expect("copy a screenshot");
            }
        }
    }
    drop(gw);
}

/// Logs in as `username` and answers (session token, CSRF token).
async fn login(gw: &Gateway, username: &str, password: &str) -> (String, String) {
    let res = client()
        .post(gw.admin("/admin/v1/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let v: Value = res.json().await.expect("json");
    (
        v["token"].as_str().expect("token").to_string(),
        v["csrf_token"].as_str().expect("csrf_token").to_string(),
    )
}

/// Sends a request: status and JSON body.
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let (s, _, body) = json_of(req.send().await.expect("send")).await;
    (s, body)
}

async fn cookie_post(
    gw: &Gateway,
    path: &str,
    session: &str,
    csrf: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = client()
        .post(gw.admin(path))
        .header("cookie", format!("tollgate_session={session}"))
        .json(&json!({"name": "t-csrf"}));
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    let res = req.send().await.expect("send");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Writes with the session cookie need the session's CSRF token; reads and bearer
/// requests do not; a token of another session does not do.
#[tokio::test]
async fn cookie_writes_need_the_csrf_token() {
    let gw = start_bare();
    let (session, csrf) = login(&gw, "admin", PASSWORD).await;
    let (other_session, other_csrf) = login(&gw, "admin", PASSWORD).await;
    assert_ne!(csrf, other_csrf);

    let (s, body) = cookie_post(&gw, "/admin/v1/teams", &session, None).await;
    assert_eq!((s.as_u16(), code(&body)), (403, "csrf_failed"), "{body}");
    let (s, body) = cookie_post(&gw, "/admin/v1/teams", &session, Some("nope")).await;
    assert_eq!((s.as_u16(), code(&body)), (403, "csrf_failed"), "{body}");
    let (s, body) = cookie_post(&gw, "/admin/v1/teams", &session, Some(&other_csrf)).await;
    assert_eq!((s.as_u16(), code(&body)), (403, "csrf_failed"), "{body}");
    let (s, _) = admin_get(&gw, "/admin/v1/teams/t-csrf").await;
    assert_eq!(s, 404, "a refused write changes nothing");

    let (s, body) = cookie_post(&gw, "/admin/v1/teams", &session, Some(&csrf)).await;
    assert_eq!(s.as_u16(), 201, "{body}");

    // Reads with the cookie alone are fine.
    let res = client()
        .get(gw.admin("/admin/v1/teams"))
        .header("cookie", format!("tollgate_session={session}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    // A bearer request needs no CSRF token (a browser never adds one by itself), even
    // with a cookie alongside.
    let res = client()
        .post(gw.admin("/admin/v1/teams"))
        .bearer_auth(&other_session)
        .header("cookie", format!("tollgate_session={session}"))
        .json(&json!({"name": "t-bearer"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    // The portal's writes follow the same rule (a cookie-only logout is refused).
    let (s, body) = cookie_post(&gw, "/portal/v1/logout", &session, None).await;
    assert_eq!(s.as_u16(), 403, "{body}");

    // Logout with the cookie needs the token too, and ends the session.
    let (s, _) = cookie_post(&gw, "/admin/v1/logout", &session, None).await;
    assert_eq!(s.as_u16(), 403);
    let (s, _) = cookie_post(&gw, "/admin/v1/logout", &session, Some(&csrf)).await;
    assert_eq!(s.as_u16(), 204);
    let res = client()
        .get(gw.admin("/admin/v1/session"))
        .header("cookie", format!("tollgate_session={session}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401, "the session is gone after logout");
}

/// `GET /admin/v1/session`: who is signed in, their role, the CSRF token and the
/// gateway's address; a viewer's session reads it but cannot write.
#[tokio::test]
async fn session_document_and_roles() {
    let gw = start_bare();
    let (s, body) = send(
        client()
            .post(gw.admin("/admin/v1/users"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"username": "watcher", "password": "watcher-pass", "role": "viewer"})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (session, csrf) = login(&gw, "watcher", "watcher-pass").await;
    let (s, me) = send(
        client()
            .get(gw.admin("/admin/v1/session"))
            .header("cookie", format!("tollgate_session={session}")),
    )
    .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["username"], "watcher");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["csrf_token"], csrf.as_str());
    assert_eq!(me["gateway_url"], gw.url.as_str());
    // The viewer's write, even with the right CSRF token, is refused by role.
    let (s, body) = cookie_post(&gw, "/admin/v1/teams", &session, Some(&csrf)).await;
    assert_eq!((s.as_u16(), code(&body)), (403, "forbidden"), "{body}");
    // The admin token is a caller too (no user).
    let (s, me) = send(
        client()
            .get(gw.admin("/admin/v1/session"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(
        (s, me["role"].as_str(), &me["username"]),
        (200, Some("admin"), &Value::Null)
    );
    let (s, _) = send(client().get(gw.admin("/admin/v1/session"))).await;
    assert_eq!(s, 401);
}

/// A login posted from another origin's page is refused (login CSRF); one from the
/// console's own origin, or from a script (no `Origin`), is not.
#[tokio::test]
async fn logins_from_another_origin_are_refused() {
    let gw = start_bare();
    let body = json!({"username": "admin", "password": PASSWORD});
    for path in ["/admin/v1/login", "/portal/v1/login"] {
        for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
            let (s, answer) = send(
                client()
                    .post(gw.admin(path))
                    .header("origin", origin)
                    .json(&body),
            )
            .await;
            assert_eq!(
                (s, code(&answer)),
                (403, "forbidden"),
                "{path} from {origin}: {answer}"
            );
        }
    }
    let own = gw.admin_url.clone();
    let (s, answer) = send(
        client()
            .post(gw.admin("/admin/v1/login"))
            .header("origin", own)
            .json(&body),
    )
    .await;
    assert_eq!(s, 200, "{answer}");
    let (s, answer) = send(client().post(gw.admin("/admin/v1/login")).json(&body)).await;
    assert_eq!(s, 200, "{answer}");
}

/// The console's page and files: a strict CSP, no inline script, ETag revalidation,
/// and nothing but the embedded files under `/console/`.
#[tokio::test]
async fn console_files_are_served_with_csp_and_etags() {
    let gw = start_bare();
    let res = client().get(gw.admin("/")).send().await.expect("send");
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let etag = h["etag"].to_str().expect("etag").to_string();
    let html = res.text().await.expect("html");
    assert!(
        html.contains("/console/app.js") && html.len() < 4096,
        "{html}"
    );
    let res = client()
        .get(gw.admin("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 304);

    for (path, kind) in [
        ("/console/app.js", "text/javascript"),
        ("/console/console.css", "text/css"),
        ("/console/pages/home.js", "text/javascript"),
        ("/console/vendor/uplot/uPlot.esm.js", "text/javascript"),
    ] {
        let res = client().get(gw.admin(path)).send().await.expect("send");
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with(kind)),
            "{path}"
        );
        assert!(res.headers().contains_key("etag"), "{path}");
    }
    for path in [
        "/console/../Cargo.toml",
        "/console/%2e%2e/build.rs",
        "/console/nope.js",
        "/console/",
    ] {
        let res = client().get(gw.admin(path)).send().await.expect("send");
        assert_eq!(res.status(), 404, "{path}");
    }
}
