//! The log files and the thread that appends to them.
//!
//! Layout of the journal directory: `journal-NNNNNNNNNNNNNNNNNNNN.log` segments (one
//! JSON entry per line, numbered in order), `cursor` (`SEGMENT OFFSET`: how far the
//! database has everything) and `lock` (held while a journal uses the directory).
//! Each process appends to a segment of its own, created at open, so a line torn by a
//! crash can only be the last one of an older segment.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot, watch};

use super::{Entry, JournalError, JournalOptions, JournalStatus};

const SEGMENT_PREFIX: &str = "journal-";
const SEGMENT_SUFFIX: &str = ".log";
const CURSOR_FILE: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";
const LOCK_FILE: &str = "lock";
/// A group stops taking more messages past this size (bounds the write buffer).
const MAX_GROUP_BYTES: usize = 4 << 20;
/// Most log bytes whose entries [`Recent`] keeps in memory (one database batch's
/// worth): past this, groups are left to be read back from the log.
const MAX_RECENT_BYTES: u64 = 1 << 20;

/// A place in the log: segment number, then byte offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub seg: u64,
    pub off: u64,
}

/// What the log thread is asked to do.
pub(crate) enum Msg {
    /// Append these lines (one per entry of `entries`, in order) and say when they
    /// are written. The entries themselves go to [`Recent`] once written.
    Append {
        bytes: Vec<u8>,
        entries: Vec<Entry>,
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

/// A run of log lines written by this process, with the entries they encode.
pub(crate) struct Group {
    /// Where the first line starts.
    pub start: Pos,
    /// Bytes of the lines (the group ends at `start.off + len` in `start.seg`).
    pub len: u64,
    pub entries: Vec<Entry>,
}

impl Group {
    pub(crate) fn end(&self) -> Pos {
        Pos {
            seg: self.start.seg,
            off: self.start.off + self.len,
        }
    }
}

/// Entries the log thread has just written and the database writer has not taken
/// yet, so that the writer can insert them as they are instead of reading the log
/// back and parsing every line it has just encoded. Only an optimisation: the log on
/// disk stays the record (a group that is not here, for lack of room or because the
/// writer fell behind, is read from the log as before), and nothing here is
/// acknowledged differently. Bounded by [`MAX_RECENT_BYTES`] of log, so a database
/// outage grows the log, not memory.
#[derive(Default)]
pub(crate) struct Recent {
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    groups: VecDeque<Group>,
    bytes: u64,
}

impl Recent {
    /// Keeps a group just written, unless that would pass the bound (the writer then
    /// reads it from the log).
    fn push(&self, group: Group) {
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if r.bytes.saturating_add(group.len) > MAX_RECENT_BYTES {
            return;
        }
        r.bytes += group.len;
        r.groups.push_back(group);
    }

    /// Takes the groups that start exactly at `cursor` and follow one another, in the
    /// cursor's segment and ending at most at `end` (when given), up to a batch (at
    /// least one group). Groups before the cursor (the writer read them from the log)
    /// are dropped first. Returns them merged into one group, or None if the next
    /// lines are not here.
    pub(crate) fn take(
        &self,
        cursor: Pos,
        end: Option<u64>,
        max_entries: usize,
        max_bytes: u64,
    ) -> Option<Group> {
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while r.groups.front().is_some_and(|g| g.start < cursor) {
            if let Some(g) = r.groups.pop_front() {
                r.bytes -= g.len;
            }
        }
        let mut taken: Option<Group> = None;
        loop {
            let at = taken.as_ref().map_or(cursor, Group::end);
            let Some(next) = r.groups.front() else { break };
            if next.start != at || end.is_some_and(|e| next.end().off > e) {
                break;
            }
            if let Some(t) = &taken
                && (t.entries.len() + next.entries.len() > max_entries
                    || t.len + next.len > max_bytes)
            {
                break;
            }
            let Some(g) = r.groups.pop_front() else { break };
            r.bytes -= g.len;
            match &mut taken {
                None => taken = Some(g),
                Some(t) => {
                    t.len += g.len;
                    t.entries.extend(g.entries);
                }
            }
        }
        taken
    }

    /// Puts back a group [`Recent::take`] returned, whose database write failed, for
    /// the retry (the bound is not checked: it was in before).
    pub(crate) fn put_back(&self, group: Group) {
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        r.bytes += group.len;
        r.groups.push_front(group);
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
    pub recent: Arc<Recent>,
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
    let recent = Arc::new(Recent::default());
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
            recent: recent.clone(),
            _lock: lock.clone(),
        },
        cursor,
        first_segment,
        stats,
        recent,
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
    recent: Arc<Recent>,
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
            let mut entries: Vec<Entry> = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Append {
                        bytes,
                        entries: more,
                        ack,
                    } => {
                        buf.extend_from_slice(&bytes);
                        if entries.is_empty() {
                            entries = more;
                        } else {
                            entries.extend(more);
                        }
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

    /// Appends one group with one write (and an fsync with `sync`); once written, its
    /// entries go to [`Recent`] for the database writer.
    fn append(&mut self, buf: &[u8], entries: Vec<Entry>) -> Result<(), JournalError> {
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
                let count = entries.len();
                // Before `written` moves: the writer looks here first.
                self.recent.push(Group {
                    start: self.pos(),
                    len: buf.len() as u64,
                    entries,
                });
                self.len += buf.len() as u64;
                self.written.send_replace(self.pos());
                self.stats.logged(
                    i64::try_from(count).unwrap_or(i64::MAX),
                    i64::try_from(buf.len()).unwrap_or(i64::MAX),
                );
                Ok(())
            }
            Err(e) => {
                let entries = entries.len();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LedgerEntry;

    fn group(seg: u64, off: u64, len: u64, ids: &[&str]) -> Group {
        Group {
            start: Pos { seg, off },
            len,
            entries: ids
                .iter()
                .map(|id| Entry::Charge(LedgerEntry::charge("c", *id, 1)))
                .collect(),
        }
    }

    fn ids(g: &Group) -> Vec<String> {
        g.entries
            .iter()
            .map(|e| match e {
                Entry::Charge(l) => l.request_id.clone().unwrap_or_default(),
                Entry::Call(c) => c.request_id.clone(),
            })
            .collect()
    }

    #[test]
    fn takes_contiguous_groups_from_the_cursor_within_limits() {
        let r = Recent::default();
        r.push(group(1, 0, 10, &["a"]));
        r.push(group(1, 10, 20, &["b", "c"]));
        r.push(group(1, 30, 5, &["d"]));
        // Not written yet as far as the writer knows: only up to offset 30.
        let g = r.take(Pos { seg: 1, off: 0 }, Some(30), 100, 1 << 20);
        let g = g.expect("the first two groups");
        assert_eq!(
            (g.start, g.len, ids(&g)),
            (
                Pos { seg: 1, off: 0 },
                30,
                vec!["a".into(), "b".into(), "c".into()]
            )
        );
        // A failed write puts it back; the retry gets it again, with what follows.
        r.put_back(g);
        let g = r
            .take(Pos { seg: 1, off: 0 }, None, 100, 1 << 20)
            .expect("all");
        assert_eq!((g.len, g.entries.len()), (35, 4));
        assert!(
            r.take(Pos { seg: 1, off: 35 }, None, 100, 1 << 20)
                .is_none()
        );
    }

    #[test]
    fn a_gap_or_a_cursor_elsewhere_falls_back_to_the_log() {
        let r = Recent::default();
        r.push(group(1, 0, 10, &["a"]));
        r.push(group(1, 20, 10, &["b"])); // 10..20 was not kept
        r.push(group(2, 0, 10, &["c"]));
        // The cursor is before what is kept: read the log.
        assert!(r.take(Pos { seg: 0, off: 5 }, None, 100, 1 << 20).is_none());
        let g = r
            .take(Pos { seg: 1, off: 0 }, None, 100, 1 << 20)
            .expect("a");
        assert_eq!(ids(&g), vec!["a".to_string()]);
        // At the gap: nothing (the writer reads 10..20 from the log).
        assert!(
            r.take(Pos { seg: 1, off: 10 }, None, 100, 1 << 20)
                .is_none()
        );
        // Past it, what was read from the log is dropped; the next segment starts fresh.
        let g = r
            .take(Pos { seg: 2, off: 0 }, None, 100, 1 << 20)
            .expect("c");
        assert_eq!(ids(&g), vec!["c".to_string()]);
    }

    #[test]
    fn batch_limits_and_the_memory_bound_hold() {
        let r = Recent::default();
        r.push(group(1, 0, 10, &["a", "b"]));
        r.push(group(1, 10, 10, &["c", "d"]));
        let g = r
            .take(Pos { seg: 1, off: 0 }, None, 3, 1 << 20)
            .expect("one group");
        assert_eq!(g.entries.len(), 2, "a second group would pass 3 entries");
        let r = Recent::default();
        r.push(group(1, 0, MAX_RECENT_BYTES, &["big"]));
        r.push(group(1, MAX_RECENT_BYTES, 1, &["over"]));
        let g = r
            .take(Pos { seg: 1, off: 0 }, None, 100, u64::MAX)
            .expect("big");
        assert_eq!(
            ids(&g),
            vec!["big".to_string()],
            "the group past the bound was not kept"
        );
    }
}
