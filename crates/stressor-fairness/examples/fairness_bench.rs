//! The stressor side of `bench/fairness-vs-fairlearn`: reads the rows the bench generated
//! (`DIR/y_true.u8`, `DIR/y_pred.u8`: one byte 0/1 per row; `DIR/sex.u32`, `DIR/age.u32`:
//! little-endian level codes), then times, on one thread, what the Fairlearn side times on the
//! same rows with the intersectional groups sex × age:
//!
//! - `per_call`: four tallies, one before each of demographic parity difference, demographic
//!   parity ratio, equalized odds difference and the per-group selection rates (Fairlearn
//!   groups the rows again in every call);
//! - `one_tally`: one tally, then the same four (what a monitor does per window);
//! - `bootstrap`: [`summarize_between_groups`] with 1000 resamples on the counts.
//!
//! Each is run `--repeats` times (default 20); the median wall and CPU seconds are printed as
//! one JSON object with the metric values, which the bench compares with Fairlearn's.
//!
//! Usage: `fairness_bench --data DIR [--repeats 20]`
#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use stressor_core::Seed;
use stressor_fairness::fairlearn::{self, Agg};
use stressor_fairness::{Feature, GroupCounts, Groups, RESAMPLES, summarize_between_groups};

fn main() -> Result<(), String> {
    let mut data = None;
    let mut repeats = 20_usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(value)),
            "--repeats" => repeats = value.parse().map_err(|_| format!("bad --repeats {value}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let data = data.ok_or("--data DIR is required")?;
    let y_true = read_bools(&data.join("y_true.u8"))?;
    let y_pred = read_bools(&data.join("y_pred.u8"))?;
    let sex = read_codes(&data.join("sex.u32"))?;
    let age = read_codes(&data.join("age.u32"))?;
    let groups = Groups::new(vec![
        Feature::new("sex", ["female", "male"]),
        Feature::new("age", ["<25", "25-60", ">60"]),
    ])
    .map_err(|error| error.to_string())?;
    let codes: [&[u32]; 2] = [&sex, &age];
    let tally = || groups.tally(&codes, &y_true, &y_pred).map_err(|error| error.to_string());

    let mut rates = Vec::with_capacity(groups.n_groups());

    let per_call = median_seconds(repeats, || {
        let dpd = fairlearn::demographic_parity_difference(&tally()?);
        let dpr = fairlearn::demographic_parity_ratio(&tally()?);
        let eod = fairlearn::equalized_odds_difference(&tally()?, Agg::WorstCase);
        let counts = tally()?;
        rates.clear();
        rates.extend(counts.observed().map(|(_, cell)| fairlearn::selection_rate(cell)));
        Ok(dpd + dpr + eod)
    })?;
    let one_tally = median_seconds(repeats, || {
        let mut rates = Vec::with_capacity(6);
        Ok(metrics(&tally()?, &mut rates).iter().sum())
    })?;
    let counts = tally()?;
    let bootstrap = median_seconds(repeats.min(5), || {
        let summary = summarize_between_groups(&counts, RESAMPLES, Seed::new(0));
        Ok(summary.demographic_parity_difference.value)
    })?;
    let [dpd, dpr, eod] = metrics(&counts, &mut rates);
    let rates: Vec<String> = rates.iter().map(|rate| format!("{rate:?}")).collect();
    println!(
        "{{\"rows\":{},\"per_call_seconds\":{:e},\"one_tally_seconds\":{:e},\
         \"bootstrap_seconds\":{:e},\"per_call_cpu_seconds\":{:e},\
         \"one_tally_cpu_seconds\":{:e},\"bootstrap_cpu_seconds\":{:e},\"resamples\":{RESAMPLES},\
         \"demographic_parity_difference\":{dpd:?},\"demographic_parity_ratio\":{dpr:?},\
         \"equalized_odds_difference\":{eod:?},\"selection_rate\":[{}]}}",
        y_true.len(),
        per_call.wall,
        one_tally.wall,
        bootstrap.wall,
        per_call.cpu,
        one_tally.cpu,
        bootstrap.cpu,
        rates.join(","),
    );
    Ok(())
}

/// The demographic parity difference and ratio and the equalized odds difference of `counts`,
/// and its per-group selection rates into `rates`.
fn metrics(counts: &GroupCounts, rates: &mut Vec<f64>) -> [f64; 3] {
    rates.clear();
    rates.extend(counts.observed().map(|(_, cell)| fairlearn::selection_rate(cell)));
    [
        fairlearn::demographic_parity_difference(counts),
        fairlearn::demographic_parity_ratio(counts),
        fairlearn::equalized_odds_difference(counts, Agg::WorstCase),
    ]
}

/// The median wall and CPU seconds of `repeats` runs of `work` (whose result is kept from the
/// optimiser). CPU time is this thread's time on a CPU from `/proc/thread-self/schedstat`
/// (Linux), so other processes on a shared machine do not inflate it; elsewhere it is the
/// wall time.
fn median_seconds(
    repeats: usize,
    mut work: impl FnMut() -> Result<f64, String>,
) -> Result<Times, String> {
    let (mut wall, mut cpu) = (Vec::with_capacity(repeats), Vec::with_capacity(repeats));
    for _ in 0..repeats.max(1) {
        let (start, start_cpu) = (Instant::now(), cpu_seconds());
        std::hint::black_box(work()?);
        let elapsed = start.elapsed().as_secs_f64();
        wall.push(elapsed);
        cpu.push(cpu_seconds().zip(start_cpu).map_or(elapsed, |(end, start)| end - start));
    }
    Ok(Times { wall: median(wall), cpu: median(cpu) })
}

/// Median wall and CPU seconds.
#[derive(Clone, Copy)]
struct Times {
    wall: f64,
    cpu: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanoseconds: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanoseconds as f64 * 1e-9)
}

fn read_bools(path: &Path) -> Result<Vec<bool>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(bytes.into_iter().map(|byte| byte != 0).collect())
}

fn read_codes(path: &Path) -> Result<Vec<u32>, String> {
    let bytes = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if bytes.len() % 4 != 0 {
        return Err(format!("{}: not a whole number of u32 codes", path.display()));
    }
    Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}
