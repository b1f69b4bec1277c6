//! The loading pipeline and the mapping of every kind of error to a file position and a
//! field path.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, UserMessageFormatter};

use crate::assemble::{
    Entry, NameOnly, Parts, RawConfig, RawLog, RawServer, RawShape, RawStorage, RawTelemetry,
    Section, assemble,
};
use crate::interp::interpolate;
use crate::text::{LineIndex, Rewrite};
use crate::tree::{Kind, Node, Segment, Tree, join_path};
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

    // Type errors, and what could be read in spite of them.
    let parts = match serde_saphyr::from_str::<Option<RawConfig>>(&rewrite.text) {
        Ok(raw) => Some(Parts::from(raw.unwrap_or_default())),
        Err(whole) => {
            let new_lines = LineIndex::new(&rewrite.text);
            let ctx = Ctx {
                tree: &tree,
                rewrite,
                new_lines: &new_lines,
            };
            if tree.has_alias {
                // Resources may refer to anchors elsewhere: only the whole document can
                // be deserialized, so there is nothing to run the semantic checks on.
                found.push(ctx.locate(&whole));
                None
            } else {
                let mut errors = Vec::new();
                let parts = read_parts(&ctx, &mut errors);
                if errors.is_empty() {
                    found.push(ctx.locate(&whole));
                } else {
                    found.extend(errors);
                }
                Some(parts)
            }
        }
    };

    // Semantic errors of everything that was read, reported with the type errors.
    if let Some(parts) = parts {
        let (config, issues) = assemble(parts);
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

    /// Deserialize the file range `start..end` (a node, or a mapping entry from its
    /// key) alone, from a snippet that starts at the range's line with whatever
    /// precedes the range on that line blanked out (one space per character), so that
    /// lines and columns only shift by a known number of lines.
    fn read<T: DeserializeOwned>(&self, start: usize, end: usize) -> Result<T, Found> {
        let start = self.rewrite.start_to_new(start);
        let end = self.rewrite.end_to_new(end).max(start);
        let (line, _) = self.new_lines.position(start);
        let text = &self.rewrite.text;
        let snippet = self.new_lines.offset(line, 1).and_then(|line_start| {
            let mut snippet: String = text.get(line_start..start)?.chars().map(|_| ' ').collect();
            snippet.push_str(text.get(start..end)?);
            Some(snippet)
        });
        let Some(snippet) = snippet else {
            let offset = self.rewrite.to_orig(start);
            return Err(Found {
                offset,
                path: self
                    .tree
                    .node_at(offset)
                    .map(|n| self.tree.path(n))
                    .unwrap_or_default(),
                message: "cannot be read".to_string(),
            });
        };
        serde_saphyr::from_str::<T>(&snippet).map_err(|e| self.locate_shifted(&e, Some(line)))
    }

    fn read_node<T: DeserializeOwned>(&self, node: &Node) -> Result<T, Found> {
        self.read(node.start, node.end)
    }

    /// A section read whole, or else field by field: every field's type error is
    /// reported and every readable field kept.
    fn section<T: Section + DeserializeOwned>(&self, node: &Node, errors: &mut Vec<Found>) -> T {
        let whole = match self.read_node::<Option<T>>(node) {
            Ok(v) => return v.unwrap_or_default(),
            Err(e) => e,
        };
        errors.push(whole);
        let mut out = T::default();
        if node.kind != Kind::Map {
            return out;
        }
        for child in node.children.iter().filter_map(|&c| self.tree.nodes.get(c)) {
            let Some(key_start) = child.key_start else {
                continue;
            };
            match self.read::<T>(key_start, child.end) {
                Ok(field) => out.merge(field),
                Err(e) => {
                    errors.push(e);
                    if let Segment::Key(key) = &child.segment {
                        out.mark_unread(key);
                    }
                }
            }
        }
        out
    }

    /// A resource list read element by element: one bad element does not hide the
    /// others, and the others still get their semantic checks.
    fn entries<T: DeserializeOwned>(&self, node: &Node, errors: &mut Vec<Found>) -> Vec<Entry<T>> {
        if node.kind != Kind::Seq {
            return Vec::new();
        }
        node.children
            .iter()
            .filter_map(|&c| self.tree.nodes.get(c))
            .map(|item| match self.read_node::<T>(item) {
                Ok(t) => Entry::Read(t),
                Err(e) => {
                    errors.push(e);
                    let name = self.read_node::<NameOnly>(item).ok().and_then(|n| n.name);
                    Entry::Unread { name }
                }
            })
            .collect()
    }
}

/// The parts of a file that does not deserialize as a whole: the top level, `server`
/// and `storage` field by field, and each resource on its own. Errors go to `errors`.
fn read_parts(ctx: &Ctx<'_>, errors: &mut Vec<Found>) -> Parts {
    let mut parts = Parts::default();
    if let Err(e) = serde_saphyr::from_str::<Option<RawShape>>(&ctx.rewrite.text) {
        errors.push(ctx.locate(&e));
    }
    let tree = ctx.tree;
    let Some(root) = tree.root().and_then(|r| tree.nodes.get(r)) else {
        return parts;
    };
    if root.kind != Kind::Map {
        return parts;
    }
    for node in root.children.iter().filter_map(|&s| tree.nodes.get(s)) {
        let Segment::Key(key) = &node.segment else {
            continue;
        };
        match key.as_str() {
            "server" => parts.server = ctx.section::<RawServer>(node, errors),
            "storage" => parts.storage = ctx.section::<RawStorage>(node, errors),
            "providers" => parts.providers = ctx.entries(node, errors),
            "models" => parts.models = ctx.entries(node, errors),
            "teams" => parts.teams = ctx.entries(node, errors),
            "consumers" => parts.consumers = ctx.entries(node, errors),
            "alerts" => parts.alerts = ctx.entries(node, errors),
            "services" => parts.services = ctx.entries(node, errors),
            "prompt_apis" => parts.prompt_apis = ctx.entries(node, errors),
            "masking" => parts.masking = ctx.entries(node, errors),
            "log" => parts.log = ctx.section::<RawLog>(node, errors),
            "telemetry" => parts.telemetry = ctx.section::<RawTelemetry>(node, errors),
            _ => {}
        }
    }
    parts
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

/// A one-line message without location suffixes, that never quotes a value of the
/// file: a secret pasted into the wrong field (`kind: sk-…`) must not be repeated into
/// a terminal or a log. The position and path say which value is meant. Keys (field
/// names) are quoted; they are names, not values. Variants not known to carry no
/// value get a generic message.
fn message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    let text: Cow<'_, str> = match err {
        E::Unexpected { expected, .. } => match *expected {
            "sequence start" => "expected a list".into(),
            "mapping start" => "expected a mapping (`key: value` pairs)".into(),
            "string scalar" | "scalar" => "expected a single value, not a list or mapping".into(),
            other => format!("expected {other}").into(),
        },
        E::InvalidScalar { ty, .. } => match *ty {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
                "expected a non-negative integer".into()
            }
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "expected an integer".into(),
            "f32" | "f64" | "floating point" => "expected a number".into(),
            "bool" | "boolean" => "expected true or false".into(),
            other => format!("invalid {other}").into(),
        },
        E::SerdeMissingField { field, .. } => format!("missing required field `{field}`").into(),
        E::ExternallyTaggedEnumExpectedScalarOrMapping { .. } => {
            "expected a single value, not a list or mapping".into()
        }
        E::SerdeUnknownVariant { expected, .. } => {
            format!("unknown value, expected one of {}", expected.join(", ")).into()
        }
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            if expected.is_empty() {
                format!("unknown field `{field}`, there are no fields").into()
            } else {
                format!(
                    "unknown field `{field}`, expected one of {}",
                    expected.join(", ")
                )
                .into()
            }
        }
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => match value_kind(unexpected) {
            Some(kind) => format!("invalid type: expected {expected}, found {kind}").into(),
            None => format!("invalid type: expected {expected}").into(),
        },
        E::SerdeInvalidValue { expected, .. } => {
            format!("invalid value: expected {expected}").into()
        }
        E::NonFiniteFloat { .. } => "expected a finite number".into(),
        E::QuotingRequired { .. } => "this value must be quoted".into(),
        E::TaggedEnumMismatch { target, .. } => {
            format!("the tag does not name a value of {target}").into()
        }
        // Messages made of the error's kind, numbers and keys only.
        E::Eof { .. }
        | E::MultipleDocuments { .. }
        | E::MergeValueNotMapOrSeqOfMaps { .. }
        | E::MergeKeyNotAllowed { .. }
        | E::InvalidBinaryBase64 { .. }
        | E::BinaryNotUtf8 { .. }
        | E::TaggedScalarCannotDeserializeIntoString { .. }
        | E::UnexpectedSequenceEnd { .. }
        | E::UnexpectedMappingEnd { .. }
        | E::InvalidBooleanStrict { .. }
        | E::InvalidCharNull { .. }
        | E::InvalidCharNotSingleScalar { .. }
        | E::NullIntoString { .. }
        | E::BytesNotSupportedMissingBinaryTag { .. }
        | E::UnexpectedValueForUnit { .. }
        | E::ExpectedEmptyMappingForUnitStruct { .. }
        | E::UnexpectedContainerEndWhileSkippingNode { .. }
        | E::ExpectedStringKeyForExternallyTaggedEnum { .. }
        | E::UnexpectedValueForUnitEnumVariant { .. }
        | E::InvalidUtf8Input
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::FoldedBlockScalarMustIndentContent { .. }
        | E::RecursiveReferencesRequireWeakTypes { .. }
        | E::SerdeInvalidLength { .. }
        | E::UnexpectedContainerEndWhileReadingKeyNode { .. }
        | E::DuplicateMappingKey { .. }
        | E::ExpectedMappingEndAfterEnumVariantValue { .. }
        | E::ContainerEndMismatch { .. }
        | E::UnknownAnchor { .. }
        | E::UnsupportedIncludeForm { .. }
        | E::CannotBorrowTransformedString { .. }
        | E::IndentationError { .. } => UserMessageFormatter.format_message(err),
        // Free text (custom serde messages, hooks, includes, properties) may quote the
        // value; say only that the value is wrong.
        _ => "invalid value".into(),
    };
    text.into_owned()
}

/// The kind of value serde says it found (`string "…"` → `a string`), without the value.
fn value_kind(unexpected: &str) -> Option<&'static str> {
    let head = unexpected.split(['`', '"']).next().unwrap_or("").trim();
    Some(match head {
        "boolean" => "true or false",
        "integer" => "an integer",
        "floating point" => "a number",
        "string" | "character" => "a string",
        "sequence" => "a list",
        "map" => "a mapping",
        "unit value" | "null" | "Option value" => "an empty value",
        _ => return None,
    })
}
