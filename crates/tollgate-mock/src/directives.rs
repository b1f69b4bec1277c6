//! Behaviour directives carried in the model name: `model@k=v,k2=v2,flag`.
//!
//! | directive          | meaning                                                        |
//! |--------------------|----------------------------------------------------------------|
//! | `status=N`         | answer with HTTP status N and a provider-shaped error body     |
//! | `retry_after=S`    | `retry-after` header value for a 429 (default 1)               |
//! | `delay_ms=N`       | wait N ms before sending the response headers                  |
//! | `chunk_delay_ms=N` | wait N ms between stream events                                |
//! | `hang`             | never answer                                                   |
//! | `cut_after=N`      | stream: N events then abort; non-stream: part of body, abort   |
//! | `reply=TEXT`       | assistant text (`_` = space, `%XX` percent-encoding)           |
//! | `words=N`          | a reply of N lorem-ipsum words                                 |
//! | `no_usage`         | answers and streams omit usage (even if asked)                 |
//! | `fail_first=N`     | first N requests with this model string fail with `status`     |
//!
//! Misbehaving upstreams (for the gateway's robustness tests):
//!
//! | directive               | meaning                                                   |
//! |-------------------------|-----------------------------------------------------------|
//! | `retry_after_raw=TEXT`  | raw `retry-after` header of an error (`1e20`, `-1`, `NaN`, an HTTP date as `Wed%2C_21_Oct_2015_07:28:00_GMT`) |
//! | `retry_after_ms_raw=TEXT` | raw `retry-after-ms` header of an error                 |
//! | `retry_delay=TEXT`      | raw Gemini `RetryInfo.retryDelay` of a 429 (`1e20s`)      |
//! | `endless_line=MIB`      | answer 200 with one line of MIB MiB and no line break     |
//! | `ignore_max_tokens`     | the answer is not cut at `max_tokens` (more output tokens than asked) |
//!
//! `TEXT` values are decoded like `reply` (`_` = space, `%XX` percent-encoding), so
//! commas and spaces can be written as `%2C` and `_`.

use std::time::Duration;

/// Largest `words=N` accepted (keeps a typo from eating the machine's memory).
pub const MAX_WORDS: u64 = 100_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// The model name before `@`, echoed back in responses.
    pub model: String,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay: Option<Duration>,
    pub chunk_delay: Option<Duration>,
    pub hang: bool,
    pub cut_after: Option<usize>,
    pub reply: Option<String>,
    pub words: Option<u64>,
    pub no_usage: bool,
    pub fail_first: Option<u64>,
    pub retry_after_raw: Option<String>,
    pub retry_after_ms_raw: Option<String>,
    pub retry_delay: Option<String>,
    pub endless_line: Option<u64>,
    pub ignore_max_tokens: bool,
}

impl Directives {
    /// Parse a model string. An unknown or malformed directive is an error (a message for a 400),
    /// so that a typo in a test does not silently change its meaning.
    pub fn parse(model: &str) -> Result<Directives, String> {
        let (base, rest) = match model.split_once('@') {
            Some((b, r)) => (b, Some(r)),
            None => (model, None),
        };
        let mut d = Directives {
            model: base.to_string(),
            ..Directives::default()
        };
        let Some(rest) = rest else {
            return Ok(d);
        };
        for item in rest.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v)),
                None => (item, None),
            };
            match (key, value) {
                ("status", Some(v)) => {
                    let s = parse_num(key, v)?;
                    if !(100..=599).contains(&s) {
                        return Err(format!(
                            "mock directive 'status' must be between 100 and 599, got {s}"
                        ));
                    }
                    d.status = Some(s as u16);
                }
                ("retry_after", Some(v)) => d.retry_after = Some(parse_num(key, v)?),
                ("delay_ms", Some(v)) => d.delay = Some(Duration::from_millis(parse_num(key, v)?)),
                ("chunk_delay_ms", Some(v)) => {
                    d.chunk_delay = Some(Duration::from_millis(parse_num(key, v)?))
                }
                ("hang", None) => d.hang = true,
                ("cut_after", Some(v)) => {
                    let n = parse_num(key, v)?;
                    d.cut_after = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                ("reply", Some(v)) => d.reply = Some(decode_text(v)),
                ("words", Some(v)) => {
                    let n = parse_num(key, v)?;
                    if n > MAX_WORDS {
                        return Err(format!(
                            "mock directive 'words' must be at most {MAX_WORDS}, got {n}"
                        ));
                    }
                    d.words = Some(n);
                }
                ("no_usage", None) => d.no_usage = true,
                ("fail_first", Some(v)) => d.fail_first = Some(parse_num(key, v)?),
                ("retry_after_raw", Some(v)) => d.retry_after_raw = Some(decode_text(v)),
                ("retry_after_ms_raw", Some(v)) => d.retry_after_ms_raw = Some(decode_text(v)),
                ("retry_delay", Some(v)) => d.retry_delay = Some(decode_text(v)),
                ("endless_line", Some(v)) => d.endless_line = Some(parse_num(key, v)?),
                ("ignore_max_tokens", None) => d.ignore_max_tokens = true,
                (
                    "status" | "retry_after" | "delay_ms" | "chunk_delay_ms" | "cut_after"
                    | "reply" | "words" | "fail_first" | "retry_after_raw" | "retry_after_ms_raw"
                    | "retry_delay" | "endless_line",
                    None,
                ) => return Err(format!("mock directive '{key}' needs a value ({key}=...)")),
                ("hang" | "no_usage" | "ignore_max_tokens", Some(_)) => {
                    return Err(format!("mock directive '{key}' takes no value"));
                }
                _ => return Err(format!("unknown mock directive '{key}' in model '{model}'")),
            }
        }
        Ok(d)
    }

    /// The status a failing request answers with: `status`, or 500 for `fail_first` alone.
    pub fn failure_status(&self) -> u16 {
        self.status.unwrap_or(500)
    }

    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.unwrap_or(1)
    }

    /// The scripted reply text, if any (`reply` wins over `words`).
    pub fn scripted_reply(&self) -> Option<String> {
        if let Some(r) = &self.reply {
            return Some(r.clone());
        }
        self.words.map(lorem)
    }
}

fn parse_num(key: &str, v: &str) -> Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("mock directive '{key}' needs a non-negative integer, got '{v}'"))
}

/// `_` becomes a space, then `%XX` sequences are decoded (so `%5F` is a literal `_`).
pub fn decode_text(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const LOREM: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// `n` words of lorem ipsum, separated by single spaces.
pub fn lorem(n: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(LOREM[(i as usize) % LOREM.len()]);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives() {
        let d = Directives::parse("gpt-4o-mini@status=500,delay_ms=100,hang,no_usage").unwrap();
        assert_eq!(d.model, "gpt-4o-mini");
        assert_eq!(d.status, Some(500));
        assert_eq!(d.delay, Some(Duration::from_millis(100)));
        assert!(d.hang && d.no_usage);
    }

    #[test]
    fn plain_model() {
        let d = Directives::parse("claude-3-5-haiku").unwrap();
        assert_eq!(d.model, "claude-3-5-haiku");
        assert_eq!(
            d,
            Directives {
                model: d.model.clone(),
                ..Directives::default()
            }
        );
    }

    #[test]
    fn reply_decoding() {
        let d = Directives::parse("m@reply=hi_there%2C_you%5F!%").unwrap();
        assert_eq!(d.reply.as_deref(), Some("hi there, you_!%"));
        assert_eq!(decode_text("a%4"), "a%4");
        assert_eq!(decode_text("%e2%82%ac"), "€");
    }

    #[test]
    fn misbehaviour_directives() {
        let d = Directives::parse(
            "m@status=429,retry_after_raw=Wed%2C_21_Oct_2015_07:28:00_GMT,retry_after_ms_raw=1e20,retry_delay=-3s,endless_line=300,ignore_max_tokens",
        )
        .unwrap();
        assert_eq!(
            d.retry_after_raw.as_deref(),
            Some("Wed, 21 Oct 2015 07:28:00 GMT")
        );
        assert_eq!(d.retry_after_ms_raw.as_deref(), Some("1e20"));
        assert_eq!(d.retry_delay.as_deref(), Some("-3s"));
        assert_eq!(d.endless_line, Some(300));
        assert!(d.ignore_max_tokens);
        assert!(Directives::parse("m@endless_line").is_err());
        assert!(Directives::parse("m@ignore_max_tokens=1").is_err());
    }

    #[test]
    fn rejects_bad_directives() {
        assert!(Directives::parse("m@stauts=500").is_err());
        assert!(Directives::parse("m@status=abc").is_err());
        assert!(Directives::parse("m@status=99").is_err());
        assert!(Directives::parse("m@hang=1").is_err());
        assert!(Directives::parse("m@delay_ms").is_err());
    }

    #[test]
    fn lorem_words() {
        assert_eq!(lorem(3), "lorem ipsum dolor");
        assert_eq!(lorem(40).split_whitespace().count(), 40);
        assert_eq!(lorem(0), "");
    }
}
