//! The per-position draws that keep every perturbation nested over its dial.

use rand::Rng as _;
use stressor_core::Rng;

/// What one position (character, word, gap or spot) draws, whether or not it changes.
///
/// `u` decides (the position changes when `u < dial`); `detail` picks what the change is. Both
/// are drawn for every position, so the stream, and with it every detail, does not depend on
/// the dial.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    pub u: f64,
    pub detail: u64,
}

impl Draw {
    pub fn next(rng: &mut Rng) -> Draw {
        Draw { u: rng.random::<f64>(), detail: rng.random::<u64>() }
    }

    /// Whether this position changes at `dial`.
    pub fn hits(self, dial: f64) -> bool {
        self.u < dial
    }

    /// An index below `n` (> 0) from the low 32 bits of the detail.
    pub fn pick(self, n: usize) -> usize {
        ((self.detail & 0xffff_ffff) as usize) % n
    }

    /// A second, independent index below `n` (> 0) from the high 32 bits of the detail.
    pub fn pick_high(self, n: usize) -> usize {
        ((self.detail >> 32) as usize) % n
    }
}

/// The dial as the perturbations use it: NaN is 0, and values are clamped into `[0, 1]`.
pub(crate) fn clamp_dial(dial: f64) -> f64 {
    if dial.is_nan() { 0.0 } else { dial.clamp(0.0, 1.0) }
}

/// Byte ranges of the maximal runs of alphabetic characters (`char::is_alphabetic`).
///
/// Combining marks are not alphabetic, so they end a run; edits that keep a run's first and
/// last character therefore never move a mark off its base.
pub(crate) fn alphabetic_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, text.len()));
    }
    runs
}

/// Byte ranges of the whitespace-separated tokens.
pub(crate) fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// Whether the run `text[start..end]` stands alone as a word: the characters just before and
/// after it are neither alphanumeric nor an apostrophe (so "don" in "don't" and "pm" in "3pm"
/// are not words to replace).
pub(crate) fn is_free_word(text: &str, start: usize, end: usize) -> bool {
    let joins = |c: char| c.is_alphanumeric() || c == '\'' || c == '\u{2019}';
    !text[..start].chars().next_back().is_some_and(joins)
        && !text[end..].chars().next().is_some_and(joins)
}

/// `word` re-cased like `original`: all upper case if `original` is (and has two or more
/// letters), else with the first letter upper-cased if `original`'s is.
pub(crate) fn match_case(original: &str, word: &str) -> String {
    let mut letters = original.chars().filter(|c| c.is_alphabetic());
    let first_upper = letters.next().is_some_and(char::is_uppercase);
    let rest: Vec<char> = letters.collect();
    if first_upper && !rest.is_empty() && rest.iter().all(|c| c.is_uppercase()) {
        return word.to_uppercase();
    }
    if first_upper {
        let mut chars = word.chars();
        return match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
    }
    word.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_tokens_split_where_stated() {
        let text = "Don't book 3pm café!";
        let runs: Vec<&str> = alphabetic_runs(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(runs, ["Don", "t", "book", "pm", "café"]);
        let toks: Vec<&str> = tokens(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(toks, ["Don't", "book", "3pm", "café!"]);
        let free: Vec<&str> = alphabetic_runs(text)
            .into_iter()
            .filter(|&(s, e)| is_free_word(text, s, e))
            .map(|(s, e)| &text[s..e])
            .collect();
        assert_eq!(free, ["book", "café"]);
    }

    #[test]
    fn case_follows_the_original() {
        assert_eq!(match_case("Book", "reserve"), "Reserve");
        assert_eq!(match_case("BOOK", "reserve"), "RESERVE");
        assert_eq!(match_case("book", "reserve"), "reserve");
        assert_eq!(match_case("I", "me"), "Me");
    }

    #[test]
    fn dial_is_clamped() {
        assert_eq!(clamp_dial(f64::NAN), 0.0);
        assert_eq!(clamp_dial(-1.0), 0.0);
        assert_eq!(clamp_dial(3.0), 1.0);
        assert_eq!(clamp_dial(0.25), 0.25);
    }
}
