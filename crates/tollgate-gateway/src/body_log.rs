//! Request and response bodies for call records, when the call's model or consumer
//! asks for them (`log_bodies: true`): capped in size and with secrets redacted
//! before they leave the request path, so a call record never holds a credential a
//! client pasted into a prompt, nor a prompt larger than the operator allowed.
//!
//! Capturing never holds a body whole: a [`Capture`] copies chunks as they pass, up
//! to the cap and a small margin ([`SLACK`], so that a secret across the cut is still
//! recognised), and only counts the rest. Rendering ([`BodyLog::render`]) turns the
//! captured bytes into text (lossy UTF-8), redacts it ([`redact`]), cuts it to the cap
//! at a character boundary and marks the cut (`…[truncated: N bytes in all]`).
//!
//! [`redact`] is the one place that decides what a stored body may not contain; data
//! masking (its rules and detectors) extends it there.

use std::sync::{Arc, LazyLock};

use http::HeaderMap;
use regex::{Captures, Regex};
use tollgate_core::keys;
use tollgate_core::snapshot::Snapshot;

use crate::auth::presented_key;
use crate::lifecycle::Call;
use crate::state::GatewayState;

/// The default of `storage.log_bodies_max_bytes` (32 KiB).
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Bytes captured beyond the cap, so that a secret that starts before the cut is seen
/// whole by the patterns (and not kept as a recognisable prefix).
pub const SLACK: usize = 1024;

/// Configured provider keys shorter than this are not searched for: replacing every
/// occurrence of a short string would deface the text without protecting much.
const MIN_LITERAL_LEN: usize = 8;

/// Credential shapes: provider and gateway API keys, bearer tokens, JWTs, cloud
/// access keys, private keys (a block cut by the cap is redacted to the end).
/// Linear-time (the `regex` crate), compiled once.
static SECRETS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:sk|pk|rk|tg)-[A-Za-z0-9_\-]{16,}",
        r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        r"|AKIA[0-9A-Z]{16}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|gh[pousr]_[A-Za-z0-9]{36,}",
        r"|xox[abprs]-[A-Za-z0-9\-]{10,}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
    ))
    .ok()
});

/// Values introduced as credentials (`Authorization: Bearer …`, `"api_key": "…"`,
/// `password=…`): the name is kept, the value replaced.
static LABELLED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<lead>(?i:\b(?:proxy-authorization|authorization|x-api-key|api-key|api_key|apikey|"#,
        r#"access_token|refresh_token|client_secret|secret_key|password|passwd)\b)"#,
        r#"\\?["']?\s*[:=]\s*\\?["']?\s*(?:(?i:bearer|basic|token|digest)\s+)?)"#,
        r#"(?P<value>[^\s"'\\,;{}\[\]]{6,})"#,
        r#"|(?P<scheme>(?i:\bbearer)\s+)(?P<token>[A-Za-z0-9._~+/\-]{16,}=*)"#,
    ))
    .ok()
});

/// Words that could be a consumer key (checked against the keys' hashes).
static WORDS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"[^\s"'`\\,;:()\[\]{}<>]{8,256}"#).ok());

/// The secrets a stored body must not contain, as known for one request.
pub struct Secrets {
    /// Provider keys and consumer keys (by hash) come from here.
    snapshot: Arc<Snapshot>,
    /// The key the request presented.
    presented: Option<String>,
}

impl Secrets {
    pub fn new(snapshot: Arc<Snapshot>, presented: Option<&str>) -> Secrets {
        Secrets {
            snapshot,
            presented: presented.map(str::to_string),
        }
    }
}

/// `text` without the secrets a stored body must not hold, each replaced by
/// [`REDACTED`]: the values of `secrets` exactly (the configured provider keys, the
/// key the request presented, any word that is an active consumer key), then
/// credential shapes and labelled credentials.
///
/// This is the redaction of bodies for call records; masking rules extend it here.
pub fn redact(text: &str, secrets: &Secrets) -> String {
    let mut literals: Vec<&str> = secrets
        .snapshot
        .providers
        .values()
        .flat_map(|p| p.api_keys.iter().map(String::as_str))
        .chain(secrets.presented.as_deref())
        .filter(|k| k.len() >= MIN_LITERAL_LEN)
        .collect();
    // Longest first, so that a key containing another is replaced whole.
    literals.sort_unstable_by_key(|k| std::cmp::Reverse(k.len()));
    let mut out = text.to_string();
    for lit in literals {
        if out.contains(lit) {
            out = out.replace(lit, REDACTED);
        }
    }
    if !secrets.snapshot.keys.is_empty()
        && let Some(words) = WORDS.as_ref()
    {
        let known = |w: &str| secrets.snapshot.keys.contains_key(&keys::hash(w));
        if words.find_iter(&out).any(|m| known(m.as_str())) {
            out = words
                .replace_all(&out, |c: &Captures| {
                    let w = c.get(0).map_or("", |m| m.as_str());
                    if known(w) {
                        REDACTED.to_string()
                    } else {
                        w.to_string()
                    }
                })
                .into_owned();
        }
    }
    if let Some(re) = SECRETS.as_ref() {
        out = re.replace_all(&out, REDACTED).into_owned();
    }
    if let Some(re) = LABELLED.as_ref() {
        out = re
            .replace_all(&out, |c: &Captures| {
                let lead = c
                    .name("lead")
                    .or_else(|| c.name("scheme"))
                    .map_or("", |m| m.as_str());
                format!("{lead}{REDACTED}")
            })
            .into_owned();
    }
    out
}

/// Body logging for one call: how much to keep, and what to redact.
pub struct BodyLog {
    cap: usize,
    secrets: Secrets,
}

impl std::fmt::Debug for BodyLog {
    // The secrets are not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyLog")
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl BodyLog {
    pub fn new(cap: usize, secrets: Secrets) -> BodyLog {
        BodyLog {
            cap: cap.max(1),
            secrets,
        }
    }

    /// A capture for a body that arrives in chunks.
    pub fn capture(&self) -> Capture {
        Capture::new(self.cap)
    }

    /// A whole body as stored (the bytes are looked at up to the cap and margin only).
    pub fn render_bytes(&self, body: &[u8]) -> String {
        let mut c = self.capture();
        c.push(body);
        self.render(c)
    }

    /// The captured body as stored: text, redacted, at most the cap, cut marked.
    pub fn render(&self, capture: Capture) -> String {
        let Capture { buf, total, .. } = capture;
        let text = utf8_prefix(&buf);
        let mut out = redact(&text, &self.secrets);
        let cut = total > buf.len() || out.len() > self.cap;
        if out.len() > self.cap {
            let mut end = self.cap;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
        }
        if cut {
            out.push_str(&format!("…[truncated: {total} bytes in all]"));
        }
        out
    }
}

/// Turns body logging on for `call` when `on` (the model's or the consumer's
/// `log_bodies`), with the request body as received; a no-op when it is on already.
pub fn begin(
    call: &Call,
    on: bool,
    st: &GatewayState,
    snapshot: &Arc<Snapshot>,
    headers: &HeaderMap,
    request_body: &[u8],
) {
    if !on {
        return;
    }
    let secrets = Secrets::new(snapshot.clone(), presented_key(headers));
    call.log_bodies(BodyLog::new(st.log_bodies_max_bytes, secrets), request_body);
}

/// The text of `bytes`: lossy UTF-8, without a multi-byte character cut at the end.
fn utf8_prefix(bytes: &[u8]) -> String {
    let end = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        // An incomplete sequence at the very end: the cut went through it.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => bytes.len(),
    };
    String::from_utf8_lossy(bytes.get(..end).unwrap_or(bytes)).into_owned()
}

/// A body's first bytes (up to the cap and [`SLACK`]), copied as chunks pass, and the
/// count of all of them.
#[derive(Debug)]
pub struct Capture {
    buf: Vec<u8>,
    limit: usize,
    total: usize,
}

impl Capture {
    fn new(cap: usize) -> Capture {
        Capture {
            buf: Vec::new(),
            limit: cap.saturating_add(SLACK),
            total: 0,
        }
    }

    /// An empty capture with the same limit.
    pub fn like(other: &Capture) -> Capture {
        Capture {
            buf: Vec::new(),
            limit: other.limit,
            total: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len());
        let room = self.limit.saturating_sub(self.buf.len());
        if room > 0 {
            self.buf
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or(chunk));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::snapshot::KeyEntry;
    use tollgate_core::spec::{KeyLimits, ProviderKind, ProviderSpec};

    fn snapshot(provider_keys: &[&str], consumer_keys: &[&str]) -> Arc<Snapshot> {
        let provider = ProviderSpec {
            name: "p".into(),
            kind: ProviderKind::Openai,
            base_url: None,
            api_keys: provider_keys.iter().map(|k| k.to_string()).collect(),
            api_version: None,
        };
        let keys = consumer_keys
            .iter()
            .map(|k| {
                (
                    keys::hash(k),
                    KeyEntry {
                        id: format!("id-{k}"),
                        consumer: "c".into(),
                        models: None,
                        expires_at: None,
                        limits: KeyLimits::default(),
                    },
                )
            })
            .collect();
        Arc::new(Snapshot::build(
            1,
            vec![provider],
            vec![],
            vec![],
            vec![],
            keys,
        ))
    }

    fn log(cap: usize) -> BodyLog {
        BodyLog::new(
            cap,
            Secrets::new(
                snapshot(&["upstream-key-1234", "short"], &["team-b-key-999"]),
                Some("tg-team-a-key"),
            ),
        )
    }

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let body = br#"{"messages":[{"role":"user","content":"my key is sk-proj-abcdefghijklmnop1234 and Authorization: Bearer abcdefghijklmnopqrstuvwx, token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U, aws AKIAIOSFODNN7EXAMPLE, gateway tg-0123456789abcdef0123456789"}]}"#;
        let out = log(1 << 20).render_bytes(body);
        for secret in [
            "sk-proj-abcdefghijklmnop1234",
            "abcdefghijklmnopqrstuvwx",
            "eyJhbGciOiJIUzI1NiJ9",
            "AKIAIOSFODNN7EXAMPLE",
            "tg-0123456789abcdef0123456789",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains("my key is [REDACTED]"), "{out}");
        assert!(out.contains("Authorization: Bearer [REDACTED]"), "{out}");
        assert!(out.starts_with(r#"{"messages":[{"role":"user","content":"#));
    }

    #[test]
    fn configured_and_presented_keys_are_redacted_exactly() {
        let body =
            br#"{"a":"upstream-key-1234","b":"tg-team-a-key","c":"team-b-key-999","d":"short"}"#;
        let out = log(1 << 20).render_bytes(body);
        assert_eq!(
            out,
            r#"{"a":"[REDACTED]","b":"[REDACTED]","c":"[REDACTED]","d":"short"}"#
        );
    }

    #[test]
    fn labelled_values_keep_their_label() {
        let out = log(1 << 20)
            .render_bytes(br#"{"api_key": "abc123xyz789", "password=hunter22", "max_tokens": 12}"#);
        assert_eq!(
            out,
            r#"{"api_key": "[REDACTED]", "password=[REDACTED]", "max_tokens": 12}"#
        );
    }

    #[test]
    fn short_words_that_look_alike_are_not_secrets() {
        let body = b"ask-me about sk-learn, a bearer of news, tg-bot";
        assert_eq!(
            log(1 << 20).render_bytes(body),
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn large_bodies_are_cut_at_a_char_boundary_and_marked() {
        let body = "é".repeat(1000); // two bytes each
        let out = log(101).render_bytes(body.as_bytes());
        let (kept, marker) = out.split_once('…').unwrap();
        assert_eq!(kept, "é".repeat(50));
        assert_eq!(marker, "[truncated: 2000 bytes in all]");
    }

    #[test]
    fn a_secret_across_the_cut_is_not_kept_in_part() {
        let mut body = "x".repeat(80);
        body.push_str(" sk-abcdefghijklmnopqrstuvwxyz0123456789 tail");
        let out = log(100).render_bytes(body.as_bytes());
        assert!(!out.contains("sk-abc"), "{out}");
        assert!(
            out.starts_with(&format!("{} [REDACTED]", "x".repeat(80))),
            "{out}"
        );
        // A private key cut by the capture is redacted to the end.
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        pem.push_str(&"A".repeat(5000));
        let out = log(64).render_bytes(pem.as_bytes());
        assert!(out.starts_with("[REDACTED]…[truncated"), "{out}");
    }

    #[test]
    fn chunks_are_captured_up_to_the_cap_and_margin_only() {
        let l = log(10);
        let mut c = l.capture();
        for _ in 0..1000 {
            c.push(&[b'a'; 100]);
        }
        assert_eq!(c.buf.len(), 10 + SLACK);
        assert_eq!(c.total, 100_000);
        assert_eq!(
            l.render(c),
            format!("{}…[truncated: 100000 bytes in all]", "a".repeat(10))
        );
    }

    #[test]
    fn the_patterns_compile() {
        assert!(SECRETS.is_some() && LABELLED.is_some() && WORDS.is_some());
    }
}
