//! Text perturbations with a dial, seeded, each with its source stated; and a black-box
//! word-substitution attack.
//!
//! [`Perturbation`] is the catalogue of nine perturbations a chatbot or text classifier meets in
//! the wild: keyboard typos (Giskard), character swaps, drops and insertions (TextAttack,
//! nlpaug), WordNet synonyms, contractions (CheckList), casing (Giskard), punctuation
//! (CheckList, Giskard) and spoken fillers. Each takes a dial in `[0, 1]` (a rate, a share or a
//! probability: [`Perturbation::dial_name`]) and a [`Rng`](stressor_core::Rng), and names where
//! its method and defaults come from ([`Perturbation::source`]).
//!
//! The properties every perturbation keeps (tested with proptest in `tests/properties.rs`):
//! - dial 0 returns the text unchanged, and any `&str` goes in without a panic (empty, emoji,
//!   combining marks, very long); the output is valid UTF-8 by construction (the code edits
//!   `char`s, never bytes);
//! - the same seed gives the same output;
//! - the random numbers drawn do not depend on the dial: every position (character, word, gap,
//!   spot) draws one uniform `u` and its details whether or not it changes, and changes when
//!   `u < dial`. With the same seed, the edits at a lower dial are a subset of those at a
//!   higher one, so a curve of accuracy over the dial is a curve over nested inputs.
//!   (`typos` is nested in its decisions; where a transposition meets the next character's
//!   edit, the transposition wins: see [`Perturbation::Typos`].)
//!
//! [`attack`] is a black-box word-substitution attack in TextFooler's style (importance by
//! deletion, greedy WordNet synonym replacement) over any model given as a closure, with a query
//! budget that every query counts against.
//!
//! Non-goals: calling a model, reading files (the WordNet table is embedded), languages other
//! than English, parallelism (callers split their texts).
//!
//! ```
//! use stressor_core::Seed;
//! use stressor_text::Perturbation;
//! let text = "Can you book a flight to Paris for tomorrow morning?";
//! let typo: Perturbation = "typos".parse().unwrap();
//! let noisy = typo.apply(text, 0.1, &mut Seed::new(7).rng());
//! assert_eq!(noisy, typo.apply(text, 0.1, &mut Seed::new(7).rng()));
//! assert_eq!(typo.apply(text, 0.0, &mut Seed::new(7).rng()), text);
//! ```

#![warn(missing_docs)]

pub mod attack;
mod chars;
mod contractions;
mod draw;
mod keyboard;
mod perturbation;
mod punctuation;
pub mod stopwords;
pub mod wordnet;
mod words;

pub use attack::{Answer, AttackConfig, AttackError, AttackOutcome, attack};
pub use perturbation::{ParsePerturbationError, Perturbation};
