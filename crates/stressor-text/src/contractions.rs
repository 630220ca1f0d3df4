//! Contractions, expanded and contracted, after CheckList's maps.
//!
//! `EXPAND` and `CONTRACT` are CheckList's `Perturb.expand_contractions` and `Perturb.contract`
//! maps (Ribeiro et al. 2020, `checklist/perturb.py`), lower-cased (CheckList lists "I'm" and
//! "i'm" both; matching here ignores case). The two are not inverses ("he's" expands to "he
//! is", "who have" contracts to "who've"), as in CheckList.

use stressor_core::Rng;

use crate::draw::{Draw, match_case};

const EXPAND: [(&str, &str); 73] = [
    ("ain't", "is not"),
    ("aren't", "are not"),
    ("can't", "cannot"),
    ("can't've", "cannot have"),
    ("could've", "could have"),
    ("couldn't", "could not"),
    ("didn't", "did not"),
    ("doesn't", "does not"),
    ("don't", "do not"),
    ("hadn't", "had not"),
    ("hasn't", "has not"),
    ("haven't", "have not"),
    ("he'd", "he would"),
    ("he'd've", "he would have"),
    ("he'll", "he will"),
    ("he's", "he is"),
    ("how'd", "how did"),
    ("how'd'y", "how do you"),
    ("how'll", "how will"),
    ("how's", "how is"),
    ("i'd", "i would"),
    ("i'll", "i will"),
    ("i'm", "i am"),
    ("i've", "i have"),
    ("isn't", "is not"),
    ("it'd", "it would"),
    ("it'll", "it will"),
    ("it's", "it is"),
    ("ma'am", "madam"),
    ("might've", "might have"),
    ("mightn't", "might not"),
    ("must've", "must have"),
    ("mustn't", "must not"),
    ("needn't", "need not"),
    ("oughtn't", "ought not"),
    ("shan't", "shall not"),
    ("she'd", "she would"),
    ("she'll", "she will"),
    ("she's", "she is"),
    ("should've", "should have"),
    ("shouldn't", "should not"),
    ("that'd", "that would"),
    ("that's", "that is"),
    ("there'd", "there would"),
    ("there's", "there is"),
    ("they'd", "they would"),
    ("they'll", "they will"),
    ("they're", "they are"),
    ("they've", "they have"),
    ("wasn't", "was not"),
    ("we'd", "we would"),
    ("we'll", "we will"),
    ("we're", "we are"),
    ("we've", "we have"),
    ("weren't", "were not"),
    ("what're", "what are"),
    ("what's", "what is"),
    ("when's", "when is"),
    ("where'd", "where did"),
    ("where's", "where is"),
    ("where've", "where have"),
    ("who'll", "who will"),
    ("who's", "who is"),
    ("who've", "who have"),
    ("why's", "why is"),
    ("won't", "will not"),
    ("would've", "would have"),
    ("wouldn't", "would not"),
    ("you'd", "you would"),
    ("you'd've", "you would have"),
    ("you'll", "you will"),
    ("you're", "you are"),
    ("you've", "you have"),
];

/// CheckList's contract map; "cannot" is its one single-word key.
const CONTRACT: [(&str, &str); 54] = [
    ("are not", "aren't"),
    ("cannot", "can't"),
    ("could not", "couldn't"),
    ("did not", "didn't"),
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("had not", "hadn't"),
    ("has not", "hasn't"),
    ("have not", "haven't"),
    ("he is", "he's"),
    ("how did", "how'd"),
    ("how is", "how's"),
    ("i am", "i'm"),
    ("i will", "i'll"),
    ("i would", "i'd"),
    ("is not", "isn't"),
    ("it is", "it's"),
    ("it will", "it'll"),
    ("it would", "it'd"),
    ("might not", "mightn't"),
    ("must not", "mustn't"),
    ("need not", "needn't"),
    ("ought not", "oughtn't"),
    ("shall not", "shan't"),
    ("she is", "she's"),
    ("she will", "she'll"),
    ("she would", "she'd"),
    ("should not", "shouldn't"),
    ("that is", "that's"),
    ("that would", "that'd"),
    ("there is", "there's"),
    ("there would", "there'd"),
    ("they are", "they're"),
    ("they will", "they'll"),
    ("they would", "they'd"),
    ("was not", "wasn't"),
    ("we are", "we're"),
    ("we will", "we'll"),
    ("we would", "we'd"),
    ("were not", "weren't"),
    ("what are", "what're"),
    ("what is", "what's"),
    ("when is", "when's"),
    ("where did", "where'd"),
    ("where is", "where's"),
    ("who have", "who've"),
    ("who is", "who's"),
    ("who will", "who'll"),
    ("why is", "why's"),
    ("will not", "won't"),
    ("would not", "wouldn't"),
    ("you are", "you're"),
    ("you will", "you'll"),
    ("you would", "you'd"),
];

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Words for contractions: runs of letters, with apostrophes between letters inside them.
fn words(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_alphabetic() {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        let mut j = i + 1;
        while j < chars.len()
            && (chars[j].1.is_alphabetic()
                || (is_apostrophe(chars[j].1)
                    && chars.get(j + 1).is_some_and(|c| c.1.is_alphabetic())))
        {
            j += 1;
        }
        spans.push((start, chars.get(j).map_or(text.len(), |c| c.0)));
        i = j;
    }
    spans
}

/// A place where a contraction can be expanded or an expansion contracted: the byte range it
/// covers and its replacement (lower case, before re-casing).
struct Spot {
    start: usize,
    end: usize,
    replacement: &'static str,
}

fn spots(text: &str) -> Vec<Spot> {
    let words = words(text);
    let lower = |(s, e): (usize, usize)| text[s..e].to_lowercase().replace('\u{2019}', "'");
    let mut spots = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (start, end) = words[i];
        let word = lower(words[i]);
        if let Some(replacement) = lookup(&EXPAND, &word).or_else(|| lookup(&CONTRACT, &word)) {
            spots.push(Spot { start, end, replacement });
        } else if let Some(&(next_start, next_end)) = words.get(i + 1)
            && text[end..next_start] == *" "
            && let Some(replacement) = lookup(&CONTRACT, &format!("{word} {}", lower(words[i + 1])))
        {
            spots.push(Spot { start, end: next_end, replacement });
            i += 1;
        }
        i += 1;
    }
    spots
}

pub(crate) fn contractions(text: &str, share: f64, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut last = 0;
    for spot in spots(text) {
        if !Draw::next(rng).hits(share) {
            continue;
        }
        out.push_str(&text[last..spot.start]);
        let original = &text[spot.start..spot.end];
        // "I" stays upper case whatever the original's case said ("i'm" keeps CheckList's "i").
        let replacement = match_case(original, spot.replacement);
        out.push_str(&replacement);
        last = spot.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use stressor_core::Seed;

    use super::*;

    fn all(text: &str) -> String {
        contractions(text, 1.0, &mut Seed::new(0).rng())
    }

    #[test]
    fn expands_and_contracts_keeping_the_first_letters_case() {
        assert_eq!(all("I don't think it is ready"), "I do not think it's ready");
        assert_eq!(all("Don\u{2019}t cancel, I cannot fly"), "Do not cancel, I can't fly");
        assert_eq!(all("WE ARE late"), "WE'RE late");
        assert_eq!(all("What's my balance?"), "What is my balance?");
        assert_eq!(all("no spots here"), "no spots here");
    }

    #[test]
    fn maps_have_unique_keys() {
        let mut keys: Vec<&str> = EXPAND.iter().chain(&CONTRACT).map(|(k, _)| *k).collect();
        keys.sort_unstable();
        assert!(keys.windows(2).all(|w| w[0] != w[1]));
    }
}
