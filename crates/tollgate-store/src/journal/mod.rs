//! The journal: call records and credit charges, on local disk before anyone could
//! lose them, and in the database soon after.
//!
//! A write-ahead log in front of the database:
//!
//! - [`Journal::commit`] hands entries to a dedicated OS thread that owns the log
//!   files. It appends every entry pending at that moment with one `write` (group
//!   commit) and only then acknowledges each waiter. Once `commit` returns, the entries
//!   are in the kernel's page cache, which survives the process being killed (SIGKILL,
//!   OOM, panic). Surviving a power loss or kernel crash also needs
//!   [`JournalOptions::sync`], which adds an `fsync` per group.
//! - A tokio task, the database writer, tails the log in order and inserts it in
//!   batches (one transaction each, fixed statements), then records how far it got in
//!   a cursor file and deletes the segments it has finished. Lines this process has
//!   just written are taken from memory rather than read back and parsed (a bounded
//!   copy beside the log, `log::Recent`); older ones come from the files. While the database is
//!   unreachable it retries with backoff and the log simply grows: the log *is* the
//!   spool, replayed in order. Inserts are idempotent by request id (calls, charges),
//!   so a batch replayed because the cursor was not saved in time is stored once.
//! - On open, whatever the log holds past the cursor (the previous process was killed
//!   before its writer caught up) is written first; [`Journal::flush_to_database`]
//!   waits for it, which is what start-up must do before seeding budgets and credits
//!   from the database.
//!
//! Nothing is dropped: there is no full queue. `commit` waits for the disk (the
//! backpressure), never for the database; memory is bounded by the requests in flight
//! on the way in and by a fixed read size on the way out.
//!
//! Metrics: `tollgate_journal_queue_depth` (entries in the log not yet in the
//! database), `tollgate_journal_spool_bytes` (log bytes not yet in the database),
//! `tollgate_journal_batch_seconds` (database batch latency),
//! `tollgate_journal_written_total` (entries written to the database),
//! `tollgate_journal_batch_errors_total`, `tollgate_journal_rejected_total` (entries
//! refused at commit as invalid).

mod db;
mod log;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::calls::validate_call;
use crate::error::StoreError;
use crate::store::Store;
use crate::{CallRecord, LedgerEntry, LedgerKind};

use self::log::{Msg, Pos, Stats};

/// How long `open` waits for a previous journal on the same directory (in this or a
/// dying process) to let go of it.
const LOCK_WAIT: Duration = Duration::from_secs(15);

/// One thing to record. Serialised as one JSON line of the log, tagged by kind
/// (`{"call": {...}}`, `{"charge": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every entry is a call: boxing would only add an allocation"
)]
pub enum Entry {
    Call(CallRecord),
    /// A gateway charge: kind `charge` with a request id (what makes a replay
    /// idempotent).
    Charge(LedgerEntry),
}

/// Why a commit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// The entry could never be stored; nothing of the commit was written.
    #[error("invalid journal entry: {0}")]
    Invalid(String),
    /// The log could not be written (disk full, I/O error); nothing of the commit was
    /// acknowledged.
    #[error("writing the journal log failed: {0}")]
    Log(String),
    /// The log thread is gone.
    #[error("the journal has stopped")]
    Stopped,
}

/// How a journal writes its log.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// `fsync` every group before acknowledging it: needed to survive power loss, not
    /// to survive the process being killed. Off by default.
    pub sync: bool,
    /// A segment file is closed, and a new one started, once it holds this many bytes.
    pub segment_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            sync: false,
            segment_bytes: 8 << 20,
        }
    }
}

/// Where the journal stands (also exported as metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStatus {
    /// Entries in the log that are not yet in the database (recovered ones excluded).
    pub pending_entries: u64,
    /// Log bytes not yet in the database (recovered ones included).
    pub spool_bytes: u64,
    /// Database batches that failed (and were retried) since open.
    pub failed_batches: u64,
}

/// Handle to the journal; cheap to clone. Dropping every handle stops it: what was
/// committed stays in the log and reaches the database at the next open. Call
/// [`Journal::flush_to_database`] first for a clean stop.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::UnboundedSender<Msg>,
    committed: watch::Receiver<Pos>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) the log in `dir` with the default options and starts the
    /// log thread and the database writer. Entries left in the log by a previous
    /// process are written to the database first; `open` does not wait for that,
    /// [`Journal::flush_to_database`] does. Must run inside a tokio runtime.
    pub async fn open(store: Store, dir: PathBuf) -> Result<Journal, StoreError> {
        Journal::open_with(store, dir, JournalOptions::default()).await
    }

    /// [`Journal::open`] with options. Fails if another journal holds `dir` for
    /// longer than a few seconds (two processes must not share one log).
    pub async fn open_with(
        store: Store,
        dir: PathBuf,
        options: JournalOptions,
    ) -> Result<Journal, StoreError> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        let opened = loop {
            let (d, o) = (dir.clone(), options.clone());
            match tokio::task::spawn_blocking(move || log::prepare(&d, &o)).await? {
                Ok(opened) => break opened,
                Err(log::OpenError::Locked(path)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(StoreError::Io {
                            path,
                            source: std::io::Error::new(
                                std::io::ErrorKind::WouldBlock,
                                "the journal directory is in use by another journal",
                            ),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(log::OpenError::Io { path, source }) => {
                    return Err(StoreError::Io { path, source });
                }
            }
        };
        let log::Opened {
            log,
            cursor,
            first_segment,
            stats,
            recent,
            lock,
        } = opened;
        let (tx, rx) = mpsc::unbounded_channel();
        let written = log.subscribe();
        let (committed_tx, committed_rx) = watch::channel(cursor);
        std::thread::Builder::new()
            .name("tollgate-journal".to_string())
            .spawn(move || log.run(rx))
            .map_err(|source| StoreError::Io {
                path: dir.clone(),
                source,
            })?;
        let writer = writer::DbWriter {
            store,
            dir,
            cursor,
            first_segment,
            sync: options.sync,
            written,
            committed: committed_tx,
            stats: stats.clone(),
            recent,
            _lock: lock,
        };
        tokio::spawn(writer.run());
        Ok(Journal {
            inner: Arc::new(Inner {
                tx,
                committed: committed_rx,
                stats,
            }),
        })
    }

    /// Writes `entries` to the log and returns once they are there (never waits for
    /// the database). Entries are checked first: an invalid one fails the whole
    /// commit and nothing is written. If the returned future is dropped after it
    /// started, the entries are still written.
    pub async fn commit(&self, entries: Vec<Entry>) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Ok(());
        }
        let bytes = encode(&entries)?;
        let (ack, done) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Append {
                bytes,
                entries,
                ack: Some(ack),
            })
            .map_err(|_| JournalError::Stopped)?;
        done.await.map_err(|_| JournalError::Stopped)?
    }

    /// [`Journal::commit`] without waiting, for paths that cannot (`Drop`). Never
    /// drops an entry for lack of room: the channel to the log thread is unbounded.
    /// That stays bounded in practice because every request path awaits its own
    /// commit, so at most one detached batch per request that went away is in the
    /// channel, and the log thread drains it at disk speed. Invalid entries (or a
    /// stopped journal) are logged and counted, since there is no caller to tell.
    pub fn commit_detached(&self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let count = entries.len();
        let sent = encode(&entries).and_then(|bytes| {
            self.inner
                .tx
                .send(Msg::Append {
                    bytes,
                    entries,
                    ack: None,
                })
                .map_err(|_| JournalError::Stopped)
        });
        if let Err(e) = sent {
            tracing::error!(error = %e, entries = count, "journal entries not recorded");
        }
    }

    /// Waits until everything committed before this call (detached commits included)
    /// is in the database. Returns early only if the journal stops. Waits as long as
    /// the database is unreachable: bound it with a timeout where that matters.
    pub async fn flush_to_database(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.tx.send(Msg::Barrier(tx)).is_err() {
            return;
        }
        let Ok(target) = rx.await else {
            return;
        };
        let mut committed = self.inner.committed.clone();
        let _ = committed.wait_for(|p| *p >= target).await;
    }

    /// The figures of the journal's metrics, for this handle's journal.
    pub fn status(&self) -> JournalStatus {
        self.inner.stats.status()
    }
}

/// Checks `entries` and serialises them to log lines.
fn encode(entries: &[Entry]) -> Result<Vec<u8>, JournalError> {
    let mut bytes = Vec::with_capacity(entries.len() * 512);
    for e in entries {
        if let Err(msg) = check(e) {
            metrics::counter!("tollgate_journal_rejected_total").increment(entries.len() as u64);
            return Err(JournalError::Invalid(msg));
        }
        // JSON escapes control characters inside strings: one entry, one line.
        serde_json::to_writer(&mut bytes, e).map_err(|e| JournalError::Invalid(e.to_string()))?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// What the database writer would reject for ever, refused before it reaches the log
/// (a poisoned entry would hold up every entry behind it).
fn check(entry: &Entry) -> Result<(), String> {
    match entry {
        Entry::Call(c) => validate_call(c).map_err(|e| e.to_string()),
        Entry::Charge(l) => {
            if l.kind != LedgerKind::Charge {
                return Err(format!(
                    "the journal records charges only, not a {}",
                    l.kind
                ));
            }
            if l.request_id.as_deref().unwrap_or("").is_empty() {
                return Err("a charge needs a request id".to_string());
            }
            if l.consumer.is_empty() || l.actor.is_empty() {
                return Err("a charge needs a consumer and an actor".to_string());
            }
            if l.amount_micros > 0 {
                return Err(format!("a charge of {} micro-USD", l.amount_micros));
            }
            Ok(())
        }
    }
}
