//! The built-in detectors: a linear-time regex finds candidates, then a check that
//! a regex cannot express (Luhn, mod-97, an address parser, entropy, boundaries)
//! keeps only real ones. The regexes are compiled once per process.
//!
//! The `regex` crate has no look-around, so boundaries are checked by hand: a
//! candidate whose neighbours make it part of a longer token is skipped and the
//! search resumes one character later.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use crate::spec::Detector;

/// A match: byte offsets into the text.
pub type Span = (usize, usize);

/// Every match of `detector` in `text`, in order, not overlapping.
pub fn find(detector: Detector, text: &str, out: &mut Vec<Span>) {
    match detector {
        Detector::Email => email(text, out),
        Detector::Phone => phone(text, out),
        Detector::CreditCard => credit_card(text, out),
        Detector::Iban => iban(text, out),
        Detector::IpAddress => ip_address(text, out),
        Detector::ApiKey => api_key(text, out),
    }
}

/// The detector's regexes, compiled now (rule sets call this when they are
/// built, so the first request does not pay for it).
pub fn warm(detector: Detector) {
    let mut sink = Vec::new();
    find(detector, "", &mut sink);
}

/// The built-in patterns are constants compiled by every test run: they cannot fail
/// on any input, only on an edit that the tests catch at once.
#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a built-in detector pattern compiles")
}

fn prev_char(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

fn next_char(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().next())
}

fn next_boundary(text: &str, at: usize) -> usize {
    let mut i = at + 1;
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Runs `re` over `text`; `accept` gets each candidate and returns the span to
/// keep (possibly shorter), or `None` to try again one character further.
fn scan(re: &Regex, text: &str, out: &mut Vec<Span>, accept: impl Fn(&str, Span) -> Option<Span>) {
    let mut at = 0;
    while at < text.len() {
        let Some(m) = re.find_at(text, at) else { break };
        match accept(text, (m.start(), m.end())) {
            Some(span) if span.1 > span.0 => {
                out.push(span);
                at = span.1;
            }
            _ => at = next_boundary(text, m.start()),
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}",
    )
});

fn email(text: &str, out: &mut Vec<Span>) {
    if !text.contains('@') {
        return;
    }
    scan(&EMAIL, text, out, |t, (s, e)| {
        // Trim dots a sentence put around it; keep it whole otherwise.
        let mut s = s;
        while t.as_bytes().get(s) == Some(&b'.') {
            s += 1;
        }
        let after = next_char(t, e);
        (!after.is_some_and(|c| is_word(c) && c.is_ascii())).then_some((s, e))
    });
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        // international: +CC and the number, run together or in groups
        r"\+[0-9]{8,15}|\+[0-9]{1,3}(?:[ \-]?\(?[0-9]{1,4}\)?)(?:[ \-]?[0-9]{2,5}){1,5}",
        // North American: (555) 123-4567, 555-123-4567, 555 123 4567
        r"|(?:\([0-9]{3}\)[ \-]?|[0-9]{3}[ \-])[0-9]{3}[ \-][0-9]{4}",
        // national, leading zero: 020 7946 0958, 030-1234-5678
        r"|0[0-9]{1,4}[ \-][0-9]{2,5}(?:[ \-][0-9]{2,5}){1,3}",
    ))
});

fn phone(text: &str, out: &mut Vec<Span>) {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return;
    }
    scan(&PHONE, text, out, |t, (s, e)| {
        let before = prev_char(t, s);
        let after = next_char(t, e);
        let digits = t[s..e].bytes().filter(u8::is_ascii_digit).count();
        let bounded = !before.is_some_and(|c| c.is_alphanumeric() || c == '+' || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-');
        (bounded && (9..=15).contains(&digits)).then_some((s, e))
    });
}

static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"[0-9](?:[ \-]?[0-9]){12,18}"));

/// The Luhn check over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn credit_card(text: &str, out: &mut Vec<Span>) {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return;
    }
    scan(&CARD, text, out, |t, (s, e)| {
        if prev_char(t, s).is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.') {
            return None;
        }
        // Longest prefix ending on a digit that is a card number (a trailing year or
        // amount after a space is not part of it).
        let bytes = t.as_bytes();
        let mut end = e;
        while end > s {
            let candidate: Vec<u8> = bytes[s..end]
                .iter()
                .copied()
                .filter(u8::is_ascii_digit)
                .collect();
            let after = next_char(t, end);
            // Not followed by a letter or digit, nor (for the whole candidate) by a
            // separator and more digits.
            let continues = after.is_some_and(|c| c == '-' || c == ' ')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                && end == e;
            let bounded = !after.is_some_and(|c| c.is_alphanumeric()) && !continues;
            if bounded
                && (13..=19).contains(&candidate.len())
                && (b'2'..=b'6').contains(&candidate[0])
                && candidate.iter().any(|d| *d != candidate[0])
                && luhn(&candidate)
            {
                return Some((s, end));
            }
            // back to the previous separator
            end -= 1;
            while end > s && bytes[end - 1].is_ascii_digit() {
                end -= 1;
            }
            while end > s && !bytes[end - 1].is_ascii_digit() {
                end -= 1;
            }
        }
        None
    });
}

static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}"));

/// The IBAN mod-97 check over an IBAN without spaces (ASCII alphanumerics).
pub fn iban_valid(iban: &[u8]) -> bool {
    if !(15..=34).contains(&iban.len()) || !iban.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    if !head[..2].iter().all(u8::is_ascii_alphabetic) || !head[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut rem = 0u32;
    for b in tail.iter().chain(head) {
        let b = b.to_ascii_uppercase();
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn iban(text: &str, out: &mut Vec<Span>) {
    scan(&IBAN, text, out, |t, (s, e)| {
        if prev_char(t, s).is_some_and(is_word) {
            return None;
        }
        // Longest prefix ending before a space (or at the end) that checks out.
        let bytes = t.as_bytes();
        let mut ends: Vec<usize> = (s + 1..e).filter(|&i| bytes[i] == b' ').collect();
        ends.push(e);
        ends.into_iter().rev().find_map(|end| {
            if next_char(t, end).is_some_and(is_word) {
                return None;
            }
            let compact: Vec<u8> = bytes[s..end]
                .iter()
                .copied()
                .filter(|b| *b != b' ')
                .collect();
            iban_valid(&compact).then_some((s, end))
        })
    });
}

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    )
});
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"));

fn ip_address(text: &str, out: &mut Vec<Span>) {
    let mut v4 = Vec::new();
    if text.contains('.') {
        scan(&IPV4, text, &mut v4, |t, (s, e)| {
            let before = prev_char(t, s);
            let after = next_char(t, e);
            let dotted_on =
                after == Some('.') && t.as_bytes().get(e + 1).is_some_and(u8::is_ascii_digit);
            (!before.is_some_and(|c| c.is_alphanumeric() || c == '.')
                && !after.is_some_and(|c| c.is_alphanumeric())
                && !dotted_on)
                .then_some((s, e))
        });
    }
    let mut v6 = Vec::new();
    if text.bytes().filter(|b| *b == b':').nth(1).is_some() {
        scan(&IPV6, text, &mut v6, |t, (s, e)| {
            if prev_char(t, s).is_some_and(is_word) || next_char(t, e).is_some_and(is_word) {
                return None;
            }
            let mut end = e;
            // A sentence's trailing punctuation is not part of the address.
            while end > s && matches!(t.as_bytes()[end - 1], b'.' | b':') {
                if t[s..end].parse::<Ipv6Addr>().is_ok() {
                    break;
                }
                end -= 1;
            }
            let cand = &t[s..end];
            (cand.bytes().any(|b| b.is_ascii_hexdigit()) && cand.parse::<Ipv6Addr>().is_ok())
                .then_some((s, end))
        });
    }
    merge(out, v4, v6);
}

/// Two sorted span lists as one, the earlier (then longer) span winning an overlap.
fn merge(out: &mut Vec<Span>, a: Vec<Span>, b: Vec<Span>) {
    let mut all: Vec<Span> = a.into_iter().chain(b).collect();
    all.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
    let mut last_end = 0;
    for span in all {
        if span.0 >= last_end {
            out.push(span);
            last_end = span.1;
        }
    }
}

/// Secret-looking tokens. Group `s` (where present) is the secret: `Bearer` and the
/// key's name stay readable.
static API_KEY: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"sk-(?:proj-|ant-(?:api[0-9]{2}-)?|live_|test_)?[A-Za-z0-9_\-]{20,}",
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}",
        r"|gh[pousr]_[A-Za-z0-9]{30,}",
        r"|github_pat_[A-Za-z0-9_]{40,}",
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|glpat-[A-Za-z0-9_\-]{20,}",
        r"|(?i:bearer)[ \t]+(?P<b>[A-Za-z0-9._~+/\-]{20,}=*)",
        r#"|(?i:api[_\-]?key|apikey|secret|token|password|passwd|access[_\-]?key|client[_\-]?secret|private[_\-]?key)["']?[ \t]*[:=][ \t]*["']?(?P<s>[A-Za-z0-9._~+/\-]{16,}=*)"#,
    ))
});

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A `key=value` value that looks generated: mixed character classes and high
/// entropy (a long word or a sentence does not).
fn looks_random(s: &str) -> bool {
    let classes = [
        s.bytes().any(|b| b.is_ascii_lowercase()),
        s.bytes().any(|b| b.is_ascii_uppercase()),
        s.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    classes >= 2 && entropy(s) >= 3.0
}

fn api_key(text: &str, out: &mut Vec<Span>) {
    let mut at = 0;
    while at < text.len() {
        let Some(caps) = API_KEY.captures_at(text, at) else {
            break;
        };
        let Some(whole) = caps.get(0) else { break };
        let keep = if let Some(b) = caps.name("b") {
            Some((b.start(), b.end()))
        } else if let Some(s) = caps.name("s") {
            looks_random(s.as_str()).then_some((s.start(), s.end()))
        } else {
            Some((whole.start(), whole.end()))
        };
        let bounded = !prev_char(text, whole.start()).is_some_and(|c| is_word(c) && c.is_ascii());
        match keep {
            Some(span) if bounded => {
                out.push(span);
                at = whole.end().max(at + 1);
            }
            _ => at = next_boundary(text, whole.start()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(d: Detector, text: &str) -> Vec<&str> {
        let mut spans = Vec::new();
        find(d, text, &mut spans);
        spans.iter().map(|&(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn emails() {
        assert_eq!(
            found(
                Detector::Email,
                "mail jane.doe+x@mail.example.com, or bob@ex.io."
            ),
            ["jane.doe+x@mail.example.com", "bob@ex.io"]
        );
        assert!(found(Detector::Email, "a @ b, user@localhost, x@y").is_empty());
    }

    #[test]
    fn phones() {
        assert_eq!(
            found(
                Detector::Phone,
                "call +1 415-555-0132 or (555) 123-4567, or 020 7946 0958; +4915112345678"
            ),
            [
                "+1 415-555-0132",
                "(555) 123-4567",
                "020 7946 0958",
                "+4915112345678"
            ]
        );
        for not in [
            "on 2024-01-15 at 10",
            "version 1.2.3",
            "id 12345678",
            "12:30:45",
        ] {
            assert!(found(Detector::Phone, not).is_empty(), "{not}");
        }
    }

    #[test]
    fn cards_need_luhn() {
        assert_eq!(
            found(
                Detector::CreditCard,
                "card 4111 1111 1111 1111 exp, 5500-0000-0000-0004 and 4111111111111112"
            ),
            ["4111 1111 1111 1111", "5500-0000-0000-0004"]
        );
        assert_eq!(
            found(Detector::CreditCard, "4111 1111 1111 1111 2025"),
            ["4111 1111 1111 1111"]
        );
        assert!(found(Detector::CreditCard, "0000 0000 0000 0000").is_empty());
    }

    #[test]
    fn ibans_need_mod97() {
        assert_eq!(
            found(
                Detector::Iban,
                "pay DE89 3704 0044 0532 0130 00 today or GB82WEST12345698765432."
            ),
            ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]
        );
        assert!(found(Detector::Iban, "DE89 3704 0044 0532 0130 01").is_empty());
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(
            found(
                Detector::IpAddress,
                "from 192.168.1.20, 2001:db8::8a2e:370:7334 and ::1."
            ),
            ["192.168.1.20", "2001:db8::8a2e:370:7334", "::1"]
        );
        for not in ["v1.2.3.4.5", "999.1.1.1", "12:30:45", "std::vec", "a :: b"] {
            assert!(found(Detector::IpAddress, not).is_empty(), "{not}");
        }
    }

    #[test]
    fn api_keys() {
        let text = "key sk-proj-abcdefghijklmnopqrstuvwx1234 and AKIAIOSFODNN7EXAMPLE, \
                    ghp_0123456789abcdefghijABCDEFGHIJ012345, Authorization: Bearer \
                    eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig, api_key=\"Zx8Qp2Lm9Rt4Vw7Ky3Hn\"";
        assert_eq!(
            found(Detector::ApiKey, text),
            [
                "sk-proj-abcdefghijklmnopqrstuvwx1234",
                "AKIAIOSFODNN7EXAMPLE",
                "ghp_0123456789abcdefghijABCDEFGHIJ012345",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
                "Zx8Qp2Lm9Rt4Vw7Ky3Hn",
            ]
        );
        assert!(
            found(
                Detector::ApiKey,
                "password=correcthorsebatterystaple, task-force"
            )
            .is_empty()
        );
    }

    #[test]
    fn checks() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(iban_valid(b"GB82WEST12345698765432"));
        assert!(!iban_valid(b"GB82WEST12345698765433"));
        assert!(!iban_valid(b"GB82"));
    }

    #[test]
    fn any_text_is_safe() {
        let texts = [
            "",
            "é@é.éé",
            "+",
            "::",
            "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
            "sk-",
            "\u{1F600}:\u{1F600}:",
        ];
        for t in texts {
            for d in Detector::ALL {
                let mut spans = Vec::new();
                find(d, t, &mut spans);
                for (s, e) in spans {
                    assert!(t.is_char_boundary(s) && t.is_char_boundary(e));
                }
            }
        }
    }
}
