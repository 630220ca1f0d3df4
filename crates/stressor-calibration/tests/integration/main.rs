//! Integration tests of stressor-calibration: reference values and properties.

mod properties;
mod reference;
