//! Integration tests of stressor-drift: every statistic against scipy, the multivariate tests,
//! and the recovery loop.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod multivariate;
mod recovery;
mod scipy;
