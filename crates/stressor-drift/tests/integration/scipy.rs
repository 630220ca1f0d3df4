//! Every statistic against scipy/numpy reference values (tests/fixtures/make.py).

use serde_json::Value;

fn fixtures() -> Vec<Value> {
    let text = include_str!("../fixtures/scipy.json");
    let value: Value = serde_json::from_str(text).unwrap();
    value["cases"].as_array().unwrap().clone()
}

fn floats(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn close(got: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!((got - expected).abs() <= tolerance, "{what}: {got} vs scipy {expected}");
}

/// KS (statistic, default and asymptotic p-values, exact or not) and Wasserstein of `a` and
/// `b` against one fixture case.
fn check_numeric(case: &serde_json::Value, a: &[f64], b: &[f64]) {
    let name = case["name"].as_str().unwrap();
    let ks = stressor_drift::ks_2samp(a, b).unwrap();
    close(ks.statistic, case["ks_statistic"].as_f64().unwrap(), &format!("{name} KS"));
    close(ks.pvalue, case["ks_pvalue"].as_f64().unwrap(), &format!("{name} KS p"));
    assert_eq!(ks.exact, case["ks_method"] == "exact", "{name}");
    close(
        ks.pvalue_asymptotic,
        case["ks_pvalue_asymptotic"].as_f64().unwrap(),
        &format!("{name} KS asymptotic p"),
    );
    close(
        stressor_drift::wasserstein(a, b).unwrap(),
        case["wasserstein"].as_f64().unwrap(),
        &format!("{name} W1"),
    );
}

#[test]
fn numeric_statistics_equal_scipy() {
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "numeric") {
        check_numeric(case, &floats(&case["a"]), &floats(&case["b"]));
        n += 1;
    }
    assert_eq!(n, 5);
}

/// `(i·mult mod modulus)/modulus·scale + offset` for `i < count`, as make.py computes it.
fn modular(spec: &serde_json::Value) -> Vec<f64> {
    let s = floats(spec);
    let (count, mult, modulus) = (s[0] as i64, s[1] as i64, s[2] as i64);
    (0..count).map(|i| ((i * mult) % modulus) as f64 / modulus as f64 * s[3] + s[4]).collect()
}

#[test]
fn large_sample_pvalues_equal_scipys_kstwo() {
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "numeric-generated") {
        // Over 10 000 samples: scipy's kstwo p-value, not the exact one.
        assert_eq!(case["ks_method"], "asymp");
        check_numeric(case, &modular(&case["a"]), &modular(&case["b"]));
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn distribution_distances_equal_scipy() {
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "distribution") {
        let name = case["name"].as_str().unwrap();
        let (p, q) = (floats(&case["p"]), floats(&case["q"]));
        close(
            stressor_drift::jensen_shannon(&p, &q, None).unwrap(),
            case["jensenshannon"].as_f64().unwrap(),
            &format!("{name} JS"),
        );
        close(
            stressor_drift::jensen_shannon(&p, &q, Some(2.0)).unwrap(),
            case["jensenshannon_base2"].as_f64().unwrap(),
            &format!("{name} JS bits"),
        );
        close(
            stressor_drift::hellinger(&p, &q).unwrap(),
            case["hellinger"].as_f64().unwrap(),
            &format!("{name} Hellinger"),
        );
        close(
            stressor_drift::psi(&p, &q).unwrap(),
            case["psi"].as_f64().unwrap(),
            &format!("{name} PSI"),
        );
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn contingency_tests_equal_scipy() {
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "contingency") {
        let name = case["name"].as_str().unwrap();
        let table: Vec<Vec<f64>> = case["table"].as_array().unwrap().iter().map(floats).collect();
        let result = stressor_drift::chi2_contingency(&table).unwrap();
        close(result.statistic, case["chi2_statistic"].as_f64().unwrap(), &format!("{name} χ²"));
        close(result.pvalue, case["chi2_pvalue"].as_f64().unwrap(), &format!("{name} χ² p"));
        assert_eq!(result.dof as u64, case["dof"].as_u64().unwrap());
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    use stressor_drift::*;
    assert!(matches!(ks_2samp(&[], &[1.0]), Err(DriftError::Empty("reference"))));
    assert!(matches!(wasserstein(&[1.0], &[f64::NAN]), Err(DriftError::NotFinite("current"))));
    assert!(jensen_shannon(&[1.0, 2.0], &[1.0], None).is_err());
    assert!(psi(&[0.0, 0.0], &[1.0, 1.0]).is_err());
    assert!(chi2_contingency(&[vec![1.0, 2.0]]).is_err());
    assert!(chi2_contingency(&[vec![1.0, 0.0], vec![2.0, 0.0]]).is_err());
    assert!(Bins::quantiles(&[1.0, 2.0], 1).is_err());
}

#[test]
fn identical_samples_show_no_drift_and_quantile_bins_split_evenly() {
    let values: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
    let ks = stressor_drift::ks_2samp(&values, &values).unwrap();
    assert_eq!((ks.statistic, ks.pvalue, ks.pvalue_asymptotic), (0.0, 1.0, 1.0));
    assert_eq!(stressor_drift::wasserstein(&values, &values).unwrap(), 0.0);
    let bins = stressor_drift::Bins::quantiles(&values, 10).unwrap();
    let counts = bins.counts(&values);
    assert_eq!(counts.len(), 10);
    assert!(counts.iter().all(|&c| (c - 100.0).abs() <= 1.0), "{counts:?}");
    assert!(stressor_drift::psi(&counts, &counts).unwrap().abs() < 1e-15);
}

#[test]
fn multiple_testing_corrections_equal_scipy() {
    use stressor_drift::{Correction, adjust};
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "multiple-testing") {
        let name = case["name"].as_str().unwrap();
        let p = floats(&case["p"]);
        for (key, correction) in [
            ("bh", Correction::BenjaminiHochberg),
            ("by", Correction::BenjaminiYekutieli),
            ("holm", Correction::Holm),
            ("bonferroni", Correction::Bonferroni),
        ] {
            let got = adjust(&p, correction).unwrap();
            for (g, e) in got.iter().zip(floats(&case[key])) {
                close(*g, e, &format!("{name} {key}"));
            }
        }
        assert_eq!(adjust(&p, Correction::None).unwrap(), p);
        n += 1;
    }
    assert_eq!(n, 3);
    assert!(adjust(&[0.5, 1.5], Correction::Holm).is_err());
}

fn matrix(rows: &serde_json::Value) -> stressor_tabular::Matrix {
    let rows: Vec<Vec<f64>> = rows.as_array().unwrap().iter().map(floats).collect();
    let cols = rows[0].len();
    stressor_tabular::Matrix { rows: rows.len(), cols, data: rows.concat() }
}

#[test]
fn mmd_equals_numpy_and_its_permutation_test_separates_shift_from_none() {
    use stressor_drift::multivariate::mmd;
    let mut n = 0;
    for case in fixtures().iter().filter(|c| c["kind"] == "mmd") {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (matrix(&case["x"]), matrix(&case["y"]));
        let result = mmd(&x, &y, None, 500, stressor_core::Seed::new(1)).unwrap();
        close(result.bandwidth, case["bandwidth"].as_f64().unwrap(), &format!("{name} σ"));
        close(result.mmd2, case["mmd2"].as_f64().unwrap(), &format!("{name} MMD²"));
        if name == "mmd-shifted" {
            assert!(result.pvalue < 0.01, "{name}: p {}", result.pvalue);
        } else {
            assert!(result.pvalue > 0.05, "{name}: p {}", result.pvalue);
        }
        n += 1;
    }
    assert_eq!(n, 2);
}
