//! A session's `GET /mcp` stream: `notifications/tools/list_changed` when the tools
//! its key may call change (a subscription approved or revoked, a service or
//! prompt-API published, changed or retired), and a comment now and then so that
//! proxies keep the connection.
//!
//! The stream watches the configuration snapshot the gateway already keeps current
//! (each store change installs a new one): on each new snapshot it compares the
//! digest of the key's tools with the one the client last learned, so a change that
//! does not touch this consumer's tools sends nothing. It ends when the session
//! ends, or when its key stops authenticating (revoked or expired).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::time::{Interval, MissedTickBehavior};
use tollgate_core::snapshot::Snapshot;

use super::protocol;
use super::session::{Session, StreamGuard};
use super::transport::event;
use crate::state::GatewayState;

/// How often the stream looks at the snapshot.
const TICK: Duration = Duration::from_millis(500);
/// A keep-alive comment after this many quiet ticks (15 s).
const KEEPALIVE_TICKS: u32 = 30;

struct Watch {
    st: GatewayState,
    session: Arc<Session>,
    _guard: StreamGuard,
    ticker: Interval,
    /// The snapshot last looked at (its address; a new snapshot is a new one).
    seen: usize,
    quiet: u32,
}

/// The stream's bytes.
pub fn stream(
    st: GatewayState,
    session: Arc<Session>,
    guard: StreamGuard,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let watch = Watch {
        st,
        session,
        _guard: guard,
        ticker,
        seen: 0,
        quiet: 0,
    };
    // An SSE comment first, so the client sees the stream open at once.
    let opening = futures::stream::once(async { Ok(Bytes::from_static(b": stream open\n\n")) });
    futures::StreamExt::chain(
        opening,
        futures::stream::unfold(watch, |mut w| async move {
            loop {
                w.ticker.tick().await;
                if w.session.is_closed() {
                    return None;
                }
                w.st.mcp.sessions.keep_alive(&w.session);
                let snapshot = w.st.live.snapshot.load_full();
                let at = Arc::as_ptr(&snapshot) as usize;
                if at != w.seen {
                    w.seen = at;
                    match changed(&w.st, &snapshot, &w.session) {
                        Verdict::Same => {}
                        Verdict::Changed => {
                            w.quiet = 0;
                            let e = event(&protocol::tools_list_changed());
                            return Some((Ok(e), w));
                        }
                        Verdict::KeyGone => return None,
                    }
                }
                w.quiet += 1;
                if w.quiet >= KEEPALIVE_TICKS {
                    w.quiet = 0;
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), w));
                }
            }
        }),
    )
}

enum Verdict {
    Same,
    Changed,
    KeyGone,
}

/// Whether the session's tools differ from those its client knows; the client is
/// taken to know the new list once told.
fn changed(st: &GatewayState, snapshot: &Arc<Snapshot>, session: &Session) -> Verdict {
    let Some(caller) = snapshot.caller(&session.key_hash, chrono::Utc::now()) else {
        return Verdict::KeyGone;
    };
    let now = st.mcp.catalogue(snapshot).fingerprint(snapshot, &caller);
    let known = session.known_tools();
    if now == known {
        return Verdict::Same;
    }
    session.set_known_tools(now);
    // Before the client's first list there is nothing it could hold stale.
    if known == 0 {
        Verdict::Same
    } else {
        Verdict::Changed
    }
}
