//! Memcached backend: a minimal client for the text protocol over tokio TCP.
//!
//! Only `get` and `set` (with `noreply` off, so every store is confirmed), plus
//! `version` as a ping. Connections are pooled (idle ones kept up to a bound); a
//! connection that saw any error, or whose operation was cancelled half-way, is
//! dropped rather than reused, so a half-read answer can never be taken for the next
//! one. TCP_NODELAY is set: a request is one small write and waits for the answer.
//!
//! Values over [`MAX_VALUE_BYTES`] (Memcached's default 1 MiB item size, less room for
//! the key and item header) are refused before anything is sent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use crate::error::CacheError;
use crate::key::CacheKey;

/// The largest value stored.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024 - 1024;
/// Marks values written by this version of Tollgate (the item's `flags`).
const FLAGS: u32 = 0x5447_0001;
/// Memcached reads an exptime above 30 days as a Unix time.
const RELATIVE_EXPTIME_MAX: u64 = 60 * 60 * 24 * 30;
/// Longest protocol line read (answers here are short).
const MAX_LINE: u64 = 1024;
/// Idle connections kept.
const MAX_IDLE: usize = 16;

type Conn = BufStream<TcpStream>;

#[derive(Debug)]
pub(crate) struct MemcachedBackend {
    addr: String,
    idle: Mutex<Vec<Conn>>,
}

impl MemcachedBackend {
    /// `addr`: `host:port`.
    pub(crate) fn new(addr: &str) -> MemcachedBackend {
        MemcachedBackend {
            addr: addr.to_string(),
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn conn(&self) -> Result<Conn, CacheError> {
        let pooled = self.idle.lock().pop();
        if let Some(c) = pooled {
            return Ok(c);
        }
        let stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| io_err("connect", e))?;
        stream.set_nodelay(true).map_err(|e| io_err("connect", e))?;
        Ok(BufStream::new(stream))
    }

    fn give_back(&self, c: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }

    pub(crate) async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        let mut c = self.conn().await?;
        let cmd = format!("get {}\r\n", key.as_str());
        c.write_all(cmd.as_bytes())
            .await
            .map_err(|e| io_err("get", e))?;
        c.flush().await.map_err(|e| io_err("get", e))?;
        let line = read_line(&mut c).await?;
        if line == "END" {
            self.give_back(c);
            return Ok(None);
        }
        let mut parts = line.split(' ');
        let (Some("VALUE"), Some(k), Some(flags), Some(len)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(protocol_err("get", &line));
        };
        if k != key.as_str() {
            return Err(protocol_err("get", &line));
        }
        let flags: u32 = flags.parse().map_err(|_| protocol_err("get", &line))?;
        let len: usize = len.parse().map_err(|_| protocol_err("get", &line))?;
        if len > MAX_VALUE_BYTES * 2 {
            return Err(CacheError::Backend(format!(
                "memcached: value of {len} bytes is larger than any this gateway stores"
            )));
        }
        let mut data = vec![0u8; len + 2];
        c.read_exact(&mut data)
            .await
            .map_err(|e| io_err("get", e))?;
        if !data.ends_with(b"\r\n") {
            return Err(CacheError::Backend(
                "memcached: value not followed by CRLF".into(),
            ));
        }
        data.truncate(len);
        let end = read_line(&mut c).await?;
        if end != "END" {
            return Err(protocol_err("get", &end));
        }
        self.give_back(c);
        if flags != FLAGS {
            return Err(CacheError::Corrupt(format!(
                "memcached: entry written by another program (flags {flags})"
            )));
        }
        Ok(Some(Bytes::from(data)))
    }

    pub(crate) async fn put(
        &self,
        key: &CacheKey,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(CacheError::TooLarge {
                size: value.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        let mut c = self.conn().await?;
        let head = format!(
            "set {} {FLAGS} {} {}\r\n",
            key.as_str(),
            exptime(ttl),
            value.len()
        );
        let mut msg = Vec::with_capacity(head.len() + value.len() + 2);
        msg.extend_from_slice(head.as_bytes());
        msg.extend_from_slice(value);
        msg.extend_from_slice(b"\r\n");
        c.write_all(&msg).await.map_err(|e| io_err("set", e))?;
        c.flush().await.map_err(|e| io_err("set", e))?;
        let line = read_line(&mut c).await?;
        match line.as_str() {
            "STORED" => {
                self.give_back(c);
                Ok(())
            }
            "NOT_STORED" => {
                self.give_back(c);
                Err(CacheError::Backend("memcached: NOT_STORED".into()))
            }
            _ => Err(protocol_err("set", &line)),
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), CacheError> {
        let mut c = self.conn().await?;
        c.write_all(b"version\r\n")
            .await
            .map_err(|e| io_err("version", e))?;
        c.flush().await.map_err(|e| io_err("version", e))?;
        let line = read_line(&mut c).await?;
        if !line.starts_with("VERSION ") {
            return Err(protocol_err("version", &line));
        }
        self.give_back(c);
        Ok(())
    }
}

/// Memcached's exptime for `ttl`: whole seconds, rounded up, plus one, and an
/// absolute Unix time past 30 days. Memcached's clock ticks in whole seconds and an
/// item set with exptime N expires at the N-th tick after the set, which may come
/// anywhere from N-1 to N seconds later; the extra second makes an entry live at
/// least its TTL (up to a second past it), never less.
fn exptime(ttl: Duration) -> u64 {
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    let secs = secs.max(1);
    if secs < RELATIVE_EXPTIME_MAX {
        return secs + 1;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.saturating_add(secs).min(u64::from(u32::MAX))
}

async fn read_line(c: &mut Conn) -> Result<String, CacheError> {
    let mut buf = Vec::new();
    let n = (&mut *c)
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| io_err("read", e))?;
    if n == 0 {
        return Err(CacheError::Unavailable(
            "memcached: connection closed by the server".into(),
        ));
    }
    if !buf.ends_with(b"\r\n") {
        return Err(CacheError::Backend(
            "memcached: answer line too long or cut".into(),
        ));
    }
    buf.truncate(buf.len() - 2);
    String::from_utf8(buf).map_err(|_| CacheError::Backend("memcached: answer is not text".into()))
}

fn io_err(op: &str, e: std::io::Error) -> CacheError {
    CacheError::Unavailable(format!("memcached {op}: {e}"))
}

fn protocol_err(op: &str, line: &str) -> CacheError {
    let shown: String = line.chars().take(120).collect();
    CacheError::Backend(format!("memcached {op}: unexpected answer `{shown}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exptime_rounds_up_and_switches_to_unix_time() {
        // One second more than the TTL rounded up: Memcached's first tick may come
        // at once.
        assert_eq!(exptime(Duration::from_millis(1)), 2);
        assert_eq!(exptime(Duration::from_millis(1500)), 3);
        assert_eq!(exptime(Duration::from_secs(300)), 301);
        assert_eq!(
            exptime(Duration::from_secs(RELATIVE_EXPTIME_MAX - 1)),
            RELATIVE_EXPTIME_MAX
        );
        assert!(exptime(Duration::from_secs(RELATIVE_EXPTIME_MAX + 1)) > 1_600_000_000);
    }
}
