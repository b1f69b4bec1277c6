//! The call log and analytics through the admin API of the real binary (issue 9):
//! many requests over several consumers and models (successes, 401, 402, 429, a
//! stream, a cache hit), then search with filters and cursor, one record, NDJSON and
//! CSV exports, time series and top-N, each checked against the records exactly.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const KEY_C: &str = "tg-test-key-c";
const KEY_D: &str = "tg-test-key-d";

fn config(mock: &MockProvider) -> String {
    let mut c = config_for(
        mock,
        r#"
  - name: cached-mock
    targets: [{provider: mock-openai, model: gpt-4o-mini}]
    cache: {ttl_seconds: 300, scope: shared}
    price: {input_per_mtok: 3.0, output_per_mtok: 5.0}
"#,
    );
    // More consumers after the harness's: one rate-limited, one without budget left.
    c.push_str(&format!(
        r#"  - name: team-c
    team: ops
    api_keys: ["{KEY_C}"]
    rate_limit: {{requests_per_minute: 2}}
  - name: team-d
    team: ops
    api_keys: ["{KEY_D}"]
    budget: {{usd: 0.000001, period: monthly}}
teams:
  - name: ops
"#
    ));
    c
}

async fn chat(gw: &Gateway, key: Option<&str>, body: Value) -> (u16, String) {
    let mut req = client().post(gw.gw("/v1/chat/completions")).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.expect("send");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    let status = res.status().as_u16();
    let _ = res.text().await;
    (status, id)
}

fn msg(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Which records a filter keeps.
type Keep = Box<dyn Fn(&Value) -> bool>;

fn at(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v["at"].as_str().expect("at"))
        .expect("RFC 3339")
        .to_utc()
}

fn micros(v: &Value) -> i64 {
    (v.as_f64().expect("number") * 1e6).round() as i64
}

/// Every record, through the paged call log (`limit` per page), checking the order.
async fn all_pages(gw: &Gateway, query: &str, limit: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/admin/v1/calls?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = admin_json(gw, &path).await;
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= limit);
        out.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    for w in out.windows(2) {
        let key = |v: &Value| (at(v), v["request_id"].as_str().map(str::to_string));
        assert!(key(&w[0]) > key(&w[1]), "newest first: {} {}", w[0], w[1]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_log_and_analytics_match_the_records() {
    let mock = MockProvider::start().await.expect("mock");
    let gw = Gateway::start(&config(&mock));
    let mut sent: Vec<(u16, String)> = Vec::new();

    for i in 0..5 {
        sent.push(chat(&gw, Some(KEY_A), msg("gpt-mock", &format!("a{i}"))).await);
    }
    for i in 0..3 {
        sent.push(chat(&gw, Some(KEY_A), msg("claude-mock", &format!("c{i}"))).await);
    }
    for i in 0..3 {
        sent.push(chat(&gw, Some(KEY_B), msg("gpt-mock", &format!("b{i}"))).await);
    }
    // A stream.
    let mut stream = msg("gpt-mock", "stream please");
    stream["stream"] = json!(true);
    sent.push(chat(&gw, Some(KEY_A), stream).await);
    // A miss, then a hit.
    sent.push(chat(&gw, Some(KEY_B), msg("cached-mock", "same question")).await);
    // The answer is stored off the request path: ask until it is a hit.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let res = client()
            .post(gw.gw("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .json(&msg("cached-mock", "same question"))
            .send()
            .await
            .expect("send");
        let hit = res
            .headers()
            .get("x-tollgate-cache")
            .and_then(|v| v.to_str().ok())
            == Some("hit");
        let id = res.headers()["x-request-id"]
            .to_str()
            .expect("id")
            .to_string();
        sent.push((res.status().as_u16(), id));
        let _ = res.text().await;
        if hit {
            break;
        }
    }
    // 401s.
    sent.push(chat(&gw, None, msg("gpt-mock", "who")).await);
    sent.push(chat(&gw, Some("tg-wrong"), msg("gpt-mock", "who")).await);
    // Rate limited after two.
    for i in 0..4 {
        sent.push(chat(&gw, Some(KEY_C), msg("gpt-mock", &format!("r{i}"))).await);
    }
    // No budget.
    for i in 0..2 {
        sent.push(chat(&gw, Some(KEY_D), msg("gpt-mock", &format!("d{i}"))).await);
    }
    let statuses: BTreeSet<u16> = sent.iter().map(|(s, _)| *s).collect();
    for s in [200, 401, 402, 429] {
        assert!(statuses.contains(&s), "a {s} among {statuses:?}");
    }
    let ids: BTreeSet<String> = sent.iter().map(|(_, id)| id.clone()).collect();

    // Wait for the journal to write them all.
    for id in &ids {
        let mut ok = false;
        for _ in 0..100 {
            if admin_get(&gw, &format!("/admin/v1/calls/{id}")).await.0 == 200 {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "no record for {id}");
    }

    // The whole log, 4 per page: every request once.
    let records = all_pages(&gw, "", 4).await;
    let got: Vec<String> = records
        .iter()
        .map(|r| r["request_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(got.len(), ids.len());
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), ids);
    let by_id: BTreeMap<String, Value> = records
        .iter()
        .map(|r| {
            (
                r["request_id"].as_str().unwrap_or_default().to_string(),
                r.clone(),
            )
        })
        .collect();
    for (status, id) in &sent {
        assert_eq!(by_id[id]["status"], json!(status), "{id}");
    }
    let stream_rec = records
        .iter()
        .find(|r| r["stream"] == json!(true))
        .expect("the stream");
    assert!(stream_rec["ttft_ms"].is_u64(), "{stream_rec}");
    assert!(
        records.iter().any(|r| r["cache"] == json!("hit")),
        "a cache hit"
    );

    // Filters, each checked against the full log.
    let filters: [(&str, Keep); 5] = [
        (
            "&consumer=team-a",
            Box::new(|r| r["consumer"] == json!("team-a")),
        ),
        ("&team=ops", Box::new(|r| r["team"] == json!("ops"))),
        ("&status=429", Box::new(|r| r["status"] == json!(429))),
        (
            "&model=claude-mock&provider=mock-anthropic",
            Box::new(|r| {
                r["model"] == json!("claude-mock") && r["provider"] == json!("mock-anthropic")
            }),
        ),
        (
            "&error_code=invalid_api_key",
            Box::new(|r| r["error_code"] == json!("invalid_api_key")),
        ),
    ];
    for (q, keep) in &filters {
        let want: Vec<&Value> = records.iter().filter(|r| keep(r)).collect();
        let got = all_pages(&gw, q, 3).await;
        assert!(!want.is_empty(), "{q}");
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{q}");
    }
    let first = &records[0];
    let from = first["at"].as_str().expect("at");
    let after = all_pages(&gw, &format!("&from={}", from.replace('+', "%2B")), 50).await;
    assert!(after.iter().all(|r| at(r) >= at(first)));
    assert!(!after.is_empty());

    // One record, in PRODUCT.md's shape; an unknown one is a 404 in the envelope.
    let (_, ok_id) = sent.iter().find(|(s, _)| *s == 200).expect("a success");
    let one = admin_json(&gw, &format!("/admin/v1/calls/{ok_id}")).await;
    assert_eq!(one, by_id[ok_id]);
    for k in ["input", "output", "cache_read", "cache_write", "reasoning"] {
        assert!(one["tokens"][k].is_u64(), "{one}");
    }
    assert!(
        one["cost_usd"].is_number() && one["attempts"].is_array(),
        "{one}"
    );
    let (status, body) = admin_get(&gw, "/admin/v1/calls/req_nope").await;
    assert_eq!(status, 404);
    let err: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(err["error"]["code"], json!("not_found"));

    // Exports: NDJSON is the records, line by line; CSV has a header and a row each.
    let (status, nd) = admin_get(&gw, "/admin/v1/calls/export?format=ndjson").await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson line"))
        .collect();
    assert_eq!(lines, records);
    let (status, csv) = admin_get(&gw, "/admin/v1/calls/export?format=csv&consumer=team-a").await;
    assert_eq!(status, 200);
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .expect("header")
            .starts_with("request_id,at,consumer,")
    );
    let csv_ids: Vec<String> = rows
        .map(|r| r.split(',').next().unwrap_or_default().to_string())
        .collect();
    let team_a: Vec<String> = records
        .iter()
        .filter(|r| r["consumer"] == json!("team-a"))
        .map(|r| r["request_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(csv_ids, team_a);

    // Time series: per consumer, the points add up to that consumer's records; cost
    // per model to the cent-millionth; tokens overall.
    let sum_by = |field: &dyn Fn(&Value) -> Option<String>, value: &dyn Fn(&Value) -> i64| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for r in &records {
            if let Some(k) = field(r) {
                *m.entry(k).or_default() += value(r);
            }
        }
        m
    };
    let consumer_of = |r: &Value| r["consumer"].as_str().map(str::to_string);
    let model_of = |r: &Value| r["model"].as_str().map(str::to_string);
    let all = |_: &Value| Some("all".to_string());
    let one_each = |_: &Value| 1i64;
    let cost = |r: &Value| micros(&r["cost_usd"]);
    let input = |r: &Value| r["tokens"]["input"].as_i64().unwrap_or(0);
    let is_error = |r: &Value| i64::from(r["status"].as_u64().unwrap_or(0) >= 400);
    let series_sums = |doc: &Value, as_micros: bool| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for s in doc["series"].as_array().expect("series") {
            let total: i64 = s["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| {
                    if as_micros {
                        micros(&p["value"])
                    } else {
                        p["value"].as_f64().unwrap_or(0.0) as i64
                    }
                })
                .sum();
            m.insert(s["key"].as_str().expect("key").to_string(), total);
        }
        m
    };
    for interval in ["minute", "hour", "day"] {
        let doc = admin_json(
            &gw,
            &format!(
                "/admin/v1/analytics/timeseries?metric=requests&by=consumer&interval={interval}"
            ),
        )
        .await;
        assert_eq!(doc["interval"], json!(interval));
        assert_eq!(series_sums(&doc, false), sum_by(&consumer_of, &one_each));
    }
    let doc = admin_json(
        &gw,
        "/admin/v1/analytics/timeseries?metric=cost_usd&by=model&interval=minute",
    )
    .await;
    assert_eq!(series_sums(&doc, true), sum_by(&model_of, &cost));
    let doc = admin_json(&gw, "/admin/v1/analytics/timeseries?metric=tokens_input").await;
    assert_eq!(series_sums(&doc, false), sum_by(&all, &input));
    let doc = admin_json(
        &gw,
        "/admin/v1/analytics/timeseries?metric=errors&by=status&interval=day",
    )
    .await;
    let status_of = |r: &Value| Some(r["status"].to_string());
    let want: BTreeMap<String, i64> = sum_by(&status_of, &is_error)
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .collect();
    let got: BTreeMap<String, i64> = series_sums(&doc, false)
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .collect();
    assert_eq!(got, want);
    let doc = admin_json(
        &gw,
        "/admin/v1/analytics/timeseries?metric=ttft_p50_ms&interval=minute",
    )
    .await;
    assert!(
        doc["series"][0]["points"]
            .as_array()
            .expect("points")
            .iter()
            .any(|p| p["value"].is_number()),
        "{doc}"
    );

    // Top: by consumer, ordered by requests, every column exact.
    let top = admin_json(
        &gw,
        "/admin/v1/analytics/top?by=consumer&metric=requests&limit=100",
    )
    .await;
    let rows = top["rows"].as_array().expect("rows");
    let requests = sum_by(&consumer_of, &one_each);
    assert_eq!(rows.len(), requests.len());
    for w in rows.windows(2) {
        assert!(w[0]["requests"].as_i64() >= w[1]["requests"].as_i64());
    }
    let errors = sum_by(&consumer_of, &is_error);
    let costs = sum_by(&consumer_of, &cost);
    let inputs = sum_by(&consumer_of, &input);
    let outputs = sum_by(&consumer_of, &|r: &Value| {
        r["tokens"]["output"].as_i64().unwrap_or(0)
    });
    for row in rows {
        let k = row["key"].as_str().expect("key");
        assert_eq!(row["requests"].as_i64(), Some(requests[k]), "{row}");
        assert_eq!(row["errors"].as_i64(), Some(errors[k]), "{row}");
        assert_eq!(row["tokens_input"].as_i64(), Some(inputs[k]), "{row}");
        assert_eq!(row["tokens_output"].as_i64(), Some(outputs[k]), "{row}");
        assert_eq!(micros(&row["cost_usd"]), costs[k], "{row}");
        let rate = errors[k] as f64 / requests[k] as f64;
        assert!((row["error_rate"].as_f64().unwrap_or(-1.0) - rate).abs() < 1e-9);
        assert!(row["latency_p95_ms"].is_number(), "{row}");
    }
    let top = admin_json(
        &gw,
        "/admin/v1/analytics/top?by=model&metric=cost_usd&limit=1",
    )
    .await;
    let costs = sum_by(&model_of, &cost);
    let max = costs.values().max().copied().unwrap_or(0);
    assert_eq!(top["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(micros(&top["rows"][0]["cost_usd"]), max);

    // Bad parameters: 400 in the envelope, naming the parameter.
    for (path, param) in [
        ("/admin/v1/analytics/timeseries?metric=bogus", "metric"),
        ("/admin/v1/analytics/timeseries?interval=week", "interval"),
        ("/admin/v1/analytics/top?by=key", "by"),
        ("/admin/v1/analytics/top?limit=0", "limit"),
        ("/admin/v1/calls?limit=1001", "limit"),
        ("/admin/v1/calls?status=abc", "status"),
        ("/admin/v1/calls?from=yesterday", "from"),
        ("/admin/v1/calls?cursor=nope", "cursor"),
        ("/admin/v1/calls/export?format=xml", "format"),
    ] {
        let (status, body) = admin_get(&gw, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let err: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            err["error"]["type"],
            json!("invalid_request_error"),
            "{path}"
        );
        assert_eq!(err["error"]["param"], json!(param), "{path}");
    }
    // Without a token: 401.
    let res = client()
        .get(gw.admin("/admin/v1/calls"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 401);
}
