//! The log files and the thread that appends to them.
//!
//! Layout of the journal directory: `journal-NNNNNNNNNNNNNNNNNNNN.log` segments (one
//! JSON entry per line, numbered in order), `cursor` (`SEGMENT OFFSET`: how far the
//! database has everything) and `lock` (held while a journal uses the directory).
//! Each process appends to a segment of its own, created at open, so a line torn by a
//! crash can only be the last one of an older segment.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot, watch};

use super::{JournalError, JournalOptions, JournalStatus};

const SEGMENT_PREFIX: &str = "journal-";
const SEGMENT_SUFFIX: &str = ".log";
const CURSOR_FILE: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";
const LOCK_FILE: &str = "lock";
/// A group stops taking more messages past this size (bounds the write buffer).
const MAX_GROUP_BYTES: usize = 4 << 20;

/// A place in the log: segment number, then byte offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub seg: u64,
    pub off: u64,
}

/// What the log thread is asked to do.
pub(crate) enum Msg {
    /// Append these lines (`entries` of them) and say when they are written.
    Append {
        bytes: Vec<u8>,
        entries: usize,
        ack: Option<oneshot::Sender<Result<(), JournalError>>>,
    },
    /// Answer with the end of the log once everything sent before is written.
    Barrier(oneshot::Sender<Pos>),
}

/// Counters behind the gauges, shared by the log thread and the database writer.
#[derive(Default)]
pub(crate) struct Stats {
    pending_entries: AtomicI64,
    spool_bytes: AtomicI64,
    failed_batches: AtomicU64,
}

impl Stats {
    pub(crate) fn logged(&self, entries: i64, bytes: i64) {
        self.pending_entries.fetch_add(entries, Ordering::Relaxed);
        self.spool_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.publish();
    }

    pub(crate) fn stored(&self, entries: i64, bytes: i64) {
        self.logged(-entries, -bytes);
    }

    pub(crate) fn batch_failed(&self) {
        self.failed_batches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tollgate_journal_batch_errors_total").increment(1);
    }

    pub(crate) fn status(&self) -> JournalStatus {
        let clamp = |v: i64| u64::try_from(v).unwrap_or(0);
        JournalStatus {
            pending_entries: clamp(self.pending_entries.load(Ordering::Relaxed)),
            spool_bytes: clamp(self.spool_bytes.load(Ordering::Relaxed)),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
        }
    }

    fn publish(&self) {
        let s = self.status();
        metrics::gauge!("tollgate_journal_queue_depth").set(s.pending_entries as f64);
        metrics::gauge!("tollgate_journal_spool_bytes").set(s.spool_bytes as f64);
    }
}

pub(crate) fn segment_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{seg:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir`, by number, with their sizes.
pub(crate) fn list_segments(dir: &Path) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seg) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SEGMENT_PREFIX))
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seg, entry.metadata()?.len()));
    }
    out.sort_unstable();
    Ok(out)
}

/// The saved cursor. Missing or unreadable means "from the start": whatever is left
/// in the log is written again, which idempotent inserts make harmless.
fn read_cursor(dir: &Path) -> Pos {
    let path = dir.join(CURSOR_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Pos::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "journal cursor unreadable; replaying the whole log");
            return Pos::default();
        }
    };
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(seg)), Some(Ok(off))) => Pos { seg, off },
        _ => {
            tracing::warn!(path = %path.display(), "journal cursor corrupt; replaying the whole log");
            Pos::default()
        }
    }
}

/// Saves the cursor (write a temporary file, rename it over the old one).
pub(crate) fn write_cursor(dir: &Path, pos: Pos, sync: bool) -> std::io::Result<()> {
    let tmp = dir.join(CURSOR_TMP);
    let mut f = File::create(&tmp)?;
    f.write_all(format!("{} {}\n", pos.seg, pos.off).as_bytes())?;
    if sync {
        f.sync_data()?;
    }
    std::fs::rename(&tmp, dir.join(CURSOR_FILE))
}

fn create_segment(dir: &Path, seg: u64) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(segment_path(dir, seg))
}

/// Why the log could not be opened.
pub(crate) enum OpenError {
    /// Another journal holds the directory.
    Locked(PathBuf),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Everything `open` needs, prepared off the runtime.
pub(crate) struct Opened {
    pub log: LogFile,
    pub cursor: Pos,
    /// The segment this process writes first: older ones are recovered.
    pub first_segment: u64,
    pub stats: Arc<Stats>,
    pub lock: Arc<File>,
}

/// Takes the directory's lock, reads the cursor and starts a fresh segment after
/// every existing one. Blocking.
pub(crate) fn prepare(dir: &Path, options: &JournalOptions) -> Result<Opened, OpenError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OpenError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(lock_path)),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
    }
    let cursor = read_cursor(dir);
    let segments = list_segments(dir).map_err(io(dir))?;
    let last = segments.last().map_or(0, |(seg, _)| *seg);
    let first_segment = last.max(cursor.seg) + 1;
    let backlog: u64 = segments
        .iter()
        .filter(|(seg, _)| *seg >= cursor.seg)
        .map(|(seg, len)| {
            if *seg == cursor.seg {
                len.saturating_sub(cursor.off)
            } else {
                *len
            }
        })
        .sum();
    let path = segment_path(dir, first_segment);
    let file = create_segment(dir, first_segment).map_err(io(&path))?;
    let stats = Arc::new(Stats::default());
    stats.logged(0, i64::try_from(backlog).unwrap_or(i64::MAX));
    if backlog > 0 {
        tracing::info!(
            bytes = backlog,
            "journal: replaying what the last run left in the log"
        );
    }
    let lock = Arc::new(lock);
    let (written, _) = watch::channel(Pos {
        seg: first_segment,
        off: 0,
    });
    Ok(Opened {
        log: LogFile {
            dir: dir.to_path_buf(),
            seg: first_segment,
            file,
            len: 0,
            needs_newline: false,
            sync: options.sync,
            segment_bytes: options.segment_bytes.max(1),
            written,
            stats: stats.clone(),
            _lock: lock.clone(),
        },
        cursor,
        first_segment,
        stats,
        lock,
    })
}

/// The segment being appended to, owned by the log thread.
pub(crate) struct LogFile {
    dir: PathBuf,
    seg: u64,
    file: File,
    len: u64,
    /// A failed write may have left a partial line that could not be taken back: the
    /// next write starts on a new line, so only that partial line is lost.
    needs_newline: bool,
    sync: bool,
    segment_bytes: u64,
    /// The end of what has been acknowledged, for the database writer.
    written: watch::Sender<Pos>,
    stats: Arc<Stats>,
    _lock: Arc<File>,
}

impl LogFile {
    pub(crate) fn subscribe(&self) -> watch::Receiver<Pos> {
        self.written.subscribe()
    }

    fn pos(&self) -> Pos {
        Pos {
            seg: self.seg,
            off: self.len,
        }
    }

    /// The log thread: group commit until every journal handle is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut buf = Vec::new();
        let mut acks = Vec::new();
        let mut barriers = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            buf.clear();
            let mut entries = 0usize;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Append {
                        bytes,
                        entries: n,
                        ack,
                    } => {
                        buf.extend_from_slice(&bytes);
                        entries += n;
                        acks.extend(ack);
                    }
                    Msg::Barrier(b) => barriers.push(b),
                }
                if buf.len() < MAX_GROUP_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            let result = if buf.is_empty() {
                Ok(())
            } else {
                self.append(&buf, entries)
            };
            for ack in acks.drain(..) {
                let _ = ack.send(result.clone());
            }
            let pos = self.pos();
            for b in barriers.drain(..) {
                let _ = b.send(pos);
            }
            if self.len >= self.segment_bytes
                && let Err(e) = self.rotate()
            {
                tracing::error!(error = %e, "journal: cannot start a new segment; the current one grows");
            }
        }
    }

    /// Appends one group with one write (and an fsync with `sync`).
    fn append(&mut self, buf: &[u8], entries: usize) -> Result<(), JournalError> {
        if self.needs_newline {
            if let Err(e) = self.file.write_all(b"\n") {
                return Err(JournalError::Log(e.to_string()));
            }
            self.needs_newline = false;
            self.len += 1;
        }
        let start = self.len;
        let written = self.file.write_all(buf).and_then(|()| {
            if self.sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                self.written.send_replace(self.pos());
                self.stats.logged(
                    i64::try_from(entries).unwrap_or(i64::MAX),
                    i64::try_from(buf.len()).unwrap_or(i64::MAX),
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, entries, "journal: writing the log failed");
                // Take back whatever part of the group reached the file: none of it is
                // acknowledged, so none of it may be replayed.
                if self.file.set_len(start).is_err() && self.rotate().is_err() {
                    self.len = self.file.metadata().map_or(self.len, |m| m.len());
                    self.needs_newline = true;
                }
                Err(JournalError::Log(e.to_string()))
            }
        }
    }

    /// Starts the next segment; the current one is then complete for the writer.
    fn rotate(&mut self) -> std::io::Result<()> {
        let next = self.seg + 1;
        let file = create_segment(&self.dir, next)?;
        self.file = file;
        self.seg = next;
        self.len = 0;
        self.needs_newline = false;
        self.written.send_replace(self.pos());
        Ok(())
    }
}
