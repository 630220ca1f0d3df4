//! Character-level perturbations: keyboard typos and per-word character swaps, drops and
//! insertions.

use stressor_core::Rng;

use crate::draw::{Draw, alphabetic_runs};
use crate::keyboard::typo_for;

/// Giskard's `TextTypoTransformation` leaves texts shorter than this (in characters) alone.
pub(crate) const TYPO_MIN_LENGTH: usize = 10;

/// The four typo kinds and Giskard's empirical probabilities for them, in tenths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Typo {
    /// 0.2: a keyboard neighbour typed before the character.
    Insert,
    /// 0.2: the character left out.
    Delete,
    /// 0.5: a keyboard neighbour typed instead.
    Replace,
    /// 0.1: the character swapped with the next one.
    Transpose,
}

impl Typo {
    fn from_tenths(t: usize) -> Typo {
        match t {
            0..=1 => Typo::Insert,
            2..=3 => Typo::Delete,
            4..=8 => Typo::Replace,
            _ => Typo::Transpose,
        }
    }
}

/// The typo decided at each character (by index in `text.chars()`), before rendering: the plan
/// is where nesting over the rate holds exactly.
pub(crate) fn typo_plan(chars: &[char], rate: f64, rng: &mut Rng) -> Vec<Option<(Typo, usize)>> {
    let mut plan = vec![None; chars.len()];
    if chars.len() < TYPO_MIN_LENGTH {
        return plan;
    }
    for (slot, c) in plan.iter_mut().zip(chars) {
        if c.is_whitespace() {
            continue;
        }
        let draw = Draw::next(rng);
        if draw.hits(rate) {
            *slot = Some((Typo::from_tenths(draw.pick(10)), draw.pick_high(6)));
        }
    }
    plan
}

pub(crate) fn typos(text: &str, rate: f64, rng: &mut Rng) -> String {
    let chars: Vec<char> = text.chars().collect();
    let plan = typo_plan(&chars, rate, rng);
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match plan[i] {
            None => out.push(c),
            Some((Typo::Insert, pick)) => {
                out.push(typo_for(c, pick));
                out.push(c);
            }
            Some((Typo::Delete, _)) => {}
            Some((Typo::Replace, pick)) => out.push(typo_for(c, pick)),
            Some((Typo::Transpose, _)) => {
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                    out.push(c);
                    i += 1;
                } else {
                    out.push(c);
                }
            }
        }
        i += 1;
    }
    out
}

/// The per-word character edit of [`char_edit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CharEdit {
    Swap,
    Drop,
    Insert,
}

/// Words (alphabetic runs) of at least this many characters are eligible (nlpaug's `min_char`).
pub(crate) const MIN_WORD_CHARS: usize = 4;

/// One edit inside each eligible word with probability `p`, first and last character kept.
pub(crate) fn char_edit(text: &str, p: f64, edit: CharEdit, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut last = 0;
    let mut word: Vec<char> = Vec::new();
    for (start, end) in alphabetic_runs(text) {
        word.clear();
        word.extend(text[start..end].chars());
        let n = word.len();
        if n < MIN_WORD_CHARS {
            continue;
        }
        let draw = Draw::next(rng);
        if !draw.hits(p) {
            continue;
        }
        out.push_str(&text[last..start]);
        match edit {
            // Swap chars i and i + 1, both inside: i in 1..=n-3.
            CharEdit::Swap => {
                let i = 1 + draw.pick(n - 3);
                word.swap(i, i + 1);
            }
            // Drop an inside char: 1..=n-2.
            CharEdit::Drop => {
                word.remove(1 + draw.pick(n - 2));
            }
            // Insert a random letter before char 1..=n-1.
            CharEdit::Insert => {
                let letter = char::from(b'a' + draw.pick_high(26) as u8);
                let upper = word.iter().all(|c| c.is_uppercase());
                word.insert(
                    1 + draw.pick(n - 1),
                    if upper { letter.to_ascii_uppercase() } else { letter },
                );
            }
        }
        out.extend(word.iter());
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use stressor_core::Seed;

    use super::*;

    #[test]
    fn typo_plan_is_nested_over_the_rate() {
        let chars: Vec<char> = "Please book me a table for two at eight tonight".chars().collect();
        for seed in 0..20 {
            let low = typo_plan(&chars, 0.1, &mut Seed::new(seed).rng());
            let high = typo_plan(&chars, 0.4, &mut Seed::new(seed).rng());
            for (l, h) in low.iter().zip(&high) {
                if l.is_some() {
                    assert_eq!(l, h);
                }
            }
            assert!(
                high.iter().filter(|e| e.is_some()).count()
                    >= low.iter().filter(|e| e.is_some()).count()
            );
        }
    }

    #[test]
    fn typo_kinds_follow_giskards_probabilities() {
        let chars: Vec<char> = "x".repeat(20_000).chars().collect();
        let plan = typo_plan(&chars, 1.0, &mut Seed::new(3).rng());
        let share = |k: Typo| {
            plan.iter().filter(|e| e.is_some_and(|(t, _)| t == k)).count() as f64 / 20_000.0
        };
        assert!((share(Typo::Insert) - 0.2).abs() < 0.015);
        assert!((share(Typo::Delete) - 0.2).abs() < 0.015);
        assert!((share(Typo::Replace) - 0.5).abs() < 0.015);
        assert!((share(Typo::Transpose) - 0.1).abs() < 0.015);
    }

    #[test]
    fn typo_count_has_mean_rate_times_non_space_chars() {
        let text = "the quick brown fox jumps over the lazy dog ".repeat(50);
        let non_space = text.chars().filter(|c| !c.is_whitespace()).count() as f64;
        let chars: Vec<char> = text.chars().collect();
        let total: usize = (0..40)
            .map(|s| {
                typo_plan(&chars, 0.05, &mut Seed::new(s).rng())
                    .iter()
                    .filter(|e| e.is_some())
                    .count()
            })
            .sum();
        let mean = total as f64 / 40.0;
        assert!((mean - 0.05 * non_space).abs() < 0.1 * 0.05 * non_space, "mean {mean}");
    }

    #[test]
    fn short_texts_get_no_typos() {
        assert_eq!(typos("book it", 1.0, &mut Seed::new(1).rng()), "book it");
    }

    #[test]
    fn char_edits_keep_first_and_last_and_skip_short_words() {
        for seed in 0..50 {
            let mut rng = Seed::new(seed).rng();
            let swapped = char_edit("cat flight", 1.0, CharEdit::Swap, &mut rng);
            assert!(swapped.starts_with("cat f") && swapped.ends_with('t'), "{swapped}");
            let mut sorted: Vec<char> = swapped[4..].chars().collect();
            sorted.sort_unstable();
            assert_eq!(sorted.iter().collect::<String>(), "fghilt");
            let dropped = char_edit("cat flight", 1.0, CharEdit::Drop, &mut rng);
            assert_eq!(dropped.chars().count(), 9);
            assert!(dropped.starts_with("cat f") && dropped.ends_with('t'));
            let inserted = char_edit("CAT FLIGHT", 1.0, CharEdit::Insert, &mut rng);
            assert_eq!(inserted.chars().count(), 11);
            assert!(inserted.chars().all(|c| c == ' ' || c.is_ascii_uppercase()), "{inserted}");
        }
    }
}
