//! Every corruption at severity 3 and every lighting shift mid-range, on a batch of 32 RGB
//! 32×32 images (the size of the `bench/corruption-vs-imagecorruptions` run) and on 4 RGB
//! 224×224 images (ImageNet-C's reference size, where kernels are at full size).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng as _;
use stressor_core::{Batch, Seed};
use stressor_corruption::{Corruption, Lighting};

fn random_images(n: usize, size: usize) -> Batch {
    let mut rng = Seed::new(1).rng();
    let data = (0..n * 3 * size * size).map(|_| rng.random::<f32>()).collect();
    Batch::new(data, vec![n, 3, size, size]).expect("shape matches")
}

fn bench(c: &mut Criterion) {
    for (n, size) in [(32, 32), (4, 224)] {
        let images = random_images(n, size);
        let mut group = c.benchmark_group(format!("corruption/{size}x{size}"));
        group.throughput(Throughput::Elements(n as u64));
        for corruption in Corruption::ALL {
            group.bench_with_input(
                BenchmarkId::from_parameter(corruption.name()),
                &images,
                |b, images| {
                    b.iter(|| {
                        corruption.apply(black_box(images), 3, Seed::new(0)).expect("valid input")
                    });
                },
            );
        }
        group.finish();
        let mut group = c.benchmark_group(format!("lighting/{size}x{size}"));
        group.throughput(Throughput::Elements(n as u64));
        for lighting in Lighting::ALL {
            let (min, max) = lighting.valid_range();
            let value =
                if lighting == Lighting::ColourTemperature { 3200.0 } else { (min + max) / 2.0 };
            group.bench_with_input(
                BenchmarkId::from_parameter(lighting.name()),
                &images,
                |b, images| {
                    b.iter(|| {
                        lighting.apply(black_box(images), value, Seed::new(0)).expect("valid input")
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
