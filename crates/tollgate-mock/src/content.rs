//! Deterministic reply generation shared by both wire formats.

use crate::directives::Directives;
use serde_json::json;

/// Number of whitespace-separated words.
pub fn count_words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Split `s` into pieces, one per word, each carrying the whitespace before it, so that the
/// concatenation of the pieces is `s` again (trailing whitespace stays on the last piece).
pub fn word_pieces(s: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_word = false;
    let mut seen_word = false;
    for (i, c) in s.char_indices() {
        let ws = c.is_whitespace();
        // A new piece starts with the whitespace that follows a word.
        if ws && prev_word && seen_word {
            pieces.push(&s[start..i]);
            start = i;
        }
        if !ws {
            seen_word = true;
        }
        prev_word = !ws;
    }
    if start < s.len() {
        let tail = &s[start..];
        if tail.trim().is_empty() && !pieces.is_empty() {
            // Trailing whitespace only: glue it to the last word.
            let last_start = start - pieces.last().map_or(0, |p| p.len());
            pieces.pop();
            pieces.push(&s[last_start..]);
        } else {
            pieces.push(tail);
        }
    }
    pieces
}

/// The first `n` words of `s` (with the whitespace between them).
pub fn truncate_words(s: &str, n: u64) -> &str {
    let pieces = word_pieces(s);
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if pieces.len() <= n {
        return s;
    }
    let len: usize = pieces[..n].iter().map(|p| p.len()).sum();
    // Drop any whitespace the (n+1)th piece would have carried: it is not part of the first n.
    &s[..len]
}

/// What a request asks for, reduced to what the mock needs to answer it.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// Words over all text in the system prompt and the messages.
    pub prompt_words: u64,
    /// Text parts of the last user message, joined by spaces.
    pub last_user_text: String,
    /// Set when the last message is a tool result: its text.
    pub tool_result: Option<String>,
    /// Set when the mock should answer with a tool call: the tool's name.
    pub tool_call: Option<String>,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    pub json_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Natural end (`stop` / `end_turn`).
    Stop,
    /// `max_tokens` reached (`length` / `max_tokens`).
    Length,
    /// A stop sequence matched (`stop` / `stop_sequence`).
    StopSequence(String),
    /// A tool call (`tool_calls` / `tool_use`).
    ToolUse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Text(String),
    ToolCall { name: String, arguments: String },
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub output: Output,
    pub finish: Finish,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Decide the answer.
pub fn plan(conv: &Conversation, d: &Directives) -> Plan {
    let input_tokens = conv.prompt_words.max(1);
    if let Some(name) = &conv.tool_call {
        let arguments = json!({ "input": conv.last_user_text }).to_string();
        return Plan {
            output_tokens: 1 + count_words(&arguments),
            output: Output::ToolCall {
                name: name.clone(),
                arguments,
            },
            finish: Finish::ToolUse,
            input_tokens,
        };
    }
    let base = if let Some(r) = d.scripted_reply() {
        r
    } else if let Some(t) = &conv.tool_result {
        format!("tool said: {t}")
    } else {
        format!("mock reply to: {}", conv.last_user_text)
    };
    let mut text = if conv.json_mode {
        json!({ "reply": base }).to_string()
    } else {
        base
    };
    let mut finish = Finish::Stop;
    // The earliest stop sequence wins.
    let mut cut: Option<(usize, &str)> = None;
    for s in conv.stop.iter().filter(|s| !s.is_empty()) {
        if let Some(pos) = text.find(s.as_str())
            && cut.is_none_or(|(p, _)| pos < p)
        {
            cut = Some((pos, s.as_str()));
        }
    }
    if let Some((pos, s)) = cut {
        finish = Finish::StopSequence(s.to_string());
        text.truncate(pos);
    }
    if let Some(max) = conv.max_tokens.filter(|_| !d.ignore_max_tokens)
        && count_words(&text) > max
    {
        text = truncate_words(&text, max).to_string();
        finish = Finish::Length;
    }
    Plan {
        output_tokens: count_words(&text),
        output: Output::Text(text),
        finish,
        input_tokens,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pieces_concatenate() {
        for s in [
            "",
            "a",
            " a",
            "a b",
            "  hello   world  ",
            "mock reply to: hi",
        ] {
            assert_eq!(word_pieces(s).concat(), s, "{s:?}");
        }
        assert_eq!(word_pieces("a b  c"), vec!["a", " b", "  c"]);
        assert_eq!(word_pieces("a b").len(), 2);
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_words("one two three", 2), "one two");
        assert_eq!(truncate_words("one two three", 5), "one two three");
        assert_eq!(truncate_words("one two", 0), "");
    }

    #[test]
    fn plan_default_reply() {
        let conv = Conversation {
            prompt_words: 3,
            last_user_text: "hello there".into(),
            ..Default::default()
        };
        let p = plan(&conv, &Directives::default());
        assert_eq!(p.output, Output::Text("mock reply to: hello there".into()));
        assert_eq!(p.output_tokens, 5);
        assert_eq!(p.finish, Finish::Stop);
    }

    #[test]
    fn plan_stop_and_length() {
        let mut conv = Conversation {
            last_user_text: "a b c d".into(),
            stop: vec!["d".into(), "to:".into()],
            ..Default::default()
        };
        let p = plan(&conv, &Directives::default());
        assert_eq!(p.output, Output::Text("mock reply ".into()));
        assert_eq!(p.finish, Finish::StopSequence("to:".into()));
        conv.stop.clear();
        conv.max_tokens = Some(2);
        let p = plan(&conv, &Directives::default());
        assert_eq!(p.output, Output::Text("mock reply".into()));
        assert_eq!(p.finish, Finish::Length);
    }
}
