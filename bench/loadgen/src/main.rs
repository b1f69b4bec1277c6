//! `tollgate-loadgen`: a small closed-loop load generator for chat and REST endpoints.
//!
//! N workers share one keep-alive connection pool (TCP_NODELAY on every socket) and each
//! sends one request after another, OpenAI `/v1/chat/completions` or Anthropic
//! `/v1/messages`, streamed or not, or (`--door rest`) a plain request with a chosen
//! method and body size to the URL as given. It reports throughput, whole-request latency
//! percentiles and, for streams, time to first token (the first SSE event carrying
//! generated text). A warm-up phase opens the connections before anything is measured.
//!
//! The run is bounded in count (`--requests`) or time (`--duration-secs`), and always by
//! `--max-secs`; it only ever talks to the one URL it is given, and refuses non-loopback
//! hosts unless `--allow-remote` is passed.

mod sse;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{ArgGroup, Parser, ValueEnum};
use futures::StreamExt;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};
use sse::SseScanner;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Door {
    /// OpenAI `POST /v1/chat/completions`, `Authorization: Bearer KEY`.
    Openai,
    /// Anthropic `POST /v1/messages`, `x-api-key: KEY`, `anthropic-version`.
    Anthropic,
    /// Plain REST: `--method` to the URL as given, `--body-bytes` of JSON, the key (if
    /// any) as `Authorization: Bearer`.
    Rest,
}

impl Door {
    fn path(self) -> &'static str {
        match self {
            Door::Openai => "/v1/chat/completions",
            Door::Anthropic => "/v1/messages",
            Door::Rest => "/",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Door::Openai => "openai",
            Door::Anthropic => "anthropic",
            Door::Rest => "rest",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "tollgate-loadgen",
    about = "Closed-loop load generator for OpenAI / Anthropic chat endpoints and plain REST",
    group(ArgGroup::new("bound").required(true).args(["requests", "duration_secs"]))
)]
struct Args {
    /// Base URL (`http://127.0.0.1:8080`; the door's path is appended) or a full endpoint URL.
    #[arg(long)]
    url: String,
    /// API key: sent as `Authorization: Bearer` (openai, rest) or `x-api-key` (anthropic).
    /// Required on the chat doors; on the rest door, without it no key is sent.
    #[arg(long)]
    key: Option<String>,
    /// Model name put in the request body (required on the chat doors).
    #[arg(long)]
    model: Option<String>,
    /// Which wire format to speak.
    #[arg(long, value_enum, default_value_t = Door::Openai)]
    door: Door,
    /// HTTP method (rest door only; default GET).
    #[arg(long)]
    method: Option<reqwest::Method>,
    /// Request body of this many bytes, a JSON document `{"pad":"aaa..."}` (rest door only;
    /// 0, the default, sends no body).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_073_741_824))]
    body_bytes: u64,
    /// An answer whose body is not exactly this many bytes counts as an error
    /// (`wrong_length`), e.g. to check that an echo came back whole.
    #[arg(long)]
    expect_bytes: Option<u64>,
    /// Extra request header `NAME: VALUE` (repeatable), sent on every request.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Ask for a streamed (SSE) answer and measure time to first token.
    #[arg(long)]
    stream: bool,
    /// Number of concurrent workers (each keeps one request in flight).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    concurrency: u64,
    /// Measured requests to send (after the warm-up).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// Send for this many seconds (after the warm-up); requests in flight then are finished.
    #[arg(long)]
    duration_secs: Option<f64>,
    /// User message text.
    #[arg(long, default_value = "Write one short paragraph about toll roads.")]
    prompt: String,
    /// `max_tokens` in the body (always sent on the anthropic door, where it is required).
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// Requests sent before measuring, to open connections and warm caches.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// Per-request timeout, whole body included.
    #[arg(long, default_value_t = 30.0)]
    timeout_secs: f64,
    /// Hard limit on the measured phase: no new request starts after it.
    #[arg(long, default_value_t = 600.0)]
    max_secs: f64,
    /// A label copied into the report (e.g. the scenario name).
    #[arg(long, default_value = "")]
    label: String,
    /// Also print the report as one JSON object line.
    #[arg(long)]
    json: bool,
    /// Allow a URL whose host is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

/// Everything a worker needs to send one request; shared read-only.
struct Target {
    client: Client,
    method: reqwest::Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
    door: Door,
    stream: bool,
    expect_bytes: Option<u64>,
}

/// How one request ended.
enum Outcome {
    Ok {
        latency: Duration,
        ttft: Option<Duration>,
        /// Bytes of the answer's body.
        bytes: u64,
    },
    Err {
        kind: String,
        detail: String,
    },
}

/// Per-worker (then merged) results of one phase.
struct Tally {
    ok: u64,
    errors: u64,
    /// Body bytes of the successful answers.
    bytes: u64,
    latency_us: Histogram<u64>,
    ttft_us: Histogram<u64>,
    error_kinds: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Result<Self> {
        // 1 µs .. 1 hour, 3 significant digits.
        let hist = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3);
        Ok(Tally {
            ok: 0,
            errors: 0,
            bytes: 0,
            latency_us: hist().context("creating latency histogram")?,
            ttft_us: hist().context("creating ttft histogram")?,
            error_kinds: BTreeMap::new(),
            first_error: None,
        })
    }

    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok {
                latency,
                ttft,
                bytes,
            } => {
                self.ok += 1;
                self.bytes += bytes;
                self.latency_us.saturating_record(micros(latency));
                if let Some(t) = ttft {
                    self.ttft_us.saturating_record(micros(t));
                }
            }
            Outcome::Err { kind, detail } => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{kind}: {detail}"));
                }
                *self.error_kinds.entry(kind).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) -> Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.latency_us
            .add(&other.latency_us)
            .context("merging latency histograms")?;
        self.ttft_us
            .add(&other.ttft_us)
            .context("merging ttft histograms")?;
        for (k, n) in other.error_kinds {
            *self.error_kinds.entry(k).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// When a phase stops handing out requests.
#[derive(Clone, Copy)]
struct Bound {
    /// At most this many requests in total (across workers).
    count: Option<u64>,
    /// No request starts after this instant.
    deadline: Instant,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate-loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let target = Arc::new(build_target(&args)?);
    let timeout_total = secs(args.max_secs, "--max-secs")?;

    if args.warmup > 0 {
        let workers = args.concurrency.min(args.warmup);
        let bound = Bound {
            count: Some(args.warmup),
            deadline: Instant::now() + timeout_total,
        };
        let (warm, _) = run_phase(&target, workers, bound).await?;
        if warm.errors > 0 {
            eprintln!(
                "tollgate-loadgen: warm-up: {} of {} requests failed; first: {}",
                warm.errors,
                args.warmup,
                warm.first_error.as_deref().unwrap_or("?")
            );
        }
    }

    let bound = match (args.requests, args.duration_secs) {
        (Some(n), _) => Bound {
            count: Some(n),
            deadline: Instant::now() + timeout_total,
        },
        (None, Some(d)) => Bound {
            count: None,
            deadline: Instant::now() + secs(d, "--duration-secs")?.min(timeout_total),
        },
        (None, None) => bail!("one of --requests or --duration-secs is required"),
    };
    let (tally, elapsed) = run_phase(&target, args.concurrency, bound).await?;
    let report = report(&args, &target, &tally, elapsed);
    println!("{}", human_line(&report));
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).context("encoding report")?
        );
    }
    if let Some(e) = &tally.first_error {
        eprintln!("tollgate-loadgen: first error: {e}");
    }
    if tally.ok == 0 {
        bail!("every one of the {} measured requests failed", tally.errors);
    }
    Ok(())
}

fn secs(value: f64, flag: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds, got {value}"))
}

fn build_target(args: &Args) -> Result<Target> {
    let mut url = Url::parse(&args.url).with_context(|| format!("invalid --url {:?}", args.url))?;
    match url.scheme() {
        "http" | "https" => {}
        other => bail!("--url must be http or https, got scheme {other:?}"),
    }
    let host = url.host_str().context("--url has no host")?.to_string();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback && !args.allow_remote {
        bail!(
            "--url host {host:?} is not a loopback address; pass --allow-remote to load a remote server"
        );
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path(args.door.path());
    }
    let chat = args.door != Door::Rest;
    if chat && (args.method.is_some() || args.body_bytes > 0) {
        bail!(
            "--method and --body-bytes are for --door rest; the chat doors always POST their JSON"
        );
    }
    if !chat && args.stream {
        bail!("--stream is for the chat doors, not --door rest");
    }
    let key = match (&args.key, chat) {
        (Some(k), _) => Some(k.as_str()),
        (None, false) => None,
        (None, true) => bail!("--key is required on the {} door", args.door.name()),
    };
    let model = match (&args.model, chat) {
        (Some(m), _) => m.as_str(),
        (None, false) => "",
        (None, true) => bail!("--model is required on the {} door", args.door.name()),
    };

    let mut headers = HeaderMap::new();
    if chat || args.body_bytes > 0 {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    match (args.door, key) {
        (Door::Openai | Door::Rest, Some(key)) => {
            let v = HeaderValue::from_str(&format!("Bearer {key}"))
                .context("--key is not a valid header value")?;
            headers.insert(AUTHORIZATION, v);
        }
        (Door::Anthropic, Some(key)) => {
            let v = HeaderValue::from_str(key).context("--key is not a valid header value")?;
            headers.insert("x-api-key", v);
            headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        }
        (_, None) => {}
    }
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("--header {h:?} is not `NAME: VALUE`"))?;
        let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {h:?}: invalid name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {h:?}: invalid value"))?;
        headers.append(name, value);
    }

    let messages = json!([{"role": "user", "content": args.prompt}]);
    let body = match args.door {
        Door::Openai => {
            let mut b = json!({
                "model": model,
                "messages": messages,
                "max_tokens": args.max_tokens,
            });
            if args.stream {
                b["stream"] = Value::Bool(true);
            }
            b
        }
        Door::Anthropic => json!({
            "model": model,
            "max_tokens": args.max_tokens,
            "messages": messages,
            "stream": args.stream,
        }),
        Door::Rest => Value::Null,
    };
    let body = if chat {
        Bytes::from(serde_json::to_vec(&body).context("encoding request body")?)
    } else {
        let n = usize::try_from(args.body_bytes).context("--body-bytes too large")?;
        Bytes::from(json_body(n))
    };
    let method = match (&args.method, chat) {
        (Some(m), _) => m.clone(),
        (None, true) => reqwest::Method::POST,
        (None, false) => reqwest::Method::GET,
    };

    let pool = usize::try_from(args.concurrency).unwrap_or(usize::MAX);
    let client = Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(pool)
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(secs(args.timeout_secs, "--timeout-secs")?)
        .connect_timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .context("building HTTP client")?;

    Ok(Target {
        client,
        method,
        url,
        headers,
        body,
        door: args.door,
        stream: args.stream,
        expect_bytes: args.expect_bytes,
    })
}

/// A JSON document of `n` bytes, `{"pad":"aaa..."}` (nothing for 0; at least the
/// 10-byte shell otherwise).
fn json_body(n: usize) -> Vec<u8> {
    const SHELL: usize = r#"{"pad":""}"#.len();
    if n == 0 {
        return Vec::new();
    }
    let mut doc = Vec::with_capacity(n.max(SHELL));
    doc.extend_from_slice(br#"{"pad":""#);
    doc.resize(doc.len() + n.saturating_sub(SHELL), b'a');
    doc.extend_from_slice(br#""}"#);
    doc
}

/// Run `workers` closed-loop workers until the bound is reached; returns the merged tally
/// and the wall time from the first request to the last answer.
async fn run_phase(target: &Arc<Target>, workers: u64, bound: Bound) -> Result<(Tally, Duration)> {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let target = Arc::clone(target);
        let issued = Arc::clone(&issued);
        handles.push(tokio::spawn(async move {
            let mut tally = Tally::new()?;
            loop {
                if Instant::now() >= bound.deadline {
                    break;
                }
                if let Some(n) = bound.count
                    && issued.fetch_add(1, Ordering::Relaxed) >= n
                {
                    break;
                }
                tally.record(one_request(&target).await);
            }
            anyhow::Ok(tally)
        }));
    }
    let mut total = Tally::new()?;
    for h in handles {
        let tally = h.await.context("worker task failed")??;
        total.merge(tally)?;
    }
    Ok((total, start.elapsed()))
}

async fn one_request(t: &Target) -> Outcome {
    let start = Instant::now();
    let sent = t
        .client
        .request(t.method.clone(), t.url.clone())
        .headers(t.headers.clone())
        .body(t.body.clone())
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return transport_error(&e),
    };
    let status = resp.status();
    if status != StatusCode::OK {
        let body = resp.bytes().await.unwrap_or_default();
        let snippet: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Outcome::Err {
            kind: format!("http_{}", status.as_u16()),
            detail: snippet,
        };
    }
    if !t.stream {
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return transport_error(&e),
        };
        let latency = start.elapsed();
        let bytes = body.len() as u64;
        if let Some(want) = t.expect_bytes
            && bytes != want
        {
            return Outcome::Err {
                kind: "wrong_length".to_string(),
                detail: format!("answer body of {bytes} bytes, expected {want}"),
            };
        }
        return Outcome::Ok {
            latency,
            ttft: None,
            bytes,
        };
    }

    let mut scanner = SseScanner::new(t.door);
    let mut ttft = None;
    let mut bytes = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => {
                bytes += c.len() as u64;
                if scanner.feed(&c) {
                    ttft = Some(start.elapsed());
                }
            }
            Err(e) => {
                return Outcome::Err {
                    kind: "broken_stream".to_string(),
                    detail: e.to_string(),
                };
            }
        }
    }
    scanner.finish();
    let latency = start.elapsed();
    if !scanner.complete() {
        let why = if scanner.error {
            "error event in stream"
        } else if scanner.overflow {
            "over-long SSE line"
        } else {
            "stream ended without its end marker"
        };
        return Outcome::Err {
            kind: "broken_stream".to_string(),
            detail: why.to_string(),
        };
    }
    match ttft {
        Some(_) => Outcome::Ok {
            latency,
            ttft,
            bytes,
        },
        None => Outcome::Err {
            kind: "empty_stream".to_string(),
            detail: "stream carried no generated text".to_string(),
        },
    }
}

fn transport_error(e: &reqwest::Error) -> Outcome {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    };
    // The full source chain says what actually happened (reset, refused...).
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Outcome::Err {
        kind: kind.to_string(),
        detail,
    }
}

fn report(args: &Args, t: &Target, tally: &Tally, elapsed: Duration) -> Value {
    let secs = elapsed.as_secs_f64();
    let rps = if secs > 0.0 {
        tally.ok as f64 / secs
    } else {
        0.0
    };
    let lat = &tally.latency_us;
    let latency = if tally.ok > 0 {
        json!({
            "p50": ms(lat.value_at_quantile(0.50)),
            "p90": ms(lat.value_at_quantile(0.90)),
            "p99": ms(lat.value_at_quantile(0.99)),
            "max": ms(lat.max()),
            "mean": (lat.mean() / 10.0).round() / 100.0,
        })
    } else {
        Value::Null
    };
    let ttft = if t.stream && !tally.ttft_us.is_empty() {
        json!({
            "p50": ms(tally.ttft_us.value_at_quantile(0.50)),
            "p99": ms(tally.ttft_us.value_at_quantile(0.99)),
        })
    } else {
        Value::Null
    };
    json!({
        "label": args.label,
        "url": t.url.as_str(),
        "door": t.door.name(),
        "method": t.method.as_str(),
        "stream": t.stream,
        "model": args.model,
        "concurrency": args.concurrency,
        "requests": tally.ok + tally.errors,
        "ok": tally.ok,
        "errors": tally.errors,
        "error_kinds": tally.error_kinds,
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "rps": (rps * 10.0).round() / 10.0,
        "request_body_bytes": t.body.len(),
        "response_body_bytes_mean": tally.bytes.checked_div(tally.ok).unwrap_or(0),
        "latency_ms": latency,
        "ttft_ms": ttft,
    })
}

fn human_line(r: &Value) -> String {
    let f = |path: &str| match r.pointer(path) {
        Some(Value::Null) | None => "-".to_string(),
        Some(v) => v.to_string(),
    };
    let mut line = String::new();
    if let Some(label) = r["label"].as_str().filter(|l| !l.is_empty()) {
        line.push_str(&format!("[{label}] "));
    }
    line.push_str(&format!(
        "{door}{stream} c={c}: requests={n} errors={e} rps={rps} latency_ms p50={p50} p90={p90} p99={p99} max={max}",
        door = f("/door").trim_matches('"'),
        stream = if r["stream"].as_bool() == Some(true) {
            " stream".to_string()
        } else if r["door"] == "rest" {
            format!(" {}", f("/method").trim_matches('"'))
        } else {
            String::new()
        },
        c = f("/concurrency"),
        n = f("/requests"),
        e = f("/errors"),
        rps = f("/rps"),
        p50 = f("/latency_ms/p50"),
        p90 = f("/latency_ms/p90"),
        p99 = f("/latency_ms/p99"),
        max = f("/latency_ms/max"),
    ));
    if r["stream"].as_bool() == Some(true) {
        line.push_str(&format!(
            " ttft_ms p50={} p99={}",
            f("/ttft_ms/p50"),
            f("/ttft_ms/p99")
        ));
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_the_asked_length() {
        assert!(json_body(0).is_empty());
        for n in [1, 10, 11, 1024, 65_536] {
            let b = json_body(n);
            assert_eq!(b.len(), n.max(10), "length for {n}");
            let v: Value = serde_json::from_slice(&b).unwrap();
            assert!(v["pad"].is_string());
        }
    }

    fn target(extra: &[&str]) -> Result<Target> {
        let mut argv = vec![
            "tollgate-loadgen",
            "--url",
            "http://127.0.0.1:1/svc/x/mirror",
            "--concurrency",
            "1",
            "--requests",
            "1",
        ];
        argv.extend_from_slice(extra);
        build_target(&Args::try_parse_from(argv)?)
    }

    #[test]
    fn rest_door_sends_method_body_key_and_headers() {
        let t = target(&[
            "--door",
            "rest",
            "--method",
            "POST",
            "--body-bytes",
            "100",
            "--key",
            "k1",
            "--header",
            "x-a: 1",
        ])
        .unwrap();
        assert_eq!(t.method, reqwest::Method::POST);
        assert_eq!(t.url.path(), "/svc/x/mirror");
        assert_eq!(t.body.len(), 100);
        assert_eq!(t.headers[AUTHORIZATION], "Bearer k1");
        assert_eq!(t.headers["x-a"], "1");
        assert_eq!(t.headers[CONTENT_TYPE], "application/json");

        let t = target(&["--door", "rest"]).unwrap();
        assert_eq!(t.method, reqwest::Method::GET);
        assert!(t.body.is_empty());
        assert!(t.headers.get(AUTHORIZATION).is_none());
        assert!(t.headers.get(CONTENT_TYPE).is_none());
    }

    #[test]
    fn mismatched_flags_are_refused() {
        assert!(target(&["--door", "rest", "--stream"]).is_err());
        assert!(target(&["--key", "k", "--model", "m", "--method", "GET"]).is_err());
        assert!(target(&["--key", "k"]).is_err());
        assert!(target(&["--model", "m"]).is_err());
        assert!(target(&["--door", "rest", "--header", "no-colon"]).is_err());
        assert!(target(&["--key", "k", "--model", "m"]).is_ok());
    }
}
