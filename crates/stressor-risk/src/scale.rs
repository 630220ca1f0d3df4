//! The documented mappings from measured quantities to the classic FMEA 1–10 scales, the
//! AIAG & VDA (2019) action priority and the 5 × 5 risk matrix.
//!
//! Every mapping is a table of lower bounds, checked at its boundaries by tests; `docs/risk.md`
//! prints the same tables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Severity lower bounds: impact (share of the primary function lost while the failure acts)
/// at or above `bound` scores `s`. The classic wording: 1 no effect; 2–4 minor defects noticed
/// by discriminating / some / most customers; 5 degraded secondary function; 6 loss of
/// secondary function; 7 degraded primary function; 8 loss of primary function; 9–10
/// hazardous (only for safety-critical processes, see [`severity`]).
pub const SEVERITY: [(f64, u8); 8] =
    [(0.80, 8), (0.50, 7), (0.35, 6), (0.20, 5), (0.10, 4), (0.05, 3), (0.01, 2), (0.0, 1)];

/// Occurrence lower bounds: expected failures per thousand decisions (failure rate × exposure
/// × 1 000) at or above `bound` score `o` — the classic reference frequencies (10 ≥ 100 per
/// thousand … 3 = 0.01 per thousand, 2 = 0.001).
pub const OCCURRENCE: [(f64, u8); 9] = [
    (100.0, 10),
    (50.0, 9),
    (20.0, 8),
    (10.0, 7),
    (2.0, 6),
    (0.5, 5),
    (0.1, 4),
    (0.01, 3),
    (0.001, 2),
];

/// Detection lower bounds on the probability that a failure is detected: at or above `bound`
/// scores `d` (1 almost certain … 9 remote); 0, or no detector exercised, scores 10 (no
/// detection opportunity).
pub const DETECTION: [(f64, u8); 9] = [
    (0.99, 1),
    (0.95, 2),
    (0.90, 3),
    (0.80, 4),
    (0.70, 5),
    (0.50, 6),
    (0.30, 7),
    (0.10, 8),
    (f64::MIN_POSITIVE, 9),
];

/// Detection upper bounds on timeliness: mean time to detect over the process's maximum
/// tolerable downtime at or below `bound` scores at least `d`; later than the whole tolerable
/// downtime scores 9 (detected too late to prevent the harm).
pub const TIMELINESS: [(f64, u8); 5] = [(0.05, 1), (0.10, 2), (0.25, 4), (0.50, 6), (1.0, 8)];

/// Severity of a failure that costs `impact` (share of the primary function, clamped to
/// [0, 1]). For a safety-critical process a loss of primary function (≥ 0.8) is hazardous:
/// 9 when the failure is detected (with warning), 10 when it is not.
pub fn severity(impact: f64, safety_critical: bool, detected: bool) -> u8 {
    let impact = if impact.is_nan() { 0.0 } else { impact.clamp(0.0, 1.0) };
    let s = lookup_at_least(&SEVERITY, impact).unwrap_or(1);
    if safety_critical && s == 8 { if detected { 9 } else { 10 } } else { s }
}

/// Occurrence of a failure mode that fails `rate` of exposed decisions when `exposure` of
/// decisions are exposed.
pub fn occurrence(rate: f64, exposure: f64) -> u8 {
    let per_thousand = rate.max(0.0) * exposure.max(0.0) * 1000.0;
    if per_thousand.is_nan() {
        return 10;
    }
    lookup_at_least(&OCCURRENCE, per_thousand).unwrap_or(1)
}

/// Detection score from the probability of detection (`None`: no detector exercised) and the
/// mean time to detect over the maximum tolerable downtime (`None`: not measured in time or no
/// downtime stated). The worse of the two.
pub fn detection(probability: Option<f64>, mttd_over_mtd: Option<f64>) -> u8 {
    let Some(p) = probability.filter(|p| !p.is_nan()) else { return 10 };
    let by_probability = lookup_at_least(&DETECTION, p).unwrap_or(10);
    let by_time = mttd_over_mtd
        .filter(|r| !r.is_nan())
        .map_or(1, |r| TIMELINESS.iter().find(|&&(bound, _)| r <= bound).map_or(9, |&(_, d)| d));
    by_probability.max(by_time)
}

fn lookup_at_least(table: &[(f64, u8)], x: f64) -> Option<u8> {
    table.iter().find(|&&(bound, _)| x >= bound).map(|&(_, score)| score)
}

/// The AIAG & VDA FMEA Handbook (2019) action priority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ActionPriority {
    /// High: the controls must be improved.
    H,
    /// Medium: the controls should be improved.
    M,
    /// Low: the controls could be improved.
    L,
}

impl ActionPriority {
    /// What the priority asks for.
    pub fn meaning(self) -> &'static str {
        match self {
            ActionPriority::H => "action required: improve prevention or detection",
            ActionPriority::M => "action should be taken",
            ActionPriority::L => "action could be taken",
        }
    }
}

/// The action priority of severity `s`, occurrence `o` and detection `d` (each 1–10), from the
/// DFMEA/PFMEA table as commonly reproduced from the handbook: rows by severity band
/// (9–10, 7–8, 4–6, 2–3, 1) and occurrence band (8–10, 6–7, 4–5, 2–3, 1), columns by detection
/// band (7–10, 5–6, 2–4, 1).
pub fn action_priority(s: u8, o: u8, d: u8) -> ActionPriority {
    use ActionPriority::{H, L, M};
    let column = match d {
        7.. => 0,
        5..=6 => 1,
        2..=4 => 2,
        _ => 3,
    };
    let row: [ActionPriority; 4] = match (s, o) {
        (9.., 8..) | (9.., 6..=7) => [H, H, H, H],
        (9.., 4..=5) => [H, H, H, M],
        (9.., 2..=3) => [H, M, L, L],
        (7..=8, 8..) => [H, H, H, H],
        (7..=8, 6..=7) => [H, H, H, M],
        (7..=8, 4..=5) => [H, M, M, M],
        (7..=8, 2..=3) => [M, M, L, L],
        (4..=6, 8..) => [H, H, M, M],
        (4..=6, 6..=7) => [M, M, M, L],
        (4..=6, 4..=5) => [M, L, L, L],
        (2..=3, 8..) => [M, M, L, L],
        _ => [L, L, L, L],
    };
    row[column]
}

/// The 1–5 likelihood of the risk matrix from an FMEA occurrence (1–2 → 1 … 9–10 → 5).
pub fn likelihood(o: u8) -> u8 {
    o.clamp(1, 10).div_ceil(2)
}

/// The 1–5 impact of the risk matrix from an FMEA severity (1–2 → 1 … 9–10 → 5).
pub fn impact(s: u8) -> u8 {
    s.clamp(1, 10).div_ceil(2)
}
