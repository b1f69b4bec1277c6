//! Any input text gives `Ok` or `Err` — never a panic — and every error is one line that
//! points inside the file.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tollgate_config::parse_str;

const FULL: &str = include_str!("fixtures/full.yaml");
const SEMANTIC_ERRORS: &str = include_str!("fixtures/semantic_errors.yaml");

/// Every variable is set, to something that would break the structure if it were
/// pasted into the text.
fn hostile_env(name: &str) -> Option<String> {
    match name.len() % 3 {
        0 => None,
        1 => Some("x: [y, {z: \"w\n- v # u".to_string()),
        _ => Some(String::new()),
    }
}

/// Lines as YAML counts them (`\r\n`, `\r` and `\n` end a line), in characters.
fn line_lengths(text: &str) -> Vec<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lens = vec![0usize];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => lens.push(0),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lens.push(0);
            }
            _ => {
                if let Some(l) = lens.last_mut() {
                    *l += 1;
                }
            }
        }
    }
    lens
}

fn check(text: &str) {
    let Err(errors) = parse_str(text, "f.yaml", &hostile_env) else {
        return;
    };
    assert!(!errors.0.is_empty(), "an Err carries at least one error");
    let lens = line_lengths(text);
    for e in &errors.0 {
        assert!(
            e.line >= 1 && e.line <= lens.len(),
            "{e} outside {} lines",
            lens.len()
        );
        let len = lens[e.line - 1];
        assert!(
            e.column >= 1 && e.column <= len + 1,
            "{e}: column past line length {len}"
        );
        assert!(!e.message.is_empty());
    }
    let display = errors.to_string();
    assert_eq!(display.split('\n').count(), errors.0.len(), "{display}");
    assert!(!display.contains('\r'));
}

#[test]
fn every_truncation_of_the_examples() {
    for text in [FULL, SEMANTIC_ERRORS] {
        for (i, _) in text.char_indices() {
            check(&text[..i]);
            check(&text[i..]);
        }
    }
}

#[test]
fn every_line_removed_or_doubled_or_dedented() {
    for text in [FULL, SEMANTIC_ERRORS] {
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let mut removed = lines.clone();
            removed.remove(i);
            check(&removed.join("\n"));
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            check(&doubled.join("\n"));
            let mut dedented = lines.clone();
            dedented[i] = lines[i].trim_start();
            check(&dedented.join("\n"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,300}") {
        check(&text);
    }

    #[test]
    fn yaml_ish_text(text in "[a-z0-9 \\-:,#&*!|>'\"${}\\[\\]\n\t\r\u{feff}é]{0,200}") {
        check(&text);
    }

    #[test]
    fn mangled_full_example(
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0usize..12, "[a-z0-9 \\-:,#&*!|>'\"${}\\[\\]\n\t\\\\é]{0,6}"),
            1..6,
        )
    ) {
        let mut chars: Vec<char> = FULL.chars().collect();
        for (at, remove, insert) in edits {
            let start = at.index(chars.len() + 1);
            let end = (start + remove).min(chars.len());
            chars.splice(start..end, insert.chars());
        }
        let text: String = chars.into_iter().collect();
        check(&text);
    }
}
