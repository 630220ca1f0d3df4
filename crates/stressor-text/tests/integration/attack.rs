//! The word-substitution attack against toy models whose answers are known.

use std::cell::Cell;

use stressor_text::attack::similarity;
use stressor_text::{Answer, AttackConfig, AttackError, attack};

/// A keyword model for the "booking" intent (label 0): the true label's probability is 0.9
/// with both "book" and "flight" in the text, 0.6 with one, and 0.2 (label 1) with neither.
fn keyword_model(texts: &[String]) -> Vec<Answer> {
    texts
        .iter()
        .map(|t| {
            let words: Vec<String> =
                t.split(|c: char| !c.is_alphabetic()).map(str::to_lowercase).collect();
            let hits = ["book", "flight"].iter().filter(|k| words.iter().any(|w| w == *k)).count();
            match hits {
                2 => Answer { label: Some(0), true_prob: 0.9 },
                1 => Answer { label: Some(0), true_prob: 0.6 },
                _ => Answer { label: Some(1), true_prob: 0.2 },
            }
        })
        .collect()
}

const TEXT: &str = "Book a cheap flight";

fn loose() -> AttackConfig {
    AttackConfig { query_budget: 1000, max_changed_share: 1.0, min_similarity: 0.0 }
}

#[test]
fn finds_the_flip_by_replacing_both_keywords() {
    let calls = Cell::new(0);
    let mut model = |texts: &[String]| {
        calls.set(calls.get() + texts.len());
        keyword_model(texts)
    };
    let outcome = attack(TEXT, 0, &mut model, &loose()).unwrap();
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.changed_words, 2);
    let lower = outcome.perturbed.to_lowercase();
    assert!(!lower.split(' ').any(|w| w == "book" || w == "flight"), "{}", outcome.perturbed);
    assert!(lower.ends_with(" a cheap ") || lower.contains(" a cheap "), "{}", outcome.perturbed);
    assert!(outcome.perturbed.starts_with(char::is_uppercase), "case kept: {}", outcome.perturbed);
    assert_eq!(keyword_model(std::slice::from_ref(&outcome.perturbed))[0].label, Some(1));
    assert_eq!(outcome.queries, calls.get());
    assert!((outcome.similarity - similarity(TEXT, &outcome.perturbed)).abs() < 1e-12);
}

#[test]
fn respects_the_budget_exactly() {
    let full = attack(TEXT, 0, &mut keyword_model, &loose()).unwrap();
    for budget in 0..=full.queries + 3 {
        let calls = Cell::new(0);
        let mut model = |texts: &[String]| {
            calls.set(calls.get() + texts.len());
            keyword_model(texts)
        };
        let config = AttackConfig { query_budget: budget, ..loose() };
        let outcome = attack(TEXT, 0, &mut model, &config).unwrap();
        assert_eq!(outcome.queries, calls.get(), "budget {budget}");
        assert!(outcome.queries <= budget, "budget {budget}: {} queries", outcome.queries);
        if budget >= full.queries {
            assert_eq!(outcome, full, "budget {budget} is enough for the whole attack");
        } else {
            // The same path as the full run, cut short: it succeeds within a cut batch or spends
            // the budget whole.
            assert!(outcome.success || outcome.queries == budget, "budget {budget}: {outcome:?}");
        }
    }
}

#[test]
fn respects_max_changed_share() {
    // 4 words; a share of 0.25 allows 1 change, which cannot remove both keywords.
    let config = AttackConfig { max_changed_share: 0.25, ..loose() };
    let outcome = attack(TEXT, 0, &mut keyword_model, &config).unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.changed_words, 1);
    assert_eq!(keyword_model(std::slice::from_ref(&outcome.perturbed))[0].true_prob, 0.6);
    let none = AttackConfig { max_changed_share: 0.2, ..loose() };
    let outcome = attack(TEXT, 0, &mut keyword_model, &none).unwrap();
    assert_eq!((outcome.changed_words, outcome.perturbed.as_str()), (0, TEXT));
}

#[test]
fn respects_min_similarity() {
    let strict = AttackConfig { min_similarity: 0.999, ..loose() };
    let outcome = attack(TEXT, 0, &mut keyword_model, &strict).unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.perturbed, TEXT);
    let full = attack(TEXT, 0, &mut keyword_model, &loose()).unwrap();
    let at_threshold = AttackConfig { min_similarity: full.similarity, ..loose() };
    let outcome = attack(TEXT, 0, &mut keyword_model, &at_threshold).unwrap();
    assert!(outcome.similarity >= full.similarity);
}

#[test]
fn an_original_already_missed_is_skipped() {
    let outcome = attack("what is my balance", 0, &mut keyword_model, &loose()).unwrap();
    assert!(outcome.skipped && !outcome.success);
    assert_eq!(outcome.queries, 1);
}

#[test]
fn a_model_that_miscounts_is_an_error() {
    let mut model = |_: &[String]| Vec::new();
    assert_eq!(
        attack(TEXT, 0, &mut model, &loose()),
        Err(AttackError::AnswerCount { asked: 1, got: 0 })
    );
}
