//! The stressor side of `bench/corruption-vs-imagecorruptions`: corrupts the first `n`
//! Fashion-MNIST test images (replicated to RGB, resized bilinearly to `size`×`size`) with
//! every corruption at one severity, single-threaded, and prints one JSON object per line:
//! `{"corruption": "...", "images_per_sec": ...}`. With `--dump PATH` it also writes the
//! prepared images as raw `u8` in `[n, size, size, 3]` order, so the Python side uses the
//! same pixels.
//!
//! Usage: `corrupt_throughput [--n 256] [--size 32] [--severity 3] [--min-seconds 0.5] [--dump PATH]`
#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::time::Instant;

use stressor_core::{Batch, Seed};
use stressor_corruption::Corruption;
use stressor_data::fashion_mnist::{self, Split};

struct Options {
    n: usize,
    size: usize,
    severity: u8,
    min_seconds: f64,
    dump: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { n: 256, size: 32, severity: 3, min_seconds: 0.5, dump: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--n" => options.n = value.parse().map_err(|_| bad())?,
            "--size" => options.size = value.parse().map_err(|_| bad())?,
            "--severity" => options.severity = value.parse().map_err(|_| bad())?,
            "--min-seconds" => options.min_seconds = value.parse().map_err(|_| bad())?,
            "--dump" => options.dump = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

/// `[n, 1, 28, 28]` to `[n, 3, size, size]`, bilinear with half-pixel centres, values
/// quantised to bytes (as the Python side receives them).
fn prepare(inputs: &Batch, size: usize) -> Batch {
    let (n, height, width) = (inputs.len(), inputs.shape()[2], inputs.shape()[3]);
    let mut data = Vec::with_capacity(n * 3 * size * size);
    for sample in 0..n {
        let image = inputs.sample(sample);
        let mut plane = Vec::with_capacity(size * size);
        for y in 0..size {
            let sy = ((y as f32 + 0.5) * height as f32 / size as f32 - 0.5)
                .clamp(0.0, (height - 1) as f32);
            for x in 0..size {
                let sx = ((x as f32 + 0.5) * width as f32 / size as f32 - 0.5)
                    .clamp(0.0, (width - 1) as f32);
                let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
                let (y1, x1) = ((y0 + 1).min(height - 1), (x0 + 1).min(width - 1));
                let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
                let top = image[y0 * width + x0] * (1.0 - fx) + image[y0 * width + x1] * fx;
                let bottom = image[y1 * width + x0] * (1.0 - fx) + image[y1 * width + x1] * fx;
                let value = top * (1.0 - fy) + bottom * fy;
                plane.push((value.clamp(0.0, 1.0) * 255.0).round() / 255.0);
            }
        }
        for _ in 0..3 {
            data.extend_from_slice(&plane);
        }
    }
    Batch::new(data, vec![n, 3, size, size]).expect("the shape matches the data")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    let data = fashion_mnist::load(Split::Test, Some(options.n))?;
    let images = prepare(&data.inputs, options.size);
    if let Some(path) = &options.dump {
        let plane = options.size * options.size;
        let mut bytes = Vec::with_capacity(images.as_slice().len());
        for sample in 0..images.len() {
            let values = images.sample(sample);
            for index in 0..plane {
                for channel in 0..3 {
                    bytes.push((values[channel * plane + index] * 255.0).round() as u8);
                }
            }
        }
        std::fs::write(path, bytes)?;
    }
    for corruption in Corruption::ALL {
        // One untimed pass warms caches (and decodes the frost overlays).
        corruption.apply(&images, options.severity, Seed::new(0))?;
        let start = Instant::now();
        let mut repeats = 0_u64;
        while repeats == 0 || start.elapsed().as_secs_f64() < options.min_seconds {
            corruption.apply(&images, options.severity, Seed::new(repeats))?;
            repeats += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        let images_per_sec = (repeats as f64 * images.len() as f64) / seconds;
        println!(
            "{{\"corruption\": \"{}\", \"images_per_sec\": {images_per_sec:.1}, \"n\": {}, \"size\": {}}}",
            corruption.name(),
            images.len(),
            options.size
        );
    }
    Ok(())
}
