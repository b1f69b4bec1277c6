//! Response bodies that can be paced and cut.

use axum::body::Body;
use bytes::Bytes;
use futures::{StreamExt, stream};
use std::time::Duration;

fn cut_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "tollgate-mock: cut_after directive",
    )
}

struct SseState {
    events: std::vec::IntoIter<Bytes>,
    sent: usize,
    limit: Option<usize>,
    delay: Option<Duration>,
    done: bool,
}

/// A body that sends `events` one by one, waiting `delay` between them. With `cut_after`,
/// it sends at most that many events (never the last one, the terminator) and then fails,
/// which makes the server abort the connection without finishing the body.
pub fn event_body(events: Vec<Bytes>, delay: Option<Duration>, cut_after: Option<usize>) -> Body {
    let limit = cut_after.map(|n| n.min(events.len().saturating_sub(1)));
    let state = SseState {
        events: events.into_iter(),
        sent: 0,
        limit,
        delay: delay.filter(|d| !d.is_zero()),
        done: false,
    };
    let s = stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        if st.limit.is_some_and(|l| st.sent >= l) {
            st.done = true;
            return Some((Err(cut_now().await), st));
        }
        let ev = st.events.next()?;
        if st.sent > 0
            && let Some(d) = st.delay
        {
            tokio::time::sleep(d).await;
        }
        st.sent += 1;
        Some((Ok::<Bytes, std::io::Error>(ev), st))
    });
    Body::from_stream(s)
}

/// Wait a moment, then produce the error that aborts the connection.
///
/// hyper drops whatever it has buffered but not yet written when a body fails, so the body
/// first returns `Pending` for a while: hyper flushes the events sent so far, and the client
/// really receives them before the connection is cut.
async fn cut_now() -> std::io::Error {
    tokio::time::sleep(FLUSH_GRACE).await;
    cut_error()
}

const FLUSH_GRACE: Duration = Duration::from_millis(20);

/// A body that sends the first half of `full` and then fails (the connection is aborted).
pub fn cut_body(full: Bytes) -> Body {
    let half = full.slice(..full.len() / 2);
    let s = stream::once(async move { Ok::<Bytes, std::io::Error>(half) })
        .chain(stream::once(async { Err(cut_now().await) }));
    Body::from_stream(s)
}

/// Format one OpenAI stream event.
pub fn openai_event(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// Format one Anthropic stream event.
pub fn anthropic_event(name: &str, json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}
