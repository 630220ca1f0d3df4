//! Forward and forward+input-gradient throughput of the built-in CNN.
//!
//! The headline comparison is PGD on 512 images: each step is one `logits_and_gradient` call.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::Rng as _;
use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{FashionCnn, TrainConfig, train};
use stressor_model::{Differentiable as _, Model as _};

/// The allocator of the `stressor` binary, so the numbers match what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn model() -> FashionCnn {
    // One step on a tiny set gives realistic (non-degenerate) weights quickly.
    let inputs = random_batch(16, Seed::new(1));
    let labels = (0..16).map(|i| i % 10).collect();
    let names = (0..10).map(|i| format!("{i}")).collect();
    let data =
        Dataset::new("bench", inputs, labels, names, Bounds::UNIT).expect("consistent labels");
    let mut config = TrainConfig::default();
    config.epochs = 1;
    config.batch_size = 16;
    train(&data, &config, Seed::new(0), &mut |_| {}).expect("training runs")
}

fn random_batch(n: usize, seed: Seed) -> Batch {
    let mut rng = seed.rng();
    let data = (0..n * 784).map(|_| rng.random::<f32>()).collect();
    Batch::new(data, vec![n, 1, 28, 28]).expect("shape matches")
}

fn bench(c: &mut Criterion) {
    let model = model();
    let mut group = c.benchmark_group("fashion_cnn");
    group.sample_size(10);
    for n in [128, 512] {
        let inputs = random_batch(n, Seed::new(2));
        group.bench_with_input(BenchmarkId::new("forward", n), &inputs, |b, inputs| {
            b.iter(|| black_box(model.predict(inputs).expect("forward runs")));
        });
        group.bench_with_input(BenchmarkId::new("forward_gradient", n), &inputs, |b, inputs| {
            b.iter(|| {
                let mut cotangent = |logits: &[f32]| vec![1.0; logits.len()];
                black_box(model.logits_and_gradient(inputs, &mut cotangent).expect("backward runs"))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
