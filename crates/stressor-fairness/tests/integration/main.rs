//! Integration tests of stressor-fairness: Fairlearn and AIF360 reference values, and the
//! invariants of the metrics and their intervals.

mod properties;
mod reference;
