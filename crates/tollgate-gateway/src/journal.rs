//! The journal: call records and credit charges, written off the request path in
//! batches, with bounded memory.
//!
//! Requests hand entries to a bounded queue and never wait. One writer task drains it
//! in batches (up to [`BATCH`] entries or [`LINGER`]). If the database refuses a batch,
//! the batch is appended to a spool file on local disk and replayed once the database
//! answers again, so an outage loses nothing. A full queue (the database far slower
//! than traffic) drops entries and counts them in `tollgate_journal_dropped_total`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tollgate_store::{CallRecord, LedgerEntry, Store};

const QUEUE: usize = 65_536;
const BATCH: usize = 512;
const LINGER: Duration = Duration::from_millis(200);
const REPLAY_EVERY: Duration = Duration::from_secs(5);
const SPOOL_FILE: &str = "journal.spool.jsonl";

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Entry {
    Call(CallRecord),
    Charge(LedgerEntry),
}

/// The call record's full shape (PRODUCT.md), until the store keeps all of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FullCallRecord {
    pub request_id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub consumer: Option<String>,
    pub team: Option<String>,
    pub key_id: Option<String>,
    pub door: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub target_model: Option<String>,
    pub attempts: Vec<CallAttempt>,
    pub status: u16,
    pub error_code: Option<String>,
    pub latency_ms: u64,
    pub upstream_latency_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_micros: i64,
    pub reserved_micros: i64,
    pub cache: Option<String>,
    pub stream: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub steps: serde_json::Value,
}

/// One upstream attempt of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAttempt {
    pub provider: String,
    pub target_model: String,
    pub status: Option<u16>,
    pub error_code: Option<String>,
    pub reason: Option<String>,
    pub latency_ms: u64,
}

/// A full record or a charge, as the lifecycle commits them.
#[derive(Debug, Clone)]
pub enum FullEntry {
    Call(FullCallRecord),
    Charge(LedgerEntry),
}

impl FullEntry {
    fn narrow(self) -> Option<Entry> {
        match self {
            FullEntry::Charge(c) => Some(Entry::Charge(c)),
            FullEntry::Call(r) => Some(Entry::Call(CallRecord {
                request_id: r.request_id,
                at: r.at,
                consumer: r.consumer?,
                key_id: r.key_id.unwrap_or_default(),
                team: r.team,
                model: r.model.unwrap_or_default(),
                provider: r.provider,
                status: r.status,
                input_tokens: r.input_tokens + r.cache_read_tokens + r.cache_write_tokens,
                output_tokens: r.output_tokens,
                cost_micros: r.cost_micros,
                cached: r.cache.as_deref() == Some("hit"),
                error_code: r.error_code,
                latency_ms: r.latency_ms,
                ttfb_ms: r.ttft_ms,
            })),
        }
    }
}

enum Msg {
    Entry(Box<Entry>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Msg>,
}

impl Journal {
    /// Starts the writer. `spool_dir` holds batches the database refused.
    pub fn start(store: Store, spool_dir: PathBuf) -> Journal {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, spool_dir, rx));
        Journal { tx }
    }

    /// Queues an entry; never waits.
    pub fn record(&self, entry: Entry) {
        if let Err(e) = self.tx.try_send(Msg::Entry(Box::new(entry))) {
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "queue_full",
                mpsc::error::TrySendError::Closed(_) => "closed",
            };
            metrics::counter!("tollgate_journal_dropped_total", "reason" => reason).increment(1);
        }
    }

    /// Commits entries of one call.
    pub async fn commit(&self, entries: Vec<FullEntry>) {
        self.commit_detached(entries);
    }

    /// Commits entries of one call without waiting.
    pub fn commit_detached(&self, entries: Vec<FullEntry>) {
        for e in entries.into_iter().filter_map(FullEntry::narrow) {
            self.record(e);
        }
    }

    /// Waits until everything queued before this call is written (or spooled).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer(store: Store, spool_dir: PathBuf, mut rx: mpsc::Receiver<Msg>) {
    let spool = Arc::new(spool_dir.join(SPOOL_FILE));
    let mut replay = tokio::time::interval(REPLAY_EVERY);
    replay.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            msg = rx.recv() => msg,
            _ = replay.tick() => {
                replay_spool(&store, &spool).await;
                continue;
            }
        };
        let Some(first) = first else { break };
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        push(first, &mut batch, &mut flushes);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && flushes.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => push(msg, &mut batch, &mut flushes),
                Ok(None) | Err(_) => break,
            }
        }
        if !batch.is_empty() {
            write(&store, &spool, batch).await;
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

fn push(msg: Msg, batch: &mut Vec<Entry>, flushes: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Entry(e) => batch.push(*e),
        Msg::Flush(f) => flushes.push(f),
    }
}

async fn write(store: &Store, spool: &Path, batch: Vec<Entry>) {
    if let Err(e) = write_db(store, &batch).await {
        tracing::warn!(error = %e, entries = batch.len(), "database refused a journal batch; spooling to disk");
        metrics::counter!("tollgate_journal_spooled_total").increment(batch.len() as u64);
        if let Err(e) = append_spool(spool, &batch).await {
            tracing::error!(error = %e, entries = batch.len(), "journal batch lost: spool write failed");
            metrics::counter!("tollgate_journal_dropped_total", "reason" => "spool_failed")
                .increment(batch.len() as u64);
        }
    }
}

async fn write_db(store: &Store, batch: &[Entry]) -> Result<(), tollgate_store::StoreError> {
    let calls: Vec<CallRecord> = batch
        .iter()
        .filter_map(|e| match e {
            Entry::Call(c) => Some(c.clone()),
            Entry::Charge(_) => None,
        })
        .collect();
    let charges: Vec<LedgerEntry> = batch
        .iter()
        .filter_map(|e| match e {
            Entry::Charge(c) => Some(c.clone()),
            Entry::Call(_) => None,
        })
        .collect();
    if !calls.is_empty() {
        store.insert_calls(&calls).await?;
    }
    if !charges.is_empty() {
        store.append_ledger_batch(&charges).await?;
    }
    Ok(())
}

/// Re-sends spooled batches; the file is removed only once all of it is written.
/// Inserts are idempotent (calls by request id, charges by request id), so a replay
/// interrupted half-way does no harm when repeated.
async fn replay_spool(store: &Store, spool: &Path) {
    let Ok(text) = tokio::fs::read_to_string(spool).await else {
        return;
    };
    let entries: Vec<Entry> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<SpoolLine>(l).ok())
        .map(Entry::from)
        .collect();
    if entries.is_empty() {
        let _ = tokio::fs::remove_file(spool).await;
        return;
    }
    for chunk in entries.chunks(BATCH) {
        if write_db(store, chunk).await.is_err() {
            return;
        }
    }
    tracing::info!(entries = entries.len(), "replayed the journal spool");
    let _ = tokio::fs::remove_file(spool).await;
}

async fn append_spool(spool: &Path, batch: &[Entry]) -> std::io::Result<()> {
    if let Some(dir) = spool.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut text = String::new();
    for e in batch {
        if let Ok(line) = serde_json::to_string(&SpoolLine::from(e)) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spool)
        .await?;
    f.write_all(text.as_bytes()).await?;
    f.sync_data().await
}

/// One spool line: an entry, tagged by kind.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
enum SpoolLine {
    Call(CallRecord),
    Charge(LedgerEntry),
}

impl From<&Entry> for SpoolLine {
    fn from(e: &Entry) -> Self {
        match e {
            Entry::Call(c) => SpoolLine::Call(c.clone()),
            Entry::Charge(l) => SpoolLine::Charge(l.clone()),
        }
    }
}

impl From<SpoolLine> for Entry {
    fn from(l: SpoolLine) -> Self {
        match l {
            SpoolLine::Call(c) => Entry::Call(c),
            SpoolLine::Charge(l) => Entry::Charge(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_store::{LedgerKind, SecretCipher, UsageScope};

    fn call(id: &str) -> CallRecord {
        CallRecord {
            request_id: id.into(),
            at: chrono::Utc::now(),
            consumer: "c".into(),
            key_id: "k".into(),
            team: None,
            model: "m".into(),
            provider: Some("p".into()),
            status: 200,
            input_tokens: 3,
            output_tokens: 4,
            cost_micros: 7,
            cached: false,
            error_code: None,
            latency_ms: 1,
            ttfb_ms: Some(1),
        }
    }

    #[tokio::test]
    async fn spooled_batches_are_replayed_once_and_the_spool_removed() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&db, SecretCipher::new([7; 32]))
            .await
            .unwrap();
        let spool = dir.path().join("spool").join(SPOOL_FILE);
        let batch = vec![
            Entry::Call(call("r1")),
            Entry::Call(call("r2")),
            Entry::Charge(LedgerEntry::charge("c", "r1", 7)),
        ];
        append_spool(&spool, &batch).await.unwrap();
        // The same batch twice (a write that failed half-way and was spooled again).
        append_spool(&spool, &batch).await.unwrap();
        replay_spool(&store, &spool).await;
        assert!(!spool.exists(), "spool removed once written");
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let totals = store
            .usage_since(&UsageScope::Consumer("c".into()), since)
            .await
            .unwrap();
        assert_eq!(totals.requests, 2, "idempotent by request id");
        assert_eq!(totals.cost_micros, 14);
        let ledger = store.list_ledger("c", 10, None).await.unwrap();
        assert_eq!(ledger.len(), 1, "one charge per request");
        assert_eq!(ledger[0].kind, LedgerKind::Charge);
        assert_eq!(store.credit_balance("c").await.unwrap(), -7);
    }

    #[tokio::test]
    async fn the_writer_batches_and_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&db, SecretCipher::new([7; 32]))
            .await
            .unwrap();
        let journal = Journal::start(store.clone(), dir.path().join("spool"));
        for i in 0..1000 {
            journal.record(Entry::Call(call(&format!("w{i}"))));
        }
        journal.flush().await;
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let totals = store
            .usage_since(&UsageScope::Consumer("c".into()), since)
            .await
            .unwrap();
        assert_eq!(totals.requests, 1000);
    }
}
