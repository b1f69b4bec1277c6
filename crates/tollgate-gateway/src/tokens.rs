//! Token counting with a real tokenizer (o200k, embedded in the binary: nothing is
//! downloaded at run time).
//!
//! Used to estimate a prompt before the provider counts it (for tokens/min limits and
//! budget reservations), to count embeddings inputs whose provider reports no usage, and
//! to count a streamed answer whose upstream sent no usage.
//!
//! Three properties matter more than the last token of accuracy:
//! - **Linear cost.** Byte-pair encoding a long run without whitespace costs more than
//!   linear time (the tokenizer's pre-split hands it over as one piece), so text is cut
//!   into [`pieces`] of at most [`MAX_PIECE_BYTES`] before encoding. Cuts fall before
//!   whitespace where there is some, where the tokenizer would split anyway, so counts
//!   stay within a fraction of a percent of the uncut count on ordinary text.
//! - **Off the executor.** Large inputs are counted on the blocking pool
//!   ([`count_async`]), a few at a time, so a 4 MiB prompt never stalls other requests.
//! - **Lazy.** The vocabulary costs tens of MiB once built; it is built on first use,
//!   once, and shared. Admitting a short prompt does not use it ([`PromptEstimate`]):
//!   a gateway whose prompts are short and whose upstreams report usage never builds it.

use std::sync::{Arc, OnceLock};

use tiktoken_rs::CoreBPE;
use tokio::sync::Semaphore;

mod estimate;

use crate::door::DoorRequest;
pub use estimate::{
    BOUND_BY_BYTES, PromptEstimate, estimate_anthropic, estimate_anthropic_async, estimate_openai,
    estimate_openai_async, reserve_anthropic, reserve_openai,
};

/// The longest piece of text handed to the byte-pair encoder in one go. Bounds the
/// per-piece cost, so counting is linear in the input size.
pub const MAX_PIECE_BYTES: usize = 2048;

/// Inputs larger than this (in bytes) are counted on the blocking pool.
pub const OFF_EXECUTOR_BYTES: usize = 64 * 1024;

/// Without a vocabulary, a token is taken as this many bytes.
const FALLBACK_BYTES_PER_TOKEN: u64 = 4;

static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// The shared vocabulary, built on first use.
fn encoder() -> Option<&'static CoreBPE> {
    ENCODER
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(bpe) => Some(bpe),
            Err(e) => {
                tracing::error!(error = %e, "tokenizer unavailable; falling back to 4 bytes per token");
                None
            }
        })
        .as_ref()
}

/// Whether the vocabulary is built (building it takes a while: not on the executor).
pub fn is_loaded() -> bool {
    ENCODER.get().is_some()
}

/// Tokens in `text`. Blocking work proportional to `text.len()`: on the async runtime
/// use [`count_async`] for anything that may be large.
pub fn count(text: &str) -> u64 {
    measure(text).tokens
}

/// What one count did: the tokens, and the work it took (for tests of its cost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measured {
    tokens: u64,
    /// Pieces handed to the encoder.
    pieces: u64,
    /// Sum of the squared piece lengths: an upper bound on the encoder's work, which
    /// is at worst quadratic in a piece's length.
    work: u64,
}

fn measure(text: &str) -> Measured {
    let mut m = Measured::default();
    let Some(bpe) = (!text.is_empty()).then(encoder).flatten() else {
        m.tokens = fallback(text.len());
        return m;
    };
    for piece in pieces(text) {
        m.tokens += bpe.encode_ordinary(piece).len() as u64;
        m.pieces += 1;
        m.work += (piece.len() as u64).pow(2);
    }
    m
}

fn fallback(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(FALLBACK_BYTES_PER_TOKEN)
}

/// `text` cut into consecutive pieces of at most [`MAX_PIECE_BYTES`] (fewer when a
/// character straddles the limit), each cut before the last run of ASCII whitespace
/// in range, or at a character boundary when there is none. Concatenated, the pieces
/// are `text`.
pub fn pieces(text: &str) -> Pieces<'_> {
    Pieces { rest: text }
}

/// The iterator of [`pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let (piece, rest) = self.rest.split_at(cut_point(self.rest));
        self.rest = rest;
        Some(piece)
    }
}

/// Where the next piece of `s` ends (always > 0 for a non-empty `s`).
fn cut_point(s: &str) -> usize {
    if s.len() <= MAX_PIECE_BYTES {
        return s.len();
    }
    let mut end = MAX_PIECE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &s.as_bytes()[..end];
    // Before the whole whitespace run: the tokenizer keeps a run together (and joins
    // its last space to the next word), so cutting inside one would add a token.
    let Some(last) = bytes.iter().rposition(u8::is_ascii_whitespace) else {
        return end;
    };
    let run_start = bytes[..last]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    if run_start > 0 { run_start } else { end }
}

/// Large counts running at once on the blocking pool: no more than there are cores,
/// so a burst of huge prompts queues instead of starving everything else.
fn blocking_slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Arc::new(Semaphore::new(cores))
        })
        .clone()
}

/// Tokens in `text`, counted off the async executor when it is large (or when the
/// vocabulary is still to be built).
pub async fn count_async(text: String) -> u64 {
    count_all_async(vec![text]).await
}

/// The sum of the tokens of each of `texts` (each counted on its own, as a provider
/// counts a batch of embeddings inputs), off the executor when they are large.
pub async fn count_all_async(texts: Vec<String>) -> u64 {
    let bytes: usize = texts.iter().map(String::len).sum();
    if bytes == 0 {
        return 0;
    }
    if bytes <= OFF_EXECUTOR_BYTES && is_loaded() {
        return texts.iter().map(|t| count(t)).sum();
    }
    // The semaphore is never closed; without a permit the count still runs.
    let permit = blocking_slots().acquire_owned().await.ok();
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        texts.iter().map(|t| count(t)).sum::<u64>()
    });
    match job.await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "token count failed; falling back to 4 bytes per token");
            fallback(bytes)
        }
    }
}

/// The admission estimate of the prompt of a chat request through either door (a
/// short prompt is bounded by its bytes, a large one counted off the async executor).
pub async fn estimate_prompt(request: &DoorRequest) -> PromptEstimate {
    match request {
        DoorRequest::OpenAi(r) => reserve_openai(r).await,
        DoorRequest::Anthropic(r) => reserve_anthropic(r).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    /// Prose with punctuation, newlines, numbers and a little non-ASCII.
    fn prose(bytes: usize) -> String {
        let words = [
            "the",
            "gateway",
            "counts",
            "tokens",
            "before",
            "forwarding,",
            "42",
            "requests",
            "per",
            "minute.\n",
            "Naïve",
            "estimates",
            "können",
            "drift;",
            "real",
            "ones",
            "don't",
            "(mostly)",
            "—",
            "über",
            "1984",
            "résumé",
            "\n\n",
            "end.",
        ];
        let mut s = String::with_capacity(bytes + 16);
        let mut i = 7usize;
        while s.len() < bytes {
            s.push_str(words[i % words.len()]);
            s.push(' ');
            i = i.wrapping_mul(31).wrapping_add(17) % 1_000_003;
        }
        s
    }

    fn uncut(text: &str) -> u64 {
        encoder()
            .map(|bpe| bpe.encode_ordinary(text).len() as u64)
            .unwrap_or_default()
    }

    #[test]
    fn counts_with_the_real_vocabulary() {
        assert_eq!(count(""), 0);
        assert_eq!(count("hello world"), 2);
        assert!(count(&"token ".repeat(100)) >= 100);
    }

    #[test]
    fn pieces_cover_the_text_within_the_cap() {
        let texts = [
            prose(100_000),
            "x".repeat(10_000),
            "é".repeat(5_000),
            "日本語".repeat(3_000),
            " ".repeat(9_000),
            format!("{}{}", " ".repeat(100), "y".repeat(9_000)),
            String::from("short"),
        ];
        for t in &texts {
            let ps: Vec<&str> = pieces(t).collect();
            assert_eq!(ps.concat(), *t);
            assert!(
                ps.iter()
                    .all(|p| !p.is_empty() && p.len() <= MAX_PIECE_BYTES)
            );
        }
        // Cuts fall before whitespace where there is some.
        let p = prose(100_000);
        let ps: Vec<&str> = pieces(&p).collect();
        assert!(ps.len() > 40);
        assert!(
            ps[1..]
                .iter()
                .all(|p| p.starts_with(|c: char| c.is_ascii_whitespace()))
        );
    }

    #[test]
    fn counting_without_whitespace_is_linear() {
        let one = "q".repeat(MIB);
        let four = "q".repeat(4 * MIB);
        let (m1, m4) = (measure(&one), measure(&four));
        // Four times the text: four times the pieces and the work, not sixteen.
        assert_eq!(m4.pieces, 4 * m1.pieces);
        assert!(m4.work <= 4 * m1.work, "{m1:?} {m4:?}");
        // Uncut, the work bound of a single piece would grow 16-fold.
        assert!(m4.work < (4 * MIB as u64).pow(2) / 1000);
        // And the count is the real one: 4 MiB of one letter is not one token.
        assert!(m4.tokens >= 4 * m1.tokens - 4 && m4.tokens <= 4 * m1.tokens + 4);
        assert!(m1.tokens > 1000, "{m1:?}");
    }

    #[test]
    fn cut_counts_stay_close_to_uncut_ones() {
        for text in [
            prose(200_000),
            "{\"key\":\"value\",\"n\":[1,2,3]},".repeat(5_000),
        ] {
            let (cut, whole) = (count(&text), uncut(&text));
            let diff = cut.abs_diff(whole) as f64 / whole as f64;
            assert!(diff < 0.02, "cut {cut} vs uncut {whole}");
        }
        // Short text is never cut: exactly the tokenizer's count.
        let short = prose(MAX_PIECE_BYTES - 10);
        assert_eq!(count(&short), uncut(&short));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_counts_match_and_sum_each_text() {
        let big = prose(OFF_EXECUTOR_BYTES * 2);
        assert_eq!(count_async(big.clone()).await, count(&big));
        let small = String::from("hello world");
        assert_eq!(count_async(small.clone()).await, 2);
        let texts = vec![small.clone(), small.clone(), big.clone()];
        assert_eq!(count_all_async(texts).await, 4 + count(&big));
        assert_eq!(count_all_async(Vec::new()).await, 0);
    }
}
