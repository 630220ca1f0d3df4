//! `stressor drift`: column-by-column drift between two CSV or Parquet files.

use std::io::Write as _;

use stressor_core::Seed;
use stressor_schema::ExitCode as exit_code;

use crate::args::DriftArgs;
use crate::output::{print_error_chain, say};

/// `stressor drift`: per-column drift between two CSV or Parquet files; exit 1 when more
/// columns drifted than `--max-drifted`.
pub(crate) fn run(args: &DriftArgs) -> i32 {
    use stressor_drift::Correction;
    use stressor_tabular::Table;
    let correction = match args.correction.as_str() {
        "none" => Correction::None,
        "bonferroni" => Correction::Bonferroni,
        "holm" => Correction::Holm,
        "bh" => Correction::BenjaminiHochberg,
        "by" => Correction::BenjaminiYekutieli,
        other => {
            say!("error: --correction must be none, bonferroni, holm, bh or by, not `{other}`");
            return exit_code::USAGE;
        }
    };
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        say!("error: --alpha must lie strictly between 0 and 1");
        return exit_code::USAGE;
    }
    // Both files at once: the current one read on its own thread while the reference is read
    // and its statistics computed (in chunks, the current file is read afterwards).
    let (reference, sketch, current) = std::thread::scope(|scope| {
        let current = args.chunk_rows.is_none().then(|| scope.spawn(|| Table::read(&args.current)));
        let reference = Table::read(&args.reference);
        let sketch = reference.as_ref().ok().map(stressor_drift::compare::Reference::new);
        let current = current
            .map(|thread| thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (reference, sketch, current)
    });
    let reference = match reference {
        Ok(table) => table,
        Err(error) => {
            print_error_chain(&error);
            return exit_code::TARGET_UNUSABLE;
        }
    };
    // The reference's statistics once; the current file whole, or in chunks when asked.
    let compared = sketch
        .unwrap_or_else(|| stressor_drift::compare::Reference::new(&reference))
        .map_err(|e| e.to_string())
        .and_then(|sketch| match args.chunk_rows {
            Some(rows) => {
                let mut acc = sketch.accumulator();
                let rows = usize::try_from(rows).unwrap_or(usize::MAX);
                stressor_tabular::for_each_chunk(&args.current, rows, &sketch.kinds(), |chunk| {
                    acc.push(&chunk).map_err(|e| stressor_tabular::TableError::Shape(e.to_string()))
                })
                .map_err(|e| e.to_string())?;
                let drifts = acc.finish(correction, args.alpha).map_err(|e| e.to_string())?;
                Ok((drifts, acc.rows(), None))
            }
            None => {
                let current = current
                    .unwrap_or_else(|| Table::read(&args.current))
                    .map_err(|e| e.to_string())?;
                let drifts =
                    sketch.compare(&current, correction, args.alpha).map_err(|e| e.to_string())?;
                Ok((drifts, current.rows, Some(current)))
            }
        });
    let (drifts, current_rows, current) = match compared {
        Ok(compared) => compared,
        Err(error) => {
            say!("error: {error}");
            return exit_code::TARGET_UNUSABLE;
        }
    };
    let n_drifted = drifts.iter().filter(|d| d.drifted).count();
    let multivariate = if let (true, Some(current)) = (args.multivariate, &current) {
        match multivariate_tests(&reference, current, args) {
            Ok(tests) => Some(tests),
            Err(error) => {
                say!("error: multivariate tests: {error}");
                return exit_code::TARGET_UNUSABLE;
            }
        }
    } else {
        None
    };
    let multivariate_drift =
        multivariate.is_some_and(|(m, d)| m.pvalue < args.alpha || d.pvalue < args.alpha);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let columns: Vec<serde_json::Value> = drifts
            .iter()
            .map(|d| {
                serde_json::json!({
                    "column": d.column, "kind": d.kind, "test": d.test, "statistic": d.statistic,
                    "pvalue": d.pvalue, "pvalue_adjusted": d.pvalue_adjusted, "psi": d.psi,
                    "jensen_shannon": d.jensen_shannon, "hellinger": d.hellinger, "wasserstein": d.wasserstein,
                    "missing_reference": d.missing.0, "missing_current": d.missing.1, "drifted": d.drifted,
                })
            })
            .collect();
        let report = serde_json::json!({
            "reference": {"path": args.reference.display().to_string(), "rows": reference.rows},
            "current": {"path": args.current.display().to_string(), "rows": current_rows},
            "alpha": args.alpha, "correction": args.correction, "drifted": n_drifted,
            "max_drifted": args.max_drifted, "columns": columns,
            "multivariate": multivariate.map(|(m, d)| serde_json::json!({
                "rows_each": args.multivariate_rows, "seed": args.seed,
                "mmd": {"mmd2": m.mmd2, "pvalue": m.pvalue, "bandwidth": m.bandwidth, "permutations": m.permutations},
                "domain_classifier": {"auroc": d.auroc, "pvalue": d.pvalue, "folds": d.folds},
                "drifted": multivariate_drift,
            })),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default())
    } else {
        let mut text = format!(
            "reference {} rows, current {} rows, correction {}, alpha {}\n{:<20} {:<10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10}  drifted\n",
            reference.rows,
            current_rows,
            args.correction,
            args.alpha,
            "column",
            "test",
            "statistic",
            "p",
            "p adj",
            "PSI",
            "JS",
            "Hellinger",
            "W1"
        );
        for d in &drifts {
            text.push_str(&format!(
                "{:<20} {:<10} {:>10.4} {:>10.3e} {:>10.3e} {:>8.4} {:>8.4} {:>8.4} {:>10}  {}\n",
                d.column,
                d.test,
                d.statistic,
                d.pvalue,
                d.pvalue_adjusted,
                d.psi,
                d.jensen_shannon,
                d.hellinger,
                d.wasserstein.map_or("-".to_string(), |w| format!("{w:.4}")),
                if d.drifted { "DRIFT" } else { "" }
            ));
        }
        if let Some((m, d)) = multivariate {
            text.push_str(&format!(
                "multivariate (up to {} rows each): MMD² {:.4} (σ {:.3}), permutation p {:.4} ({} permutations); domain classifier AUROC {:.3}, p {:.2e}{}\n",
                args.multivariate_rows,
                m.mmd2,
                m.bandwidth,
                m.pvalue,
                m.permutations,
                d.auroc,
                d.pvalue,
                if multivariate_drift { "  DRIFT" } else { "" }
            ));
        }
        text.push_str(&format!(
            "{n_drifted} of {} columns drifted (gate: at most {})\n",
            drifts.len(),
            args.max_drifted
        ));
        write!(out, "{text}")
    };
    if written.is_err() {
        return exit_code::BUG;
    }
    if n_drifted > args.max_drifted || multivariate_drift {
        exit_code::GATES_FAILED
    } else {
        exit_code::PASS
    }
}

/// MMD and the domain classifier on up to `--multivariate-rows` seeded rows of each table,
/// every column encoded as the reference's encoder does it (standardised numbers, one-hot
/// categories).
fn multivariate_tests(
    reference: &stressor_tabular::Table,
    current: &stressor_tabular::Table,
    args: &DriftArgs,
) -> Result<
    (stressor_drift::multivariate::MmdResult, stressor_drift::multivariate::DomainClassifierResult),
    String,
> {
    use rand::seq::index::sample;
    let seed = Seed::new(args.seed);
    let names: Vec<String> = reference.columns.iter().map(|(n, _)| n.clone()).collect();
    let encoder = stressor_tabular::Encoder::fit(reference, &names).map_err(|e| e.to_string())?;
    let subsample = |table: &stressor_tabular::Table, label: &str| {
        let k = args.multivariate_rows.min(table.rows);
        let mut rows = sample(&mut seed.derive(label).rng(), table.rows, k).into_vec();
        rows.sort_unstable();
        encoder.transform(&table.take(&rows)).map_err(|e| e.to_string())
    };
    let (a, b) = (subsample(reference, "reference")?, subsample(current, "current")?);
    let mmd = stressor_drift::multivariate::mmd(&a, &b, None, 500, seed.derive("mmd"))
        .map_err(|e| e.to_string())?;
    let classifier =
        stressor_drift::multivariate::domain_classifier(&a, &b, 5, seed.derive("classifier"))
            .map_err(|e| e.to_string())?;
    Ok((mmd, classifier))
}
