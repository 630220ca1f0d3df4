//! Integration tests of stressor-calibration: reference values, properties and the
//! simulated guarantee of the handoff threshold.

use stressor_core::Seed;

mod handoff;
mod properties;
mod reference;

/// Uniform numbers in [0, 1) from splitmix64 via `Seed::derive_index`: a counter-based stream,
/// so the tests need no `rand`.
pub(crate) struct Uniform {
    seed: Seed,
    counter: u64,
}

impl Uniform {
    pub(crate) fn new(seed: u64) -> Self {
        Uniform { seed: Seed::new(seed), counter: 0 }
    }

    pub(crate) fn next(&mut self) -> f64 {
        self.counter += 1;
        (self.seed.derive_index(self.counter).value() >> 11) as f64 / (1_u64 << 53) as f64
    }
}
