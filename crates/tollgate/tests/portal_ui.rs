//! The developer portal's web pages (`/portal/`) in a real browser: Debian's headless
//! Chromium, driven by Playwright for Python from a virtualenv under the target
//! directory (`target/console-venv`, shared with the console's test). The steps and their checks
//! are in `tests/browser/portal.py`; this file starts the binary against the mock,
//! imports a service from an OpenAPI document, makes the developer user, and runs
//! the script.
//!
//! Screenshots go to `target/portal-screenshots/`, or to `docs/screenshots/` with
//! `TOLLGATE_UPDATE_SCREENSHOTS=1`. Chromium (`/usr/bin/chromium`, or
//! `$TOLLGATE_CHROMIUM`) and PyPI are requirements: when missing the test fails.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

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
  - name: claude-mock
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
  - name: not-for-team-a
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
consumers:
  - name: team-a
    models: [gpt-mock, claude-mock]
services:
  - name: billing
    path_prefix: /svc/billing
    description: Invoices and payments
    subscription: {{approval: manual}}
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
    routes:
      - name: invoice
        methods: [GET]
        path: "/invoices/{{id}}"
        docs:
          summary: One invoice
          parameters: [{{name: id, in: path, required: true, schema: {{type: string}}}}]
  - name: unpublished
    path_prefix: /svc/unpublished
    lifecycle: draft
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
prompt_apis:
  - name: summarize
    path: /prompt/summarize
    model: gpt-mock
    description: Summarizes a text
    messages: [{{role: user, content: "Summarize: {{{{text}}}}"}}]
    variables: [{{name: text, required: true}}, {{name: tone, default: plain}}]
    max_tokens: 50
    subscription: {{approval: auto}}
"#,
        openai = mock.openai_base_url(),
    )
}

/// A pet store with what a renderer must cope with: tags, shared parameters, `$ref`s,
/// an enum, a recursive schema, and HTML in a description (to be shown as text).
fn pets_document(mock: &MockProvider) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Pet store", "version": "1.4",
                 "description": "Pet store <img src=x onerror=alert(1)> for the portal test"},
        "name": "pets",
        "path_prefix": "/svc/pets",
        "upstream": {"nodes": [{"url": mock.openai_base_url()}]},
        "paths": {
            "/pets": {
                "post": {
                    "operationId": "createPet", "tags": ["pets"], "summary": "Add a pet",
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewPet"}}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Pet"}}}}}
                }
            },
            "/pets/{petId}": {
                "parameters": [{"name": "petId", "in": "path", "required": true,
                                "description": "The pet's id", "schema": {"type": "integer", "format": "int64"}}],
                "get": {
                    "operationId": "showPet", "tags": ["pets"], "summary": "One pet",
                    "parameters": [{"name": "fields", "in": "query", "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"description": "The pet", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Pet"}}}},
                        "404": {"description": "No such pet"}
                    }
                }
            },
            "/health": {"get": {"operationId": "health", "responses": {"200": {"description": "Up"}}}}
        },
        "components": {"schemas": {
            "NewPet": {"type": "object", "required": ["name", "kind"], "properties": {
                "name": {"type": "string", "maxLength": 100},
                "kind": {"type": "string", "enum": ["dog", "cat"]},
                "tag": {"type": "string", "nullable": true}}},
            "Pet": {"allOf": [{"$ref": "#/components/schemas/NewPet"}, {"type": "object",
                "required": ["id"], "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "parent": {"$ref": "#/components/schemas/Pet"}}}]}
        }}
    })
}

async fn admin_call(gw: &Gateway, method: reqwest::Method, path: &str, body: Value) -> Value {
    let res = client()
        .request(method, gw.admin(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_developer_uses_the_portal_in_a_browser() {
    let venv = common::python::ensure_venv("console-venv", common::python::BROWSER_REQUIREMENTS);
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));

    // The imported service takes subscriptions automatically.
    admin_call(
        &gw,
        reqwest::Method::POST,
        "/admin/v1/services/import",
        pets_document(&mock),
    )
    .await;
    let mut pets = admin_call(
        &gw,
        reqwest::Method::GET,
        "/admin/v1/services/pets",
        Value::Null,
    )
    .await;
    let spec = pets.as_object_mut().expect("service");
    for bookkeeping in ["source", "created_at", "updated_at"] {
        spec.remove(bookkeeping);
    }
    spec.insert("subscription".into(), json!({"approval": "auto"}));
    admin_call(&gw, reqwest::Method::PUT, "/admin/v1/services/pets", pets).await;
    admin_call(
        &gw,
        reqwest::Method::POST,
        "/admin/v1/users",
        json!({"username": "ana", "password": "a long passphrase", "role": "developer", "consumer": "team-a"}),
    )
    .await;

    let screenshots = if std::env::var_os("TOLLGATE_UPDATE_SCREENSHOTS").is_some() {
        repo_root().join("docs/screenshots")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots")
    };
    let script = repo_root().join("crates/tollgate/tests/browser/portal.py");
    let mut cmd = Command::new(common::python::venv_bin(&venv, "python"));
    cmd.arg(&script)
        .env("ADMIN_URL", &gw.admin_url)
        .env("GATEWAY_URL", &gw.url)
        .env("PORTAL_USER", "ana")
        .env("PORTAL_PASSWORD", "a long passphrase")
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TOLLGATE_SCREENSHOTS", &screenshots)
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
        screenshots.display()
    );
    assert!(stdout.contains("browser checks passed"), "{stdout}");
}

/// The pages themselves: served with their types and a strict policy, every asset the
/// shell names is there, and unknown assets are the admin API's 404.
#[tokio::test]
async fn the_portal_pages_are_served_embedded_and_locked_down() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let res = client()
        .get(gw.admin("/portal/"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );
    let html = res.text().await.expect("html");
    for (asset, url) in [
        ("assets/app.js", "/portal/assets/app.js"),
        ("assets/portal.css", "/portal/assets/portal.css"),
        (
            "/console/vendor/uplot/uPlot.min.css",
            "/console/vendor/uplot/uPlot.min.css",
        ),
    ] {
        assert!(html.contains(asset), "{asset}");
        let res = client().get(gw.admin(url)).send().await.expect("send");
        assert_eq!(res.status(), 200, "{asset}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        // Revalidated by its ETag, like the console's files.
        let etag = res.headers()["etag"].clone();
        let again = client()
            .get(gw.admin(url))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("send");
        assert_eq!(again.status(), 304, "{asset}");
    }
    let js = client()
        .get(gw.admin("/portal/assets/pages/keys.js"))
        .send()
        .await
        .expect("send");
    assert!(
        js.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/javascript")
    );
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(gw.admin("/portal"))
        .send()
        .await
        .expect("send");
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/portal/");
    for bad in [
        "/portal/assets/nope.js",
        "/portal/assets/../src/lib.rs",
        "/portal/assets/%2e%2e/Cargo.toml",
        "/portal/assets/",
    ] {
        let (status, body) = admin_get(&gw, bad).await;
        assert_eq!(status, 404, "{bad}: {body}");
        assert!(
            body.contains("\"error\""),
            "{bad}: the API's envelope: {body}"
        );
    }
}
