//! One PGD step on the built-in CNN: the unit of work of every white-box attack here.
//!
//! A one-step PGD (no random start) is one forward+gradient pass, the projection, and the
//! final prediction on the result; ten of them make up the `bench/attack-vs-torch` run.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::Rng as _;
use stressor_attack::{Attack as _, Goal, Norm, Pgd};
use stressor_core::{Batch, Bounds, Dataset, Seed};
use stressor_model::builtin::{FashionCnn, TrainConfig, train};

/// The allocator of the `stressor` binary, so the numbers match what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn random_batch(n: usize, seed: Seed) -> Batch {
    let mut rng = seed.rng();
    let data = (0..n * 784).map(|_| rng.random::<f32>()).collect();
    Batch::new(data, vec![n, 1, 28, 28]).expect("shape matches")
}

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

fn bench(c: &mut Criterion) {
    let model = model();
    let pgd = Pgd {
        norm: Norm::Linf,
        steps: 1,
        step_size: 2.0 / 255.0,
        restarts: 1,
        random_start: false,
    };
    let mut group = c.benchmark_group("pgd_step");
    group.sample_size(10);
    for n in [128, 512] {
        let inputs = random_batch(n, Seed::new(2));
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
        group.bench_with_input(BenchmarkId::new("linf", n), &inputs, |b, inputs| {
            b.iter(|| {
                black_box(
                    pgd.run(
                        &model,
                        inputs,
                        &labels,
                        &Goal::Untargeted,
                        8.0 / 255.0,
                        Seed::new(3),
                        &mut |_, _| {},
                    )
                    .expect("attack runs"),
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
