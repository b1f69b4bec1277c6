//! `${VAR}` / `${VAR:-default}` / `$${` interpolation.
//!
//! Interpolation works on scalar *values* as the YAML parser read them, never on the raw
//! text, so comments are never touched and a value cannot change the document's
//! structure: a scalar that contains a reference is written back as one double-quoted
//! scalar holding the result. (Typed fields still parse it: a quoted `"1024"` is a
//! valid `usize` for serde-saphyr, so `max_body_bytes: ${MAX}` is a number.)

use std::ops::Range;

use crate::text::Rewrite;
use crate::tree::{ScalarOwner, Tree, is_block};

/// How deeply `${A:-${B:-...}}` defaults may nest.
const MAX_NESTING: usize = 8;

/// An interpolation failure at a byte offset of the expanded scalar's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError {
    pub offset: usize,
    pub message: String,
}

/// An interpolation failure located in the file.
#[derive(Debug)]
pub(crate) struct InterpError {
    pub offset: usize,
    pub path: String,
    pub message: String,
}

pub(crate) struct Interpolated {
    pub rewrite: Rewrite,
    pub errors: Vec<InterpError>,
    /// File ranges of scalars left unexpanded because of an error; other errors that
    /// point into them are consequences and are not reported.
    pub tainted: Vec<Range<usize>>,
    /// Mapping keys that were interpolated: key start and the key as expanded.
    pub keys: Vec<(usize, String)>,
}

/// Expand every scalar of `tree` (parsed from `text`) that contains `${`.
pub(crate) fn interpolate(
    text: &str,
    tree: &Tree,
    env: &dyn Fn(&str) -> Option<String>,
) -> Interpolated {
    let mut replacements = Vec::new();
    let mut errors = Vec::new();
    let mut tainted = Vec::new();
    let mut keys = Vec::new();
    for scalar in &tree.scalars {
        let (value, errs) = expand(&scalar.value, env);
        if !errs.is_empty() {
            let value_occ = occurrences(&scalar.value);
            let source_occ: Vec<usize> = text
                .get(scalar.start..scalar.end)
                .map(occurrences)
                .unwrap_or_default()
                .into_iter()
                .map(|o| o + scalar.start)
                .collect();
            let path = tree.owner_path(&scalar.owner);
            for e in errs {
                let offset = if value_occ.len() == source_occ.len() {
                    value_occ
                        .iter()
                        .position(|&o| o == e.offset)
                        .and_then(|k| source_occ.get(k).copied())
                        .unwrap_or(scalar.start)
                } else {
                    scalar.start
                };
                errors.push(InterpError {
                    offset,
                    path: path.clone(),
                    message: e.message,
                });
            }
            tainted.push(scalar.start..scalar.end.max(scalar.start + 1));
            continue;
        }
        if value == scalar.value {
            continue;
        }
        let range = if is_block(scalar.style) {
            let Some(header) = find_block_header(text, scalar.prev_end, scalar.start) else {
                errors.push(InterpError {
                    offset: scalar.start,
                    path: tree.owner_path(&scalar.owner),
                    message: "cannot interpolate this block scalar; use a quoted string".into(),
                });
                tainted.push(scalar.start..scalar.end.max(scalar.start + 1));
                continue;
            };
            // Keep the line break(s) that end the block: they separate it from what follows.
            let content = text.get(scalar.start..scalar.end).unwrap_or("");
            let trimmed = content.trim_end_matches([' ', '\t', '\r', '\n']);
            header..scalar.start + trimmed.len()
        } else {
            scalar.start..scalar.end
        };
        replacements.push((range, scalar.start, double_quoted(&value)));
        if matches!(scalar.owner, ScalarOwner::Key { .. }) {
            keys.push((scalar.start, value));
        }
    }
    Interpolated {
        rewrite: Rewrite::apply(text, replacements),
        errors,
        tainted,
        keys,
    }
}

/// Expand references in `input`; returns the result and the failures (offsets into
/// `input`). A reference that fails is kept as written.
pub(crate) fn expand(
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<ValueError>) {
    let mut out = String::with_capacity(input.len());
    let mut errors = Vec::new();
    expand_into(input, 0, 0, env, &mut out, &mut errors);
    (out, errors)
}

fn expand_into(
    input: &str,
    base: usize,
    depth: usize,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
    errors: &mut Vec<ValueError>,
) {
    let bytes = input.as_bytes();
    let mut i = 0;
    let mut literal_from = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            out.push_str(input.get(literal_from..i).unwrap_or(""));
            out.push_str("${");
            i += 3;
            literal_from = i;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'{') {
            i += 1;
            continue;
        }
        out.push_str(input.get(literal_from..i).unwrap_or(""));
        let Some(close) = find_close(bytes, i + 2) else {
            errors.push(ValueError {
                offset: base + i,
                message: "unterminated `${` (write `$${` for a literal `${`)".into(),
            });
            out.push_str(input.get(i..).unwrap_or(""));
            return;
        };
        let whole = input.get(i..=close).unwrap_or("");
        let body = input.get(i + 2..close).unwrap_or("");
        let name_len = body
            .char_indices()
            .find(|&(k, c)| !(c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit())))
            .map_or(body.len(), |(k, _)| k);
        let name = body.get(..name_len).unwrap_or("");
        let rest = body.get(name_len..).unwrap_or("");
        if name.is_empty() {
            errors.push(ValueError {
                offset: base + i,
                // The text is not quoted: it may be a value pasted where a name belongs.
                message: "invalid variable reference: a variable name starts with a letter or `_` (write `$${` for a literal `${`)".into(),
            });
            out.push_str(whole);
        } else if rest.is_empty() {
            match env(name) {
                Some(v) => out.push_str(&v),
                None => {
                    errors.push(ValueError {
                        offset: base + i,
                        message: format!(
                            "environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"
                        ),
                    });
                    out.push_str(whole);
                }
            }
        } else if let Some(default) = rest.strip_prefix(":-") {
            match env(name) {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => {
                    if depth >= MAX_NESTING {
                        errors.push(ValueError {
                            offset: base + i,
                            message: "variable defaults are nested too deeply".into(),
                        });
                        out.push_str(whole);
                    } else {
                        let default_at = i + 2 + name_len + 2;
                        expand_into(default, base + default_at, depth + 1, env, out, errors);
                    }
                }
            }
        } else {
            errors.push(ValueError {
                offset: base + i,
                // Only the name is quoted: what follows it may be a value.
                message: format!(
                    "invalid variable reference to `{name}`: expected `${{NAME}}` or `${{NAME:-default}}`"
                ),
            });
            out.push_str(whole);
        }
        i = close + 1;
        literal_from = i;
    }
    out.push_str(input.get(literal_from..).unwrap_or(""));
}

/// Index of the `}` closing a reference whose body starts at `from`; nested `${...}`
/// (in defaults) are skipped, `$${` is a literal.
fn find_close(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = from;
    while j < bytes.len() {
        match bytes[j] {
            b'$' if bytes.get(j + 1) == Some(&b'$') && bytes.get(j + 2) == Some(&b'{') => {
                j += 3;
                continue;
            }
            b'$' if bytes.get(j + 1) == Some(&b'{') => {
                depth += 1;
                j += 2;
                continue;
            }
            b'}' => {
                if depth == 0 {
                    return Some(j);
                }
                depth -= 1;
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Offsets of every `${` that starts a reference (not the ones written `$${`).
pub(crate) fn occurrences(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' {
            if bytes.get(j + 1) == Some(&b'$') && bytes.get(j + 2) == Some(&b'{') {
                j += 3;
                continue;
            }
            if bytes.get(j + 1) == Some(&b'{') {
                out.push(j);
                j += 2;
                continue;
            }
        }
        j += 1;
    }
    out
}

/// A YAML double-quoted scalar with exactly the text `s`, on one line.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Find a block scalar's `|` or `>` indicator in `text[from..to]`, skipping the
/// indicators, properties (`!tag`, `&anchor`), blanks and comments that may precede it.
fn find_block_header(text: &str, from: usize, to: usize) -> Option<usize> {
    let region = text.get(from..to)?;
    let mut chars = region.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '|' | '>' => return Some(from + i),
            ' ' | '\t' | '\r' | '\n' | '-' | '?' | ':' => {}
            '#' => {
                while let Some(&(_, c)) = chars.peek() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                    chars.next();
                }
            }
            '!' | '&' => {
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    chars.next();
                }
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "N" => Some("1024".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_references() {
        assert_eq!(expand("x-${A}-y", &env), ("x-alpha-y".into(), vec![]));
        assert_eq!(expand("${MISSING:-dflt}", &env).0, "dflt");
        assert_eq!(expand("${EMPTY:-dflt}", &env).0, "dflt");
        assert_eq!(expand("${EMPTY}", &env), (String::new(), vec![]));
        assert_eq!(expand("${A:-dflt}", &env).0, "alpha");
        assert_eq!(expand("${MISSING:-}", &env).0, "");
        assert_eq!(expand("$${A} $$ $x ${N}", &env).0, "${A} $$ $x 1024");
        assert_eq!(expand("${MISSING:-${A}}", &env).0, "alpha");
        assert_eq!(expand("${MISSING:-a$${b}c}", &env).0, "a${bc}");
        assert_eq!(expand("é${A}é", &env).0, "éalphaé");
    }

    #[test]
    fn reports_failures_at_their_dollar() {
        let (out, errs) = expand("ab ${NOPE} ${A} ${ALSO_NOPE}", &env);
        assert_eq!(out, "ab ${NOPE} alpha ${ALSO_NOPE}");
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].offset, 3);
        assert!(
            errs[0].message.contains("`NOPE` is not set"),
            "{}",
            errs[0].message
        );
        assert_eq!(errs[1].offset, 16);
        let (_, errs) = expand("x ${MISSING:-${INNER}}", &env);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].offset, 13);
        assert!(errs[0].message.contains("INNER"));
        let (_, errs) = expand("a ${A", &env);
        assert_eq!(errs[0].offset, 2);
        assert!(errs[0].message.contains("unterminated"));
        let (_, errs) = expand("${1X} ${A?x}", &env);
        assert_eq!(errs.len(), 2);
        assert!(errs[0].message.starts_with("invalid variable reference: "));
        assert!(!errs[0].message.contains("1X"));
        assert!(
            errs[1]
                .message
                .starts_with("invalid variable reference to `A`: ")
        );
        assert!(!errs[1].message.contains("?x"));
        let deep = format!("{}x{}", "${M:-".repeat(50), "}".repeat(50));
        let (_, errs) = expand(&deep, &env);
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn occurrences_match_expansion_offsets() {
        assert_eq!(occurrences("a${B}$${C}${D:-${E}}"), vec![1, 10, 15]);
    }

    #[test]
    fn quoting_is_single_line_and_exact() {
        assert_eq!(
            double_quoted("a\"b\\c\nd: #e\u{1}"),
            "\"a\\\"b\\\\c\\nd: #e\\u0001\""
        );
    }

    #[test]
    fn block_header_is_found() {
        let t = "key: !!str &a | # c\n  body\n";
        assert_eq!(find_block_header(t, 3, t.find("body").unwrap()), Some(14));
        assert_eq!(find_block_header("- >-\n  x", 0, 7), Some(2));
        assert_eq!(find_block_header(": x |\n", 0, 5), None);
    }
}
