//! Masking a text that arrives in pieces (one content stream of an answer).
//!
//! A match may be split across pieces (`jane@exa` + `mple.com`). The masker keeps
//! the last [`WINDOW`] bytes it was given unsent: anything that could still be the
//! start of a match stays until enough text follows it to decide, and is masked as a
//! whole. A match that began earlier than the window and is still unfinished when
//! it is released would escape, so matches up to [`WINDOW`] bytes long are masked
//! whatever the cuts; [`StreamMasker::finish`] releases the tail at the end.
//! `block` rules see the same window: a blocked value is never released.

use crate::mask::{Blocked, Hit, Masker};

/// Bytes held back per content stream. A trade between the longest value masked
/// across cuts and how far the client's text trails the upstream's.
pub const WINDOW: usize = 256;

/// Most bytes one content stream may hold back, whatever the rules find: a match
/// that keeps growing (an upstream sending one endless token a rule matches) is
/// masked whole once it passes this, rather than held without bound and rescanned
/// on every piece.
pub const MAX_HELD: usize = 64 * 1024;

/// One content stream's masking state.
#[derive(Debug, Clone)]
pub struct StreamMasker {
    masker: Masker,
    held: String,
    window: usize,
}

impl StreamMasker {
    pub fn new(masker: Masker) -> Self {
        Self::with_window(masker, WINDOW)
    }

    pub fn with_window(masker: Masker, window: usize) -> Self {
        StreamMasker {
            masker,
            held: String::new(),
            window,
        }
    }

    /// Takes the next piece; returns the masked text that is safe to send now.
    pub fn push(&mut self, piece: &str, hits: &mut Vec<Hit>) -> Result<String, Blocked> {
        self.held.push_str(piece);
        let found = self.masker.find(&self.held)?;
        let mut cut = self.held.len().saturating_sub(self.window);
        while !self.held.is_char_boundary(cut) {
            cut -= 1;
        }
        // A match reaching past the cut is held back whole.
        if let Some(f) = found.iter().find(|f| f.start < cut && f.end > cut) {
            cut = f.start;
        }
        if self.held.len() - cut > MAX_HELD {
            let out = self.masker.replace(&self.held, &found, hits);
            self.held.clear();
            return Ok(out);
        }
        if cut == 0 {
            return Ok(String::new());
        }
        let ready: Vec<_> = found.into_iter().filter(|f| f.end <= cut).collect();
        let out = self.masker.replace(&self.held[..cut], &ready, hits);
        self.held.drain(..cut);
        Ok(out)
    }

    /// The stream ended: the rest, masked.
    pub fn finish(&mut self, hits: &mut Vec<Hit>) -> Result<String, Blocked> {
        let rest = std::mem::take(&mut self.held);
        let found = self.masker.find(&rest)?;
        Ok(self.masker.replace(&rest, &found, hits))
    }

    /// Bytes held back now.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::tests::masker;
    use proptest::prelude::*;
    use serde_json::json;

    fn run(sm: &mut StreamMasker, pieces: &[&str]) -> Result<String, Blocked> {
        let mut hits = Vec::new();
        let mut out = String::new();
        for p in pieces {
            out.push_str(&sm.push(p, &mut hits)?);
        }
        out.push_str(&sm.finish(&mut hits)?);
        Ok(out)
    }

    /// An upstream that never ends a matching run cannot make the gateway hold (and
    /// rescan) it without bound; the run is still masked, never sent.
    #[test]
    fn an_endless_match_is_masked_within_a_bounded_hold() {
        let m = masker(json!([{"name": "r", "regex": ["a+"]}]));
        let mut sm = StreamMasker::new(m);
        let piece = "a".repeat(10_000);
        let mut hits = Vec::new();
        let mut out = String::new();
        for _ in 0..20 {
            out.push_str(&sm.push(&piece, &mut hits).unwrap_or_default());
            assert!(sm.held() <= MAX_HELD + piece.len(), "held {}", sm.held());
        }
        out.push_str(&sm.finish(&mut hits).unwrap_or_default());
        assert!(!out.contains('a'), "{out}");
        assert!(out.contains("[MASKED]"));
    }

    #[test]
    fn a_match_split_across_pieces_is_masked() {
        let m = masker(json!([{"name": "r", "detectors": ["email"], "keywords": ["falcon"]}]));
        let mut sm = StreamMasker::with_window(m, 16);
        let out = run(
            &mut sm,
            &[
                "write to jane.d",
                "oe@exam",
                "ple.com about Fal",
                "con, ",
                "bye now, a long tail of words",
            ],
        );
        assert_eq!(
            out.ok().as_deref(),
            Some("write to [EMAIL] about [MASKED], bye now, a long tail of words")
        );
    }

    #[test]
    fn a_block_split_across_pieces_blocks_before_release() {
        let m = masker(json!([{"name": "stop", "keywords": ["launch code"], "action": "block"}]));
        let mut sm = StreamMasker::with_window(m, 32);
        let mut hits = Vec::new();
        assert_eq!(sm.push("the launch ", &mut hits).ok().as_deref(), Some(""));
        assert!(sm.push("code is", &mut hits).is_err());
    }

    proptest! {
        /// Whatever the cuts, the stream's output is the whole text masked at once.
        #[test]
        fn cuts_do_not_matter(cuts in proptest::collection::vec(0usize..120, 0..8)) {
            let m = masker(json!([{"name": "r", "detectors": ["email", "credit_card", "api_key"],
                "keywords": ["project falcon"], "regex": ["EMP-[0-9]{6}"]}]));
            let text = "Hi jane@example.com, card 4111 1111 1111 1111; Project Falcon \
                        EMP-123456 sk-abcdefghijklmnopqrstuvwxyz0123 — é ü end";
            let mut hits = Vec::new();
            let whole = m.mask_text(text, &mut hits).map(|c| c.into_owned());
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| text.is_char_boundary(*c) && *c < text.len()).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts { pieces.push(&text[at..c]); at = c; }
            pieces.push(&text[at..]);
            let mut sm = StreamMasker::with_window(m, 64);
            prop_assert_eq!(run(&mut sm, &pieces).ok(), whole.ok());
        }
    }
}
