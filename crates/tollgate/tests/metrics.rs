//! `/metrics` through the real binary (issue 9, item 6): traffic of every kind (success,
//! stream, cache hit, 429, 402, upstream failure, clients leaving mid-request and
//! mid-stream), then the figures: counts equal the requests made, the in-flight gauge
//! returns to 0, the cost counter equals the sum of the call records' costs, and every
//! metric the Grafana dashboard queries exists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use tollgate_store::Store;

const EXTRA_MODELS: &str = r#"
  - name: cached
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
    cache: {ttl_seconds: 300}
  - name: failing
    targets: [{provider: mock-openai, model: "gpt@status=500"}]
  - name: slowstream
    targets: [{provider: mock-openai, model: "gpt@chunk_delay_ms=200,words=40"}]
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
  - name: slow
    targets: [{provider: mock-openai, model: "gpt@delay_ms=1500"}]
"#;

const EXTRA_CONSUMERS: &str = r#"  - name: limited
    api_keys: ["tg-limited"]
    rate_limit: {requests_per_minute: 1}
  - name: budgeted
    api_keys: ["tg-budgeted"]
    budget: {usd: 0.000001, period: monthly}
"#;

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match head.split_once('{') {
                None => (head.to_string(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}')?;
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .filter_map(|p| {
                            let (k, v) = p.split_once("=\"")?;
                            Some((k.to_string(), v.trim_end_matches('"').to_string()))
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            Some(Sample {
                name,
                labels,
                value,
            })
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include every pair of `with`.
fn sum(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(gw: &Gateway) -> (String, Vec<Sample>) {
    let text = client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let samples = parse(&text);
    (text, samples)
}

fn body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Say hello to the metrics"}],
    })
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

/// Sends a chat request and reads the whole answer; returns (status, request id).
async fn call(gw: &Gateway, key: &str, body: &Value) -> (u16, String) {
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let id = request_id(&res);
    res.bytes().await.expect("whole body");
    (status, id)
}

async fn wait_record(store: &Store, id: &str) -> tollgate_store::CallRecord {
    for _ in 0..150 {
        if let Some(r) = store.get_call(id).await.expect("read") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no call record for {id}");
}

/// Metric names a PromQL expression reads (`tollgate_…` identifiers).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("tollgate_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "expr"
                    && let Some(s) = x.as_str()
                {
                    out.push(s.to_string());
                } else {
                    dashboard_exprs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| dashboard_exprs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn metrics_match_the_traffic_and_the_dashboard() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&format!(
        "{}{EXTRA_CONSUMERS}",
        config_for(&mock, EXTRA_MODELS)
    ));
    let store = open_store(&gw).await;
    let mut ids = Vec::new();
    let mut expected = BTreeMap::<(String, u16), u64>::new();
    let mut count = |model: &str, status: u16| {
        *expected.entry((model.to_string(), status)).or_default() += 1;
    };

    // Successes, whole and streamed.
    for _ in 0..3 {
        let (status, id) = call(&gw, KEY_A, &body("gpt-mock", false)).await;
        assert_eq!(status, 200);
        ids.push(id);
        count("gpt-mock", 200);
    }
    let mut stream = body("gpt-mock", true);
    stream["stream_options"] = json!({"include_usage": true});
    let (status, id) = call(&gw, KEY_A, &stream).await;
    assert_eq!(status, 200);
    ids.push(id);
    count("gpt-mock", 200);

    // A cache miss, then a hit.
    for _ in 0..2 {
        let (status, id) = call(&gw, KEY_A, &body("cached", false)).await;
        assert_eq!(status, 200);
        ids.push(id);
        count("cached", 200);
    }

    // A rate limit (1 request a minute): 200, then 429.
    for want in [200, 429] {
        let (status, id) = call(&gw, "tg-limited", &body("gpt-mock", false)).await;
        assert_eq!(status, want);
        ids.push(id);
        count("gpt-mock", want);
    }

    // A budget too small for any request: 402.
    let (status, id) = call(&gw, "tg-budgeted", &body("gpt-mock", false)).await;
    assert_eq!(status, 402);
    ids.push(id);
    count("gpt-mock", 402);

    // The upstream fails.
    let (status, id) = call(&gw, KEY_A, &body("failing", false)).await;
    assert!(status >= 500, "{status}");
    ids.push(id);
    count("failing", status);

    // A client that leaves mid-stream: in flight while it reads, 499 once it is gone.
    let res = client()
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&body("slowstream", true))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    ids.push(request_id(&res));
    count("slowstream", 499);
    let mut chunks = res.bytes_stream();
    chunks.next().await.expect("a first chunk").expect("chunk");
    let (_, during) = scrape(&gw).await;
    assert!(
        sum(&during, "tollgate_requests_in_flight", &[]) >= 1.0,
        "the open stream is in flight"
    );
    drop(chunks);

    // A client that leaves before the answer's headers (no price: costs nothing).
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let gone = impatient
        .post(gw.gw("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .json(&body("slow", false))
        .send()
        .await;
    assert!(gone.is_err(), "the client timed out");
    let total: u64 = expected.values().sum::<u64>() + 1;

    // Everything finishes: in flight back to 0, every call counted.
    let mut samples = Vec::new();
    let mut text = String::new();
    for _ in 0..150 {
        (text, samples) = scrape(&gw).await;
        if sum(&samples, "tollgate_requests_in_flight", &[]) == 0.0
            && sum(&samples, "tollgate_requests_total", &[]) == total as f64
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sum(&samples, "tollgate_requests_in_flight", &[]),
        0.0,
        "in flight after every client left:\n{text}"
    );
    assert_eq!(
        sum(&samples, "tollgate_requests_total", &[]),
        total as f64,
        "{text}"
    );
    for ((model, status), n) in &expected {
        let status = status.to_string();
        assert_eq!(
            sum(
                &samples,
                "tollgate_requests_total",
                &[("door", "openai"), ("model", model), ("status", &status)]
            ),
            *n as f64,
            "requests of {model} with {status}:\n{text}"
        );
    }
    // One duration per call, measured where the call ends.
    assert_eq!(
        sum(&samples, "tollgate_request_duration_seconds_count", &[]),
        total as f64
    );
    // Time to first token: the one stream of gpt-mock that finished.
    assert_eq!(
        sum(
            &samples,
            "tollgate_ttft_seconds_count",
            &[("model", "gpt-mock")]
        ),
        1.0
    );
    // The cache: one miss, one hit.
    for result in ["miss", "hit"] {
        assert_eq!(
            sum(
                &samples,
                "tollgate_cache_total",
                &[("model", "cached"), ("result", result)]
            ),
            1.0,
            "{result}"
        );
    }
    // The limiter's refusals.
    assert_eq!(
        sum(
            &samples,
            "tollgate_limit_decisions_total",
            &[
                ("scope_kind", "consumer"),
                ("kind", "rate_limit"),
                ("outcome", "refused")
            ]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "tollgate_limit_decisions_total",
            &[("kind", "rate_limit"), ("outcome", "pass")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            "tollgate_limit_decisions_total",
            &[("kind", "budget"), ("outcome", "refused")]
        ),
        1.0
    );
    assert!(
        sum(
            &samples,
            "tollgate_upstream_failures_total",
            &[("provider", "mock-openai")]
        ) >= 1.0
    );
    assert!(text.contains("# TYPE tollgate_cost_usd_total counter"));

    // Tokens and cost equal the call records' sums, exactly.
    let mut cost_micros = 0i64;
    let mut input = 0u64;
    let mut output = 0u64;
    for id in &ids {
        let r = wait_record(&store, id).await;
        cost_micros += r.cost_micros;
        input += r.input_tokens;
        output += r.output_tokens;
    }
    assert!(cost_micros > 0);
    let mut records = 0;
    for _ in 0..150 {
        records = store.count_calls().await.expect("count");
        if records >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(records, total, "one record per counted call");
    let cost = sum(&samples, "tollgate_cost_usd_total", &[]);
    assert_eq!(
        (cost * 1e6).round() as i64,
        cost_micros,
        "cost counter vs records:\n{text}"
    );
    assert_eq!(
        sum(&samples, "tollgate_tokens_total", &[("kind", "input")]),
        input as f64
    );
    assert_eq!(
        sum(&samples, "tollgate_tokens_total", &[("kind", "output")]),
        output as f64
    );

    // Every metric the Grafana dashboard queries is exported.
    let path = repo_root().join("deploy/grafana/tollgate-dashboard.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard")).expect("json");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has its panels");
    let exported: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let queried: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    let missing: Vec<&String> = queried
        .iter()
        .filter(|n| !exported.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics lacks: {missing:?}"
    );
}

/// Whether a JSON log line was written under the request `id`'s span.
fn under(line: &Value, id: &str) -> bool {
    line["spans"].as_array().is_some_and(|spans| {
        spans
            .iter()
            .any(|s| s["name"] == "request" && s["request_id"] == id)
    })
}

/// `log.format: json`: one JSON object per line; every line logged while serving a
/// request carries its id, and each call has one access-log line.
#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let mock = MockProvider::start().await.expect("mock");
    let dir = tempfile::tempdir().expect("dir");
    let config = config_for(&mock, EXTRA_MODELS).replace(
        "providers:\n",
        "log:\n  format: json\n  level: warn\nproviders:\n",
    );
    let config_path = dir.path().join("tollgate.yaml");
    std::fs::write(&config_path, config).expect("config");
    let log_path = dir.path().join("stderr.log");
    // stderr to a file, to read the lines back.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("exec \"$0\" serve --config \"$1\" 2>\"$2\"")
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .arg(&config_path)
        .arg(&log_path);
    // RUST_LOG overrides log.level: the access log on, the rest at warn.
    let gw = Gateway::spawn(cmd, dir, &[("RUST_LOG", "warn,tollgate::access=info")]);
    let (status, ok_id) = call(&gw, KEY_A, &body("gpt-mock", false)).await;
    assert_eq!(status, 200);
    let (status, failed_id) = call(&gw, KEY_A, &body("failing", false)).await;
    assert!(status >= 500);

    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let access = lines
            .iter()
            .filter(|l| l["target"] == "tollgate::access")
            .count();
        if access >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let access = |id: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "tollgate::access" && l["fields"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id} in {lines:#?}"))
    };
    let ok = access(&ok_id);
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["fields"]["status"], 200);
    assert_eq!(ok["fields"]["model"], "gpt-mock");
    assert!(under(ok, &ok_id), "{ok}");
    assert!(ok["fields"]["output_tokens"].as_u64().unwrap_or(0) > 0);
    let failed = access(&failed_id);
    assert!(failed["fields"]["status"].as_u64().unwrap_or(0) >= 500);
    // The upstream failure's warning, logged mid-request, carries the request's id.
    let warned = lines
        .iter()
        .find(|l| l["level"] == "WARN" && under(l, &failed_id))
        .unwrap_or_else(|| panic!("no warning under {failed_id}: {lines:#?}"));
    assert!(
        warned["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("upstream")),
        "{warned}"
    );
}
