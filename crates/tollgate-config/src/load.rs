//! The loading pipeline and the mapping of every kind of error to a file position and a
//! field path.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, UserMessageFormatter};
use tollgate_core::spec::{AlertSpec, ConsumerSpec, ModelSpec, ProviderSpec, TeamSpec};

use crate::assemble::{RawConfig, RawServer, RawShape, RawStorage, assemble};
use crate::interp::interpolate;
use crate::text::{LineIndex, Rewrite};
use crate::tree::{Kind, Segment, Tree, join_path};
use crate::{Config, ConfigError, ConfigErrors};

/// An error located by a byte offset of the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    offset: usize,
    path: String,
    message: String,
}

pub(crate) fn parse(
    text: &str,
    file_label: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(text);

    let mut tree = match Tree::build(text) {
        Ok(tree) => tree,
        Err(e) => {
            let (line, _) = lines.position(e.offset);
            let near = (line.saturating_sub(1)..=line)
                .filter_map(|l| lines.line_text(l))
                .any(|t| t.contains("${"));
            let hint = if near {
                " (inside [ ] or { }, write a `${VAR}` value in quotes: \"${VAR}\")"
            } else {
                ""
            };
            let found = Found {
                offset: e.offset,
                path: e.path,
                message: format!("invalid YAML: {}{hint}", e.message),
            };
            return Err(finish(file_label, &lines, vec![found]));
        }
    };

    let interp = interpolate(text, &tree, env);
    for (key_start, key) in &interp.keys {
        tree.rename_key(*key_start, key.clone());
    }
    let tree = tree;
    let rewrite = &interp.rewrite;
    let mut found: Vec<Found> = interp
        .errors
        .iter()
        .map(|e| Found {
            offset: e.offset,
            path: e.path.clone(),
            message: e.message.clone(),
        })
        .collect();
    let first_consequence = found.len();

    match serde_saphyr::from_str::<Option<RawConfig>>(&rewrite.text) {
        Ok(raw) => {
            let (config, issues) = assemble(raw.unwrap_or_default());
            if issues.is_empty() && found.is_empty() {
                return Ok(config);
            }
            for issue in issues {
                let offset = tree
                    .resolve(&issue.path)
                    .and_then(|n| tree.nodes.get(n))
                    .map_or(0, |n| n.start);
                found.push(Found {
                    offset,
                    path: issue.path,
                    message: issue.message,
                });
            }
        }
        Err(whole) => {
            let new_lines = LineIndex::new(&rewrite.text);
            let ctx = Ctx {
                tree: &tree,
                rewrite,
                new_lines: &new_lines,
            };
            let parts = if tree.has_alias {
                // Resources may refer to anchors elsewhere: only the whole document can
                // be deserialized.
                Vec::new()
            } else {
                part_errors(&ctx)
            };
            if parts.is_empty() {
                found.push(ctx.locate(&whole));
            } else {
                found.extend(parts);
            }
        }
    }

    // An error inside a scalar whose interpolation failed is a consequence of that failure.
    let (primary, consequences) = found.split_at(first_consequence);
    let mut kept = primary.to_vec();
    kept.extend(
        consequences
            .iter()
            .filter(|f| !interp.tainted.iter().any(|r| r.contains(&f.offset)))
            .cloned(),
    );
    Err(finish(file_label, &lines, kept))
}

/// Order by position, drop repeats, attach file positions.
fn finish(file: &str, lines: &LineIndex<'_>, mut found: Vec<Found>) -> ConfigErrors {
    found.sort_by_key(|f| f.offset);
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert((f.offset, f.path.clone(), f.message.clone())));
    ConfigErrors(
        found
            .into_iter()
            .map(|f| {
                let (line, column) = lines.position(f.offset);
                ConfigError {
                    file: file.to_string(),
                    line,
                    column,
                    path: one_line(&f.path),
                    message: one_line(&f.message),
                }
            })
            .collect(),
    )
}

/// Control characters (from values quoted in a message) escaped, so that every error
/// stays on one line.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

struct Ctx<'a> {
    tree: &'a Tree,
    rewrite: &'a Rewrite,
    new_lines: &'a LineIndex<'a>,
}

impl Ctx<'_> {
    /// Position (in the original text), path and message of a deserialization error
    /// raised on the rewritten text (or on a blanked copy with the same layout).
    fn locate(&self, err: &serde_saphyr::Error) -> Found {
        self.locate_shifted(err, None)
    }

    /// As [`Self::locate`], for an error raised on a snippet whose first line is line
    /// `first_line` of the rewritten text (columns unchanged).
    fn locate_shifted(&self, err: &serde_saphyr::Error, first_line: Option<usize>) -> Found {
        let inner = innermost(err);
        let new_offset = err.location().filter(|l| l.line() > 0).and_then(|l| {
            let line = usize::try_from(l.line()).unwrap_or(usize::MAX);
            let column = usize::try_from(l.column()).unwrap_or(usize::MAX);
            match first_line {
                Some(first) => self
                    .new_lines
                    .offset(first.saturating_add(line).saturating_sub(1), column),
                None => l
                    .span()
                    .byte_offset()
                    .and_then(|b| usize::try_from(b).ok())
                    .or_else(|| self.new_lines.offset(line, column)),
            }
        });
        let Some(new_offset) = new_offset else {
            return Found {
                offset: 0,
                path: String::new(),
                message: message(inner),
            };
        };
        let offset = self.rewrite.to_orig(new_offset);
        let tree = self.tree;
        let node_path = || {
            tree.node_at(offset)
                .map(|n| tree.path(n))
                .unwrap_or_default()
        };
        let path = match inner {
            serde_saphyr::Error::SerdeUnknownField { .. }
            | serde_saphyr::Error::DuplicateMappingKey { .. } => tree
                .node_with_key_at(offset)
                .map(|n| tree.path(n))
                .unwrap_or_else(node_path),
            serde_saphyr::Error::SerdeMissingField { field, .. } => join_path(&node_path(), field),
            _ => node_path(),
        };
        Found {
            offset,
            path,
            message: message(inner),
        }
    }

    /// Deserialize the node `node` alone, from a snippet that starts at the node's
    /// line with whatever precedes the node on that line blanked out (one space per
    /// character), so that lines and columns only shift by a known number of lines.
    fn part<T: DeserializeOwned>(&self, node: usize) -> Option<Found> {
        let n = self.tree.nodes.get(node)?;
        let start = self.rewrite.start_to_new(n.start);
        let end = self.rewrite.end_to_new(n.end).max(start);
        let (line, _) = self.new_lines.position(start);
        let line_start = self.new_lines.offset(line, 1)?;
        let text = &self.rewrite.text;
        let mut snippet: String = text.get(line_start..start)?.chars().map(|_| ' ').collect();
        snippet.push_str(text.get(start..end)?);
        serde_saphyr::from_str::<T>(&snippet)
            .err()
            .map(|e| self.locate_shifted(&e, Some(line)))
    }
}

/// Errors of the top level, of `server` and `storage`, and of each resource on its own.
fn part_errors(ctx: &Ctx<'_>) -> Vec<Found> {
    let mut out = Vec::new();
    if let Err(e) = serde_saphyr::from_str::<Option<RawShape>>(&ctx.rewrite.text) {
        out.push(ctx.locate(&e));
    }
    let tree = ctx.tree;
    let Some(root) = tree.root().and_then(|r| tree.nodes.get(r)) else {
        return out;
    };
    if root.kind != Kind::Map {
        return out;
    }
    for &section in &root.children {
        let Some(node) = tree.nodes.get(section) else {
            continue;
        };
        let Segment::Key(key) = &node.segment else {
            continue;
        };
        let items = || -> Vec<usize> {
            if node.kind == Kind::Seq {
                node.children.clone()
            } else {
                Vec::new()
            }
        };
        let errs: Vec<Option<Found>> = match key.as_str() {
            "server" => vec![ctx.part::<Option<RawServer>>(section)],
            "storage" => vec![ctx.part::<Option<RawStorage>>(section)],
            "providers" => items()
                .into_iter()
                .map(|i| ctx.part::<ProviderSpec>(i))
                .collect(),
            "models" => items()
                .into_iter()
                .map(|i| ctx.part::<ModelSpec>(i))
                .collect(),
            "teams" => items()
                .into_iter()
                .map(|i| ctx.part::<TeamSpec>(i))
                .collect(),
            "consumers" => items()
                .into_iter()
                .map(|i| ctx.part::<ConsumerSpec>(i))
                .collect(),
            "alerts" => items()
                .into_iter()
                .map(|i| ctx.part::<AlertSpec>(i))
                .collect(),
            _ => Vec::new(),
        };
        out.extend(errs.into_iter().flatten());
    }
    out
}

/// The error itself, without snippet or alias wrappers.
fn innermost(err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    let mut cur = err;
    loop {
        match cur {
            serde_saphyr::Error::WithSnippet { error, .. }
            | serde_saphyr::Error::AliasError { error, .. } => cur = error,
            _ => return cur,
        }
    }
}

/// A one-line message without location suffixes.
fn message(err: &serde_saphyr::Error) -> String {
    let text: Cow<'_, str> = match err {
        serde_saphyr::Error::Unexpected { expected, .. } => match *expected {
            "sequence start" => "expected a list".into(),
            "mapping start" => "expected a mapping (`key: value` pairs)".into(),
            "string scalar" | "scalar" => "expected a single value, not a list or mapping".into(),
            other => format!("expected {other}").into(),
        },
        serde_saphyr::Error::InvalidScalar { ty, .. } => match *ty {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
                "expected a non-negative integer".into()
            }
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "expected an integer".into(),
            "f32" | "f64" | "floating point" => "expected a number".into(),
            "bool" | "boolean" => "expected true or false".into(),
            other => format!("invalid {other}").into(),
        },
        serde_saphyr::Error::SerdeMissingField { field, .. } => {
            format!("missing required field `{field}`").into()
        }
        other => UserMessageFormatter.format_message(other),
    };
    text.into_owned()
}
