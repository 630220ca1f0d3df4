//! The NIST AI RMF 1.0 crosswalk and the MITRE ATLAS techniques exercised.

use std::collections::BTreeMap;

use crate::document::{AtlasRow, FmeaRow, NistRow, PostMortem, RiskEntry, Trigger};
use crate::finding::{Category, Finding};

/// The subcategories stress testing can give evidence for, with their text (NIST AI 100-1,
/// January 2023).
pub const SUBCATEGORIES: &[(&str, &str)] = &[
    (
        "GOVERN 4.3",
        "Organizational practices are in place to enable AI testing, identification of incidents, and information sharing.",
    ),
    (
        "MAP 5.1",
        "Likelihood and magnitude of each identified impact (both potentially beneficial and harmful) based on expected use, past uses of AI systems in similar contexts, public incident reports, feedback from those external to the team that developed or deployed the AI system, or other data are identified and documented.",
    ),
    (
        "MEASURE 1.1",
        "Approaches and metrics for measurement of AI risks enumerated during the MAP function are selected for implementation starting with the most significant AI risks. The risks or trustworthiness characteristics that will not – or cannot – be measured are properly documented.",
    ),
    (
        "MEASURE 2.1",
        "Test sets, metrics, and details about the tools used during TEVV are documented.",
    ),
    (
        "MEASURE 2.3",
        "AI system performance or assurance criteria are measured qualitatively or quantitatively and demonstrated for conditions similar to deployment setting(s). Measures are documented.",
    ),
    (
        "MEASURE 2.4",
        "The functionality and behavior of the AI system and its components – as identified in the MAP function – are monitored when in production.",
    ),
    (
        "MEASURE 2.5",
        "The AI system to be deployed is demonstrated to be valid and reliable. Limitations of the generalizability beyond the conditions under which the technology was developed are documented.",
    ),
    (
        "MEASURE 2.6",
        "The AI system is evaluated regularly for safety risks – as identified in the MAP function. The AI system to be deployed is demonstrated to be safe, its residual negative risk does not exceed the risk tolerance, and it can fail safely, particularly if made to operate beyond its knowledge limits. Safety metrics reflect system reliability and robustness, real-time monitoring, and response times for AI system failures.",
    ),
    (
        "MEASURE 2.7",
        "AI system security and resilience – as identified in the MAP function – are evaluated and documented.",
    ),
    (
        "MEASURE 2.11",
        "Fairness and bias – as identified in the MAP function – are evaluated and results are documented.",
    ),
    (
        "MEASURE 2.13",
        "Effectiveness of the employed TEVV metrics and processes in the MEASURE function are evaluated and documented.",
    ),
    (
        "MEASURE 3.1",
        "Approaches, personnel, and documentation are in place to regularly identify and track existing, unanticipated, and emergent AI risks based on factors such as intended and actual performance in deployed contexts.",
    ),
    (
        "MANAGE 1.2",
        "Treatment of documented AI risks is prioritized based on impact, likelihood, and available resources or methods.",
    ),
    (
        "MANAGE 1.3",
        "Responses to the AI risks deemed high priority, as identified by the MAP function, are developed, planned, and documented. Risk response options can include mitigating, transferring, avoiding, or accepting.",
    ),
    (
        "MANAGE 1.4",
        "Negative residual risks (defined as the sum of all unmitigated risks) to both downstream acquirers of AI systems and end users are documented.",
    ),
    (
        "MANAGE 2.3",
        "Procedures are followed to respond to and recover from a previously unknown risk when it is identified.",
    ),
    (
        "MANAGE 2.4",
        "Mechanisms are in place and applied, and responsibilities are assigned and understood, to supersede, disengage, or deactivate AI systems that demonstrate performance or outcomes inconsistent with intended use.",
    ),
    (
        "MANAGE 4.1",
        "Post-deployment AI system monitoring plans are implemented, including mechanisms for capturing and evaluating input from users and other relevant AI actors, appeal and override, decommissioning, incident response, recovery, and change management.",
    ),
    (
        "MANAGE 4.3",
        "Incidents and errors are communicated to relevant AI actors, including affected communities. Processes for tracking, responding to, and recovering from incidents and errors are followed and documented.",
    ),
];

/// ATLAS technique names (ATLAS 5.6.0) for the ids stressor exercises.
const ATLAS: &[(&str, &str)] = &[
    ("AML.T0010.003", "AI Supply Chain Compromise: Model"),
    ("AML.T0015", "Evade AI Model"),
    ("AML.T0018", "Manipulate AI Model"),
    ("AML.T0020", "Poison Training Data"),
    ("AML.T0029", "Denial of AI Service"),
    ("AML.T0031", "Erode AI Model Integrity"),
    ("AML.T0043", "Craft Adversarial Data"),
    ("AML.T0043.000", "Craft Adversarial Data: White-Box Optimization"),
    ("AML.T0043.001", "Craft Adversarial Data: Black-Box Optimization"),
];

/// The parts of the documents the crosswalk can point at.
pub(crate) struct Documents<'a> {
    pub(crate) findings: &'a [Finding],
    pub(crate) fmea: &'a [FmeaRow],
    pub(crate) register: &'a [RiskEntry],
    pub(crate) triggers: &'a [Trigger],
    pub(crate) postmortems: &'a [PostMortem],
    pub(crate) inputs: usize,
    pub(crate) families: Vec<String>,
}

pub(crate) fn crosswalk(d: &Documents<'_>) -> Vec<NistRow> {
    let ids = |pred: &dyn Fn(&Finding) -> bool| -> Vec<String> {
        d.findings.iter().filter(|f| pred(f)).map(|f| format!("finding {}", f.id)).collect()
    };
    let has_family = |name: &str| d.families.iter().any(|f| f == name);
    let mut evidence: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut add =
        |id: &'static str, items: Vec<String>| evidence.entry(id).or_default().extend(items);
    if has_family("war-game") {
        add(
            "GOVERN 4.3",
            vec!["a red-team/blue-team war game was run (see the post-mortems)".into()],
        );
    }
    if !d.fmea.is_empty() {
        add(
            "MAP 5.1",
            vec![format!("{} FMEA rows: occurrence and severity from measurements", d.fmea.len())],
        );
        let measured: std::collections::BTreeSet<Category> =
            d.findings.iter().map(|f| f.category).collect();
        let missing: Vec<&str> = [
            Category::Security,
            Category::Robustness,
            Category::Fairness,
            Category::Availability,
            Category::Drift,
        ]
        .into_iter()
        .filter(|c| !measured.contains(c))
        .map(Category::key)
        .collect();
        add(
            "MEASURE 1.1",
            vec![if missing.is_empty() {
                "every risk category has measurements".into()
            } else {
                format!("categories not measured, documented as such: {}", missing.join(", "))
            }],
        );
    }
    if d.inputs > 0 {
        add(
            "MEASURE 2.1",
            vec![format!(
                "{} report(s) with scenario, seed, data set, model and stressor version",
                d.inputs
            )],
        );
    }
    add(
        "MEASURE 2.3",
        ids(&|f| {
            matches!(f.family.as_str(), "system" | "recommender" | "war-game") || f.step == "surge"
        }),
    );
    add(
        "MEASURE 2.4",
        ids(&|f| f.family == "drift" || (f.family == "war-game" && f.detection.is_some())),
    );
    add("MEASURE 2.5", ids(&|f| matches!(f.category, Category::Robustness | Category::Drift)));
    add("MEASURE 2.6", ids(&|f| f.mttd.is_some() || f.recovery.is_some()));
    add("MEASURE 2.7", ids(&|f| f.category == Category::Security));
    add("MEASURE 2.11", ids(&|f| f.category == Category::Fairness));
    add("MEASURE 2.13", ids(&|f| f.detection.is_some()));
    add(
        "MEASURE 3.1",
        d.triggers
            .iter()
            .map(|t| format!("retraining trigger for {}: {}", t.model, t.trigger))
            .collect(),
    );
    if !d.register.is_empty() {
        add(
            "MANAGE 1.2",
            vec![format!("{} register entries scored likelihood × impact", d.register.len())],
        );
        add(
            "MANAGE 1.3",
            vec!["each register entry carries a response (accept, mitigate, treat further)".into()],
        );
        add("MANAGE 1.4", vec!["residual score per entry after the best measured control".into()]);
    }
    add(
        "MANAGE 2.3",
        ids(&|f| f.controls.iter().any(|c| c.kind == "playbook" || c.kind == "retraining")),
    );
    add(
        "MANAGE 2.4",
        ids(&|f| f.controls.iter().any(|c| c.kind == "playbook" || c.kind == "fallback")),
    );
    add("MANAGE 4.1", ids(&|f| f.controls.iter().any(|c| c.kind == "playbook")));
    if !d.postmortems.is_empty() {
        add(
            "MANAGE 4.3",
            d.postmortems.iter().map(|p| format!("post-mortem: {}", p.title)).collect(),
        );
    }
    SUBCATEGORIES
        .iter()
        .map(|&(id, text)| {
            let evidence = evidence.remove(id).unwrap_or_default();
            NistRow { id: id.into(), text: text.into(), gap: evidence.is_empty(), evidence }
        })
        .collect()
}

pub(crate) fn atlas(findings: &[Finding]) -> Vec<AtlasRow> {
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in findings {
        for t in &f.atlas {
            rows.entry(t.clone()).or_default().push(f.id.clone());
        }
    }
    rows.into_iter()
        .map(|(technique, findings)| AtlasRow {
            name: ATLAS.iter().find(|(id, _)| *id == technique).map_or("", |(_, n)| n).into(),
            technique,
            findings,
        })
        .collect()
}
