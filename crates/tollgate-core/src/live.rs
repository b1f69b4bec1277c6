//! State shared by both listeners and the background tasks of one node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;

use crate::snapshot::Snapshot;

/// The snapshot being served and whether the database answered recently. `/readyz`
/// reads these flags instead of querying the database on every probe.
#[derive(Debug)]
pub struct Live {
    pub snapshot: ArcSwap<Snapshot>,
    db_ok: AtomicBool,
    config_loaded: AtomicBool,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            db_ok: AtomicBool::new(false),
            config_loaded: AtomicBool::new(false),
        }
    }
}

impl Live {
    pub fn new() -> Arc<Live> {
        Arc::new(Live::default())
    }

    /// Installs a new snapshot; requests that already loaded the old one finish on it.
    pub fn install(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
        self.config_loaded.store(true, Ordering::Release);
    }

    pub fn set_db_ok(&self, ok: bool) {
        self.db_ok.store(ok, Ordering::Release);
    }

    /// Ready = database reachable and configuration loaded.
    pub fn is_ready(&self) -> bool {
        self.db_ok.load(Ordering::Acquire) && self.config_loaded.load(Ordering::Acquire)
    }
}
