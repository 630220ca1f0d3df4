//! Properties every perturbation keeps, over arbitrary text.

use proptest::prelude::*;
use stressor_core::Seed;
use stressor_text::Perturbation;

fn perturbation() -> impl Strategy<Value = Perturbation> {
    proptest::sample::select(Perturbation::ALL.to_vec())
}

/// Text that exercises the edges: words, contractions, punctuation, digits, emoji, combining
/// marks, curly quotes, odd whitespace, as well as any string proptest makes.
fn text() -> impl Strategy<Value = String> {
    let piece = proptest::sample::select(vec![
        "book",
        "a",
        "flight",
        "Paris",
        "don't",
        "it is",
        "I cannot",
        "WE ARE",
        "café",
        "cafe\u{301}",
        "naïve",
        "👍🏽",
        "👨‍👩‍👧",
        "ß",
        "İstanbul",
        ",",
        "?!",
        "...",
        "3.50",
        "and/or",
        "\u{2019}",
        "\"",
        " ",
        "  ",
        "\t",
        "\n",
        "balance",
        "transfer",
        "um",
        "",
    ]);
    prop_oneof![
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.join(" ")),
        any::<String>(),
        "\\PC{0,200}",
    ]
}

/// Whether every unit (word) that `low` changed is changed the same way in `high`. Units are
/// whitespace-separated tokens for `casing` and alphabetic runs for the others (the units each
/// perturbation decides on); outputs whose units do not line up with the original's are not
/// compared.
fn nested_by_unit(p: Perturbation, original: &str, low: &str, high: &str) -> bool {
    fn units(p: Perturbation, s: &str) -> Vec<&str> {
        if p == Perturbation::Casing {
            s.split_whitespace().collect()
        } else {
            s.split(|c: char| !c.is_alphabetic()).collect()
        }
    }
    let (o, l, h) = (units(p, original), units(p, low), units(p, high));
    if o.len() != l.len() || o.len() != h.len() {
        return true;
    }
    o.iter().zip(&l).zip(&h).all(|((o, l), h)| l == o || l == h)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn dial_zero_changes_nothing(p in perturbation(), text in text(), seed in any::<u64>()) {
        prop_assert_eq!(p.apply(&text, 0.0, &mut Seed::new(seed).rng()), text.clone());
        prop_assert_eq!(p.apply(&text, f64::NAN, &mut Seed::new(seed).rng()), text.clone());
        prop_assert_eq!(p.apply(&text, -3.0, &mut Seed::new(seed).rng()), text);
    }

    #[test]
    fn same_seed_same_output(p in perturbation(), text in text(), dial in 0.0f64..=1.0, seed in any::<u64>()) {
        let a = p.apply(&text, dial, &mut Seed::new(seed).rng());
        let b = p.apply(&text, dial, &mut Seed::new(seed).rng());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn any_text_any_dial_no_panic(p in perturbation(), text in text(), dial in any::<f64>(), seed in any::<u64>()) {
        // A `String` is valid UTF-8 by type; the check is that nothing panics (slicing
        // off a char boundary would) and that the output is not emptied by a non-deleting edit.
        let out = p.apply(&text, dial, &mut Seed::new(seed).rng());
        if !text.is_empty() && !matches!(p, Perturbation::Typos | Perturbation::Punctuation) {
            prop_assert!(!out.is_empty());
        }
    }

    #[test]
    fn rng_stream_does_not_depend_on_the_dial(p in perturbation(), text in text(), low in 0.0f64..=1.0, high in 0.0f64..=1.0, seed in any::<u64>()) {
        use rand::Rng as _;
        let mut a = Seed::new(seed).rng();
        let mut b = Seed::new(seed).rng();
        p.apply(&text, low, &mut a);
        p.apply(&text, high, &mut b);
        prop_assert_eq!(a.random::<u64>(), b.random::<u64>());
    }

    #[test]
    fn word_level_edits_are_nested(
        p in proptest::sample::select(vec![
            Perturbation::CharSwap, Perturbation::CharDrop, Perturbation::CharInsert,
            Perturbation::Synonyms, Perturbation::Casing,
        ]),
        text in text(), a in 0.0f64..=1.0, b in 0.0f64..=1.0, seed in any::<u64>(),
    ) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let l = p.apply(&text, low, &mut Seed::new(seed).rng());
        let h = p.apply(&text, high, &mut Seed::new(seed).rng());
        prop_assert!(nested_by_unit(p, &text, &l, &h), "{p}: {text:?} -> {l:?} at {low}, {h:?} at {high}");
    }

    #[test]
    fn char_drop_only_removes(text in text(), dial in 0.0f64..=1.0, seed in any::<u64>()) {
        let out = Perturbation::CharDrop.apply(&text, dial, &mut Seed::new(seed).rng());
        // `out` is a subsequence of `text`.
        let mut rest = text.chars();
        prop_assert!(out.chars().all(|c| rest.any(|d| d == c)));
    }

    #[test]
    fn filler_is_nested_as_a_subsequence(text in text(), a in 0.0f64..=1.0, b in 0.0f64..=1.0, seed in any::<u64>()) {
        // Fillers inserted at the lower dial are inserted at the higher one too: the original's
        // tokens, and the low output's tokens, are subsequences of the high output's.
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let l = Perturbation::Filler.apply(&text, low, &mut Seed::new(seed).rng());
        let h = Perturbation::Filler.apply(&text, high, &mut Seed::new(seed).rng());
        let mut rest = h.split_whitespace();
        prop_assert!(l.split_whitespace().all(|w| rest.any(|x| x == w)), "{l:?} / {h:?}");
    }
}

#[test]
fn very_long_text_goes_through() {
    let text = "Can I book a flight to Paris, please? I don't know the time. 👍🏽 ".repeat(20_000);
    for p in Perturbation::ALL {
        let out = p.apply(&text, 0.5, &mut Seed::new(9).rng());
        assert!(out.len() > text.len() / 2, "{p}");
    }
}

#[test]
fn edits_grow_with_the_dial() {
    // Mean share of changed tokens over seeds, at rising dials, for a perturbation whose token
    // count is kept: non-decreasing (it is nested seed by seed).
    let text = "please transfer money from my checking account to my savings account today";
    let changed = |dial: f64| -> usize {
        (0..50)
            .map(|s| {
                let out = Perturbation::Synonyms.apply(text, dial, &mut Seed::new(s).rng());
                text.split(' ').zip(out.split(' ')).filter(|(a, b)| a != b).count()
            })
            .sum()
    };
    let counts: Vec<usize> = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0].into_iter().map(changed).collect();
    assert_eq!(counts[0], 0);
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[5] > counts[1], "{counts:?}");
}

#[test]
fn names_round_trip_and_unknown_names_say_so() {
    for p in Perturbation::ALL {
        assert_eq!(p.to_string().parse::<Perturbation>(), Ok(p));
        assert!(!p.source().is_empty());
        assert!(["rate", "probability", "share"].contains(&p.dial_name()));
    }
    let err = "typo".parse::<Perturbation>().unwrap_err();
    assert!(err.to_string().contains("typos"), "{err}");
}
