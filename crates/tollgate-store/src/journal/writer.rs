//! The database writer: tails the log in order and inserts it in batches.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Entry;
use super::db::write_batch;
use super::log::{Group, Pos, Recent, Stats, list_segments, segment_path, write_cursor};
use crate::store::Store;

/// Most entries per database batch.
const MAX_BATCH_ENTRIES: usize = 1024;
/// Most log bytes read per batch (a longer single line is still read whole).
const MAX_BATCH_BYTES: u64 = 1 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(crate) struct DbWriter {
    pub store: Store,
    pub dir: PathBuf,
    /// Everything before this is in the database.
    pub cursor: Pos,
    /// Entries of segments before this one were logged by an earlier process (they
    /// are not in the queue-depth gauge).
    pub first_segment: u64,
    pub sync: bool,
    /// The end of the acknowledged log, from the log thread; closed when it stops.
    pub written: watch::Receiver<Pos>,
    /// The cursor, for `flush_to_database`.
    pub committed: watch::Sender<Pos>,
    pub stats: Arc<Stats>,
    /// What the log thread has just written, still in memory.
    pub recent: Arc<Recent>,
    pub _lock: Arc<File>,
}

/// One batch read from the log.
struct Loaded {
    entries: Vec<Entry>,
    /// Bytes of complete lines read (the cursor moves by this much).
    consumed: u64,
    /// The segment's length when read.
    file_len: u64,
}

enum Step {
    Continue,
    Stop,
}

impl DbWriter {
    /// Runs until the log thread stops (every journal handle dropped).
    pub(crate) async fn run(mut self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if self.written.has_changed().is_err() {
                return;
            }
            let written = *self.written.borrow_and_update();
            let step = match self.step(written).await {
                Ok(step) => {
                    backoff = FIRST_BACKOFF;
                    step
                }
                Err(e) => {
                    self.stats.batch_failed();
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                        "journal: database write failed; the log keeps the entries");
                    let step = self.pause(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    step
                }
            };
            if let Step::Stop = step {
                return;
            }
        }
    }

    /// Sleeps, unless the journal stops meanwhile.
    async fn pause(&mut self, d: Duration) -> Step {
        let sleep = tokio::time::sleep(d);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Step::Continue,
                changed = self.written.changed() => if changed.is_err() {
                    return Step::Stop;
                },
            }
        }
    }

    /// One batch, a move to the next segment, or a wait for more log.
    async fn step(&mut self, written: Pos) -> Result<Step, String> {
        // A segment before the one being written is complete: read it to its end.
        let sealed = self.cursor.seg < written.seg;
        if !sealed && self.cursor.off >= written.off {
            self.committed.send_replace(self.cursor);
            return Ok(match self.written.changed().await {
                Ok(()) => Step::Continue,
                Err(_) => Step::Stop,
            });
        }
        let end = (!sealed).then_some(written.off);
        if let Some(group) = self
            .recent
            .take(self.cursor, end, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES)
        {
            return self.store_recent(group).await;
        }
        let path = segment_path(&self.dir, self.cursor.seg);
        let from = self.cursor.off;
        let loaded = tokio::task::spawn_blocking(move || load(&path, from, end))
            .await
            .map_err(|e| e.to_string())?;
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) if sealed && e.kind() == std::io::ErrorKind::NotFound => {
                self.next_segment(written.seg, 0).await?;
                return Ok(Step::Continue);
            }
            Err(e) => return Err(format!("reading the journal log: {e}")),
        };
        if loaded.consumed == 0 {
            if sealed {
                // The rest of a complete segment is at most a line torn by a crash,
                // never acknowledged.
                let torn = loaded.file_len.saturating_sub(self.cursor.off);
                if torn > 0 {
                    tracing::warn!(
                        segment = self.cursor.seg,
                        bytes = torn,
                        "journal: skipping an incomplete last line"
                    );
                }
                self.next_segment(written.seg, torn).await?;
            }
            return Ok(Step::Continue);
        }
        self.store(&loaded.entries, loaded.consumed).await?;
        Ok(Step::Continue)
    }

    /// Inserts lines taken from [`Recent`] (they start at the cursor), then moves the
    /// cursor past them. On failure they go back for the retry.
    async fn store_recent(&mut self, group: Group) -> Result<Step, String> {
        if let Err(e) = self.store(&group.entries, group.len).await {
            self.recent.put_back(group);
            return Err(e);
        }
        Ok(Step::Continue)
    }

    /// Inserts `entries`, the lines of the next `consumed` bytes of the log, then moves
    /// the cursor past them and updates the gauges. Fails only if the insert does
    /// (nothing moves then).
    async fn store(&mut self, entries: &[Entry], consumed: u64) -> Result<(), String> {
        if !entries.is_empty() {
            let started = Instant::now();
            write_batch(&self.store, entries)
                .await
                .map_err(|e| e.to_string())?;
            metrics::histogram!("tollgate_journal_batch_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::counter!("tollgate_journal_written_total").increment(entries.len() as u64);
        }
        self.cursor.off += consumed;
        self.save_cursor().await;
        // Entries of an earlier process's segments are not in the queue-depth gauge.
        let ours = if self.cursor.seg >= self.first_segment {
            entries.len()
        } else {
            0
        };
        self.stats.stored(
            i64::try_from(ours).unwrap_or(i64::MAX),
            i64::try_from(consumed).unwrap_or(i64::MAX),
        );
        self.committed.send_replace(self.cursor);
        Ok(())
    }

    /// Moves the cursor to the next segment that exists (at most `last`), saves it,
    /// then deletes the segments before it.
    async fn next_segment(&mut self, last: u64, skipped: u64) -> Result<(), String> {
        let dir = self.dir.clone();
        let done = self.cursor.seg;
        let segments = tokio::task::spawn_blocking(move || list_segments(&dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("listing the journal log: {e}"))?;
        let next = segments
            .iter()
            .map(|(seg, _)| *seg)
            .find(|seg| *seg > done)
            .unwrap_or(last)
            .min(last);
        self.cursor = Pos { seg: next, off: 0 };
        self.save_cursor().await;
        let dir = self.dir.clone();
        let old: Vec<u64> = segments
            .iter()
            .map(|(seg, _)| *seg)
            .filter(|seg| *seg < next)
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for seg in old {
                let path = segment_path(&dir, seg);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "journal: cannot delete a finished segment");
                }
            }
        })
        .await;
        self.stats
            .stored(0, i64::try_from(skipped).unwrap_or(i64::MAX));
        self.committed.send_replace(self.cursor);
        Ok(())
    }

    /// A cursor that fails to save only means replaying (idempotently) after a crash.
    async fn save_cursor(&self) {
        let (dir, pos, sync) = (self.dir.clone(), self.cursor, self.sync);
        let saved = tokio::task::spawn_blocking(move || write_cursor(&dir, pos, sync)).await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "journal: cannot save the cursor"),
            Err(e) => tracing::warn!(error = %e, "journal: cannot save the cursor"),
        }
    }
}

/// Reads complete lines of `path` from `from` (to `end`, or the file's end), up to a
/// batch. Lines that do not parse are skipped with a warning. Blocking.
fn load(path: &Path, from: u64, end: Option<u64>) -> std::io::Result<Loaded> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let end = end.map_or(file_len, |e| e.min(file_len));
    let mut loaded = Loaded {
        entries: Vec::new(),
        consumed: 0,
        file_len,
    };
    if from >= end {
        return Ok(loaded);
    }
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::with_capacity(64 << 10, file.take(end - from));
    let mut line = Vec::new();
    while loaded.entries.len() < MAX_BATCH_ENTRIES && loaded.consumed < MAX_BATCH_BYTES {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break; // the end, or an incomplete line: not consumed
        }
        loaded.consumed += n as u64;
        let text = &line[..n - 1];
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(text) {
            Ok(entry) => loaded.entries.push(entry),
            Err(e) => {
                metrics::counter!("tollgate_journal_corrupt_lines_total").increment(1);
                tracing::error!(path = %path.display(), offset = from + loaded.consumed - n as u64,
                    error = %e, "journal: skipping a line that does not parse");
            }
        }
    }
    Ok(loaded)
}
