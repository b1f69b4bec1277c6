//! The upstream HTTP client.
//!
//! One pooled `reqwest::Client` per connect timeout (reqwest sets that per client),
//! TCP_NODELAY on every socket (Nagle plus delayed ACK stalls small SSE chunks by
//! ~40 ms), and a first-byte timeout around `send`, which resolves at the headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::endpoint::UpstreamCall;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not connect to the upstream: {0}")]
    Connect(String),
    #[error("upstream connection failed: {0}")]
    Io(String),
}

impl SendError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendError::Timeout(_))
    }
}

#[derive(Default)]
pub struct UpstreamClient {
    clients: Mutex<HashMap<u64, reqwest::Client>>,
}

impl UpstreamClient {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, SendError> {
        let ms = connect_timeout.as_millis() as u64;
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| SendError::Io("client pool poisoned".into()))?;
        if let Some(c) = clients.get(&ms) {
            return Ok(c.clone());
        }
        let c = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| SendError::Io(e.to_string()))?;
        clients.insert(ms, c.clone());
        Ok(c)
    }

    /// Sends `call` and waits for the response headers, at most `first_byte`.
    pub async fn send(
        &self,
        call: &UpstreamCall,
        connect: Duration,
        first_byte: Duration,
    ) -> Result<reqwest::Response, SendError> {
        let client = self.client(connect)?;
        let fut = client
            .post(&call.url)
            .headers(call.headers.clone())
            .body(call.body.clone())
            .send();
        match tokio::time::timeout(first_byte, fut).await {
            Err(_) => Err(SendError::Timeout(first_byte)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_timeout() => Err(SendError::Timeout(connect)),
            Ok(Err(e)) if e.is_connect() => Err(SendError::Connect(root_cause(&e))),
            Ok(Err(e)) => Err(SendError::Io(root_cause(&e))),
        }
    }
}

/// The innermost error message, without the URL reqwest prefixes (it may name
/// internal hosts; the gateway's own logs have the target).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
