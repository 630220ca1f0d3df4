//! The stressor side of `bench/perturb-vs-nlpaug`: perturbs the CLINC150 test queries (the
//! `test` rows `[text, intent]` of `data_full.json.gz`) with `typos`, `char_swap` and
//! `synonyms`, single-threaded, and prints one JSON object per line:
//! `{"method": "...", "dial": ..., "texts": ..., "texts_per_sec": ..., "changed_share": ...}`.
//! Each method runs over all texts, repeated until `--min-seconds` have passed; the WordNet
//! table is loaded before timing (the Python side loads WordNet before timing too).
//!
//! Usage: `perturb_throughput --data PATH [--min-seconds 1.0] [--seed 0]`
#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::io::Read as _;
use std::time::Instant;

use stressor_core::Seed;
use stressor_text::{Perturbation, wordnet};

struct Options {
    data: String,
    min_seconds: f64,
    seed: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { data: String::new(), min_seconds: 1.0, seed: 0 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--data" => options.data = value.clone(),
            "--min-seconds" => options.min_seconds = value.parse().map_err(|_| bad())?,
            "--seed" => options.seed = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if options.data.is_empty() {
        return Err("--data PATH is required".into());
    }
    Ok(options)
}

fn read_texts(path: &str) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .map_err(|e| format!("{path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| format!("{path}: {e}"))?;
    let rows = value["test"].as_array().ok_or(format!("{path}: no `test` array"))?;
    rows.iter()
        .map(|row| row[0].as_str().map(str::to_owned).ok_or(format!("{path}: bad row {row}")))
        .collect()
}

fn main() -> Result<(), String> {
    let options = parse_options()?;
    let texts = read_texts(&options.data)?;
    // Load the embedded table before timing.
    let _ = wordnet::len();
    // Dials: Giskard's default typo rate; nlpaug's default aug_word_p / aug_p of 0.3.
    for (method, dial) in
        [(Perturbation::Typos, 0.05), (Perturbation::CharSwap, 0.3), (Perturbation::Synonyms, 0.3)]
    {
        let mut rng = Seed::new(options.seed).derive(method.name()).rng();
        let start = Instant::now();
        let (mut done, mut changed) = (0usize, 0usize);
        loop {
            for text in &texts {
                let out = method.apply(text, dial, &mut rng);
                changed += usize::from(out != *text);
            }
            done += texts.len();
            if start.elapsed().as_secs_f64() >= options.min_seconds {
                break;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{{\"method\": \"{method}\", \"dial\": {dial}, \"texts\": {done}, \"texts_per_sec\": {:.1}, \"changed_share\": {:.4}}}",
            done as f64 / seconds,
            changed as f64 / done as f64
        );
    }
    Ok(())
}
