//! A positioned outline of the YAML document, built from the events of the parser that
//! serde-saphyr itself uses (granit-parser): every node's field path and byte range,
//! every mapping key's position, and the scalars that interpolation has to look at.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    Seq,
    Map,
    Alias,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Root,
    Key(String),
    Index(usize),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub parent: Option<usize>,
    pub segment: Segment,
    pub kind: Kind,
    /// Byte offset of the value (for a block mapping: its first key).
    pub start: usize,
    /// Byte offset just past the node; for block collections the start of whatever
    /// follows, so it may include trailing blanks and comments.
    pub end: usize,
    /// Byte offset of the mapping key this node is the value of.
    pub key_start: Option<usize>,
    pub children: Vec<usize>,
}

/// Where a scalar sits, to name it in an error.
#[derive(Debug, Clone)]
pub(crate) enum ScalarOwner {
    /// The scalar is this node.
    Node(usize),
    /// The scalar is a key of this mapping node.
    Key { map: usize, key: String },
}

/// A scalar whose text contains `${` (the only ones interpolation touches).
#[derive(Debug)]
pub(crate) struct DollarScalar {
    pub owner: ScalarOwner,
    pub value: String,
    pub style: ScalarStyle,
    pub start: usize,
    pub end: usize,
    /// End of the previous non-comment event: a block scalar's `|`/`>` header lies
    /// between this and `start`.
    pub prev_end: usize,
}

#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub scalars: Vec<DollarScalar>,
    pub has_alias: bool,
    /// `(start, node)` sorted.
    by_start: Vec<(usize, usize)>,
    /// Key start -> node (the last one, for a repeated key).
    by_key: HashMap<usize, usize>,
}

#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub offset: usize,
    pub message: String,
    /// Path of the innermost node open when the error was found.
    pub path: String,
}

enum Frame {
    Seq {
        node: usize,
        next: usize,
        flow: bool,
    },
    Map {
        node: usize,
        key: Option<(String, usize)>,
        flow: bool,
    },
    /// Inside a complex (collection) mapping key, which is not indexed.
    ComplexKey { depth: usize, start: usize },
}

impl Tree {
    pub(crate) fn build(text: &str) -> Result<Tree, SyntaxError> {
        let mut tree = Tree {
            nodes: Vec::new(),
            scalars: Vec::new(),
            has_alias: false,
            by_start: Vec::new(),
            by_key: HashMap::new(),
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut documents = 0usize;
        let mut last_end = 0usize;

        for item in Parser::new_from_str(text) {
            let (event, span) = match item {
                Ok(pair) => pair,
                Err(err) => {
                    let marker = err.marker();
                    let offset = marker
                        .byte_offset()
                        .unwrap_or_else(|| byte_of_char(text, marker.index()));
                    let path = stack
                        .iter()
                        .rev()
                        .find_map(|f| match f {
                            Frame::Seq { node, .. } | Frame::Map { node, .. } => Some(*node),
                            Frame::ComplexKey { .. } => None,
                        })
                        .map(|n| tree.path(n))
                        .unwrap_or_default();
                    return Err(SyntaxError {
                        offset,
                        message: err.info(),
                        path,
                    });
                }
            };
            let range = span.byte_range().unwrap_or_else(|| {
                byte_of_char(text, span.start.index())..byte_of_char(text, span.end.index())
            });
            let prev_end = last_end;
            if !matches!(event, Event::Comment(..)) {
                last_end = range.end;
            }
            // Only the first document is the config; later ones are rejected by the
            // deserializer and not indexed here.
            let active = documents <= 1;
            match event {
                Event::DocumentStart(..) => documents += 1,
                Event::Scalar(value, style, _, _) => {
                    if !active {
                        continue;
                    }
                    match stack.last_mut() {
                        Some(Frame::ComplexKey { .. }) => {}
                        Some(Frame::Map { node, key, .. }) if key.is_none() => {
                            let map = *node;
                            *key = Some((value.to_string(), range.start));
                            if value.contains("${") {
                                tree.scalars.push(DollarScalar {
                                    owner: ScalarOwner::Key {
                                        map,
                                        key: value.to_string(),
                                    },
                                    value: value.into_owned(),
                                    style,
                                    start: range.start,
                                    end: range.end,
                                    prev_end,
                                });
                            }
                        }
                        _ => {
                            let id =
                                tree.add_node(&mut stack, Kind::Scalar, range.start, range.end);
                            if let Some(id) = id
                                && value.contains("${")
                            {
                                tree.scalars.push(DollarScalar {
                                    owner: ScalarOwner::Node(id),
                                    value: value.into_owned(),
                                    style,
                                    start: range.start,
                                    end: range.end,
                                    prev_end,
                                });
                            }
                        }
                    }
                }
                Event::Alias(_) => {
                    if !active {
                        continue;
                    }
                    tree.has_alias = true;
                    match stack.last_mut() {
                        Some(Frame::ComplexKey { .. }) => {}
                        Some(Frame::Map { key, .. }) if key.is_none() => {
                            *key = Some(("*".to_string(), range.start));
                        }
                        _ => {
                            tree.add_node(&mut stack, Kind::Alias, range.start, range.end);
                        }
                    }
                }
                Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
                    if !active {
                        continue;
                    }
                    let kind = if matches!(event, Event::SequenceStart(..)) {
                        Kind::Seq
                    } else {
                        Kind::Map
                    };
                    let flow = style == StructureStyle::Flow;
                    match stack.last_mut() {
                        Some(Frame::ComplexKey { depth, .. }) => *depth += 1,
                        Some(Frame::Map { key, .. }) if key.is_none() => {
                            stack.push(Frame::ComplexKey {
                                depth: 1,
                                start: range.start,
                            });
                        }
                        _ => {
                            if let Some(id) =
                                tree.add_node(&mut stack, kind, range.start, range.end)
                            {
                                stack.push(match kind {
                                    Kind::Seq => Frame::Seq {
                                        node: id,
                                        next: 0,
                                        flow,
                                    },
                                    _ => Frame::Map {
                                        node: id,
                                        key: None,
                                        flow,
                                    },
                                });
                            }
                        }
                    }
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    if !active {
                        continue;
                    }
                    match stack.pop() {
                        Some(Frame::ComplexKey { depth, start }) => {
                            if depth > 1 {
                                stack.push(Frame::ComplexKey {
                                    depth: depth - 1,
                                    start,
                                });
                            } else if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                                *key = Some(("?".to_string(), start));
                            }
                        }
                        Some(Frame::Seq { node, flow, .. })
                        | Some(Frame::Map { node, flow, .. }) => {
                            // A flow collection's end event covers its closing bracket; a
                            // block collection's (empty) end event sits where the next
                            // token starts.
                            let end = if flow { range.end } else { range.start };
                            if let Some(n) = tree.nodes.get_mut(node) {
                                n.end = end.max(n.start);
                            }
                        }
                        None => {}
                    }
                }
                _ => {}
            }
        }
        tree.by_start = tree
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.start, i))
            .collect();
        tree.by_start.sort_unstable();
        tree.by_key = tree
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.key_start.map(|k| (k, i)))
            .collect();
        Ok(tree)
    }

    /// Add a node as the next child of the innermost open collection (or as the root).
    fn add_node(
        &mut self,
        stack: &mut [Frame],
        kind: Kind,
        start: usize,
        end: usize,
    ) -> Option<usize> {
        let id = self.nodes.len();
        let (parent, segment, key_start) = match stack.last_mut() {
            None => {
                if !self.nodes.is_empty() {
                    return None;
                }
                (None, Segment::Root, None)
            }
            Some(Frame::Seq { node, next, .. }) => {
                let seg = Segment::Index(*next);
                *next += 1;
                (Some(*node), seg, None)
            }
            Some(Frame::Map { node, key, .. }) => {
                let (k, ks) = key.take()?;
                (Some(*node), Segment::Key(k), Some(ks))
            }
            Some(Frame::ComplexKey { .. }) => return None,
        };
        self.nodes.push(Node {
            parent,
            segment,
            kind,
            start,
            end,
            key_start,
            children: Vec::new(),
        });
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(p)) {
            p.children.push(id);
        }
        Some(id)
    }

    /// The field path of a node, e.g. `models[2].targets[0].provider`.
    pub(crate) fn path(&self, node: usize) -> String {
        let mut segments = Vec::new();
        let mut cur = Some(node);
        while let Some(id) = cur {
            let Some(n) = self.nodes.get(id) else { break };
            segments.push(&n.segment);
            cur = n.parent;
        }
        let mut out = String::new();
        for seg in segments.into_iter().rev() {
            match seg {
                Segment::Root => {}
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    pub(crate) fn owner_path(&self, owner: &ScalarOwner) -> String {
        match owner {
            ScalarOwner::Node(n) => self.path(*n),
            ScalarOwner::Key { map, key } => join_path(&self.path(*map), key),
        }
    }

    pub(crate) fn root(&self) -> Option<usize> {
        if self.nodes.is_empty() { None } else { Some(0) }
    }

    pub(crate) fn child_by_key(&self, node: usize, key: &str) -> Option<usize> {
        self.nodes.get(node)?.children.iter().copied().find(
            |c| matches!(self.nodes.get(*c).map(|n| &n.segment), Some(Segment::Key(k)) if k == key),
        )
    }

    pub(crate) fn child_by_index(&self, node: usize, index: usize) -> Option<usize> {
        self.nodes.get(node)?.children.iter().copied().find(|c| {
            matches!(self.nodes.get(*c).map(|n| &n.segment), Some(Segment::Index(i)) if *i == index)
        })
    }

    /// The node at `path`, or else its nearest existing ancestor.
    pub(crate) fn resolve(&self, path: &str) -> Option<usize> {
        let mut cur = self.root()?;
        for seg in parse_path(path) {
            let next = match seg {
                Segment::Key(k) => self.child_by_key(cur, &k),
                Segment::Index(i) => self.child_by_index(cur, i),
                Segment::Root => Some(cur),
            };
            match next {
                Some(n) => cur = n,
                None => break,
            }
        }
        Some(cur)
    }

    /// The node a position refers to: the deepest one starting exactly there, or else
    /// the deepest one containing it.
    pub(crate) fn node_at(&self, offset: usize) -> Option<usize> {
        // Children come after their parents, and nodes nest: the last node (in start
        // order) starting at or before `offset` is the deepest exact match, or lies
        // inside the deepest node containing `offset`.
        let i = self.by_start.partition_point(|&(s, _)| s <= offset);
        let (_, mut cur) = *self.by_start.get(i.checked_sub(1)?)?;
        loop {
            let n = self.nodes.get(cur)?;
            if n.start == offset || (n.start <= offset && offset < n.end) {
                return Some(cur);
            }
            cur = n.parent?;
        }
    }

    /// Name the entry whose key starts at `key_start` by `key` (its interpolated text).
    pub(crate) fn rename_key(&mut self, key_start: usize, key: String) {
        if let Some(n) = self
            .by_key
            .get(&key_start)
            .and_then(|&i| self.nodes.get_mut(i))
        {
            n.segment = Segment::Key(key);
        }
    }

    /// The node whose mapping key starts at `offset`.
    pub(crate) fn node_with_key_at(&self, offset: usize) -> Option<usize> {
        self.by_key.get(&offset).copied()
    }
}

/// `parent.child`, or `child` at the root.
pub(crate) fn join_path(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else if child.is_empty() {
        parent.to_string()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        format!("{parent}.{child}")
    }
}

/// Split `a.b[2].c` into segments.
fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (part.get(..i).unwrap_or(""), part.get(i..).unwrap_or("")),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name.to_string()));
        }
        while let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else { break };
            if let Ok(i) = after.get(..close).unwrap_or("").parse::<usize>() {
                out.push(Segment::Index(i));
            }
            rest = after.get(close + 1..).unwrap_or("");
        }
    }
    out
}

/// Byte offset of the `index`-th character (clamped to the end).
fn byte_of_char(text: &str, index: usize) -> usize {
    text.char_indices()
        .nth(index)
        .map_or(text.len(), |(i, _)| i)
}

/// Whether a scalar style is a block scalar (`|` or `>`).
pub(crate) fn is_block(style: ScalarStyle) -> bool {
    matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_positions() {
        let text = "a:\n  b: [x, {c: d}]\nlist:\n  - k: v\n    j: w\n  - z\n";
        let tree = Tree::build(text).unwrap();
        let c = tree.resolve("a.b[1].c").unwrap();
        assert_eq!(tree.path(c), "a.b[1].c");
        assert_eq!(&text[tree.nodes[c].start..tree.nodes[c].end], "d");
        let item = tree.resolve("list[0]").unwrap();
        assert!(text[tree.nodes[item].start..tree.nodes[item].end].starts_with("k: v\n    j: w"));
        let z = tree.resolve("list[1]").unwrap();
        assert_eq!(&text[tree.nodes[z].start..tree.nodes[z].end], "z");
        // Missing parts resolve to the nearest ancestor.
        assert_eq!(tree.resolve("list[0].nope"), Some(item));
        assert_eq!(
            tree.node_with_key_at(text.find("j:").unwrap())
                .map(|n| tree.path(n))
                .as_deref(),
            Some("list[0].j")
        );
    }

    #[test]
    fn syntax_error_has_position_and_path() {
        let err = Tree::build("a:\n  b: [1, 2\n").unwrap_err();
        assert_eq!(err.path, "a.b");
        assert!(!err.message.is_empty());
    }
}
