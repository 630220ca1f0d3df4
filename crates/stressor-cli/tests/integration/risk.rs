//! `stressor risk` and the `[risk]` table: documents from a real run's report, and the exit
//! codes of bad reports and contexts.

use super::{scratch, stressor};

const CONTEXT: &str = r#"
organisation = "Test <Bank>"
[exposure]
drift = 0.25
[appetite]
drift = 4
[[process]]
name = "Credit decisions"
scenarios = ["credit-drift-50"]
models = ["credit"]
owner = "Credit risk modelling"
revenue_per_hour = 9000
max_tolerable_downtime = "24h"
rto = "8h"
drift_step = "1h"
"#;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_risk_table_writes_documents_that_follow_the_context() {
    let dir = scratch("risk-table");
    let scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/credit-drift.toml"
    ))
    .unwrap();
    std::fs::write(
        dir.join("scenario.toml"),
        format!("{scenario}\n[risk]\ncontext = \"context.toml\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("context.toml"), CONTEXT).unwrap();
    let out = dir.join("out");
    let status = stressor()
        .args(["run", "--no-progress", "--out"])
        .arg(&out)
        .arg(dir.join("scenario.toml"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let risk = json(&out.join("risk/risk.json"));
    assert_eq!(risk["fmea"][0]["finding"], "r1/none");
    assert_eq!(risk["fmea"][0]["process"], "Credit decisions");
    let register = &risk["register"][0];
    assert_eq!(register["owner"], "Credit risk modelling");
    assert_eq!(register["status"], "above appetite", "{register}");
    // The drift was detected at its first step: D from probability 1 and MTTD 0 h of 24 h.
    assert_eq!(risk["fmea"][0]["detection"], 1);
    // Every cited pointer resolves in the report.
    let report = json(&out.join("report.json"));
    for source in risk["fmea"][0]["evidence"].as_array().unwrap() {
        let pointer = source["pointer"].as_str().unwrap();
        assert!(report.pointer(pointer).is_some(), "{pointer}");
    }
    let csv = std::fs::read_to_string(out.join("risk/fmea.csv")).unwrap();
    assert!(csv.starts_with("finding,item,process,failure_mode"));
    assert!(csv.contains("r1/none"));
    let html = std::fs::read_to_string(out.join("risk/risk.html")).unwrap();
    assert!(html.contains("Test &lt;Bank&gt;") && !html.contains("Test <Bank>"));
    // As Chromium renders it: the badge readable, nothing wider than the window.
    let rendered =
        super::browser::render(&super::browser::chromium(), &out.join("risk/risk.html"), &dir);
    let problems = super::browser::problems(&rendered);
    assert!(problems.is_empty(), "risk.html: {}", problems.join("\n"));

    // A tolerant appetite: the same evidence, within appetite.
    std::fs::write(dir.join("tolerant.toml"), CONTEXT.replace("drift = 4", "drift = 25")).unwrap();
    let output = stressor()
        .arg("risk")
        .arg(out.join("report.json"))
        .arg("--context")
        .arg(dir.join("tolerant.toml"))
        .arg("--out")
        .arg(dir.join("tolerant"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let tolerant = json(&dir.join("tolerant/risk.json"));
    assert_eq!(tolerant["register"][0]["status"], "within appetite");
    assert_eq!(tolerant["fmea"][0]["rpn"], risk["fmea"][0]["rpn"]);
}

#[test]
fn bad_reports_and_contexts_exit_with_their_codes() {
    let dir = scratch("risk-errors");
    let report = serde_json::json!({ "format_version": "2.0", "run": {} });
    std::fs::write(dir.join("future.json"), report.to_string()).unwrap();
    let output = stressor()
        .arg("risk")
        .arg(dir.join("future.json"))
        .arg("--out")
        .arg(dir.join("o"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("future.json") && stderr.contains("2.0"), "{stderr}");

    std::fs::write(dir.join("cut.json"), r#"{"format_version": "1.6"}"#).unwrap();
    let output = stressor()
        .arg("risk")
        .arg(dir.join("cut.json"))
        .arg("--out")
        .arg(dir.join("o"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing field"));

    std::fs::write(dir.join("bad.toml"), CONTEXT.replace("rto = \"8h\"", "rto = \"48h\"")).unwrap();
    let scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/credit-drift.toml"
    ))
    .unwrap();
    std::fs::write(
        dir.join("scenario.toml"),
        format!("{scenario}\n[risk]\ncontext = \"bad.toml\"\n"),
    )
    .unwrap();
    let output = stressor().arg("check").arg(dir.join("scenario.toml")).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "check reads the context too");
    let output = stressor()
        .args(["run", "--no-progress", "--out"])
        .arg(dir.join("run"))
        .arg(dir.join("scenario.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("process[0].rto"), "{stderr}");
    assert!(!dir.join("run/report.json").exists(), "nothing ran");
}
