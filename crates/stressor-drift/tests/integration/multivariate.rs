//! Multivariate tests see what per-feature tests cannot, and stay quiet without drift.

use rand_distr::{Distribution as _, StandardNormal};
use stressor_core::Seed;
use stressor_drift::ks_2samp;
use stressor_drift::multivariate::{domain_classifier, mmd};
use stressor_tabular::Matrix;

/// `n` rows of two standard normal features with correlation `rho`, plus `shift` on both.
fn correlated(n: usize, rho: f64, shift: f64, seed: u64) -> Matrix {
    let mut rng = Seed::new(seed).rng();
    let mut data = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let (a, b): (f64, f64) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
        data.extend([a + shift, rho * a + (1.0 - rho * rho).sqrt() * b + shift]);
    }
    Matrix { rows: n, cols: 2, data }
}

fn column(m: &Matrix, j: usize) -> Vec<f64> {
    (0..m.rows).map(|i| m.row(i)[j]).collect()
}

#[test]
fn mmd_sees_a_correlation_change_that_per_feature_ks_misses() {
    let reference = correlated(300, 0.0, 0.0, 1);
    let current = correlated(300, 0.9, 0.0, 2);
    for j in 0..2 {
        let ks = ks_2samp(&column(&reference, j), &column(&current, j)).unwrap();
        assert!(ks.pvalue > 0.01, "feature {j}: KS p {}", ks.pvalue);
    }
    let result = mmd(&reference, &current, None, 200, Seed::new(3)).unwrap();
    assert!(result.pvalue < 0.01, "MMD p {}", result.pvalue);
    let calm = mmd(&reference, &correlated(300, 0.0, 0.0, 4), None, 200, Seed::new(3)).unwrap();
    assert!(calm.pvalue > 0.05, "MMD p {} without drift", calm.pvalue);
}

#[test]
fn the_domain_classifier_separates_shifted_rows_and_not_same_ones() {
    let reference = correlated(400, 0.3, 0.0, 5);
    let shifted =
        domain_classifier(&reference, &correlated(400, 0.3, 0.3, 6), 5, Seed::new(1)).unwrap();
    // The Bayes AUROC of a 0.3 shift on both (ρ = 0.3) is Φ(δ/√2) = 0.60.
    assert!(shifted.auroc > 0.55 && shifted.pvalue < 1e-3, "{shifted:?}");
    let same =
        domain_classifier(&reference, &correlated(400, 0.3, 0.0, 7), 5, Seed::new(1)).unwrap();
    assert!((same.auroc - 0.5).abs() < 0.06 && same.pvalue > 0.01, "{same:?}");
    assert!(domain_classifier(&reference, &correlated(3, 0.0, 0.0, 8), 5, Seed::new(1)).is_err());
    let wide = Matrix { rows: 2, cols: 3, data: vec![0.0; 6] };
    assert!(mmd(&reference, &wide, None, 10, Seed::new(1)).is_err());
}
