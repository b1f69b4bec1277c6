//! Rollups, usage from rollups, retention and the call log's pagination, on SQLite and
//! PostgreSQL: every figure is checked against sums computed here from the records.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use sqlx::Row as _;
use tollgate_store::journal::{Entry, Journal};
use tollgate_store::testing::TestDb;
use tollgate_store::{
    CallFilter, CallRecord, Dimension, Granularity, Metric, Retention, Rollup, Store, UsageScope,
    UsageTotals, bucket_value, histogram_bucket,
};

tollgate_store::backend_suite!(
    rollups_equal_sums_over_records,
    replayed_batches_do_not_double_count,
    usage_since_equals_raw_sums,
    retention_keeps_rollups,
    cursor_pages_visit_every_record_once,
    percentile_backfill_agrees_with_the_upsert,
);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn base() -> i64 {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("date")
        .timestamp_millis()
}

fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("time")
}

const CONSUMERS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];
const DOORS: [&str; 6] = [
    "openai",
    "anthropic",
    "responses",
    "service",
    "prompt_api",
    "mcp",
];
const MODELS: [&str; 3] = ["gpt-4o-mini", "claude-sonnet", "weather"];
const PROVIDERS: [&str; 3] = ["openai", "anthropic", "bedrock"];
const STATUSES: [u16; 8] = [200, 200, 200, 401, 402, 429, 500, 502];

/// A random call within `span_ms` of [`base`].
fn call_strategy(span_ms: i64) -> impl Strategy<Value = CallRecord> {
    (
        (0..span_ms, 0usize..5, 0usize..6, 0usize..4, 0usize..4),
        (
            0usize..8,
            0u64..200_000,
            proptest::option::of(0u64..5_000),
            proptest::option::of(0u64..250_000),
            any::<bool>(),
        ),
        (
            0u64..5_000,
            0u64..2_000,
            0u64..300,
            0u64..100,
            0u64..50,
            0i64..100_000,
        ),
    )
        .prop_map(
            move |(
                (offset, consumer, door, model, provider),
                (status, latency, ttft, upstream, stream),
                (input, output, cache_read, cache_write, reasoning, cost),
            )| {
                let consumer = CONSUMERS.get(consumer).map(|c| c.to_string());
                CallRecord {
                    request_id: String::new(),
                    at: t(base() + offset),
                    team: consumer
                        .as_ref()
                        .map(|c| if c.len() % 2 == 0 { "red" } else { "blue" }.to_string()),
                    key_id: consumer.as_ref().map(|c| format!("key_{c}")),
                    consumer,
                    door: DOORS[door].to_string(),
                    model: MODELS.get(model).map(|m| m.to_string()),
                    provider: PROVIDERS.get(provider).map(|p| p.to_string()),
                    status: STATUSES[status],
                    latency_ms: latency,
                    upstream_latency_ms: upstream,
                    stream,
                    ttft_ms: ttft,
                    input_tokens: input,
                    output_tokens: output,
                    cache_read_tokens: cache_read,
                    cache_write_tokens: cache_write,
                    reasoning_tokens: reasoning,
                    cost_micros: cost,
                    steps: json!([]).into(),
                    ..CallRecord::default()
                }
            },
        )
}

/// Random calls with unique request ids.
fn calls_strategy(
    span_ms: i64,
    sizes: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<CallRecord>> {
    proptest::collection::vec(call_strategy(span_ms), sizes).prop_map(|mut calls| {
        for (i, c) in calls.iter_mut().enumerate() {
            c.request_id = format!("req_{i:05}");
        }
        calls
    })
}

/// The dimension values of a call, as the store documents them.
fn values_of(c: &CallRecord, d: Dimension) -> Option<String> {
    let llm = matches!(c.door.as_str(), "openai" | "anthropic" | "responses");
    match d {
        Dimension::All => Some("all".into()),
        Dimension::Consumer => c.consumer.clone(),
        Dimension::Team => c.team.clone(),
        Dimension::Key => c.key_id.clone(),
        Dimension::Model => c.model.clone().filter(|_| llm),
        Dimension::Provider => c.provider.clone(),
        Dimension::Service => c.model.clone().filter(|_| !llm),
        Dimension::Status => Some(c.status.to_string()),
    }
}

/// Expected rollups by dimension value over calls with `at` in `[from, to)`.
fn expected(calls: &[CallRecord], d: Dimension, from: i64, to: i64) -> BTreeMap<String, Rollup> {
    let mut out: BTreeMap<String, Rollup> = BTreeMap::new();
    for c in calls {
        let at = c.at.timestamp_millis();
        if at < from || at >= to {
            continue;
        }
        if let Some(v) = values_of(c, d) {
            out.entry(v).or_default().merge(&Rollup::of_call(c));
        }
    }
    out
}

async fn clear(db: &TestDb) {
    let raw = db.raw().await;
    for table in ["calls", "rollup_minute", "rollup_hour", "rollup_day"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&raw)
            .await
            .expect("clear");
    }
    raw.close().await;
}

/// Runs `check` on a few random call sets, each in a cleared database.
async fn for_random_calls<F, Fut>(db: &TestDb, span_ms: i64, max: usize, cases: u32, check: F)
where
    F: Fn(Vec<CallRecord>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&calls_strategy(span_ms, 1..max), |calls| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                clear(db).await;
                check(calls).await;
            })
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn insert_in_batches(s: &Store, calls: &[CallRecord]) {
    // Uneven batch sizes: full fixed statements and single rows both used.
    let mut rest = calls;
    let mut size = 1;
    while !rest.is_empty() {
        let n = size.min(rest.len());
        let (batch, tail) = rest.split_at(n);
        assert_eq!(s.insert_calls(batch).await.expect("insert"), n as u64);
        rest = tail;
        size = size * 3 + 1;
    }
}

async fn rollups_equal_sums_over_records(db: &TestDb) {
    let s = db.connect().await;
    let span = 3 * DAY;
    for_random_calls(db, span, 400, 4, |calls| {
        let s = s.clone();
        async move {
            insert_in_batches(&s, &calls).await;
            let (from, to) = (base() - DAY, base() + span + DAY);
            for d in Dimension::ALL {
                // Totals over the whole range, histograms included.
                let got: BTreeMap<String, Rollup> = s
                    .totals_by(d, t(from), t(to))
                    .await
                    .expect("totals")
                    .into_iter()
                    .collect();
                assert_eq!(got, expected(&calls, d, from, to), "totals by {d:?}");
                // Ragged, minute-aligned edges: minute, hour and day rows combined.
                let lo = base() + 5 * HOUR + 13 * MINUTE;
                let hi = base() + 2 * DAY + 7 * HOUR + 41 * MINUTE;
                let got: BTreeMap<String, Rollup> = s
                    .totals_by(d, t(lo), t(hi))
                    .await
                    .expect("totals")
                    .into_iter()
                    .collect();
                assert_eq!(got, expected(&calls, d, lo, hi), "ragged totals by {d:?}");
            }
            // Every metric of every bucket of every granularity: what the database
            // computes per row (percentiles included) equals the metric of the
            // rollup merged here from the raw calls.
            for g in Granularity::ALL {
                for d in [Dimension::All, Dimension::Consumer, Dimension::Status] {
                    let mut want: BTreeMap<(String, i64), Rollup> = BTreeMap::new();
                    for c in &calls {
                        if let Some(v) = values_of(c, d) {
                            let b = g.floor(c.at.timestamp_millis());
                            want.entry((v, b)).or_default().merge(&Rollup::of_call(c));
                        }
                    }
                    for metric in Metric::ALL {
                        let series = s
                            .timeseries(metric, d, g, t(from), t(to))
                            .await
                            .expect("series");
                        let mut got = BTreeMap::new();
                        for sr in &series {
                            for (at, v) in &sr.points {
                                got.insert((sr.key.clone(), at.timestamp_millis()), *v);
                            }
                        }
                        let want_values: BTreeMap<_, _> = want
                            .iter()
                            .map(|(k, r)| (k.clone(), metric.value(r)))
                            .collect();
                        assert_eq!(got, want_values, "{metric:?} {g:?} by {d:?}");
                    }
                }
            }
            // The gateway's overhead: latency minus the upstream's first byte, over
            // whole answers an upstream gave (an upstream slower than the whole call,
            // which a clock step could record, counts as no overhead).
            let whole: Vec<u64> = calls
                .iter()
                .filter(|c| !c.stream)
                .filter_map(|c| {
                    c.upstream_latency_ms
                        .map(|u| c.latency_ms.saturating_sub(u))
                })
                .collect();
            let all = s
                .totals_by(Dimension::All, t(from), t(to))
                .await
                .expect("totals");
            let want =
                (!whole.is_empty()).then(|| whole.iter().sum::<u64>() as f64 / whole.len() as f64);
            assert_eq!(
                all.first().and_then(|(_, r)| r.overhead_ms()),
                want,
                "overhead"
            );
            // Percentiles: the bucket of the true nearest-rank value.
            let mut latencies: Vec<u64> = calls.iter().map(|c| c.latency_ms).collect();
            latencies.sort_unstable();
            let all = s
                .totals_by(Dimension::All, t(from), t(to))
                .await
                .expect("totals");
            let r = &all[0].1;
            for percent in [50, 95, 99] {
                let rank = (latencies.len() * percent as usize).div_ceil(100).max(1);
                let truth = latencies[rank - 1];
                assert_eq!(
                    r.latency_percentile(percent),
                    Some(bucket_value(histogram_bucket(truth)))
                );
            }
        }
    })
    .await;
}

/// Migration 0011 fills the kept percentiles of rows written before it; its `UPDATE`s
/// must give what the upsert keeps, or old and new buckets would disagree.
async fn percentile_backfill_agrees_with_the_upsert(db: &TestDb) {
    let s = db.connect().await;
    for_random_calls(db, 2 * DAY, 300, 2, |calls| {
        let s = s.clone();
        async move {
            insert_in_batches(&s, &calls).await;
            let (from, to) = (t(base() - DAY), t(base() + 3 * DAY));
            let percentiles = [
                Metric::LatencyP50,
                Metric::LatencyP95,
                Metric::LatencyP99,
                Metric::TtftP50,
            ];
            let mut kept = Vec::new();
            for g in Granularity::ALL {
                for m in percentiles {
                    kept.push(s.timeseries(m, Dimension::Consumer, g, from, to).await.expect("series"));
                }
            }
            let points: usize = kept.iter().flatten().map(|sr| sr.points.len()).sum();
            assert!(points > 0, "the calls make percentile points");

            let migration = match db.backend {
                tollgate_store::Backend::Sqlite => {
                    include_str!("../migrations/sqlite/0011_rollup_percentiles.sql")
                }
                tollgate_store::Backend::Postgres => {
                    include_str!("../migrations/postgres/0011_rollup_percentiles.sql")
                }
            };
            let raw = db.raw().await;
            for table in ["rollup_minute", "rollup_hour", "rollup_day"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET lat_p50 = NULL, lat_p95 = NULL, lat_p99 = NULL, ttft_p50 = NULL"
                )))
                .execute(&raw)
                .await
                .expect("forget");
            }
            let updates = migration
                .split(';')
                .map(|st| st.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
                .filter(|st| st.trim_start().starts_with("UPDATE"));
            let mut ran = 0;
            for st in updates {
                sqlx::query(sqlx::AssertSqlSafe(st)).execute(&raw).await.expect("backfill");
                ran += 1;
            }
            assert_eq!(ran, 3, "one backfill per rollup table");
            raw.close().await;

            let mut backfilled = Vec::new();
            for g in Granularity::ALL {
                for m in percentiles {
                    backfilled.push(s.timeseries(m, Dimension::Consumer, g, from, to).await.expect("series"));
                }
            }
            assert_eq!(backfilled, kept);
        }
    })
    .await;
}

async fn rollup_dump(s: &Store) -> Vec<(String, Rollup)> {
    let mut out = Vec::new();
    for d in Dimension::ALL {
        for (k, r) in s
            .totals_by(d, t(base() - DAY), t(base() + 3 * DAY))
            .await
            .expect("totals")
        {
            out.push((format!("{}:{k}", d.as_str()), r));
        }
    }
    out
}

async fn replayed_batches_do_not_double_count(db: &TestDb) {
    let s = db.connect().await;
    let mut runner = TestRunner::deterministic();
    let calls = calls_strategy(DAY, 300..301)
        .new_tree(&mut runner)
        .expect("calls")
        .current();
    let (first, second) = calls.split_at(calls.len() / 2);
    s.insert_calls(first).await.expect("insert");
    let before = rollup_dump(&s).await;
    // The same batch again, and a batch that repeats it and adds the rest (with a
    // repeat inside itself): only the new rows count.
    assert_eq!(s.insert_calls(first).await.expect("replay"), 0);
    assert_eq!(rollup_dump(&s).await, before);
    let mut mixed: Vec<CallRecord> = first.to_vec();
    mixed.extend_from_slice(second);
    if let Some(c) = second.first() {
        let mut twin = c.clone();
        twin.cost_micros += 1_000_000;
        mixed.push(twin);
    }
    assert_eq!(
        s.insert_calls(&mixed).await.expect("mixed"),
        second.len() as u64
    );
    let mut want = Vec::new();
    for d in Dimension::ALL {
        for (k, r) in expected(&calls, d, base() - DAY, base() + 3 * DAY) {
            let k = if d == Dimension::All { "all".into() } else { k };
            want.push((format!("{}:{k}", d.as_str()), r));
        }
    }
    assert_eq!(rollup_dump(&s).await, want);

    // Through the journal: a replay of stored calls adds nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(s.clone(), dir.path().join("journal"))
        .await
        .expect("journal");
    journal
        .commit(calls.iter().cloned().map(Entry::Call).collect())
        .await
        .expect("commit");
    journal.flush_to_database().await;
    assert_eq!(rollup_dump(&s).await, want);
    assert_eq!(s.count_calls().await.expect("count"), calls.len() as u64);
}

fn raw_usage(calls: &[CallRecord], scope: &UsageScope, since: i64) -> UsageTotals {
    let mut u = UsageTotals::default();
    for c in calls {
        let matches = match scope {
            UsageScope::Consumer(n) => c.consumer.as_deref() == Some(n),
            UsageScope::Team(n) => c.team.as_deref() == Some(n),
            UsageScope::Key(n) => c.key_id.as_deref() == Some(n),
        };
        if !matches || c.at.timestamp_millis() < since {
            continue;
        }
        u.requests += 1;
        u.input_tokens += c.input_tokens + c.cache_read_tokens + c.cache_write_tokens;
        u.output_tokens += c.output_tokens;
        u.cache_read_tokens += c.cache_read_tokens;
        u.cache_write_tokens += c.cache_write_tokens;
        u.reasoning_tokens += c.reasoning_tokens;
        u.cost_micros += c.cost_micros;
    }
    u
}

async fn usage_since_equals_raw_sums(db: &TestDb) {
    let s = db.connect().await;
    for_random_calls(db, 3 * DAY, 300, 3, |calls| {
        let s = s.clone();
        async move {
            insert_in_batches(&s, &calls).await;
            let mut runner = TestRunner::deterministic();
            let offsets = proptest::collection::vec(-DAY..4 * DAY, 12)
                .new_tree(&mut runner)
                .expect("offsets")
                .current();
            // Arbitrary instants, and some on minute, hour and day boundaries, and
            // exactly on a call.
            let mut sinces: Vec<i64> = offsets.iter().map(|o| base() + o).collect();
            sinces.extend([
                base(),
                base() + DAY,
                base() + 5 * HOUR,
                base() + 17 * MINUTE,
            ]);
            sinces.extend(calls.iter().take(3).map(|c| c.at.timestamp_millis()));
            for since in sinces {
                for scope in [
                    UsageScope::Consumer("acme".into()),
                    UsageScope::Consumer("umbrella".into()),
                    UsageScope::Team("red".into()),
                    UsageScope::Key("key_globex".into()),
                ] {
                    let got = s.usage_since(&scope, t(since)).await.expect("usage");
                    assert_eq!(
                        got,
                        raw_usage(&calls, &scope, since),
                        "{scope:?} since {since}"
                    );
                }
            }
        }
    })
    .await;
}

async fn retention_keeps_rollups(db: &TestDb) {
    let s = db.connect().await;
    let mut runner = TestRunner::deterministic();
    // Forty days of calls; the last day is "now".
    let calls = calls_strategy(40 * DAY, 500..501)
        .new_tree(&mut runner)
        .expect("calls")
        .current();
    s.insert_calls(&calls).await.expect("insert");
    let now = base() + 40 * DAY;
    let from = base();
    let to = now;
    let before: Vec<_> = futures_totals(&s, from, to).await;
    let expired = s
        .expire(
            t(now),
            Retention {
                calls_days: 10,
                rollups_days: 400,
            },
        )
        .await
        .expect("expire");
    let cutoff = now - 10 * DAY;
    let old = calls
        .iter()
        .filter(|c| c.at.timestamp_millis() < cutoff)
        .count() as u64;
    assert_eq!(expired.calls, old);
    assert!(expired.minute_rows > 0);
    assert_eq!((expired.hour_rows, expired.day_rows), (0, 0));
    assert_eq!(
        s.count_calls().await.expect("count"),
        calls.len() as u64 - old
    );
    for c in calls
        .iter()
        .filter(|c| c.at.timestamp_millis() < cutoff)
        .take(5)
    {
        assert!(s.get_call(&c.request_id).await.expect("get").is_none());
    }
    // Day-aligned analytics read day rows: unchanged. Usage since the start too.
    assert_eq!(futures_totals(&s, from, to).await, before);
    for name in CONSUMERS {
        let scope = UsageScope::Consumer(name.into());
        assert_eq!(
            s.usage_since(&scope, t(from)).await.expect("usage"),
            raw_usage(&calls, &scope, from)
        );
    }
    let days = s
        .timeseries(
            Metric::Requests,
            Dimension::All,
            Granularity::Day,
            t(from),
            t(to),
        )
        .await
        .expect("series");
    let total: f64 = days[0].points.iter().filter_map(|(_, v)| *v).sum();
    assert_eq!(total, calls.len() as f64);
    // A second pass finds nothing; a pass far in the future takes the rollups too.
    let again = s
        .expire(t(now), Retention::default())
        .await
        .expect("expire");
    assert_eq!(again.calls, 0);
    let later = s
        .expire(
            t(now + 500 * DAY),
            Retention {
                calls_days: 1,
                rollups_days: 1,
            },
        )
        .await
        .expect("expire");
    assert!(later.day_rows > 0 && later.hour_rows > 0);
    assert!(
        s.totals_by(Dimension::All, t(from), t(to))
            .await
            .expect("totals")
            .is_empty()
    );
}

async fn futures_totals(s: &Store, from: i64, to: i64) -> Vec<(String, Rollup)> {
    let mut out = Vec::new();
    for d in Dimension::ALL {
        out.extend(s.totals_by(d, t(from), t(to)).await.expect("totals"));
    }
    out
}

async fn cursor_pages_visit_every_record_once(db: &TestDb) {
    let s = db.connect().await;
    let mut runner = TestRunner::deterministic();
    let mut calls = calls_strategy(2 * HOUR, 400..401)
        .new_tree(&mut runner)
        .expect("calls")
        .current();
    // Many calls in the same millisecond: ties broken by request id.
    for c in calls.iter_mut().step_by(4) {
        c.at = t(base() + HOUR);
    }
    s.insert_calls(&calls).await.expect("insert");
    let filters = [
        CallFilter::default(),
        CallFilter {
            consumer: Some("acme".into()),
            ..CallFilter::default()
        },
        CallFilter {
            from: Some(t(base() + 30 * MINUTE)),
            to: Some(t(base() + HOUR + 1)),
            status: Some(200),
            ..CallFilter::default()
        },
        CallFilter {
            model: Some("gpt-4o-mini".into()),
            provider: Some("openai".into()),
            team: Some("blue".into()),
            ..CallFilter::default()
        },
    ];
    for filter in filters {
        let matches = |c: &CallRecord| {
            let at = c.at.timestamp_millis();
            filter.from.is_none_or(|f| at >= f.timestamp_millis())
                && filter.to.is_none_or(|f| at < f.timestamp_millis())
                && filter
                    .consumer
                    .as_ref()
                    .is_none_or(|v| c.consumer.as_ref() == Some(v))
                && filter
                    .team
                    .as_ref()
                    .is_none_or(|v| c.team.as_ref() == Some(v))
                && filter
                    .model
                    .as_ref()
                    .is_none_or(|v| c.model.as_ref() == Some(v))
                && filter
                    .provider
                    .as_ref()
                    .is_none_or(|v| c.provider.as_ref() == Some(v))
                && filter.status.is_none_or(|v| c.status == v)
        };
        let mut want: Vec<&CallRecord> = calls.iter().filter(|c| matches(c)).collect();
        want.sort_by(|a, b| (b.at, &b.request_id).cmp(&(a.at, &a.request_id)));
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = s
                .list_calls(&filter, 7, cursor.as_deref())
                .await
                .expect("page");
            assert!(page.calls.len() <= 7);
            seen.extend(page.calls.iter().map(|c| c.request_id.clone()));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let want_ids: Vec<String> = want.iter().map(|c| c.request_id.clone()).collect();
        assert_eq!(seen, want_ids, "{filter:?}");
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
        // The pager sees the same, a page at a time.
        let mut pager = s.call_pager(filter.clone(), 50);
        let mut paged = Vec::new();
        while let Some(page) = pager.next_page().await.expect("page") {
            paged.extend(page.into_iter().map(|c| c.request_id));
        }
        assert_eq!(paged, want_ids);
    }
    assert!(s.list_calls(&CallFilter::default(), 0, None).await.is_err());
    assert!(
        s.list_calls(&CallFilter::default(), 1001, None)
            .await
            .is_err()
    );
    assert!(
        s.list_calls(&CallFilter::default(), 10, Some("garbage!"))
            .await
            .is_err()
    );
}

/// Every time series reads only what migration 0012's covering indexes hold: on
/// PostgreSQL each series statement can be an index-only scan (with other scans
/// disallowed, the planner picks one only if the index has every column the
/// statement reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_series_are_index_only_scans() {
    let db = TestDb::postgres().await;
    let _store = db.connect().await;
    let raw = db.raw().await;
    for setting in ["enable_seqscan", "enable_bitmapscan", "enable_indexscan"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("SET {setting} = off")))
            .execute(&raw)
            .await
            .expect("set");
    }
    let statements = tollgate_store::testing::postgres_series_statements();
    assert!(statements.len() >= 30, "{} statements", statements.len());
    for sql in statements {
        let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
            .bind("consumer")
            .bind(0i64)
            .bind(86_400_000i64)
            .fetch_all(&raw)
            .await
            .expect("explain")
            .iter()
            .map(|row| row.try_get::<String, _>(0).expect("plan line"))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Only Scan using rollup_"),
            "{sql}\n{plan}"
        );
    }
}
