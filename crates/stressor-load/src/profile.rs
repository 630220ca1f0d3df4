//! Load profiles: when requests are meant to start.

use std::time::Duration;

/// A stretch of an open-model profile: the arrival rate goes linearly from `start_rate` to
/// `end_rate` requests per second over `duration` (equal rates: constant; a rate of 0: a
/// pause).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Requests per second at the start.
    pub start_rate: f64,
    /// Requests per second at the end.
    pub end_rate: f64,
}

impl Stage {
    /// A stage at a constant `rate`.
    pub fn constant(duration: Duration, rate: f64) -> Stage {
        Stage { duration, start_rate: rate, end_rate: rate }
    }

    /// A stage ramping from `from` to `to`.
    pub fn ramp(duration: Duration, from: f64, to: f64) -> Stage {
        Stage { duration, start_rate: from, end_rate: to }
    }
}

/// How load is generated.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// Requests arrive on a schedule whatever the server does (arrival rate in stages); a
    /// request's latency counts from when it was meant to start, so a server that stalls is
    /// charged for the requests that queued behind the stall (coordinated omission corrected).
    Open {
        /// The stages, in order.
        stages: Vec<Stage>,
    },
    /// `users` clients each send a request, wait for the answer, and send the next, for
    /// `duration`; the rate is whatever the server sustains.
    Closed {
        /// Concurrent users.
        users: usize,
        /// How long.
        duration: Duration,
    },
}

impl Profile {
    /// An open profile at a constant `rate` for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Profile {
        Profile::Open { stages: vec![Stage::constant(duration, rate)] }
    }

    /// An open profile: `base` requests per second for `before`, a surge to `factor × base`
    /// for `surge`, and `base` again for `after` — the seed's "10× surge".
    pub fn surge(
        base: f64,
        factor: f64,
        before: Duration,
        surge: Duration,
        after: Duration,
    ) -> Profile {
        Profile::Open {
            stages: vec![
                Stage::constant(before, base),
                Stage::constant(surge, base * factor),
                Stage::constant(after, base),
            ],
        }
    }

    /// The profile's total duration.
    pub fn duration(&self) -> Duration {
        match self {
            Profile::Open { stages } => stages.iter().map(|s| s.duration).sum(),
            Profile::Closed { duration, .. } => *duration,
        }
    }

    /// The intended start offsets of an open profile, in order; empty for a closed one.
    ///
    /// Within a stage the rate is `r(t) = r₀ + (r₁ − r₀)·t/T`; the k-th arrival is where the
    /// expected count `∫₀ᵗ r = r₀t + (r₁ − r₀)t²/(2T)` reaches k (solved exactly), so a ramp
    /// sends exactly as many requests as its average rate times its length (up to rounding).
    pub fn schedule(&self) -> Vec<Duration> {
        let Profile::Open { stages } = self else { return Vec::new() };
        let mut offsets = Vec::new();
        let mut stage_start = 0.0_f64;
        // Fractional arrivals carry over between stages, so stage boundaries do not add or
        // drop requests.
        let mut carried = 0.0_f64;
        for stage in stages {
            let length = stage.duration.as_secs_f64();
            let (r0, r1) = (stage.start_rate.max(0.0), stage.end_rate.max(0.0));
            let total = (r0 + r1) / 2.0 * length;
            let mut k = 1.0 - carried;
            while k <= total + 1e-9 {
                let t = arrival_time(k, r0, r1, length);
                offsets.push(Duration::from_secs_f64(stage_start + t));
                k += 1.0;
            }
            carried = total - (k - 1.0);
            stage_start += length;
        }
        offsets
    }
}

/// The time within a stage at which the expected arrival count reaches `k`.
fn arrival_time(k: f64, r0: f64, r1: f64, length: f64) -> f64 {
    let slope = if length > 0.0 { (r1 - r0) / length } else { 0.0 };
    if slope.abs() < 1e-12 {
        return if r0 > 0.0 { k / r0 } else { length };
    }
    // r0·t + slope·t²/2 = k  →  t = (−r0 + √(r0² + 2·slope·k)) / slope
    let discriminant = (r0 * r0 + 2.0 * slope * k).max(0.0);
    ((discriminant.sqrt() - r0) / slope).clamp(0.0, length)
}

impl Stage {
    /// Parses `DURATION@RATE` (constant) or `DURATION@FROM-TO` (a ramp), e.g. `10s@100`.
    ///
    /// # Errors
    /// A message naming the text when it is neither.
    pub fn parse(text: &str) -> Result<Stage, String> {
        let (duration, rate) = text
            .split_once('@')
            .ok_or_else(|| format!("`{text}` is not DURATION@RATE, e.g. 10s@100"))?;
        let duration = stressor_core::parse_duration(duration)?;
        let number = |t: &str| -> Result<f64, String> {
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{t}` is not a rate ≥ 0"))
        };
        Ok(match rate.split_once('-') {
            Some((from, to)) => Stage::ramp(duration, number(from)?, number(to)?),
            None => Stage::constant(duration, number(rate)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_is_evenly_spaced() {
        let schedule = Profile::constant(100.0, Duration::from_secs(2)).schedule();
        assert_eq!(schedule.len(), 200);
        assert_eq!(schedule[0], Duration::from_millis(10));
        assert_eq!(schedule[199], Duration::from_secs(2));
    }

    #[test]
    fn a_ramp_sends_its_average_rate_and_speeds_up() {
        let profile =
            Profile::Open { stages: vec![Stage::ramp(Duration::from_secs(10), 0.0, 100.0)] };
        let schedule = profile.schedule();
        assert_eq!(schedule.len(), 500);
        // Half the requests come in the last 29 % of the time (√0.5 ≈ 0.707).
        let t = schedule[249].as_secs_f64();
        assert!((t - 10.0 * 0.5_f64.sqrt()).abs() < 0.01, "{t}");
        let gaps: Vec<f64> = schedule.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        assert!(gaps.windows(2).all(|g| g[1] <= g[0] + 1e-9), "arrivals speed up");
    }

    #[test]
    fn a_surge_multiplies_the_rate_for_its_window() {
        let profile = Profile::surge(
            10.0,
            10.0,
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(2),
        );
        let schedule = profile.schedule();
        assert_eq!(schedule.len(), 20 + 100 + 20);
        let in_window = schedule
            .iter()
            .filter(|t| **t > Duration::from_secs(2) && **t <= Duration::from_secs(3))
            .count();
        assert_eq!(in_window, 100);
        assert_eq!(profile.duration(), Duration::from_secs(5));
    }

    #[test]
    fn fractional_arrivals_carry_across_stages_and_pauses_send_nothing() {
        let profile = Profile::Open {
            stages: vec![
                Stage::constant(Duration::from_millis(1500), 1.0),
                Stage::constant(Duration::from_secs(3), 0.0),
                Stage::constant(Duration::from_millis(1500), 1.0),
            ],
        };
        let schedule = profile.schedule();
        // Arrivals at cumulative counts 1, 2, 3: 1.0 s, then 0.5 s and 1.5 s into the last stage.
        assert_eq!(
            schedule,
            [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(6)]
        );
        assert!(
            Profile::Closed { users: 2, duration: Duration::from_secs(1) }.schedule().is_empty()
        );
    }
}
