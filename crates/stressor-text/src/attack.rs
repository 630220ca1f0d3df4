//! A black-box word-substitution attack in TextFooler's style.
//!
//! Jin et al., *Is BERT Really Robust? A Strong Baseline for Natural Language Attack on Text
//! Classification and Entailment* (AAAI 2020), as TextAttack's `textfooler` recipe runs it, with
//! what we have in place of its learned parts:
//!
//! 1. **Importance by deletion.** One query with the original text (if the model already misses
//!    the true label, the attack stops: [`AttackOutcome::skipped`]), then one query per
//!    replaceable word with that word deleted, in one batch. A word's importance is the drop in
//!    the true label's probability, plus 1 when its deletion alone changes the label
//!    (TextFooler adds the rise of the new label's probability, which a black box that returns
//!    only the true label's probability does not give). Only words the attack could replace are
//!    scored (not stopwords, with WordNet synonyms): TextFooler scores every word and filters
//!    later, which spends queries on words it will never change.
//! 2. **Greedy replacement.** In order of importance, every WordNet synonym of the word
//!    ([`crate::wordnet`]; TextFooler takes the 50 nearest counter-fitted embedding neighbours
//!    with cosine ≥ 0.5 and a part-of-speech match instead) is put in its place, case kept; the
//!    candidates that keep the text similar enough are queried in one batch. If some change the
//!    label, the most similar of them is taken and the attack succeeds; otherwise the one that
//!    lowers the true label's probability most is kept if it lowers it at all.
//! 3. **Stops** at success, when the budget has no query left, when `max_changed_share` of the
//!    words have changed, or when the words run out.
//!
//! **Similarity.** TextFooler keeps candidates whose Universal Sentence Encoder cosine with the
//! original is high (0.84 in TextAttack's recipe). Without an encoder, stressor uses the cosine
//! of character-trigram counts of the lower-cased texts ([`similarity`]): it needs no model, it
//! is deterministic, it falls as more of the text changes and it penalises long replacements
//! more than short ones. It measures surface change, not meaning; meaning is guarded by the
//! candidates being WordNet synonyms. Its scale is not USE's: one word replaced in a
//! ten-word query gives about 0.8.
//!
//! **Budget.** Every text sent to the model counts as one query, batched or not; a batch that
//! would pass the budget is cut to what is left (deletion scores for the words not sent are
//! missing, and those words come last). [`AttackOutcome::queries`] is the exact count.

use std::collections::HashMap;

use crate::draw::{alphabetic_runs, match_case};
use crate::words::replaceable;

/// What the model says about one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    /// The predicted label, or `None` when the model gives none (a decline, an out-of-scope
    /// answer, a failed call). Anything but `Some(true_label)` counts as a miss.
    pub label: Option<u32>,
    /// The probability (or any score that falls as the model moves away from it) the model
    /// gives to the original, true label.
    pub true_prob: f32,
}

impl From<(Option<u32>, f32)> for Answer {
    fn from((label, true_prob): (Option<u32>, f32)) -> Self {
        Answer { label, true_prob }
    }
}

/// Limits of one attack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackConfig {
    /// Texts the model may be asked about, in all (the original included).
    pub query_budget: usize,
    /// Largest share of the text's words (alphabetic runs) that may change; the count allowed
    /// is `floor(max_changed_share × words)`.
    pub max_changed_share: f64,
    /// Smallest character-trigram cosine ([`similarity`]) between the original and a candidate.
    pub min_similarity: f64,
}

impl Default for AttackConfig {
    /// 500 queries, a quarter of the words, similarity 0.6: stressor's choices for short chatbot
    /// queries, not TextFooler's (which has no change limit and a USE threshold on another
    /// scale).
    fn default() -> Self {
        AttackConfig { query_budget: 500, max_changed_share: 0.25, min_similarity: 0.6 }
    }
}

/// The result of one attack. A failed attack is a result, not an error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AttackOutcome {
    /// The text at the end: the adversarial text on success, the best found otherwise.
    pub perturbed: String,
    /// Texts sent to the model, exactly.
    pub queries: usize,
    /// Whether the model's label for `perturbed` is not the true label.
    pub success: bool,
    /// Words replaced.
    pub changed_words: usize,
    /// [`similarity`] of `perturbed` to the original.
    pub similarity: f64,
    /// The model already missed the original (one query spent, nothing changed, no success).
    pub skipped: bool,
}

/// The model broke the oracle's contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// The model returned a different number of answers than texts it was given.
    #[error("the model answered {got} times for {asked} texts")]
    AnswerCount {
        /// Texts sent.
        asked: usize,
        /// Answers returned.
        got: usize,
    },
}

/// The model as the attack sees it: a batch of texts in, one [`Answer`] per text out, in order.
pub type Oracle<'a> = dyn FnMut(&[String]) -> Vec<Answer> + 'a;

/// Cosine similarity of the character-trigram counts of the two lower-cased texts, each padded
/// with a space at both ends; 1 for equal texts (two empty texts included), in `[0, 1]`.
///
/// ```
/// use stressor_text::attack::similarity;
/// assert_eq!(similarity("Book a flight", "book a flight"), 1.0);
/// assert!(similarity("book a flight", "reserve a flight") > 0.4);
/// assert!(similarity("book a flight", "what is my balance") < 0.2);
/// ```
pub fn similarity(a: &str, b: &str) -> f64 {
    fn trigrams(text: &str) -> HashMap<[char; 3], u32> {
        let chars: Vec<char> = std::iter::once(' ')
            .chain(text.chars().flat_map(char::to_lowercase))
            .chain([' '])
            .collect();
        let mut counts = HashMap::new();
        for w in chars.windows(3) {
            *counts.entry([w[0], w[1], w[2]]).or_insert(0) += 1;
        }
        counts
    }
    let (ta, tb) = (trigrams(a), trigrams(b));
    let norm =
        |t: &HashMap<[char; 3], u32>| t.values().map(|&c| f64::from(c).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(&ta), norm(&tb));
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    let dot: f64 =
        ta.iter().filter_map(|(k, &c)| tb.get(k).map(|&d| f64::from(c) * f64::from(d))).sum();
    (dot / (na * nb)).min(1.0)
}

/// Counts queries against the budget and checks the answers.
struct Budgeted<'m, 'a> {
    model: &'m mut Oracle<'a>,
    left: usize,
    used: usize,
}

impl Budgeted<'_, '_> {
    /// Asks about as many of `texts` as the budget allows, in order.
    fn ask(&mut self, mut texts: Vec<String>) -> Result<Vec<Answer>, AttackError> {
        texts.truncate(self.left);
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let answers = (self.model)(&texts);
        self.left -= texts.len();
        self.used += texts.len();
        if answers.len() != texts.len() {
            return Err(AttackError::AnswerCount { asked: texts.len(), got: answers.len() });
        }
        Ok(answers)
    }
}

/// `text` with the byte range `start..end` replaced by `with`; an empty `with` also takes one
/// neighbouring space so that deleting a word leaves no double space.
fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    let (mut start, mut end) = (start, end);
    if with.is_empty() {
        if text[end..].starts_with(' ') {
            end += 1;
        } else if text[..start].ends_with(' ') {
            start -= 1;
        }
    }
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..start]);
    out.push_str(with);
    out.push_str(&text[end..]);
    out
}

/// Runs the attack on `text`, whose true label is `true_label`, against `model`.
///
/// # Errors
/// [`AttackError::AnswerCount`] when the model returns a different number of answers than
/// texts; the queries it took still count.
///
/// # Example
/// ```
/// use stressor_text::{Answer, AttackConfig, attack};
/// // A keyword model: label 0 ("booking") while "book" or "reserve" is in the text.
/// let mut model = |texts: &[String]| -> Vec<Answer> {
///     texts.iter().map(|t| {
///         let hit = t.split(' ').any(|w| w == "book" || w == "reserve");
///         Answer { label: Some(if hit { 0 } else { 1 }), true_prob: if hit { 0.9 } else { 0.1 } }
///     }).collect()
/// };
/// let config = AttackConfig { min_similarity: 0.0, max_changed_share: 1.0, ..AttackConfig::default() };
/// let outcome = attack("book a table", 0, &mut model, &config).unwrap();
/// assert!(outcome.success);
/// assert_eq!(outcome.changed_words, 1);
/// assert!(!outcome.perturbed.contains("book"));
/// ```
pub fn attack(
    text: &str,
    true_label: u32,
    model: &mut Oracle<'_>,
    config: &AttackConfig,
) -> Result<AttackOutcome, AttackError> {
    let mut oracle = Budgeted { model, left: config.query_budget, used: 0 };
    let mut outcome = AttackOutcome {
        perturbed: text.to_owned(),
        queries: 0,
        success: false,
        changed_words: 0,
        similarity: 1.0,
        skipped: false,
    };
    let Some(first) = oracle.ask(vec![text.to_owned()])?.pop() else {
        return Ok(outcome);
    };
    outcome.queries = oracle.used;
    if first.label != Some(true_label) {
        outcome.skipped = true;
        return Ok(outcome);
    }
    let words = replaceable(text);
    let max_changes = (config.max_changed_share.clamp(0.0, 1.0)
        * alphabetic_runs(text).len() as f64)
        .floor() as usize;

    // 1. Importance by deletion.
    let deleted: Vec<String> = words.iter().map(|&(s, e, _)| splice(text, s, e, "")).collect();
    let scores = oracle.ask(deleted)?;
    let mut order: Vec<(usize, f32)> = (0..words.len())
        .map(|i| {
            let importance = scores.get(i).map_or(f32::NEG_INFINITY, |a| {
                first.true_prob - a.true_prob + if a.label != Some(true_label) { 1.0 } else { 0.0 }
            });
            (i, importance)
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));

    // 2. Greedy replacement, on the original's byte ranges (replacements shift later ranges:
    //    `current` is rebuilt from the original and the chosen words each time).
    let mut chosen: Vec<Option<String>> = vec![None; words.len()];
    let render = |chosen: &[Option<String>]| {
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        for (&(s, e, _), c) in words.iter().zip(chosen) {
            if let Some(c) = c {
                out.push_str(&text[last..s]);
                out.push_str(c);
                last = e;
            }
        }
        out.push_str(&text[last..]);
        out
    };
    let mut current_prob = first.true_prob;
    for (i, _) in order {
        if outcome.changed_words >= max_changes || oracle.left == 0 {
            break;
        }
        let (s, e, syns) = words[i];
        let mut candidates: Vec<(String, String, f64)> = Vec::new();
        for syn in syns {
            let word = match_case(&text[s..e], syn);
            chosen[i] = Some(word.clone());
            let candidate = render(&chosen);
            let sim = similarity(text, &candidate);
            if sim >= config.min_similarity {
                candidates.push((word, candidate, sim));
            }
        }
        chosen[i] = None;
        let answers = oracle.ask(candidates.iter().map(|c| c.1.clone()).collect())?;
        let flip = answers
            .iter()
            .zip(&candidates)
            .filter(|(a, _)| a.label != Some(true_label))
            .max_by(|x, y| x.1.2.total_cmp(&y.1.2));
        if let Some((_, (word, candidate, sim))) = flip {
            chosen[i] = Some(word.clone());
            outcome.perturbed = candidate.clone();
            outcome.similarity = *sim;
            outcome.changed_words += 1;
            outcome.success = true;
            break;
        }
        let best =
            answers.iter().zip(&candidates).min_by(|x, y| x.0.true_prob.total_cmp(&y.0.true_prob));
        if let Some((answer, (word, candidate, sim))) = best
            && answer.true_prob < current_prob
        {
            current_prob = answer.true_prob;
            chosen[i] = Some(word.clone());
            outcome.perturbed = candidate.clone();
            outcome.similarity = *sim;
            outcome.changed_words += 1;
        }
    }
    outcome.queries = oracle.used;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_deletes_one_space_with_the_word() {
        assert_eq!(splice("book a flight", 0, 4, ""), "a flight");
        assert_eq!(splice("book a flight", 7, 13, ""), "book a");
        assert_eq!(splice("book", 0, 4, ""), "");
        assert_eq!(splice("book a flight", 0, 4, "reserve"), "reserve a flight");
    }

    #[test]
    fn similarity_is_a_cosine() {
        assert_eq!(similarity("", ""), 1.0);
        assert_eq!(similarity("", "x"), 0.0);
        let one = similarity(
            "can you book a flight to paris for me",
            "can you reserve a flight to paris for me",
        );
        let two = similarity(
            "can you book a flight to paris for me",
            "can you reserve a flying to paris for me",
        );
        assert!(one > two && two > 0.0 && one < 1.0, "{one} {two}");
    }
}
