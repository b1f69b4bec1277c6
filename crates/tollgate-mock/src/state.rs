//! Shared state: the request log, `fail_first` counters, id counters.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One request the mock received, and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lowercase; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    /// The JSON body, or `Null` when the body was empty or not JSON.
    pub body: serde_json::Value,
    /// The HTTP status the mock answered; 0 while no answer has been sent (e.g. `hang`).
    pub status: u16,
}

#[derive(Debug, Default)]
struct Log {
    /// (sequence number, record)
    entries: VecDeque<(u64, RecordedRequest)>,
    next_seq: u64,
}

#[derive(Debug)]
struct Inner {
    log: Mutex<Log>,
    fail_counts: Mutex<HashMap<String, u64>>,
    tool_ids: AtomicU64,
    /// `None`: keep every request. `Some(n)`: keep the last n (0 disables recording).
    record_limit: Option<usize>,
}

/// State shared by the router's handlers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MockState {
    inner: Arc<Inner>,
}

impl Default for MockState {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the data is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MockState {
    /// State that records every request.
    pub fn new() -> Self {
        Self::with_record_limit(None)
    }

    /// State that keeps only the last `limit` requests (`Some(0)` records nothing).
    /// Useful for long benchmark runs.
    pub fn with_record_limit(limit: Option<usize>) -> Self {
        MockState {
            inner: Arc::new(Inner {
                log: Mutex::new(Log::default()),
                fail_counts: Mutex::new(HashMap::new()),
                tool_ids: AtomicU64::new(0),
                record_limit: limit,
            }),
        }
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.log)
            .entries
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Forget recorded requests and reset the `fail_first` counters.
    pub fn clear(&self) {
        lock(&self.inner.log).entries.clear();
        lock(&self.inner.fail_counts).clear();
    }

    pub(crate) fn recording(&self) -> bool {
        self.inner.record_limit != Some(0)
    }

    /// Append a record; returns its sequence number for [`MockState::set_status`].
    pub(crate) fn record(&self, req: RecordedRequest) -> u64 {
        let mut log = lock(&self.inner.log);
        let seq = log.next_seq;
        log.next_seq += 1;
        if let Some(limit) = self.inner.record_limit {
            if limit == 0 {
                return seq;
            }
            while log.entries.len() >= limit {
                log.entries.pop_front();
            }
        }
        log.entries.push_back((seq, req));
        seq
    }

    pub(crate) fn set_status(&self, seq: u64, status: u16) {
        let mut log = lock(&self.inner.log);
        if let Some((_, r)) = log.entries.iter_mut().rev().find(|(s, _)| *s == seq) {
            r.status = status;
        }
    }

    /// Count one request for `model` and say whether it falls within the first `n`.
    pub(crate) fn should_fail(&self, model: &str, n: u64) -> bool {
        let mut counts = lock(&self.inner.fail_counts);
        let c = counts.entry(model.to_string()).or_insert(0);
        *c += 1;
        *c <= n
    }

    /// The next tool-call number (1, 2, ...).
    pub(crate) fn next_tool_id(&self) -> u64 {
        self.inner.tool_ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}
