//! The stressor side of `bench/attack-vs-torch`: PGD-L∞ throughput on the built-in CNN.
//!
//! ```text
//! cargo run --release -p stressor-cli --example pgd_throughput -- \
//!     --out DIR [--n 512] [--steps 10] [--epsilon 8/255] [--repeats 3] [--model FILE]
//! ```
//!
//! Trains the built-in `fashion-cnn` with the default configuration and seed 0 (or loads
//! `--model`, or `DIR/weights.safetensors` when it exists), takes the first `n` test images,
//! and writes what the PyTorch side needs into `DIR`: `weights.safetensors`, `images.f32`,
//! `labels.u32`, the clean `logits.f32` (all little-endian) and `meta.json`. Then it times
//! `repeats` runs of PGD (random start, step 2/255) and prints one JSON object with the best
//! time, images per second and the clean and robust accuracy.
#![expect(clippy::print_stdout, clippy::print_stderr, reason = "an example reports on stdout")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use stressor_attack::{Attack, Goal, Norm, Pgd};
use stressor_core::Seed;
use stressor_data::fashion_mnist::{self, Split};
use stressor_model::Model;
use stressor_model::builtin::{CHUNK_SIZE, FashionCnn, TrainConfig, train};

/// The same allocator as the `stressor` binary, so the bench times what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    out: PathBuf,
    n: usize,
    steps: u32,
    epsilon: f32,
    repeats: usize,
    model: Option<PathBuf>,
}

fn parse_fraction(text: &str) -> Result<f32> {
    let value = match text.split_once('/') {
        Some((numerator, denominator)) => {
            numerator.trim().parse::<f32>()? / denominator.trim().parse::<f32>()?
        }
        None => text.trim().parse::<f32>()?,
    };
    Ok(value)
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        out: PathBuf::from("bench/out/attack-vs-torch"),
        n: 512,
        steps: 10,
        epsilon: 8.0 / 255.0,
        repeats: 3,
        model: None,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => args.out = PathBuf::from(value),
            "--n" => args.n = value.parse().context("--n")?,
            "--steps" => args.steps = value.parse().context("--steps")?,
            "--epsilon" => args.epsilon = parse_fraction(&value).context("--epsilon")?,
            "--repeats" => args.repeats = value.parse().context("--repeats")?,
            "--model" => args.model = Some(PathBuf::from(value)),
            other => bail!("unknown argument {other}"),
        }
    }
    if args.repeats == 0 || args.n == 0 {
        bail!("--n and --repeats must be at least 1");
    }
    Ok(args)
}

fn model(args: &Args) -> Result<FashionCnn> {
    let cached = args.out.join("weights.safetensors");
    let path = args.model.clone().or_else(|| cached.exists().then(|| cached.clone()));
    if let Some(path) = path {
        eprintln!("loading {}", path.display());
        return FashionCnn::load(&path).with_context(|| format!("loading {}", path.display()));
    }
    eprintln!("training fashion-cnn (default configuration, seed 0)");
    let train_set = fashion_mnist::load(Split::Train, None)?;
    Ok(train(&train_set, &TrainConfig::default(), Seed::new(0), &mut |_| {})?)
}

fn write_f32(path: &Path, values: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)?;
    let model = model(&args)?;
    model.save(args.out.join("weights.safetensors"))?;

    let test = fashion_mnist::load(Split::Test, Some(args.n))?;
    let n = test.len();
    let logits = model.predict(&test.inputs)?;
    write_f32(&args.out.join("images.f32"), test.inputs.as_slice())?;
    let label_bytes: Vec<u8> = test.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    std::fs::write(args.out.join("labels.u32"), label_bytes)?;
    write_f32(&args.out.join("logits.f32"), logits.as_slice())?;

    let step_size = 2.0 / 255.0;
    let meta = serde_json::json!({
        "n": n,
        "epsilon": args.epsilon,
        "step_size": step_size,
        "steps": args.steps,
        "batch_size": CHUNK_SIZE,
    });
    std::fs::write(args.out.join("meta.json"), meta.to_string())?;

    let clean = logits.predictions();
    let clean_correct = clean.iter().zip(&test.labels).filter(|(p, l)| p == l).count();
    // stressor's step size is a multiple of ε; torchattacks' `alpha` is absolute.
    let pgd = Pgd {
        norm: Norm::Linf,
        steps: args.steps,
        step_size: step_size / args.epsilon,
        restarts: 1,
        random_start: true,
    };
    // Warm-up: one chunk, so allocator and thread pool start are not timed.
    let warm = test.select(&(0..n.min(CHUNK_SIZE)).collect::<Vec<_>>());
    pgd.run(
        &model,
        &warm.inputs,
        &warm.labels,
        &Goal::Untargeted,
        args.epsilon,
        Seed::new(1),
        &mut |_, _| {},
    )?;

    let mut best = f64::INFINITY;
    let mut robust_correct = 0;
    for repeat in 0..args.repeats {
        let start = Instant::now();
        let outcome = pgd.run(
            &model,
            &test.inputs,
            &test.labels,
            &Goal::Untargeted,
            args.epsilon,
            Seed::new(repeat as u64),
            &mut |_, _| {},
        )?;
        best = best.min(start.elapsed().as_secs_f64());
        robust_correct =
            outcome.predictions.iter().zip(&test.labels).filter(|(p, l)| p == l).count();
    }
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let report = serde_json::json!({
        "side": "stressor",
        "n": n,
        "threads": threads,
        "seconds": best,
        "images_per_sec": n as f64 / best,
        "clean_accuracy": clean_correct as f64 / n as f64,
        "robust_accuracy": robust_correct as f64 / n as f64,
    });
    println!("{report}");
    Ok(())
}
