//! Analytics at scale (run by hand: `bench/analytics/run.sh`; not a test).
//!
//! Ingests N synthetic call records (30 days, ~50 consumers in 10 teams, 10 models,
//! 3 providers, a realistic status mix) through `Store::insert_calls`, the same path
//! the journal's writer takes (calls and rollups in one transaction per batch), then
//! times each analytics query and reports the database size, as Markdown.
//!
//! Records are generated in time order (as the journal writes them) at the density of
//! RECORDS over 30 days; with INGEST_SECONDS set, the ingest stops after that long and
//! the queries run over the stored prefix.
//!
//! Usage: analytics_bench URL [RECORDS] [BATCH]
//!   URL: sqlite:///path/file.db or postgres://...?options=-c%20search_path%3Dschema

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tollgate_store::{
    Backend, CallFilter, CallRecord, Dimension, Granularity, Metric, SecretCipher, Store,
    UsageScope,
};

const DAYS: i64 = 30;
const CONSUMERS: usize = 50;
const MODELS: [&str; 10] = [
    "gpt-4o",
    "gpt-4o-mini",
    "o3-mini",
    "claude-sonnet",
    "claude-haiku",
    "gemini-pro",
    "gemini-flash",
    "llama-70b",
    "mistral-large",
    "embed-small",
];
const PROVIDERS: [&str; 3] = ["openai", "anthropic", "bedrock"];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .expect("date")
}

fn record(rng: &mut SmallRng, i: u64, n: u64) -> CallRecord {
    let span = DAYS * 86_400_000;
    // Spread evenly over the 30 days, in order (as the journal writes them).
    let at = start().timestamp_millis() + (i as i64 * span) / n as i64;
    let roll: u32 = rng.random_range(0..1000);
    let status = match roll {
        0..=919 => 200,
        920..=939 => 401,
        940..=949 => 402,
        950..=979 => 429,
        980..=994 => 500,
        _ => 502,
    };
    let c = rng.random_range(0..CONSUMERS);
    let consumer = format!("consumer-{c:02}");
    let team = format!("team-{}", c % 10);
    let door_roll: u32 = rng.random_range(0..100);
    let (door, model) = if door_roll < 90 {
        (
            "openai",
            MODELS[rng.random_range(0..MODELS.len())].to_string(),
        )
    } else {
        ("service", format!("svc-{}", rng.random_range(0..5)))
    };
    let ok = status == 200;
    let stream = ok && rng.random_range(0..10) < 3;
    let latency = if ok {
        (rng.random_range(0.0f64..1.0).powi(3) * 8_000.0) as u64 + 80
    } else {
        rng.random_range(1..40)
    };
    let input = if ok { rng.random_range(50..4_000) } else { 0 };
    let output = if ok { rng.random_range(10..1_000) } else { 0 };
    CallRecord {
        request_id: format!("req_{i:012}"),
        at: DateTime::from_timestamp_millis(at).expect("at"),
        consumer: (status != 401).then(|| consumer.clone()),
        team: (status != 401).then_some(team),
        key_id: (status != 401).then(|| format!("key_{consumer}")),
        door: door.to_string(),
        model: Some(model),
        provider: ok.then(|| PROVIDERS[rng.random_range(0..PROVIDERS.len())].to_string()),
        target_model: None,
        status,
        error_code: match status {
            401 => Some("invalid_api_key".into()),
            402 => Some("budget_exceeded".into()),
            429 => Some("rate_limited".into()),
            500 | 502 => Some("upstream_error".into()),
            _ => None,
        },
        latency_ms: latency,
        upstream_latency_ms: ok.then_some(latency.saturating_sub(5)),
        ttft_ms: stream.then_some(latency / 4),
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: if ok && rng.random_range(0..4) == 0 {
            input / 2
        } else {
            0
        },
        reasoning_tokens: output / 10,
        cost_micros: (input * 2 + output * 8) as i64,
        stream,
        client_ip: Some("10.1.2.3".into()),
        user_agent: Some("openai-python/1.50".into()),
        steps: serde_json::json!([{"step": "auth", "outcome": "pass"}]).into(),
        ..CallRecord::default()
    }
}

/// Runs a query three times: the first run (a dashboard's first load after the
/// ingest) and the median of the three, which is what a loaded, noisy machine can
/// report honestly. The worst of the two figures counts.
async fn timed<T, F, Fut>(label: &str, f: F) -> (T, Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(3);
    let t0 = Instant::now();
    let out = f().await;
    times.push(t0.elapsed());
    for _ in 0..2 {
        let t0 = Instant::now();
        let _ = f().await;
        times.push(t0.elapsed());
    }
    let first = times[0];
    times.sort();
    let median = times[1];
    println!(
        "| {label} | {:.1} | {:.1} |",
        first.as_secs_f64() * 1000.0,
        median.as_secs_f64() * 1000.0
    );
    (out, median)
}

/// A PostgreSQL server with autovacuum off (as on the machines these figures come
/// from) never vacuums the rollup tables, whose rows every batch rewrites: their dead
/// row versions pile up (1.3 M dead beside 97 k live hour rows after 10 M records) and
/// the index-only series scans fall back to the heap. A server on its defaults vacuums
/// them as it goes (migration 0012 tunes when); here that is done once, before the
/// queries, and said so.
async fn vacuum_if_autovacuum_is_off(url: &str) {
    use sqlx::{Connection, Executor, Row};
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let on: String = sqlx::query("SHOW autovacuum")
        .fetch_one(&mut conn)
        .await
        .expect("show autovacuum")
        .get(0);
    if on == "on" {
        return;
    }
    let t = Instant::now();
    // One statement each: several in one query string would run as one transaction,
    // which VACUUM refuses.
    for sql in [
        "VACUUM (ANALYZE) rollup_minute",
        "VACUUM (ANALYZE) rollup_hour",
        "VACUUM (ANALYZE) rollup_day",
        "ANALYZE calls",
    ] {
        conn.execute(sql).await.expect("vacuum");
    }
    println!(
        "The server runs with autovacuum off: the rollup tables were vacuumed and they and \
         the calls analysed before the queries ({:.0} s), as autovacuum would have done.\n",
        t.elapsed().as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: analytics_bench URL [RECORDS] [BATCH]");
    let n: u64 = args
        .get(2)
        .map(|s| s.parse().expect("records"))
        .unwrap_or(10_000_000);
    let batch: usize = args
        .get(3)
        .map(|s| s.parse().expect("batch"))
        .unwrap_or(1000);
    let store = Store::connect(url, SecretCipher::new([7u8; 32]))
        .await
        .expect("connect");
    let backend = store.backend();
    let existing = store.count_calls().await.expect("count");
    println!("## {backend}: {n} records (batches of {batch})\n");
    let mut rng = SmallRng::seed_from_u64(42);
    let t0 = Instant::now();
    let mut last = Instant::now();
    // INGEST_SECONDS stops the ingest early: the records written are then a prefix (in
    // time) of the N-record data set, at its density.
    let budget = std::env::var("INGEST_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut i = existing;
    while i < n && budget.is_none_or(|b| t0.elapsed() < b) {
        let m = (n - i).min(batch as u64);
        let calls: Vec<CallRecord> = (i..i + m).map(|j| record(&mut rng, j, n)).collect();
        store.insert_calls(&calls).await.expect("insert");
        i += m;
        if last.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "{i} records, {:.0}/s",
                (i - existing) as f64 / t0.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if i > existing {
        let rate = (i - existing) as f64 / secs;
        println!(
            "Ingest: {} records in {secs:.0} s = {rate:.0} records/s{}\n",
            i - existing,
            if i < n {
                format!(
                    " (stopped early: {i} of {n} records stored; all {n} would take about {:.0} min at this rate)",
                    n as f64 / rate / 60.0
                )
            } else {
                String::new()
            }
        );
    }
    if backend == Backend::Postgres {
        vacuum_if_autovacuum_is_off(url).await;
    }
    println!("| query | first run, ms | median of 3, ms |\n|---|---|---|");
    // The queries end where the stored data does (the next hour after the last record),
    // as a dashboard's "now" would: the whole 30 days, or the end of a stopped prefix.
    let stored = store.count_calls().await.expect("count");
    let data_end = start().timestamp_millis() + (stored as i64 * DAYS * 86_400_000) / n as i64;
    let end = DateTime::from_timestamp_millis(Granularity::Hour.ceil(data_end + 1)).expect("end");
    let last_day = end - chrono::Duration::days(1);
    let mut worst = Duration::ZERO;
    let dims = [
        Dimension::All,
        Dimension::Consumer,
        Dimension::Team,
        Dimension::Model,
        Dimension::Provider,
        Dimension::Service,
        Dimension::Status,
    ];
    for d in dims {
        for (g, from) in [
            (Granularity::Minute, last_day),
            (Granularity::Hour, start()),
            (Granularity::Day, start()),
        ] {
            for metric in [Metric::Requests, Metric::LatencyP95] {
                let label = format!(
                    "timeseries {} by {} per {} over {}",
                    metric.as_str(),
                    d.as_str(),
                    g.as_str(),
                    if g == Granularity::Minute {
                        "the last 24 h"
                    } else {
                        "30 days"
                    }
                );
                let (r, t) = timed(&label, || store.timeseries(metric, d, g, from, end)).await;
                r.expect("timeseries");
                worst = worst.max(t);
            }
        }
    }
    for d in dims {
        // Ragged edges: day, hour and minute rows together (even on a stopped prefix
        // of a few hours).
        let from = start() + chrono::Duration::minutes(73);
        let (r, t) = timed(
            &format!("top by {} over 30 days (ragged edges)", d.as_str()),
            || store.totals_by(d, from, end),
        )
        .await;
        r.expect("top");
        worst = worst.max(t);
    }
    let scope = UsageScope::Consumer("consumer-07".into());
    let (r, t) = timed("usage_since consumer, month to date", || {
        store.usage_since(&scope, start() + chrono::Duration::seconds(17))
    })
    .await;
    r.expect("usage");
    worst = worst.max(t);
    let filter = CallFilter {
        consumer: Some("consumer-07".into()),
        ..CallFilter::default()
    };
    let (page, t) = timed("list first page (100) consumer=X", || {
        store.list_calls(&filter, 100, None)
    })
    .await;
    let page = page.expect("list");
    worst = worst.max(t);
    let (r, t) = timed("list next page (100) consumer=X", || {
        store.list_calls(&filter, 100, page.next_cursor.as_deref())
    })
    .await;
    r.expect("list");
    worst = worst.max(t);
    let status = CallFilter {
        status: Some(502),
        from: Some(start() + chrono::Duration::days(10)),
        ..CallFilter::default()
    };
    let (r, t) = timed("list first page (100) status=502 from=day 10", || {
        store.list_calls(&status, 100, None)
    })
    .await;
    r.expect("list");
    worst = worst.max(t);
    println!("\nSlowest query: {:.1} ms", worst.as_secs_f64() * 1000.0);
    if backend == Backend::Postgres {
        println!("(database size: see the script's pg_total_relation_size figures)");
    }
    store.close().await;
}
