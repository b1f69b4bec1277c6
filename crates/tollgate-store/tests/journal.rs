//! Call records in their full shape, their fixed-statement batches, and the journal
//! (the write-ahead log in front of the database), on SQLite and PostgreSQL.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tollgate_store::journal::{Entry, Journal, JournalError, JournalOptions};
use tollgate_store::testing::TestDb;
use tollgate_store::{
    CALLS_PER_STATEMENT, CallAttempt, CallRecord, JsonText, LedgerEntry, LedgerKind, SecretCipher,
    Store, UsageScope,
};

tollgate_store::backend_suite!(
    full_record_round_trip,
    fixed_statement_batches,
    text_with_tabs_newlines_and_backslashes_round_trips,
    journal_commit_reaches_the_database,
    journal_rejects_what_could_never_be_stored,
    journal_replays_after_a_stop_without_flush,
    journal_outage_spools_and_replays_in_order_once,
    journal_burst_loses_nothing,
    journal_sigkill_after_commit_loses_nothing,
);

const COST: i64 = 250;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 5, 12, 0, 0)
        .single()
        .expect("date")
}

fn rec(request_id: &str, consumer: &str) -> CallRecord {
    CallRecord {
        request_id: request_id.into(),
        at: at(),
        consumer: Some(consumer.into()),
        key_id: Some(format!("key_{consumer}")),
        door: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        status: 200,
        input_tokens: 10,
        output_tokens: 5,
        cost_micros: COST,
        steps: json!([]).into(),
        ..CallRecord::default()
    }
}

fn charge(consumer: &str, request_id: &str) -> LedgerEntry {
    LedgerEntry {
        at: at(),
        ..LedgerEntry::charge(consumer, request_id, COST)
    }
}

fn options(segment_bytes: u64) -> JournalOptions {
    JournalOptions {
        segment_bytes,
        ..JournalOptions::default()
    }
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

async fn ledger(s: &Store, consumer: &str) -> Vec<LedgerEntry> {
    s.list_ledger(consumer, 10_000, None).await.expect("ledger")
}

/// A store whose every query fails: a database that does not answer.
async fn dead_store(db: &TestDb) -> Store {
    let s = db.connect().await;
    s.close().await;
    s
}

// ---------------------------------------------------------------------------------
// Call records

async fn full_record_round_trip(db: &TestDb) {
    let s = db.connect().await;
    let full = CallRecord {
        request_id: "req-full".into(),
        at: at(),
        consumer: Some("acme".into()),
        team: Some("platform".into()),
        key_id: Some("key_1".into()),
        door: "anthropic".into(),
        model: Some("claude-sonnet".into()),
        provider: Some("bedrock".into()),
        target_model: Some("anthropic.claude-sonnet-4".into()),
        attempts: vec![
            CallAttempt {
                provider: "anthropic".into(),
                target_model: "claude-sonnet-4".into(),
                status: Some(529),
                error_code: Some("overloaded".into()),
                reason: Some("transient".into()),
                latency_ms: 40,
            },
            CallAttempt {
                provider: "bedrock".into(),
                target_model: "anthropic.claude-sonnet-4".into(),
                status: Some(200),
                error_code: None,
                reason: None,
                latency_ms: 900,
            },
        ],
        status: 200,
        error_code: None,
        latency_ms: 1_000,
        upstream_latency_ms: Some(940),
        ttft_ms: Some(310),
        input_tokens: 1_000,
        output_tokens: 300,
        cache_read_tokens: 4_000,
        cache_write_tokens: 200,
        reasoning_tokens: 120,
        cost_micros: 12_345,
        reserved_micros: 50_000,
        cache: Some("miss".into()),
        stream: true,
        client_ip: Some("203.0.113.9".into()),
        user_agent: Some("openai-python/1.50".into()),
        steps: json!([
            {"step": "auth", "outcome": "pass"},
            {"step": "budget", "scope": "consumer", "limit_usd": 10.0, "used_usd": 1.5, "outcome": "pass"},
            {"step": "settle", "reserved_usd": 0.05, "charged_usd": 0.012345}
        ])
        .into(),
        request_body: Some(r#"{"messages":[]}"#.into()),
        response_body: Some("{}".into()),
    };
    // A 401: no consumer, no key, a body that was never parsed.
    let anonymous = CallRecord {
        request_id: "req-401".into(),
        at: at(),
        door: "openai".into(),
        status: 401,
        error_code: Some("invalid_api_key".into()),
        latency_ms: 1,
        steps: json!([{"step": "auth", "outcome": "refused"}]).into(),
        ..CallRecord::default()
    };
    assert_eq!(
        s.insert_calls(&[full.clone(), anonymous.clone()])
            .await
            .expect("insert"),
        2
    );
    assert_eq!(s.get_call("req-full").await.expect("get"), Some(full));
    assert_eq!(s.get_call("req-401").await.expect("get"), Some(anonymous));

    // Input-side totals count every input class; reasoning is part of output.
    let totals = s
        .usage_since(&UsageScope::Consumer("acme".into()), at())
        .await
        .expect("usage");
    assert_eq!(totals.requests, 1);
    assert_eq!(totals.input_tokens, 5_200);
    assert_eq!(totals.output_tokens, 300);
    assert_eq!(totals.cache_read_tokens, 4_000);
    assert_eq!(totals.cache_write_tokens, 200);
    assert_eq!(totals.reasoning_tokens, 120);
    assert_eq!(totals.cost_micros, 12_345);
    let by_key = s
        .usage_since(&UsageScope::Key("key_1".into()), at())
        .await
        .expect("usage");
    assert_eq!(by_key.requests, 1);

    // A NUL from a client's body (PostgreSQL refuses it in TEXT) must not make the
    // record unstorable.
    let mut nul = rec("req-nul", "acme");
    nul.model = Some("gpt\0x".into());
    s.insert_calls(&[nul]).await.expect("insert with NUL");
    let got = s.get_call("req-nul").await.expect("get").expect("stored");
    assert_eq!(got.model.as_deref(), Some("gpt\u{FFFD}x"));
}

async fn fixed_statement_batches(db: &TestDb) {
    let s = db.connect().await;
    let mut total = 0u64;
    // Below, at, just over and well over the size of the large statement.
    for n in [
        1,
        CALLS_PER_STATEMENT - 1,
        CALLS_PER_STATEMENT,
        CALLS_PER_STATEMENT + 1,
        1000,
    ] {
        let batch: Vec<CallRecord> = (0..n)
            .map(|i| {
                let mut c = rec(&format!("b{n}-{i:04}"), "fixed");
                c.input_tokens = i as u64;
                c
            })
            .collect();
        assert_eq!(s.insert_calls(&batch).await.expect("insert"), n as u64);
        for c in [&batch[0], &batch[n / 2], &batch[n - 1]] {
            assert_eq!(
                s.get_call(&c.request_id).await.expect("get").as_ref(),
                Some(c)
            );
        }
        assert_eq!(s.insert_calls(&batch).await.expect("again"), 0);
        total += n as u64;
    }
    assert_eq!(s.count_calls().await.expect("count"), total);
    let sum: u64 = [1u64, 63, 64, 65, 1000]
        .iter()
        .map(|n| n * (n - 1) / 2)
        .sum();
    let totals = s
        .usage_since(&UsageScope::Consumer("fixed".into()), at())
        .await
        .expect("usage");
    assert_eq!(totals.input_tokens, sum, "every row with its own values");

    // Half old, half new, across chunk boundaries: only the new ones count.
    let mixed: Vec<CallRecord> = (500..1500)
        .map(|i| rec(&format!("b1000-{i:04}"), "fixed"))
        .collect();
    assert_eq!(s.insert_calls(&mixed).await.expect("mixed"), 500);
}

/// PostgreSQL's batches go by COPY, whose text format gives tabs, newlines, carriage
/// returns, backslashes and `\N` / `\.` a meaning: values holding them (a client's
/// user agent, a body, a consumer name in the rollups) come back as they went in.
async fn text_with_tabs_newlines_and_backslashes_round_trips(db: &TestDb) {
    let s = db.connect().await;
    let awkward = "a\tb\nc\r\\N\\.\n\\.\n\\\\end\u{e9}";
    let mut c = rec("req-awkward\t1", awkward);
    c.user_agent = Some(awkward.into());
    c.request_body = Some(format!("{{\"x\":\"{}\"}}\n\\.\n", awkward.escape_default()));
    c.response_body = Some(String::new());
    c.client_ip = None;
    c.steps = JsonText::from(json!([{"step": "auth", "note": awkward}]));
    // The same id twice in one batch: the first is the one stored.
    let mut again = c.clone();
    again.user_agent = Some("second".into());
    let mut charge_c = charge(awkward, "req-awkward\t1");
    charge_c.reason = awkward.into();
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::open(s.clone(), dir.path().to_path_buf())
        .await
        .expect("open");
    j.commit(vec![
        Entry::Call(c.clone()),
        Entry::Call(again),
        Entry::Charge(charge_c.clone()),
        Entry::Charge(charge_c),
    ])
    .await
    .expect("commit");
    j.flush_to_database().await;
    assert_eq!(s.get_call("req-awkward\t1").await.expect("get"), Some(c));
    assert_eq!(s.count_calls().await.expect("count"), 1);
    assert_eq!(s.credit_balance(awkward).await.expect("balance"), -COST);
    let totals = s
        .usage_since(&UsageScope::Consumer(awkward.into()), at())
        .await
        .expect("usage");
    assert_eq!(totals.requests, 1, "the rollup row under the awkward name");
}

// ---------------------------------------------------------------------------------
// The journal

async fn journal_commit_reaches_the_database(db: &TestDb) {
    let s = db.connect().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::open(s.clone(), dir.path().to_path_buf())
        .await
        .expect("open");
    let mut entries = Vec::new();
    for i in 0..10 {
        let id = format!("c-{i}");
        entries.push(Entry::Charge(charge("credits", &id)));
        entries.push(Entry::Call(rec(&id, "credits")));
    }
    j.commit(entries).await.expect("commit");
    for i in 0..5 {
        j.commit_detached(vec![Entry::Call(rec(&format!("d-{i}"), "other"))]);
    }
    j.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), 15);
    assert_eq!(
        s.get_call("c-3").await.expect("get"),
        Some(rec("c-3", "credits"))
    );
    assert_eq!(
        s.credit_balance("credits").await.expect("balance"),
        -10 * COST
    );
    let status = j.status();
    assert_eq!(status.pending_entries, 0);
    assert_eq!(status.spool_bytes, 0);
}

async fn journal_rejects_what_could_never_be_stored(db: &TestDb) {
    let s = db.connect().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::open(s.clone(), dir.path().to_path_buf())
        .await
        .expect("open");
    let mut no_id = charge("c", "r1");
    no_id.request_id = None;
    let topup = LedgerEntry::new("c", LedgerKind::Topup, 5, "", "admin");
    let mut positive = charge("c", "r2");
    positive.amount_micros = 5;
    for bad in [
        Entry::Charge(no_id),
        Entry::Charge(topup),
        Entry::Charge(positive),
        Entry::Call(rec("", "c")),
    ] {
        let r = j.commit(vec![Entry::Call(rec("ok-1", "c")), bad]).await;
        assert!(matches!(r, Err(JournalError::Invalid(_))), "{r:?}");
    }
    j.commit_detached(vec![Entry::Call(rec("", "c"))]);
    j.commit(vec![Entry::Call(rec("ok-2", "c"))])
        .await
        .expect("valid commit");
    j.flush_to_database().await;
    assert_eq!(
        s.get_call("ok-1").await.expect("get"),
        None,
        "all or nothing"
    );
    assert_eq!(s.count_calls().await.expect("count"), 1);
    assert!(ledger(&s, "c").await.is_empty());
}

async fn journal_replays_after_a_stop_without_flush(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();

    // The database never answers this journal, and it is dropped without a flush:
    // what it committed is only in its log.
    let first = Journal::open_with(dead_store(db).await, path.clone(), options(4096))
        .await
        .expect("open");
    for batch in 0..20 {
        let mut entries = Vec::new();
        for i in 0..5 {
            let id = format!("r-{batch}-{i}");
            entries.push(Entry::Call(rec(&id, "acme")));
            entries.push(Entry::Charge(charge("acme", &id)));
        }
        first.commit(entries).await.expect("commit");
    }
    assert!(segments(&path) > 1, "small segments rotated");
    drop(first);

    let s = db.connect().await;
    assert_eq!(s.count_calls().await.expect("count"), 0);
    let second = Journal::open(s.clone(), path.clone())
        .await
        .expect("reopen");
    second.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), 100);
    assert_eq!(ledger(&s, "acme").await.len(), 100);
    assert_eq!(
        s.credit_balance("acme").await.expect("balance"),
        -100 * COST
    );

    // A stop between a batch's commit and saving the cursor: the next run writes the
    // batch again, and it is stored once.
    let mut more = Vec::new();
    for i in 0..10 {
        let id = format!("m-{i}");
        more.push(Entry::Call(rec(&id, "acme")));
        more.push(Entry::Charge(charge("acme", &id)));
    }
    second.commit(more).await.expect("commit");
    second.flush_to_database().await;
    drop(second);
    std::fs::remove_file(path.join("cursor")).expect("cursor saved");
    let third = Journal::open(s.clone(), path.clone())
        .await
        .expect("reopen");
    third.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), 110);
    assert_eq!(ledger(&s, "acme").await.len(), 110);
    assert_eq!(
        s.credit_balance("acme").await.expect("balance"),
        -110 * COST
    );
    assert_eq!(segments(&path), 1, "finished segments are deleted");
}

async fn journal_outage_spools_and_replays_in_order_once(db: &TestDb) {
    let s = db.connect().await;
    let raw = db.raw().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::open(s.clone(), dir.path().to_path_buf())
        .await
        .expect("open");
    j.commit(vec![Entry::Call(rec("before", "acme"))])
        .await
        .expect("commit");
    j.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), 1);

    // The calls table goes away: every batch fails.
    sqlx::query("ALTER TABLE calls RENAME TO calls_away")
        .execute(&raw)
        .await
        .expect("rename");
    for i in 0..20 {
        let id = format!("o-{i:02}");
        j.commit(vec![
            Entry::Charge(charge("outage", &id)),
            Entry::Call(rec(&id, "outage")),
        ])
        .await
        .expect("commit during the outage");
    }
    let mut waited = 0;
    while j.status().failed_batches == 0 {
        assert!(waited < 400, "the writer never tried the database");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let during = j.status();
    assert_eq!(during.pending_entries, 40);
    assert!(during.spool_bytes > 0);
    assert!(
        ledger(&s, "outage").await.is_empty(),
        "a failed batch writes nothing"
    );

    sqlx::query("ALTER TABLE calls_away RENAME TO calls")
        .execute(&raw)
        .await
        .expect("rename back");
    j.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), 21);
    let charges: Vec<String> = ledger(&s, "outage")
        .await
        .into_iter()
        .rev()
        .map(|e| e.request_id.expect("request id"))
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("o-{i:02}")).collect();
    assert_eq!(charges, expected, "once each, in commit order");
    assert_eq!(j.status().pending_entries, 0);
    assert_eq!(j.status().spool_bytes, 0);
}

async fn journal_burst_loses_nothing(db: &TestDb) {
    const TASKS: usize = 50;
    const PER_TASK: usize = 2_000;
    let s = db.connect().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::open_with(s.clone(), dir.path().to_path_buf(), options(1 << 20))
        .await
        .expect("open");
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            // Half awaited in small groups, half detached one by one.
            for chunk in 0..PER_TASK / 20 {
                let entries = (0..10)
                    .map(|i| Entry::Call(rec(&format!("t{t}-a{chunk}-{i}"), "burst")))
                    .collect();
                j.commit(entries).await.expect("commit");
            }
            for i in 0..PER_TASK / 2 {
                j.commit_detached(vec![Entry::Call(rec(&format!("t{t}-d{i}"), "burst"))]);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    j.flush_to_database().await;
    assert_eq!(
        s.count_calls().await.expect("count"),
        (TASKS * PER_TASK) as u64
    );
    assert_eq!(j.status().pending_entries, 0);
    assert_eq!(segments(dir.path()), 1, "finished segments are deleted");
}

// ---------------------------------------------------------------------------------
// SIGKILL: a child process (this test binary, running the ignored test below)
// commits, says so, and is killed; nothing it committed may be lost.

const CHILD_URL: &str = "TG_JOURNAL_CHILD_URL";
const CHILD_DIR: &str = "TG_JOURNAL_CHILD_DIR";
const CHILD_CALLS: usize = 300;
const CHILD_READY: &str = "TG_JOURNAL_CHILD_COMMITTED";

async fn journal_sigkill_after_commit_loses_nothing(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "journal_child_commits_then_waits",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, &db.url)
        .env(CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            // The harness may have started the line ("test name ... ").
            if line.ends_with(CHILD_READY) {
                return true;
            }
        }
        false
    })
    .await
    .expect("the child committed in time");
    assert!(ready, "the child exited before committing");
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("wait");
    assert!(!status.success(), "killed, not exited: {status:?}");

    let s = db.connect().await;
    assert_eq!(
        s.count_calls().await.expect("count"),
        0,
        "the child's database never answered"
    );
    let j = Journal::open(s.clone(), dir.path().to_path_buf())
        .await
        .expect("reopen");
    j.flush_to_database().await;
    assert_eq!(s.count_calls().await.expect("count"), CHILD_CALLS as u64);
    assert_eq!(ledger(&s, "killed").await.len(), CHILD_CALLS);
    assert_eq!(
        s.credit_balance("killed").await.expect("balance"),
        -(CHILD_CALLS as i64) * COST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of journal_sigkill_after_commit_loses_nothing"]
async fn journal_child_commits_then_waits() {
    let (Ok(url), Ok(dir)) = (std::env::var(CHILD_URL), std::env::var(CHILD_DIR)) else {
        panic!("run by journal_sigkill_after_commit_loses_nothing only");
    };
    let store = Store::connect(&url, SecretCipher::new([3u8; 32]))
        .await
        .expect("connect");
    // A database that never answers: what the parent finds must come from the log.
    store.close().await;
    let j = Journal::open(store, dir.into()).await.expect("open");
    for i in 0..CHILD_CALLS {
        let id = format!("k-{i}");
        j.commit(vec![
            Entry::Call(rec(&id, "killed")),
            Entry::Charge(charge("killed", &id)),
        ])
        .await
        .expect("commit");
    }
    println!("\n{CHILD_READY}");
    use std::io::Write;
    std::io::stdout().flush().expect("flush");
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
