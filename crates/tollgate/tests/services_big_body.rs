//! REST services (issue 10): a 100 MiB upload and a 100 MiB download stream through a
//! service in constant memory. The test client generates the upload chunk by chunk and
//! reads the download chunk by chunk (neither is ever held whole here either); the mock
//! upstream counts and checksums the upload as it streams in and streams the download
//! out of a pattern. The gateway's peak resident memory (`VmHWM`, Linux only) is reset
//! to its current one before and read after: a gateway that buffered either body would grow by at least its
//! size, far over the bound checked here.
//!
//! Two paths of the proxy are covered: the plain one, and the one of a consumer whose
//! bodies are logged (`log_bodies: true`), where the first bytes of both bodies are
//! copied as they pass.

#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use serde_json::Value;
use tollgate_mock::rest::{Checksum, RestUpstream, pattern_byte};

/// The size of each body: 100 MiB.
const SIZE: u64 = 100 * 1024 * 1024;
/// The chunk the test client sends and the one the checksum is computed over.
const CHUNK: u64 = 1024 * 1024;
/// How much the gateway's peak RSS may grow over both transfers: far under one body.
const MAX_GROWTH: u64 = 32 * 1024 * 1024;
/// A consumer whose call records keep (the first bytes of) both bodies.
const KEY_LOGGED: &str = "tg-test-key-logged";
/// The body-log cap of the config.
const LOG_CAP: usize = 4096;

fn config(upstream: &str) -> String {
    format!(
        r#"
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  admin_token: {ADMIN_TOKEN}
  max_body_bytes: 65536
storage:
  log_bodies_max_bytes: {LOG_CAP}
consumers:
  - name: team-a
    api_keys: ["{KEY_A}"]
  - name: team-logged
    api_keys: ["{KEY_LOGGED}"]
    log_bodies: true
services:
  - name: bulk
    path_prefix: /bulk
    upstream: {{nodes: [{{url: "{upstream}"}}], timeout_ms: 120000}}
"#
    )
}

/// VmHWM (peak resident memory) of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmHWM")
}

/// Resets the process's peak RSS to its current RSS (`echo 5 > clear_refs`), so that
/// the peak read afterwards is the transfers' and not the start-up's.
fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
}

/// Chunk `i` of the upload: the mock's download pattern at that offset.
fn chunk(i: u64) -> bytes::Bytes {
    let start = i * CHUNK;
    bytes::Bytes::from(
        (start..start + CHUNK)
            .map(pattern_byte)
            .collect::<Vec<u8>>(),
    )
}

/// The checksum of the pattern's first [`SIZE`] bytes (computed chunk by chunk).
fn pattern_checksum() -> String {
    let mut sum = Checksum::default();
    for i in 0..SIZE / CHUNK {
        sum.update(&chunk(i));
    }
    sum.hex()
}

/// A client with room for 100 MiB each way on a loaded machine.
fn slow_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client")
}

fn request_id(h: &reqwest::header::HeaderMap) -> String {
    h.get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string()
}

/// What one gateway's memory did over an upload and a download.
struct Growth {
    before: u64,
    after_upload: u64,
    after_download: u64,
    upload_id: String,
    download_id: String,
}

/// Uploads then downloads [`SIZE`] bytes through the `bulk` service as `key`, checking
/// what arrived at each end, and reads the gateway's peak RSS around them.
async fn transfer_both_ways(gw: &Gateway, key: &str, expected: &str) -> Growth {
    // Warm up (connection pools, the service table, the journal), then the baseline.
    let res = slow_client()
        .get(gw.gw("/bulk/warm"))
        .bearer_auth(key)
        .send()
        .await
        .expect("warm-up");
    assert_eq!(res.status().as_u16(), 200);
    res.bytes().await.expect("warm-up body");
    reset_peak_rss(gw.pid());
    let before = peak_rss(gw.pid());

    // Upload: generated chunk by chunk as the gateway pulls it, far over the gateway's
    // max_body_bytes (64 KiB, which applies to the LLM doors only).
    let chunks = futures::stream::iter(0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(chunk(i)));
    let res = slow_client()
        .put(gw.gw("/bulk/upload"))
        .bearer_auth(key)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    let upload_id = request_id(res.headers());
    let body: Value = res.json().await.expect("upload answer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["body_len"], SIZE, "the upstream's count of the upload");
    assert_eq!(
        body["body_checksum"], expected,
        "the upload's bytes, in order"
    );
    let after_upload = peak_rss(gw.pid());

    // Download: streamed from the upstream, counted and checksummed as it arrives.
    let res = slow_client()
        .get(gw.gw(&format!("/bulk/download/{SIZE}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status().as_u16(), 200);
    let download_id = request_id(res.headers());
    let mut got = Checksum::default();
    let mut n = 0u64;
    let mut stream = res.bytes_stream();
    while let Some(part) = stream.next().await {
        let part = part.expect("download chunk");
        n += part.len() as u64;
        got.update(&part);
    }
    assert_eq!(n, SIZE, "bytes downloaded");
    assert_eq!(got.hex(), expected, "the download's bytes, in order");
    let after_download = peak_rss(gw.pid());

    Growth {
        before,
        after_upload,
        after_download,
        upload_id,
        download_id,
    }
}

/// Prints the figures and checks the growth over both transfers.
fn check(what: &str, g: &Growth) {
    let grown = g.after_download.saturating_sub(g.before);
    eprintln!(
        "{what}: gateway peak RSS {} KiB before, {} KiB after the 100 MiB upload, {} KiB after \
         the 100 MiB download (grew {} KiB)",
        g.before >> 10,
        g.after_upload >> 10,
        g.after_download >> 10,
        grown >> 10
    );
    assert!(
        grown < MAX_GROWTH,
        "{what}: the gateway's peak RSS grew by {grown} bytes moving 2 x {SIZE} bytes \
         (under {MAX_GROWTH} expected of a streaming proxy)"
    );
}

/// The record of `id`, once the journal has written it (up to 10 s).
#[tokio::test]
async fn hundred_mib_bodies_stream_through_in_constant_memory() {
    let upstream = RestUpstream::start("a").await.expect("upstream");
    let expected = pattern_checksum();

    // A plain consumer: the bodies go straight through.
    let gw = Gateway::start(&config(&upstream.url()));
    let plain = transfer_both_ways(&gw, KEY_A, &expected).await;
    check("plain", &plain);
    let store = open_store(&gw).await;
    for id in [&plain.upload_id, &plain.download_id] {
        let r = record(&store, id).await;
        assert_eq!((r.door.as_str(), r.status), ("service", 200), "{id}");
        assert_eq!((r.request_body, r.response_body), (None, None));
    }
    store.close().await;
    drop(gw);

    // A consumer whose bodies are logged: the same, with the first bytes of each body
    // copied as they pass; the record keeps the cap and the full count, nothing more.
    let gw = Gateway::start(&config(&upstream.url()));
    let logged = transfer_both_ways(&gw, KEY_LOGGED, &expected).await;
    check("log_bodies", &logged);
    let store = open_store(&gw).await;
    let marker = format!("…[truncated: {SIZE} bytes in all]");
    let up = record(&store, &logged.upload_id).await;
    let down = record(&store, &logged.download_id).await;
    // Both calls ended when their answers did, not as if the client had gone.
    assert_eq!((up.status, down.status), (200, 200));
    for (what, body) in [
        ("upload request", up.request_body),
        ("download response", down.response_body),
    ] {
        let body = body.unwrap_or_else(|| panic!("{what}: no body logged"));
        assert!(body.ends_with(&marker), "{what}: ...{marker} expected");
        // The cap's worth of text then the marker: a bounded copy, not the body. (The
        // text of binary bytes stored may be longer than the cap: a NUL, which the
        // database's text cannot hold, is stored as U+FFFD, three bytes.)
        assert!(
            body.len() <= 3 * LOG_CAP + marker.len(),
            "{what}: {} bytes kept",
            body.len()
        );
    }
    store.close().await;
}
