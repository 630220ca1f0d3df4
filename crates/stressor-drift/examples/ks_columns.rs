//! The stressor side of bench/drift-vs-scipy: KS and Wasserstein for every column of two
//! column-major f64 files, on all cores; prints `{"seconds": …, "columns": [[D, p, W], …]}`.
//!
//! Usage: ks_columns REFERENCE.f64 CURRENT.f64 COLUMNS

use std::io::Write as _;

fn read(path: &str) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (reference, current) = (read(&args[1]), read(&args[2]));
    let columns: usize = args[3].parse().unwrap_or(1);
    let (rows_ref, rows_cur) = (reference.len() / columns, current.len() / columns);
    let start = std::time::Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut results = vec![(0.0, 0.0, 0.0); columns];
    std::thread::scope(|scope| {
        for (t, chunk) in results.chunks_mut(columns.div_ceil(threads)).enumerate() {
            let (reference, current) = (&reference, &current);
            scope.spawn(move || {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    let c = t * columns.div_ceil(threads) + k;
                    let a = &reference[c * rows_ref..(c + 1) * rows_ref];
                    let b = &current[c * rows_cur..(c + 1) * rows_cur];
                    // Each column sorted once for both statistics.
                    let a = stressor_drift::SortedSample::new(a, "reference")
                        .unwrap_or_else(|e| panic!("{e}"));
                    let b = stressor_drift::SortedSample::new(b, "current")
                        .unwrap_or_else(|e| panic!("{e}"));
                    let ks = stressor_drift::ks_sorted(&a, &b);
                    let w = stressor_drift::wasserstein_sorted(&a, &b);
                    *slot = (ks.statistic, ks.pvalue, w);
                }
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let columns: Vec<String> =
        results.iter().map(|(d, p, w)| format!("[{d:e},{p:e},{w:e}]")).collect();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{{\"seconds\": {seconds}, \"columns\": [{}]}}", columns.join(","));
}
