//! stressor-text's integration tests, in one binary: the perturbations' properties (dial 0 is the
//! identity, seeds reproduce, dials nest, any text is accepted) and the word-substitution attack
//! against oracles whose answers are known.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod attack;
mod properties;
