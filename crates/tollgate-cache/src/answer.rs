//! Cached answers, their compact binary encoding, and the stream recorder.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// An answer as the client was sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAnswer {
    pub status: u16,
    pub content_type: String,
    /// The whole answer body (for a recorded stream: the aggregated JSON answer when
    /// the gateway has one, else empty).
    pub body: Bytes,
    /// Input and output tokens of the upstream call that produced it.
    pub usage: (u64, u64),
    /// The stream's bytes as sent to the client, chunk by chunk, to replay a stream as
    /// a stream. `None` for an answer that was not streamed.
    pub stream: Option<Vec<Bytes>>,
    /// When the upstream answered (millisecond precision).
    pub created_at: SystemTime,
}

impl CachedAnswer {
    /// A non-stream answer created now.
    pub fn new(
        status: u16,
        content_type: impl Into<String>,
        body: Bytes,
        usage: (u64, u64),
    ) -> CachedAnswer {
        CachedAnswer {
            status,
            content_type: content_type.into(),
            body,
            usage,
            stream: None,
            created_at: now_ms(),
        }
    }

    /// Whether it holds a recorded stream.
    pub fn is_stream(&self) -> bool {
        self.stream.is_some()
    }

    /// Only successful answers are stored.
    pub fn is_cacheable(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// How long ago the upstream answered.
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.created_at)
            .unwrap_or_default()
    }

    /// The size of its encoding in bytes (what size bounds are measured in).
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + self.content_type.len()
            + self.body.len()
            + self
                .stream
                .as_ref()
                .map_or(0, |s| 4 + s.iter().map(|c| 4 + c.len()).sum::<usize>())
    }

    /// Compact binary encoding (big-endian, length-prefixed):
    /// `"TGC1" status:u16 created_ms:u64 input:u64 output:u64 ct_len:u32 ct
    ///  body_len:u32 body has_stream:u8 [count:u32 (len:u32 chunk)*]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&unix_ms(self.created_at).to_be_bytes());
        out.extend_from_slice(&self.usage.0.to_be_bytes());
        out.extend_from_slice(&self.usage.1.to_be_bytes());
        put_bytes(&mut out, self.content_type.as_bytes());
        put_bytes(&mut out, &self.body);
        match &self.stream {
            None => out.push(0),
            Some(chunks) => {
                out.push(1);
                out.extend_from_slice(&len_u32(chunks.len()).to_be_bytes());
                for c in chunks {
                    put_bytes(&mut out, c);
                }
            }
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s output; chunks share `data`'s buffer.
    pub fn decode(data: Bytes) -> Result<CachedAnswer, DecodeError> {
        let mut r = Reader { data, pos: 0 };
        if r.take(MAGIC.len())?.as_ref() != MAGIC {
            return Err(DecodeError("bad magic"));
        }
        let status = r.u16()?;
        let created = r.u64()?;
        let input = r.u64()?;
        let output = r.u64()?;
        let ct = r.chunk()?;
        let content_type =
            String::from_utf8(ct.to_vec()).map_err(|_| DecodeError("content type is not UTF-8"))?;
        let body = r.chunk()?;
        let stream = match r.u8()? {
            0 => None,
            1 => {
                let n = r.u32()? as usize;
                // Each chunk takes at least 4 bytes: a bogus count cannot allocate much.
                if n > r.remaining() / 4 {
                    return Err(DecodeError("chunk count past the end"));
                }
                let mut chunks = Vec::with_capacity(n);
                for _ in 0..n {
                    chunks.push(r.chunk()?);
                }
                Some(chunks)
            }
            _ => return Err(DecodeError("bad stream flag")),
        };
        if r.remaining() != 0 {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(CachedAnswer {
            status,
            content_type,
            body,
            usage: (input, output),
            stream,
            created_at: UNIX_EPOCH + Duration::from_millis(created),
        })
    }
}

/// A stored entry could not be read back (another version wrote it, or it is corrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cache entry cannot be decoded: {0}")]
pub struct DecodeError(&'static str);

const MAGIC: &[u8; 4] = b"TGC1";
/// Fixed part of the encoding: magic, status, created, usage, three length fields,
/// stream flag.
const HEADER_LEN: usize = 4 + 2 + 8 + 8 + 8 + 4 + 4 + 1;

fn now_ms() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(unix_ms(SystemTime::now()))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Entries are bounded far below 4 GiB (see `CacheOptions::max_entry_bytes`).
    out.extend_from_slice(&len_u32(b.len()).to_be_bytes());
    out.extend_from_slice(b);
}

struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError("truncated"));
        }
        let out = self.data.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&b);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn chunk(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Records a stream's chunks as they are sent to the client, up to a size bound.
///
/// The gateway pushes every chunk it sends; when the stream ended cleanly (the
/// upstream finished and the client got everything) it calls [`finish`](Self::finish)
/// and `put`s the result. Past `max_bytes` it stops recording (and drops what it had):
/// `finish` then gives `None`, and the stream goes on unrecorded.
#[derive(Debug)]
pub struct StreamRecorder {
    chunks: Vec<Bytes>,
    bytes: usize,
    max_bytes: usize,
    overflowed: bool,
}

impl StreamRecorder {
    /// `max_bytes`: the largest entry to record (use [`crate::Cache::max_entry_bytes`]).
    pub fn new(max_bytes: usize) -> StreamRecorder {
        StreamRecorder {
            chunks: Vec::new(),
            bytes: HEADER_LEN + 4,
            max_bytes,
            overflowed: false,
        }
    }

    /// Records one chunk (a cheap reference-counted clone). Returns whether it is
    /// still recording.
    pub fn push(&mut self, chunk: &Bytes) -> bool {
        if self.overflowed {
            return false;
        }
        if chunk.is_empty() {
            return true;
        }
        self.bytes += 4 + chunk.len();
        if self.bytes > self.max_bytes {
            self.overflowed = true;
            self.chunks = Vec::new();
            return false;
        }
        self.chunks.push(chunk.clone());
        true
    }

    pub fn is_recording(&self) -> bool {
        !self.overflowed
    }

    /// Bytes recorded so far (as encoded).
    pub fn recorded_bytes(&self) -> usize {
        self.bytes
    }

    /// The entry for a stream that ended cleanly; `None` if it grew past the bound
    /// (counting `body` too). `body` is the aggregated answer if the gateway has one.
    pub fn finish(
        self,
        status: u16,
        content_type: impl Into<String>,
        body: Bytes,
        usage: (u64, u64),
    ) -> Option<CachedAnswer> {
        let content_type = content_type.into();
        if self.overflowed || self.bytes + body.len() + content_type.len() > self.max_bytes {
            return None;
        }
        Some(CachedAnswer {
            status,
            content_type,
            body,
            usage,
            stream: Some(self.chunks),
            created_at: now_ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let mut a = CachedAnswer::new(200, "application/json", Bytes::from_static(b"{}"), (3, 4));
        assert_eq!(CachedAnswer::decode(Bytes::from(a.encode())), Ok(a.clone()));
        a.stream = Some(vec![Bytes::from_static(b"data: 1\n\n"), Bytes::new()]);
        let enc = a.encode();
        assert_eq!(enc.len(), a.encoded_len());
        assert_eq!(CachedAnswer::decode(Bytes::from(enc)), Ok(a));
    }

    #[test]
    fn corrupt_entries_are_refused() {
        let a = CachedAnswer::new(200, "text/plain", Bytes::from_static(b"hello"), (0, 0));
        let enc = a.encode();
        for cut in 0..enc.len() {
            assert!(CachedAnswer::decode(Bytes::copy_from_slice(&enc[..cut])).is_err());
        }
        let mut bad = enc.clone();
        bad[0] = b'X';
        assert!(CachedAnswer::decode(Bytes::from(bad)).is_err());
        let mut long = enc;
        long.push(0);
        assert!(CachedAnswer::decode(Bytes::from(long)).is_err());
    }

    #[test]
    fn recorder_stops_past_its_bound() {
        let mut r = StreamRecorder::new(200);
        assert!(r.push(&Bytes::from(vec![b'a'; 50])));
        assert!(!r.push(&Bytes::from(vec![b'b'; 200])));
        assert!(!r.is_recording());
        assert!(
            r.finish(200, "text/event-stream", Bytes::new(), (0, 0))
                .is_none()
        );

        let mut r = StreamRecorder::new(1000);
        r.push(&Bytes::from_static(b"data: a\n\n"));
        r.push(&Bytes::from_static(b"data: [DONE]\n\n"));
        let a = r
            .finish(200, "text/event-stream", Bytes::new(), (1, 2))
            .unwrap();
        assert_eq!(a.stream.as_ref().map(Vec::len), Some(2));
        assert!(a.encoded_len() <= 1000);
    }
}
