//! Request and response bodies for call records, when a model or consumer asks for
//! them (`log_bodies: true`): capped in size and with secrets redacted before they
//! leave the request path, so a call record never holds a credential a client pasted
//! into a prompt. (Masking rules, when configured, run before this and their
//! placeholders are what is kept.)

use std::sync::LazyLock;

use regex::Regex;

/// The most of one body a call record keeps; longer bodies are cut at a character
/// boundary and marked.
pub const MAX_LOGGED_BODY_BYTES: usize = 64 * 1024;

/// What replaces a secret.
const REDACTED: &str = "[REDACTED]";

/// Credential shapes: provider and gateway API keys, bearer tokens, JWTs, cloud
/// access keys, private keys. Linear-time (the `regex` crate), compiled once.
static SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:sk|pk|rk|tg)-[A-Za-z0-9_\-]{16,}",
        r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*",
        r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        r"|AKIA[0-9A-Z]{16}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|gh[pousr]_[A-Za-z0-9]{36,}",
        r"|xox[abprs]-[A-Za-z0-9\-]{10,}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    ))
    .expect("the secret patterns compile")
});

/// `body` as it may be stored: UTF-8 (lossy), at most [`MAX_LOGGED_BODY_BYTES`],
/// secrets replaced.
pub fn loggable(body: &[u8]) -> String {
    let cut = body.len() > MAX_LOGGED_BODY_BYTES;
    let head = &body[..body.len().min(MAX_LOGGED_BODY_BYTES)];
    let text = String::from_utf8_lossy(head);
    // A cut through a multi-byte character leaves a replacement char at the end;
    // harmless, and the marker says the body was cut.
    let mut out = SECRETS.replace_all(&text, REDACTED).into_owned();
    if cut {
        out.push_str("…[truncated]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let body = br#"{"messages":[{"role":"user","content":"my key is sk-proj-abcdefghijklmnop1234 and Authorization: Bearer abcdefghijklmnopqrstuvwx, token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U, aws AKIAIOSFODNN7EXAMPLE, gateway tg-team-a-key-0123456789abcdef"}]}"#;
        let out = loggable(body);
        for secret in [
            "sk-proj-abcdefghijklmnop1234",
            "abcdefghijklmnopqrstuvwx",
            "eyJhbGciOiJIUzI1NiJ9",
            "AKIAIOSFODNN7EXAMPLE",
            "tg-team-a-key-0123456789abcdef",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert!(out.contains("my key is [REDACTED]"), "{out}");
        assert!(out.starts_with(r#"{"messages":[{"role":"user","content":"#));
    }

    #[test]
    fn short_words_that_look_alike_are_not_secrets() {
        let body = b"ask-me about sk-learn, a bearer of news, tg-bot";
        assert_eq!(loggable(body), String::from_utf8_lossy(body));
    }

    #[test]
    fn large_bodies_are_cut_and_marked() {
        let body = "é".repeat(MAX_LOGGED_BODY_BYTES); // two bytes each
        let out = loggable(body.as_bytes());
        assert!(out.len() <= MAX_LOGGED_BODY_BYTES + "…[truncated]".len() + 3);
        assert!(out.ends_with("…[truncated]"));
    }
}
