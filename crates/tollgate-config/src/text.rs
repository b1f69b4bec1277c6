//! Positions in text: byte offsets <-> 1-based line/column, and the map between the
//! original file and the interpolated text handed to the deserializer.

use std::ops::Range;

/// Line starts of a text, with YAML line breaks (`\r\n`, `\r`, `\n`).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts; `starts[0] == 0`.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        LineIndex { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset. Offsets past the end
    /// or inside a character are clamped to the nearest valid position.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..)
            .map(|rest| {
                rest.char_indices()
                    .take_while(|(i, _)| start + i < offset)
                    .count()
            })
            .unwrap_or(0);
        (line + 1, column + 1)
    }

    /// The text of a 1-based line, without its line break.
    pub(crate) fn line_text(&self, line: usize) -> Option<&'a str> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).copied().unwrap_or(self.text.len());
        Some(self.text.get(start..end)?.trim_end_matches(['\r', '\n']))
    }

    /// Byte offset of a 1-based line and column (in characters), if it exists.
    pub(crate) fn offset(&self, line: usize, column: usize) -> Option<usize> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).copied().unwrap_or(self.text.len());
        let rest = self.text.get(start..end)?;
        let col = column.checked_sub(1)?;
        match rest.char_indices().nth(col) {
            Some((i, _)) => Some(start + i),
            None => Some(end),
        }
    }
}

/// One replaced region: `orig` in the file became `new` in the interpolated text.
#[derive(Debug, Clone)]
pub(crate) struct Edit {
    pub orig: Range<usize>,
    pub new: Range<usize>,
    /// Where a position inside the replacement is reported in the file: the start of
    /// the scalar value that was replaced.
    pub anchor: usize,
}

/// The interpolated text and how its offsets relate to the original file.
pub(crate) struct Rewrite {
    pub text: String,
    /// Sorted, non-overlapping.
    pub edits: Vec<Edit>,
}

impl Rewrite {
    /// Apply replacements (sorted by `orig.start`, non-overlapping, each given with its
    /// anchor) to `orig`.
    pub(crate) fn apply(orig: &str, mut replacements: Vec<(Range<usize>, usize, String)>) -> Self {
        replacements.sort_by_key(|(r, _, _)| r.start);
        let mut text = String::with_capacity(orig.len());
        let mut edits = Vec::with_capacity(replacements.len());
        let mut copied = 0usize;
        for (range, anchor, replacement) in replacements {
            // Overlapping or out-of-bounds replacements are skipped rather than trusted.
            if range.start < copied || range.end < range.start || range.end > orig.len() {
                continue;
            }
            let (Some(between), true) = (
                orig.get(copied..range.start),
                orig.is_char_boundary(range.end),
            ) else {
                continue;
            };
            text.push_str(between);
            let new_start = text.len();
            text.push_str(&replacement);
            edits.push(Edit {
                orig: range.clone(),
                new: new_start..text.len(),
                anchor,
            });
            copied = range.end;
        }
        if let Some(rest) = orig.get(copied..) {
            text.push_str(rest);
        }
        Rewrite { text, edits }
    }

    /// The file offset reported for an offset of the interpolated text.
    pub(crate) fn to_orig(&self, new: usize) -> usize {
        let idx = self.edits.partition_point(|e| e.new.start <= new);
        match idx.checked_sub(1).and_then(|i| self.edits.get(i)) {
            None => new,
            Some(e) if new < e.new.end => e.anchor,
            Some(e) => e.orig.end + (new - e.new.end),
        }
    }

    /// The interpolated-text offset of a file offset that starts a node.
    pub(crate) fn start_to_new(&self, orig: usize) -> usize {
        let idx = self.edits.partition_point(|e| e.orig.start <= orig);
        match idx.checked_sub(1).and_then(|i| self.edits.get(i)) {
            None => orig,
            Some(e) if orig < e.orig.end => e.new.start,
            Some(e) => e.new.end + (orig - e.orig.end),
        }
    }

    /// The interpolated-text offset of a file offset that ends a node (exclusive).
    pub(crate) fn end_to_new(&self, orig: usize) -> usize {
        let idx = self.edits.partition_point(|e| e.orig.start < orig);
        match idx.checked_sub(1).and_then(|i| self.edits.get(i)) {
            None => orig,
            Some(e) if orig <= e.orig.end => e.new.end,
            Some(e) => e.new.end + (orig - e.orig.end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_handles_all_breaks() {
        let t = "ab\ncd\r\nef\rgé x";
        let li = LineIndex::new(t);
        assert_eq!(li.position(0), (1, 1));
        assert_eq!(li.position(1), (1, 2));
        assert_eq!(li.position(3), (2, 1));
        assert_eq!(li.position(7), (3, 1));
        assert_eq!(li.position(10), (4, 1));
        // 'x' comes after a two-byte 'é' and a space: column 4.
        assert_eq!(li.position(14), (4, 4));
        assert_eq!(li.offset(4, 4), Some(14));
        assert_eq!(li.offset(2, 2), Some(4));
        assert_eq!(li.offset(9, 1), None);
        assert_eq!(li.position(1000), (4, 5));
    }

    #[test]
    fn rewrite_maps_offsets_both_ways() {
        let orig = "a: ${X}\nb: 1\n";
        let rw = Rewrite::apply(orig, vec![(3..7, 3, "\"long value\"".to_string())]);
        assert_eq!(rw.text, "a: \"long value\"\nb: 1\n");
        assert_eq!(rw.to_orig(0), 0);
        assert_eq!(rw.to_orig(3), 3);
        assert_eq!(rw.to_orig(10), 3);
        let b_new = rw.text.find('b').unwrap_or(0);
        assert_eq!(rw.to_orig(b_new), orig.find('b').unwrap_or(1));
        assert_eq!(rw.start_to_new(3), 3);
        assert_eq!(rw.end_to_new(7), 15);
        assert_eq!(rw.start_to_new(8), 16);
    }
}
