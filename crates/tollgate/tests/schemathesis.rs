//! Schemathesis against the admin API of the real binary: every operation of
//! `/admin/v1/openapi.json`, all checks (as `--checks all`, set in the config file: status codes, content types,
//! response schemas, schema-valid data accepted, schema-invalid data rejected, auth
//! ignored, use after free, ...), the examples, coverage, fuzzing and stateful phases
//! (the stateful one follows the document's OpenAPI links). Any failure fails the test.
//!
//! The stateful phase runs on its own, with a HAR report of every request it made, so
//! the test can tell which operations that take a path parameter the links reached
//! with a real resource's id or name (an answer other than 404 or 401): a missing or
//! broken link leaves an operation reachable only with made-up ids. It prints those
//! not reached: which links a run follows varies, so reachability is asserted by a
//! deterministic walk of the links instead ([`every_link_leads_to_a_real_resource`]).
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

/// The seeds of the stateful phase's runs, tried in turn until the runs so far have
/// reached every linked operation.
const STATEFUL_SEEDS: [&str; 3] = ["1", "2", "3"];

/// How long the run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Resources of every kind, several of each, so the reads and the stateful phase start
/// from something (the list operations link to their first item, and a scenario may
/// delete it; `gpt-mock`, the first model, is a fallback and cannot be).
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
  - name: mock-openai-2
    kind: openai
    base_url: {openai}
    api_keys: ["sk-mock-openai-secret-2"]
models:
  - name: gpt-mock
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
  - name: gpt-mock-2
    targets: [{{provider: mock-openai, model: gpt-4o-mini}}]
    fallbacks: [gpt-mock]
  - name: gpt-mock-3
    targets: [{{provider: mock-openai-2, model: gpt-4o-mini}}]
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
  - name: billing
    path_prefix: /svc/billing
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
    subscription: {{approval: manual}}
  - name: search
    path_prefix: /svc/search
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
  - name: shipping
    path_prefix: /svc/shipping
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
  - name: stock
    path_prefix: /svc/stock
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
  - name: tickets
    path_prefix: /svc/tickets
    upstream: {{nodes: [{{url: "http://127.0.0.1:9"}}]}}
prompt_apis:
  - name: summarize
    path: /prompt/summarize
    model: gpt-mock
    messages: [{{role: user, content: "Summarize: {{{{ text }}}}"}}]
    variables: [{{name: text, required: true}}]
    max_tokens: 100
  - name: translate
    path: /prompt/translate
    model: gpt-mock-2
    messages: [{{role: user, content: "Translate: {{{{ text }}}}"}}]
    variables: [{{name: text, required: true}}]
    max_tokens: 100
    lifecycle: draft
alerts:
  - name: ops
    webhook: "http://127.0.0.1:9/hook/token?k=v"
    secret: s3cret
  - name: oncall
    webhook: "http://127.0.0.1:9/oncall"
masking:
  - name: pii
    detectors: [email, phone]
  - name: falcon
    applies_to: {{services: [weather]}}
    keywords: ["Project Falcon"]
    action: block
"#,
        openai = mock.openai_base_url(),
    )
}

/// A credential and a subscription of the first consumer, so their item operations
/// have something to link to.
async fn make_access(gw: &Gateway) {
    let c = client();
    let consumers = admin_json(gw, "/admin/v1/consumers").await;
    let first = consumers[0]["name"].as_str().expect("a consumer");
    let r = c
        .post(gw.admin(&format!("/admin/v1/consumers/{first}/credentials")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"type": "basic", "username": "walker", "password": "walker-password-1"}))
        .send()
        .await
        .expect("credential");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let r = c
        .post(gw.admin("/admin/v1/subscriptions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"consumer": first, "service": "billing"}))
        .send()
        .await
        .expect("subscription");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// A release of the first service listed (the one the list's links name), so the
/// release operations have something to link to.
async fn make_release(gw: &Gateway) {
    let services = admin_json(gw, "/admin/v1/services").await;
    let first = services[0]["name"].as_str().expect("a service");
    let r = client()
        .post(gw.admin(&format!("/admin/v1/services/{first}/releases")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"version": "v1", "notes": "first"}))
        .send()
        .await
        .expect("release");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// Call records to read: a success and a 401.
async fn make_calls(gw: &Gateway) {
    let c = client();
    let ok = c
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&serde_json::json!({"model": "gpt-mock", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("chat");
    assert_eq!(ok.status(), 200);
    let refused = c
        .post(gw.gw("/v1/chat/completions"))
        .json(&serde_json::json!({"model": "gpt-mock", "messages": []}))
        .send()
        .await
        .expect("chat");
    assert_eq!(refused.status(), 401);
    // Records are written in batches off the request path.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page: serde_json::Value = c
            .get(gw.admin("/admin/v1/calls"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("calls")
            .json()
            .await
            .expect("calls json");
        if page["data"].as_array().is_some_and(|d| d.len() >= 2) {
            return;
        }
        assert!(Instant::now() < deadline, "no call records: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One schemathesis run of `phases` over the admin API; panics on any failure, else
/// returns its output. With `har`, every request and answer goes to a HAR file there.
async fn run_schemathesis(
    venv: &Path,
    gw: &Gateway,
    phases: &str,
    seed: &str,
    report: &Path,
    har: bool,
) -> String {
    let target = Target {
        document: "/admin/v1/openapi.json",
        token: ADMIN_TOKEN,
        exclude_paths: &[],
    };
    run_schemathesis_on(venv, gw, &target, phases, seed, report, har).await
}

/// Which API a run checks, and as whom.
struct Target<'a> {
    document: &'a str,
    token: &'a str,
    /// Operations not to call (by path): a logout would end the run's own session.
    exclude_paths: &'a [&'a str],
}

async fn run_schemathesis_on(
    venv: &Path,
    gw: &Gateway,
    target: &Target<'_>,
    phases: &str,
    seed: &str,
    report: &Path,
    har: bool,
) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let mut cmd = Command::new(python::venv_bin(venv, "schemathesis"));
    cmd.arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("--no-color")
        .arg("run")
        .arg(gw.admin(target.document))
        .args(["-H", &format!("Authorization: Bearer {}", target.token)])
        // Every check: `[checks] enabled = true` in the config file.
        .args(["--phases", phases])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", seed])
        .args(["--workers", "1"])
        // Timing is not under test (and debug builds hash passwords slowly on shared
        // cores): the response-time check `--checks all` includes only catches hangs.
        .args(["--request-timeout", "120", "--max-response-time", "120"])
        .arg("--report-dir")
        .arg(report)
        // The gateway is local: no proxy. No analytics from a test.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(report);
    if har {
        cmd.args(["--report", "har"]);
    }
    for path in target.exclude_paths {
        cmd.args(["--exclude-path", path]);
    }
    let started = Instant::now();
    let (out, timed_out) =
        tokio::task::spawn_blocking(move || python::run_with_timeout(&mut cmd, RUN_TIMEOUT))
            .await
            .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
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
    assert!(!stdout.contains("Failures:"), "{stdout}");
    // Shown with --nocapture.
    println!("{stdout}schemathesis ({phases}) took {took:.1?}");
    stdout
}

/// A figure of the run's summary (`Selected: 50/50`).
fn figure(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no `{label}` in the summary:\n{stdout}"))
}

/// Whether a request path matches a document path template (`{x}` is one segment).
fn path_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// The operations with a path parameter that no request of the HAR entries reached with
/// a real resource: every answer was 404 (or 401, the check that drops the token).
fn unreached(document: &serde_json::Value, har_entries: &[serde_json::Value]) -> Vec<String> {
    let mut answers: Vec<(String, String, u64)> = Vec::new();
    for e in har_entries {
        let method = e["request"]["method"].as_str().unwrap_or_default();
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let status = e["response"]["status"].as_u64().unwrap_or(0);
        answers.push((method.to_ascii_uppercase(), path.to_string(), status));
    }
    let paths = document["paths"].as_object().expect("paths");
    let mut out = Vec::new();
    for (template, item) in paths {
        if !template.contains('{') {
            continue;
        }
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            // A literal sibling (`/calls/export` beside `/calls/{id}`) wins the match.
            let literal = |p: &str| {
                paths
                    .keys()
                    .any(|k| !k.contains('{') && k == p && paths[k].get(method).is_some())
            };
            let reached = answers.iter().any(|(m, p, s)| {
                m.eq_ignore_ascii_case(method)
                    && path_matches(template, p)
                    && !literal(p)
                    && !matches!(s, 401 | 404)
            });
            if !reached {
                out.push(format!("{} {template}", method.to_ascii_uppercase()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_conforms_to_its_openapi_document() {
    // Blocking, before anything runs on the runtime.
    let venv = python::ensure_venv("schemathesis-venv", REQUIREMENTS);

    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    make_calls(&gw).await;
    make_release(&gw).await;
    make_access(&gw).await;
    let document: serde_json::Value = client()
        .get(gw.admin("/admin/v1/openapi.json"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("document json");

    // First the operations chained by the document's links, from the resources the
    // config made (the other phases' fuzzing may delete them). One run stops after
    // about 20 scenarios of up to 30 steps, each following random links (and a list
    // of calls with random filters is often empty); runs with the next fixed seed
    // until every linked operation was reached, or all seeds are spent. Any check
    // failing in any run fails the test; what no run reached is reported, not
    // asserted: which links hypothesis follows is not stable enough for CI (the walk
    // below asserts that every link leads somewhere real; see docs/admin-api.md).
    let mut har_entries: Vec<serde_json::Value> = Vec::new();
    let mut missed = Vec::new();
    for seed in STATEFUL_SEEDS {
        let stateful = tempfile::tempdir().expect("report dir");
        run_schemathesis(&venv, &gw, "stateful", seed, stateful.path(), true).await;
        let har_file = std::fs::read_dir(stateful.path())
            .expect("report dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("a HAR report");
        let har: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&har_file).expect("read HAR")).expect("HAR json");
        har_entries.extend(
            har["log"]["entries"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        missed = unreached(&document, &har_entries);
        if missed.is_empty() {
            break;
        }
        println!("after the stateful run with seed {seed}, not reached yet: {missed:?}");
    }
    println!("the stateful phase reached no real resource of: {missed:#?}");

    // Then every operation on its own: examples, coverage, fuzzing.
    let report = tempfile::tempdir().expect("report dir");
    let stdout = run_schemathesis(
        &venv,
        &gw,
        "examples,coverage,fuzzing",
        SEED,
        report.path(),
        false,
    )
    .await;
    let selected = figure(&stdout, "Selected:");
    let (chosen, total) = selected.split_once('/').expect("Selected: n/m");
    assert_eq!(chosen, total, "every operation selected:\n{stdout}");
    assert_eq!(
        figure(&stdout, "Tested:"),
        total,
        "every operation tested:\n{stdout}"
    );
    drop(gw);
}

/// An operation of the document: method, path template, the operation object.
struct Operation<'a> {
    method: &'static str,
    template: &'a str,
    op: &'a serde_json::Value,
}

fn operations(document: &serde_json::Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if let Some(op) = item.get(method) {
                ops.push(Operation {
                    method,
                    template,
                    op,
                });
            }
        }
    }
    ops
}

/// A path template with its parameters filled in, or None when one is missing.
fn fill(template: &str, params: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let mut out = Vec::new();
    for seg in template.split('/') {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let v = params.get(name)?;
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                out.push(
                    text.bytes()
                        .map(|b| match b {
                            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                                (b as char).to_string()
                            }
                            _ => format!("%{b:02X}"),
                        })
                        .collect::<String>(),
                );
            }
            None => out.push(seg.to_string()),
        }
    }
    Some(out.join("/"))
}

/// Evaluates a link's runtime expression against a request's path parameters and its
/// answer (the document uses `$response.body#/json/pointer` and `$request.path.NAME`;
/// anything else fails the walk).
fn evaluate(
    expression: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    body: &serde_json::Value,
) -> Option<serde_json::Value> {
    if let Some(name) = expression.strip_prefix("$request.path.") {
        return params.get(name).cloned();
    }
    let pointer = expression
        .strip_prefix("$response.body#")
        .unwrap_or_else(|| panic!("unsupported link expression {expression}"));
    body.pointer(pointer).cloned()
}

/// Follows every OpenAPI link of the admin document from the operations that need no
/// path parameter, with the values real answers give, and checks that each operation
/// taking a path parameter is reached with a resource that exists. Deterministic where
/// schemathesis's stateful phase is random: this proves the links are right; the
/// stateful phase then checks what it does with them.
///
/// A reached GET must answer 2xx. Another method is not sent (it would change what
/// the walk depends on); the resource it names exists when the GET on the same path
/// answers 2xx with the same parameters. An operation with no such GET, no required
/// body and no side effect worth fearing (a release's publish) is sent, and must not
/// answer 401 or 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_leads_to_a_real_resource() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    make_calls(&gw).await;
    make_release(&gw).await;
    make_access(&gw).await;
    let document = admin_json(&gw, "/admin/v1/openapi.json").await;
    let ops = operations(&document);
    let by_id = |id: &str| {
        ops.iter()
            .find(|o| o.op["operationId"] == id)
            .unwrap_or_else(|| panic!("no operation {id}"))
    };
    let c = client();

    // (operationId, parameters) still to visit, and the GET answers seen.
    let mut queue: Vec<(String, serde_json::Map<String, serde_json::Value>)> = ops
        .iter()
        .filter(|o| o.method == "get" && !o.template.contains('{'))
        .map(|o| {
            (
                o.op["operationId"]
                    .as_str()
                    .expect("operationId")
                    .to_string(),
                serde_json::Map::new(),
            )
        })
        .collect();
    let mut visited: std::collections::HashSet<String> = Default::default();
    let mut reached: std::collections::BTreeSet<String> = Default::default();
    let mut refused: Vec<String> = Vec::new();
    while let Some((id, params)) = queue.pop() {
        let op = by_id(&id);
        let Some(path) = fill(op.template, &params) else {
            refused.push(format!(
                "{id}: a link left a path parameter unset ({params:?})"
            ));
            continue;
        };
        if !visited.insert(format!("{} {path}", op.method)) {
            continue;
        }
        let (status, body) = if op.method == "get" {
            let (status, text) = admin_get(&gw, &path).await;
            (
                status,
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            )
        } else {
            // The GET of the same path, or of the resource it acts on
            // (`/services/{name}` for `/services/{name}/lifecycle`).
            let parent = op
                .template
                .rsplit_once('/')
                .filter(|(_, last)| !last.starts_with('{'))
                .map(|(parent, _)| parent);
            let sibling = ops
                .iter()
                .find(|o| o.method == "get" && o.template == op.template)
                .or_else(|| {
                    ops.iter()
                        .find(|o| o.method == "get" && Some(o.template) == parent)
                });
            let needs_body = op.op["requestBody"]["required"] == true;
            match sibling {
                Some(get) => {
                    let Some(at) = fill(get.template, &params) else {
                        refused.push(format!("{id}: {} takes other parameters", get.template));
                        continue;
                    };
                    let (status, _) = admin_get(&gw, &at).await;
                    (status, serde_json::Value::Null)
                }
                None if !needs_body => {
                    let r = c
                        .request(
                            op.method.to_uppercase().parse().expect("method"),
                            gw.admin(&path),
                        )
                        .bearer_auth(ADMIN_TOKEN)
                        .send()
                        .await
                        .expect("send");
                    let status = r.status().as_u16();
                    (status, r.json().await.unwrap_or(serde_json::Value::Null))
                }
                None => {
                    refused.push(format!(
                        "{} {}: no GET beside it and a required body",
                        op.method, op.template
                    ));
                    continue;
                }
            }
        };
        let ok = if op.method == "get" {
            (200..300).contains(&status)
        } else {
            !matches!(status, 401 | 404)
        };
        if !ok {
            refused.push(format!("{} {path} answered {status}", op.method));
            continue;
        }
        if op.template.contains('{') {
            reached.insert(format!("{} {}", op.method.to_uppercase(), op.template));
        }
        // Follow the links of the answer's status (a non-GET yields no body to follow).
        let Some(links) = op.op["responses"][status.to_string()]["links"].as_object() else {
            continue;
        };
        for link in links.values() {
            let target = link["operationId"].as_str().expect("operationId");
            let mut next = serde_json::Map::new();
            for (name, expression) in link["parameters"].as_object().expect("parameters") {
                let expression = expression.as_str().expect("expression");
                match evaluate(expression, &params, &body) {
                    Some(v) if !v.is_null() => {
                        next.insert(name.clone(), v);
                    }
                    _ => refused.push(format!(
                        "{} {path}: link to {target} finds nothing at {expression}",
                        op.method
                    )),
                }
            }
            if next.len() == link["parameters"].as_object().map_or(0, |p| p.len()) {
                queue.push((target.to_string(), next));
            }
        }
    }

    let want: std::collections::BTreeSet<String> = ops
        .iter()
        .filter(|o| o.template.contains('{'))
        .map(|o| format!("{} {}", o.method.to_uppercase(), o.template))
        .collect();
    let missing: Vec<&String> = want.difference(&reached).collect();
    assert!(
        missing.is_empty() && refused.is_empty(),
        "operations no link reached with a real resource: {missing:#?}\nproblems: {refused:#?}"
    );
    println!("{} linked operations reached", reached.len());
    drop(gw);
}

/// The developer portal's API against its own document, as a developer: every phase,
/// every check, no failure. Logout is left out (it would end the run's session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_api_conforms_to_its_openapi_document() {
    let venv = python::ensure_venv("schemathesis-venv", REQUIREMENTS);
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let c = client();
    let made = c
        .post(gw.admin("/admin/v1/users"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &serde_json::json!({"username": "dev", "password": "dev-password-1",
            "role": "developer", "consumer": "team-a"}),
        )
        .send()
        .await
        .expect("user");
    assert_eq!(made.status(), 201);
    let login: serde_json::Value = c
        .post(gw.admin("/portal/v1/login"))
        .json(&serde_json::json!({"username": "dev", "password": "dev-password-1"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["token"].as_str().expect("token").to_string();
    let target = Target {
        document: "/portal/v1/openapi.json",
        token: &token,
        exclude_paths: &["/portal/v1/logout"],
    };
    let report = tempfile::tempdir().expect("report dir");
    let stdout = run_schemathesis_on(
        &venv,
        &gw,
        &target,
        "examples,coverage,fuzzing,stateful",
        SEED,
        report.path(),
        false,
    )
    .await;
    let selected = figure(&stdout, "Selected:");
    let (chosen, total) = selected.split_once('/').expect("Selected: n/m");
    assert_eq!(
        chosen.parse::<u32>().expect("n") + 1,
        total.parse::<u32>().expect("m"),
        "all but logout:\n{stdout}"
    );
    drop(gw);
}
