//! Word-level perturbations: WordNet synonyms, casing and spoken fillers.

use stressor_core::Rng;

use crate::draw::{Draw, alphabetic_runs, is_free_word, match_case, tokens};
use crate::stopwords::is_stopword;
use crate::wordnet;

/// The WordNet synonyms of a free word (lower-cased), or none when it is a stopword, not ASCII
/// or not in the table.
pub(crate) fn candidates(word: &str) -> &'static [Box<str>] {
    if !word.is_ascii() {
        return &[];
    }
    let lower = word.to_ascii_lowercase();
    if is_stopword(&lower) { &[] } else { wordnet::synonyms(&lower) }
}

/// The byte ranges of the words `synonyms` and the attack may replace: free alphabetic runs
/// (not part of "don't" or "3pm") that are not stopwords and have WordNet synonyms, with those
/// synonyms.
pub(crate) fn replaceable(text: &str) -> Vec<(usize, usize, &'static [Box<str>])> {
    alphabetic_runs(text)
        .into_iter()
        .filter(|&(s, e)| is_free_word(text, s, e))
        .filter_map(|(s, e)| {
            let syns = candidates(&text[s..e]);
            (!syns.is_empty()).then_some((s, e, syns))
        })
        .collect()
}

pub(crate) fn synonyms(text: &str, share: f64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for (start, end, syns) in replaceable(text) {
        let draw = Draw::next(rng);
        if draw.hits(share) {
            out.push_str(&text[last..start]);
            out.push_str(&match_case(&text[start..end], &syns[draw.pick(syns.len())]));
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Giskard's three casing transformations, applied per word here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Casing {
    Upper,
    Lower,
    Title,
}

pub(crate) fn casing(text: &str, share: f64, rng: &mut Rng) -> String {
    let casing = [Casing::Upper, Casing::Lower, Casing::Title][Draw::next(rng).pick(3)];
    let mut out = String::with_capacity(text.len() + 4);
    let mut last = 0;
    for (start, end) in tokens(text) {
        if !Draw::next(rng).hits(share) {
            continue;
        }
        out.push_str(&text[last..start]);
        let token = &text[start..end];
        match casing {
            Casing::Upper => out.push_str(&token.to_uppercase()),
            Casing::Lower => out.push_str(&token.to_lowercase()),
            Casing::Title => {
                let mut chars = token.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(&chars.as_str().to_lowercase());
                }
            }
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// The fillers, each followed by a space where inserted.
pub(crate) const FILLERS: [&str; 10] =
    ["um", "uh", "like", "you know", "I mean", "well", "so", "actually", "basically", "please"];

pub(crate) fn filler(text: &str, p: f64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for (start, _) in tokens(text) {
        let draw = Draw::next(rng);
        if draw.hits(p) {
            out.push_str(&text[last..start]);
            out.push_str(FILLERS[draw.pick(FILLERS.len())]);
            out.push(' ');
            last = start;
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use stressor_core::Seed;

    use super::*;

    #[test]
    fn synonyms_replace_content_words_only() {
        let text = "Book the cheapest flight, don't wait";
        for seed in 0..30 {
            let out = synonyms(text, 1.0, &mut Seed::new(seed).rng());
            let words: Vec<&str> = out.split(' ').collect();
            assert_eq!(words.len(), text.split(' ').count(), "{out}");
            assert!(words[0].starts_with(char::is_uppercase), "{out}");
            assert_ne!(words[0], "Book");
            assert_eq!(words[1], "the");
            assert!(out.contains("don't"), "{out}");
            let wait = wordnet::synonyms("wait");
            assert!(wait.iter().any(|s| **s == *words[words.len() - 1]), "{out}");
        }
    }

    #[test]
    fn casing_recases_whole_tokens() {
        let text = "Book a Flight to PARIS";
        let outs: Vec<String> =
            (0..30).map(|s| casing(text, 1.0, &mut Seed::new(s).rng())).collect();
        assert!(outs.contains(&"BOOK A FLIGHT TO PARIS".to_owned()));
        assert!(outs.contains(&"book a flight to paris".to_owned()));
        assert!(outs.contains(&"Book A Flight To Paris".to_owned()));
        assert_eq!(outs.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    }

    #[test]
    fn fillers_go_into_gaps() {
        let out = filler("book a flight", 1.0, &mut Seed::new(1).rng());
        assert_eq!(out.split(' ').filter(|w| ["book", "a", "flight"].contains(w)).count(), 3);
        let stripped: Vec<&str> = out.split(' ').collect();
        assert!(stripped.len() >= 6, "{out}");
        assert!(out.ends_with("flight"));
    }
}
