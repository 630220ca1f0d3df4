//! Punctuation stripped, or a final stop added.

use stressor_core::Rng;

use crate::draw::Draw;

/// Giskard's `TextPunctuationRemovalTransformation` set (less the two variation selectors its
/// string carries after "‼" and "⁉").
const PUNCTUATION: &str = "¡!¿?⸘‽“”‘’‛‟.,‚„'\"′″´˝`…:;–‑—§¶†‡/-‒‼⁇⁈⁉❛❜❝❞";

fn is_punctuation(c: char) -> bool {
    PUNCTUATION.contains(c)
}

/// A maximal run of punctuation, unless it is one character inside a word or number that is
/// part of it: an apostrophe between letters ("don't") or a point or comma between digits
/// ("3.5", "1,000").
fn runs(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_punctuation(chars[i].1) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_punctuation(chars[j].1) {
            j += 1;
        }
        let before = i.checked_sub(1).map(|k| chars[k].1);
        let after = chars.get(j).map(|c| c.1);
        let inside = j == i + 1
            && match chars[i].1 {
                '\'' | '’' => {
                    before.is_some_and(char::is_alphabetic)
                        && after.is_some_and(char::is_alphabetic)
                }
                '.' | ',' => {
                    before.is_some_and(|c| c.is_ascii_digit())
                        && after.is_some_and(|c| c.is_ascii_digit())
                }
                _ => false,
            };
        if !inside {
            spans.push((chars[i].0, chars.get(j).map_or(text.len(), |c| c.0)));
        }
        i = j;
    }
    spans
}

pub(crate) fn punctuation(text: &str, share: f64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut last = 0;
    for (start, end) in runs(text) {
        if !Draw::next(rng).hits(share) {
            continue;
        }
        out.push_str(&text[last..start]);
        // Between two word characters a space keeps the words apart ("and/or" → "and or"), as
        // Giskard's `\b[…]+\b` → " " does.
        let word_before = text[..start].chars().next_back().is_some_and(char::is_alphanumeric);
        let word_after = text[end..].chars().next().is_some_and(char::is_alphanumeric);
        if word_before && word_after {
            out.push(' ');
        }
        last = end;
    }
    // The end of the text is one more spot when it lacks final punctuation: a stop is added.
    let trimmed = text.trim_end();
    let end_draw = Draw::next(rng);
    if trimmed.chars().next_back().is_some_and(|c| !is_punctuation(c)) && end_draw.hits(share) {
        out.push_str(&text[last..trimmed.len()]);
        out.push('.');
        last = trimmed.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use stressor_core::Seed;

    use super::*;

    fn all(text: &str) -> String {
        punctuation(text, 1.0, &mut Seed::new(0).rng())
    }

    #[test]
    fn strips_runs_and_keeps_word_internal_marks() {
        assert_eq!(all("Hi, don't charge $3.50 -- ok?!"), "Hi don't charge $3.50  ok");
        assert_eq!(all("and/or \"quoted\""), "and or quoted");
        assert_eq!(all("book a flight"), "book a flight.");
        assert_eq!(all("book a flight  "), "book a flight.  ");
        assert_eq!(all(""), "");
        assert_eq!(all("..."), "");
    }
}
