//! Trains the built-in CNN on Fashion-MNIST and reports test accuracy and wall time.
//!
//! `cargo run --release -p stressor-model --example train_fashion -- DIR [N_TRAIN] [EPOCHS]
//! [BATCH] [LR] [FINAL_LR] [OUT.safetensors]`, where `DIR` holds the four uncompressed IDX files
//! (`train-images-idx3-ubyte`, …).
#![expect(clippy::print_stdout, reason = "an example reports on stdout")]

use std::path::Path;
use std::time::Instant;

use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{TrainConfig, train};

fn read_idx(dir: &Path, images: &str, labels: &str, limit: usize) -> Dataset {
    let image_bytes = std::fs::read(dir.join(images)).expect("images file is readable");
    let label_bytes = std::fs::read(dir.join(labels)).expect("labels file is readable");
    let n = label_bytes.len().saturating_sub(8).min(limit);
    let pixels: Vec<f32> =
        image_bytes[16..16 + n * 784].iter().map(|&b| f32::from(b) / 255.0).collect();
    let labels: Vec<u32> = label_bytes[8..8 + n].iter().map(|&b| u32::from(b)).collect();
    let names = (0..10).map(|i| format!("class {i}")).collect();
    let inputs = Batch::new(pixels, vec![n, 1, 28, 28]).expect("IDX sizes match");
    Dataset::new(images, inputs, labels, names, Bounds::UNIT).expect("labels are below 10")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map_or("/tmp/fm-raw", String::as_str));
    let arg = |i: usize, default: f64| {
        args.get(i).map_or(default, |s| s.parse().expect("numeric argument"))
    };
    let n_train = arg(2, 30_000.0) as usize;
    let mut config = TrainConfig::default();
    config.epochs = arg(3, config.epochs as f64) as usize;
    config.batch_size = arg(4, config.batch_size as f64) as usize;
    config.learning_rate = arg(5, config.learning_rate);
    config.final_learning_rate = arg(6, config.final_learning_rate);
    let train_set = read_idx(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", n_train);
    let test_set = read_idx(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", usize::MAX);
    println!("training on {} images with {config:?}", train_set.len());
    let start = Instant::now();
    let mut last_epoch = usize::MAX;
    let mut losses = Vec::new();
    let model = train(&train_set, &config, Seed::new(0), &mut |p| {
        losses.push(p.loss);
        if p.step + 1 == p.n_steps && p.epoch != last_epoch {
            last_epoch = p.epoch;
            let tail = &losses[losses.len().saturating_sub(100)..];
            let mean = tail.iter().sum::<f32>() / tail.len() as f32;
            println!(
                "epoch {} done at {:.1} s, loss (last 100 steps) {mean:.4}",
                p.epoch,
                start.elapsed().as_secs_f64()
            );
        }
    })
    .expect("training runs");
    let train_time = start.elapsed();
    let accuracy = model.accuracy(&test_set).expect("evaluation runs");
    println!(
        "train time {:.1} s, test accuracy {:.2} %",
        train_time.as_secs_f64(),
        accuracy * 100.0
    );
    if let Some(out) = args.get(7) {
        model.save(out).expect("model is saved");
        println!("saved to {out}");
    }
}
