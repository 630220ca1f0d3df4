//! `summarize` on 10 000 samples × 10 classes with the default 200 bootstrap resamples.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stressor_calibration::{SummaryConfig, softmax, summarize};
use stressor_core::Seed;

/// Deterministic pseudo-random logits, so the bench needs no `rand`.
fn table(n: usize, k: usize) -> (Vec<f32>, Vec<u32>) {
    let unit = |i: u64| (Seed::new(5).derive_index(i).value() >> 40) as f32 / (1 << 24) as f32;
    let labels: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    let logits: Vec<f32> = (0..n * k)
        .map(|i| {
            let boost = if i % k == labels[i / k] as usize { 2.0 } else { 0.0 };
            4.0 * unit(i as u64) + boost
        })
        .collect();
    (softmax(&logits, k, 1.0), labels)
}

fn bench(c: &mut Criterion) {
    let (probs, labels) = table(10_000, 10);
    let config = SummaryConfig::default();
    let mut group = c.benchmark_group("calibration");
    group.sample_size(10);
    group.bench_function("summarize_10000x10", |b| {
        b.iter(|| black_box(summarize(&probs, 10, &labels, &config, Seed::new(1))));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
