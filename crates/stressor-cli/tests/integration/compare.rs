//! `stressor compare`: two reports written to files, compared by the binary; exit codes for a
//! regression, no regression, an unknown format version and a malformed gate.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::{Path, PathBuf};

use stressor_core::wilson_interval;
use stressor_schema::{
    DataSection, Interval, IntervalMethod, Metric, Point, Report, RunSection, Step, StepKind,
    TargetSection, Verdict,
};

use crate::{scratch, stressor, text};

/// A report of scenario `vision` with a PGD sweep whose robust accuracy is `robust_2` and
/// `robust_8` correct of 400 at ε = 2/255 and 8/255.
fn report(seed: u64, robust_2: u64, robust_8: u64) -> Report {
    let mut report = Report::new(
        "0.1.0",
        RunSection::new("vision", "scenarios/vision.toml", seed, Verdict::Pass),
        TargetSection::new("fashion-cnn", "builtin"),
        DataSection::new("fashion-mnist", 400),
    );
    let mut step = Step::new("pgd-linf", StepKind::Attack, "PGD, L∞");
    for (dial, robust) in [(2.0 / 255.0, robust_2), (8.0 / 255.0, robust_8)] {
        let ci = wilson_interval(robust, 400, 0.95);
        let mut point = Point::new(Some(dial));
        point.metrics.insert(
            "robust_accuracy".into(),
            Metric::new(
                robust as f64 / 400.0,
                400,
                Some(Interval::new(ci.lower, ci.upper, 0.95, IntervalMethod::Wilson)),
            ),
        );
        step.points.push(point);
    }
    report.steps.push(step);
    report
}

fn write(dir: &Path, name: &str, report: &Report) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(report).unwrap()).unwrap();
    path
}

const GATE: &str = "delta:robust_accuracy.pgd-linf@8/255 > -0.02";

#[test]
fn compare_gates_on_differences_and_names_unreadable_reports() {
    let dir = scratch("compare");
    let base = write(&dir, "base.json", &report(1, 300, 200));
    let worse = write(&dir, "worse.json", &report(1, 300, 160));
    let same = write(&dir, "same.json", &report(1, 302, 200));

    // A regression: 0.50 → 0.40 at 8/255 fails the gate and is significant.
    let output = stressor()
        .args(["compare"])
        .arg(&base)
        .arg(&worse)
        .args(["--gate", GATE])
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{}", text(&output.stderr));
    assert!(stdout.starts_with("stressor compare: FAIL (1 of 1 gates failed)"), "{stdout}");
    let row =
        stdout.lines().find(|line| line.contains("8/255") && line.contains("robust_accuracy"));
    let row = row.unwrap_or_else(|| panic!("no 8/255 row: {stdout}"));
    assert!(
        row.contains("-0.1000 [") && row.contains("newcombe  yes") && row.ends_with("FAILED"),
        "{row}"
    );
    assert!(
        stdout.contains("FAILED  delta:robust_accuracy.pgd-linf@8/255 > -0.02: Δ -0.1000 at 8/255"),
        "{stdout}"
    );

    // No regression: exit 0, and the JSON says why.
    let output = stressor()
        .args(["compare"])
        .arg(&base)
        .arg(&same)
        .args(["--gate", GATE, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["gates"][0]["observed"], 0.0);
    assert_eq!(json["rows"][0]["delta"]["method"], "newcombe");
    assert_eq!(json["rows"][0]["delta"]["significant"], false);
    assert!((json["rows"][0]["delta"]["value"].as_f64().unwrap() - 0.005).abs() < 1e-12, "{json}");

    // Markdown to a file, only changed rows.
    let summary = dir.join("summary.md");
    let output = stressor()
        .args(["compare"])
        .arg(&base)
        .arg(&worse)
        .args(["--format", "markdown", "--only-changed", "--out"])
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "no gates: {}", text(&output.stderr));
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.starts_with("### stressor compare: no gates"), "{markdown}");
    assert_eq!(
        markdown.lines().filter(|line| line.starts_with("| pgd-linf")).count(),
        1,
        "{markdown}"
    );

    // A report of another major version: exit 3, naming the file and the version.
    let mut future = report(1, 300, 200);
    future.format_version = "2.0".into();
    let future = write(&dir, "future.json", &future);
    let output = stressor().args(["compare"]).arg(&base).arg(&future).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("future.json") && stderr.contains("format version 2.0"), "{stderr}");

    // Broken JSON and a missing file: exit 3 naming the file (and the line).
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"format_version\": \"1.6\",\n  oops\n}").unwrap();
    let output = stressor().args(["compare"]).arg(&base).arg(&broken).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("broken.json: not valid JSON at line 3, column 3"), "{stderr}");
    let output =
        stressor().args(["compare"]).arg(dir.join("nope.json")).arg(&base).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("nope.json"), "{}", text(&output.stderr));

    // A malformed gate: exit 2, naming the gate and the column.
    let output = stressor()
        .args(["compare"])
        .arg(&base)
        .arg(&worse)
        .args(["--gate", "delta:robust_accuracy.pgd-linf@8/255 >> -0.02"])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at column 39") && stderr.contains("hint:"), "{stderr}");

    // Different scenarios: exit 2 unless allowed.
    let mut other = report(2, 300, 200);
    other.run.scenario_name = "vision-shift".into();
    let other = write(&dir, "other.json", &other);
    let output = stressor().args(["compare"]).arg(&base).arg(&other).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let output = stressor()
        .args(["compare", "--allow-different-scenarios"])
        .arg(&base)
        .arg(&other)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: the reports are of different scenarios"), "{stderr}");
    assert!(stderr.contains("warning: the runs have different seeds"), "{stderr}");
}
