//! The terminal summary: plain text that reads without colour.
//!
//! ```text
//! stressor · vision-adversarial · seed 42
//! target  fashion-cnn (builtin)   data  fashion-mnist/test  n=1000
//! steady state  clean_accuracy 0.912 [0.893, 0.928] n=1000
//! step pgd-linf (PGD L∞, 10 steps)
//!   ε        robust acc            success
//!   0.0100   0.612 [0.581, 0.642]  0.329
//! gates
//!   PASS  steady clean_accuracy >= 0.850     observed 0.912 [0.893, 0.928]
//!   FAIL  pgd-linf robust_accuracy >= 0.300  observed 0.120 [0.100, 0.140] at epsilon=0.0310
//! verdict FAIL (1 of 2 gates failed)
//! ```
//!
//! A system step prints one row for the whole run and one per window, like a sweep prints one
//! row per dial value:
//!
//! ```text
//! step system (load 2s@20 → 1s@100 → 7s@20 with faults slow)
//!   window     requests  p50 ms  p99 ms  error rate  accuracy              throughput /s  time to recover
//!   whole run  280       12.40   131.0   0.004       0.921 [0.883, 0.948]  27.90          1.000 s (worst)
//!   baseline   40        11.90   14.20   0.000       0.925 [0.801, 0.974]  20.00          -
//!   slow       40        125.0   140.0   0.000       0.900 [0.769, 0.960]  20.00          1.000 s
//!   whole-run latency  p90 25.10 ms  p99.9 139.0 ms  max 141.0 ms
//! ```
//!
//! The page (`summary/page.rs`) writes the header, gates, warnings and verdict and hands each
//! step to its family: `vision.rs` (steady state, sweeps, comparisons and summaries),
//! `system.rs` (one row per window), `drift.rs` (one row per retraining policy) and
//! `recsys.rs` (one row per fallback policy or reference run, one per fault window and
//! policy), `chatbot.rs` (one row per dial value) and `wargame.rs` (per blue team, one row
//! per inject and the first impact figures); `layout.rs` holds what they share (tables, headings, control-character escaping).

mod chatbot;
mod drift;
mod layout;
mod page;
mod recsys;
mod system;
mod vision;
mod wargame;

pub use page::{SummaryConfig, to_string, write};
