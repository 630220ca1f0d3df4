//! The stressor side of `bench/onnx-vs-ort`: forward and forward+input-gradient throughput of an
//! ONNX model loaded with `stressor-onnx`.
//!
//! ```text
//! onnx_throughput --export-fashion OUT.onnx
//! onnx_throughput --model M.onnx --inputs X.bin --n N [--repeats R] [--logits OUT.bin]
//! ```
//!
//! `X.bin` holds `N` samples as little-endian `f32` in the model's `[c, h, w]` input shape.
//! Prints one JSON object (images/s, best of `R` runs, after one warm-up run).

use std::path::PathBuf;
use std::time::Instant;

use rand::Rng as _;
use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{TrainConfig, train};
use stressor_model::{Differentiable as _, Model as _};
use stressor_onnx::{InputSpec, OnnxModel, export_fashion_cnn};

/// The allocator of the `stressor` binary, so the numbers match what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    if let Some(out) = value("--export-fashion") {
        return export_fashion(&PathBuf::from(out));
    }
    let model_path = PathBuf::from(value("--model").ok_or("--model is required")?);
    let inputs_path = PathBuf::from(value("--inputs").ok_or("--inputs is required")?);
    let n: usize = value("--n").ok_or("--n is required")?.parse()?;
    let repeats: usize = value("--repeats").map_or(Ok(3), |r| r.parse())?;

    let model = OnnxModel::load(&model_path, InputSpec::default(), None)?;
    let shape = model.info().input_shape.clone();
    let bytes = std::fs::read(&inputs_path)?;
    let values: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut batch_shape = vec![n];
    batch_shape.extend(&shape);
    let inputs = Batch::new(values, batch_shape)?;

    let logits = model.predict(&inputs)?;
    let _cleared = stressor_onnx::op_profile();
    let forward = best_of(repeats, || model.predict(&inputs).map(|_| ()))?;
    print_profile("forward");
    let mut cotangent = |l: &[f32]| vec![1.0; l.len()];
    model.logits_and_gradient(&inputs, &mut cotangent)?;
    let gradient =
        best_of(repeats, || model.logits_and_gradient(&inputs, &mut cotangent).map(|_| ()))?;
    if let Some(path) = value("--logits") {
        let bytes: Vec<u8> = logits.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(path, bytes)?;
    }
    let threads = rayon_threads();
    let report = serde_json::json!({
        "model": model.info().name,
        "n": n,
        "threads": threads,
        "forward_seconds": forward,
        "forward_images_per_sec": n as f64 / forward,
        "gradient_seconds": gradient,
        "gradient_images_per_sec": n as f64 / gradient,
    });
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, format!("{report}\n").as_bytes())?;
    Ok(())
}

/// With `STRESSOR_ONNX_PROFILE` set, prints the time per op of the runs since the last call
/// to stderr.
fn print_profile(label: &str) {
    let rows = stressor_onnx::op_profile();
    if rows.is_empty() {
        return;
    }
    let total: f64 = rows.iter().map(|r| r.1.as_secs_f64()).sum();
    let mut text = format!("{label}: {total:.3} s in ops\n");
    for (key, time, calls) in rows {
        let secs = time.as_secs_f64();
        let share = 100.0 * secs / total;
        text += &format!("  {key:32} {secs:8.3} s {share:5.1}% {calls:6} calls\n");
    }
    // A profile that cannot be written is not worth failing the run for.
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
}

/// The shortest of `repeats` timed runs, in seconds.
fn best_of(
    repeats: usize,
    mut run: impl FnMut() -> Result<(), stressor_model::ModelError>,
) -> Result<f64, Error> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// Trains the built-in CNN for one step on random images (realistic, non-degenerate weights)
/// and writes it as ONNX.
fn export_fashion(out: &PathBuf) -> Result<(), Error> {
    let mut rng = Seed::new(1).rng();
    let inputs =
        Batch::new((0..16 * 784).map(|_| rng.random::<f32>()).collect(), vec![16, 1, 28, 28])?;
    let labels = (0..16).map(|i| i % 10).collect();
    let names = (0..10).map(|i| format!("{i}")).collect();
    let data = Dataset::new("bench", inputs, labels, names, Bounds::UNIT)?;
    let mut config = TrainConfig::default();
    config.epochs = 1;
    config.batch_size = 16;
    let model = train(&data, &config, Seed::new(0), &mut |_| {})?;
    std::fs::write(out, export_fashion_cnn(&model)?)?;
    Ok(())
}
