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

/// Size of each piece of an endless line.
const ENDLESS_PIECE: usize = 64 * 1024;
static ENDLESS_BYTES: [u8; ENDLESS_PIECE] = [b'x'; ENDLESS_PIECE];

/// The `endless_line=MIB` answer: a 200 whose body is one line of `mib` MiB that never
/// ends (no line break at all), in the format's stream framing (`data: xxx…` for SSE,
/// `{"message":"xxx…` for Ollama's NDJSON). The bytes are static: the mock itself
/// does not hold the line in memory.
pub fn endless_line(format: crate::errors::Format, mib: u64) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let (prefix, content_type): (&'static [u8], &'static str) = match format {
        crate::errors::Format::Ollama => (b"{\"message\":\"", "application/x-ndjson"),
        _ => (b"data: ", "text/event-stream"),
    };
    let pieces = mib.saturating_mul((1024 * 1024 / ENDLESS_PIECE) as u64);
    let body = stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from_static(prefix)) })
        .chain(
            stream::iter(0..pieces)
                .map(|_| Ok::<Bytes, std::io::Error>(Bytes::from_static(&ENDLESS_BYTES))),
        );
    let mut resp = axum::response::Response::new(Body::from_stream(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Format one OpenAI stream event.
pub fn openai_event(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// Format one Anthropic stream event.
pub fn anthropic_event(name: &str, json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}
