//! The documents for people (Markdown, one self-contained HTML page) and for spreadsheets and
//! GRC tools (CSV). Both people's formats render the same [`Block`]s, so they never disagree;
//! all text is escaped for its format, since step ids, names and details come from users.

use crate::document::RiskDocument;
use crate::finding::Source;

enum Block {
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    Table(Vec<&'static str>, Vec<Vec<String>>),
}

fn cites(sources: &[Source]) -> String {
    sources.iter().map(Source::cite).collect::<Vec<_>>().join(" ")
}

fn money(x: f64, currency: &str) -> String {
    let rounded = x.round() as i64;
    let digits = rounded.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped} {currency}", if rounded < 0 { "−" } else { "" })
}

fn duration(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

fn blocks(d: &RiskDocument) -> Vec<Block> {
    use Block::{Heading, List, Paragraph, Table};
    let mut b = Vec::new();
    let org =
        if d.organisation.is_empty() { String::new() } else { format!(" — {}", d.organisation) };
    b.push(Heading(1, format!("Risk from evidence{org}")));
    b.push(Paragraph(format!(
        "Computed by stressor {} from {} report(s). Every number cites the report field it came \
         from as rN:/json/pointer (RFC 6901) into report N below.",
        d.stressor_version,
        d.inputs.len()
    )));
    b.push(Table(
        vec!["#", "report", "scenario", "seed", "verdict", "format"],
        d.inputs
            .iter()
            .map(|i| {
                vec![
                    format!("r{}", i.index),
                    i.path.clone(),
                    i.scenario.clone(),
                    i.seed.to_string(),
                    i.verdict.clone(),
                    i.format_version.clone(),
                ]
            })
            .collect(),
    ));
    if !d.assumptions.is_empty() {
        b.push(Heading(2, "Assumptions".into()));
        b.push(List(d.assumptions.clone()));
    }

    b.push(Heading(2, "FMEA".into()));
    b.push(Paragraph(
        "S from the share of the function lost, O from failures per thousand decisions (rate × \
         exposure), D from the measured detection probability and MTTD against the maximum \
         tolerable downtime; RPN = S × O × D; AP is the AIAG & VDA (2019) action priority. \
         The scales are in docs/risk.md."
            .into(),
    ));
    b.push(Table(
        vec![
            "finding",
            "item",
            "failure mode",
            "effect",
            "cause",
            "S",
            "O",
            "D",
            "RPN",
            "AP",
            "action",
        ],
        d.fmea
            .iter()
            .map(|r| {
                vec![
                    r.finding.clone(),
                    r.item.clone(),
                    r.failure_mode.clone(),
                    r.effect.clone(),
                    r.cause.clone(),
                    r.severity.to_string(),
                    match r.occurrence_range {
                        Some([lo, hi]) if lo != hi => format!("{} ({lo}–{hi})", r.occurrence),
                        _ => r.occurrence.to_string(),
                    },
                    r.detection.to_string(),
                    r.rpn.to_string(),
                    format!("{:?}", r.action_priority),
                    if r.action_required { "required".into() } else { String::new() },
                ]
            })
            .collect(),
    ));
    b.push(Heading(3, "How each row was scored".into()));
    b.push(List(
        d.fmea
            .iter()
            .map(|r| {
                format!(
                    "{}: S: {}. O: {}. D: {}.",
                    r.finding, r.rationale.severity, r.rationale.occurrence, r.rationale.detection
                )
            })
            .collect(),
    ));

    b.push(Heading(2, "Risk register".into()));
    b.push(Table(
        vec![
            "id",
            "risk",
            "category",
            "L",
            "I",
            "score",
            "appetite",
            "status",
            "controls (residual score)",
            "residual",
            "response",
            "owner",
            "evidence",
        ],
        d.register
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.risk.clone(),
                    r.category.key().into(),
                    r.likelihood.to_string(),
                    r.impact.to_string(),
                    r.score.to_string(),
                    r.appetite.map_or("—".into(), |a| a.to_string()),
                    r.status.clone(),
                    r.controls
                        .iter()
                        .map(|c| {
                            format!(
                                "{} ({}; impact {:.3} vs {:.3})",
                                c.name, c.score, c.impact[0], c.impact[1]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    format!("{} ({})", r.residual_score, r.residual_status),
                    r.response.clone(),
                    r.owner.clone(),
                    cites(&r.evidence),
                ]
            })
            .collect(),
    ));
    if !d.retraining_triggers.is_empty() {
        b.push(Heading(3, "Retraining triggers".into()));
        b.push(List(
            d.retraining_triggers
                .iter()
                .map(|t| format!("{}: {}. Why: {}.", t.model, t.trigger, t.rationale))
                .collect(),
        ));
    }

    b.push(Heading(2, "Business impact analysis".into()));
    if d.bia.is_empty() {
        b.push(Paragraph(
            "No business processes in the context: pass --context with [[process]] tables.".into(),
        ));
    } else {
        let c = &d.currency;
        b.push(Table(
            vec![
                "process",
                "owner",
                "worst impact",
                "loss per hour",
                "loss per incident",
                "measured RTO",
                "RTO status",
                "with controls",
                "status with controls",
                "RTO target",
                "MTD",
                "events lost",
                "RPO status",
                "evidence",
            ],
            d.bia
                .iter()
                .map(|r| {
                    vec![
                        r.process.clone(),
                        r.owner.clone(),
                        r.worst_impact
                            .as_ref()
                            .map_or("—".into(), |(x, f)| format!("{:.1} % ({f})", 100.0 * x)),
                        r.loss_per_hour.map_or("—".into(), |x| money(x, c)),
                        r.loss_per_incident
                            .as_ref()
                            .map_or("—".into(), |(x, f)| format!("{} ({f})", money(*x, c))),
                        r.measured_rto_s
                            .as_ref()
                            .map_or("—".into(), |(s, f)| format!("{} ({f})", duration(*s))),
                        r.rto_status.clone(),
                        r.measured_rto_with_controls_s
                            .as_ref()
                            .map_or("—".into(), |(s, f)| format!("{} ({f})", duration(*s))),
                        r.rto_status_with_controls.clone(),
                        duration(r.rto_target_s),
                        duration(r.max_tolerable_downtime_s),
                        r.measured_rpo_events
                            .as_ref()
                            .map_or("—".into(), |(e, f)| format!("{e} ({f})")),
                        r.rpo_status.clone(),
                        cites(&r.evidence),
                    ]
                })
                .collect(),
        ));
    }

    b.push(Heading(2, "NIST AI RMF 1.0 crosswalk".into()));
    b.push(Table(
        vec!["subcategory", "text", "evidence"],
        d.crosswalk
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.text.clone(),
                    if r.gap { "GAP: no evidence".into() } else { abbreviate(&r.evidence) },
                ]
            })
            .collect(),
    ));
    if !d.atlas.is_empty() {
        b.push(Heading(3, "MITRE ATLAS techniques exercised".into()));
        b.push(Table(
            vec!["technique", "name", "findings"],
            d.atlas
                .iter()
                .map(|a| vec![a.technique.clone(), a.name.clone(), a.findings.join(", ")])
                .collect(),
        ));
    }

    b.push(Heading(2, "Post-mortems".into()));
    if d.postmortems.is_empty() {
        b.push(Paragraph("No run with a timeline among the reports.".into()));
    }
    for pm in &d.postmortems {
        b.push(Heading(3, pm.title.clone()));
        b.push(Paragraph(format!(
            "Status: {}. Date: {}. Evidence: {}.",
            pm.status,
            pm.date.clone().unwrap_or_else(|| "not recorded".into()),
            cites(&pm.evidence)
        )));
        b.push(Paragraph(format!("Summary: {}", pm.summary)));
        for (title, items) in [
            ("Impact", &pm.impact),
            ("Root causes", &pm.root_causes),
            ("Detection", &pm.detection),
            ("Resolution", &pm.resolution),
            ("What went well", &pm.went_well),
            ("What went badly", &pm.went_badly),
            ("Where we got lucky", &pm.lucky),
        ] {
            b.push(Heading(4, title.into()));
            b.push(List(if items.is_empty() { vec!["—".into()] } else { items.clone() }));
        }
        b.push(Heading(4, "Trigger".into()));
        b.push(Paragraph(if pm.trigger.is_empty() { "—".into() } else { pm.trigger.clone() }));
        b.push(Heading(4, "Action items".into()));
        b.push(Table(
            vec!["item", "type", "owner"],
            pm.action_items
                .iter()
                .map(|a| vec![a.item.clone(), a.kind.clone(), a.owner.clone()])
                .collect(),
        ));
        b.push(Heading(4, "Timeline".into()));
        b.push(Table(
            vec!["t", "event"],
            pm.timeline.iter().map(|(t, e)| vec![duration(*t), e.clone()]).collect(),
        ));
    }
    b
}

/// At most eight items, then how many more (the JSON keeps them all).
fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!("; and {} more", items.len() - SHOWN));
    }
    text
}

/// Escapes text for Markdown: characters that would start markup are backslash-escaped, line
/// breaks become spaces, so a table cell stays one cell.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '{' | '}' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// The documents as Markdown (`risk.md`).
pub fn markdown(d: &RiskDocument) -> String {
    let mut out = String::new();
    for block in blocks(d) {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("{} {}\n\n", "#".repeat(usize::from(level)), md(&text)));
            }
            Block::Paragraph(text) => out.push_str(&format!("{}\n\n", md(&text))),
            Block::List(items) => {
                for item in items {
                    out.push_str(&format!("- {}\n", md(&item)));
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                out.push_str(&format!(
                    "| {} |\n",
                    head.iter().map(|h| md(h)).collect::<Vec<_>>().join(" | ")
                ));
                out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                for row in rows {
                    out.push_str(&format!(
                        "| {} |\n",
                        row.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The documents as one self-contained HTML page (`risk.html`): no scripts, no external
/// resources.
pub fn html(d: &RiskDocument) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>Risk from evidence</title><style>\
         body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}\
         th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}\
         th{background:#f3f3f3}td.gap{color:#a00;font-weight:600}\
         td.fail{color:#8b0000;font-weight:700}td.pass{color:#1b5e20}\
         .scroll{overflow-x:auto;max-width:100%}\
         .badge{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;color:#fff}\
         .badge.fail{background:#b00020}.badge.pass{background:#1b5e20}\
         h2{border-bottom:2px solid #444;margin-top:2em}li{margin:.2em 0}\
         </style></head><body>\n",
    );
    let required = d.fmea.iter().filter(|r| r.action_required).count();
    let above = d.register.iter().filter(|r| r.residual_status == "above appetite").count();
    let (class, text) = if required + above == 0 {
        ("pass", "no action required".to_string())
    } else {
        (
            "fail",
            format!(
                "{required} FMEA rows need action; {above} risks above appetite after controls"
            ),
        )
    };
    out.push_str(&format!("<p><span class=\"badge {class}\">{}</span></p>\n", esc(&text)));
    for block in blocks(d) {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", esc(&text)))
            }
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", esc(&text))),
            Block::List(items) => {
                out.push_str("<ul>");
                for item in items {
                    out.push_str(&format!("<li>{}</li>", esc(&item)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(head, rows) => {
                out.push_str("<div class=\"scroll\"><table><thead><tr>");
                for h in head {
                    out.push_str(&format!("<th>{}</th>", esc(h)));
                }
                out.push_str("</tr></thead><tbody>");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let class = match cell.as_str() {
                            c if c.starts_with("GAP") => " class=\"gap\"",
                            "H" | "required" | "above appetite" => " class=\"fail\"",
                            c if c.ends_with("(above appetite)") => " class=\"fail\"",
                            "within appetite" => " class=\"pass\"",
                            c if c.ends_with("(within appetite)") => " class=\"pass\"",
                            _ => "",
                        };
                        out.push_str(&format!("<td{class}>{}</td>", esc(&cell)));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</tbody></table></div>\n");
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn csv_of(head: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(head);
    for row in rows {
        let _ = writer.write_record(row.iter().map(|c| neutralise(c)));
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading
/// apostrophe (OWASP's CSV-injection advice); numbers are left alone.
fn neutralise(cell: &str) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() { format!("'{cell}") } else { cell.to_string() }
}

/// The FMEA as CSV (`fmea.csv`): one row per failure mode.
pub fn fmea_csv(d: &RiskDocument) -> String {
    csv_of(
        &[
            "finding",
            "item",
            "process",
            "failure_mode",
            "effect",
            "cause",
            "severity",
            "occurrence",
            "occurrence_low",
            "occurrence_high",
            "detection",
            "rpn",
            "action_priority",
            "action_required",
            "failures_per_thousand",
            "exposure",
            "exposure_stated",
            "severity_rationale",
            "occurrence_rationale",
            "detection_rationale",
            "evidence",
        ],
        d.fmea
            .iter()
            .map(|r| {
                vec![
                    r.finding.clone(),
                    r.item.clone(),
                    r.process.clone().unwrap_or_default(),
                    r.failure_mode.clone(),
                    r.effect.clone(),
                    r.cause.clone(),
                    r.severity.to_string(),
                    r.occurrence.to_string(),
                    r.occurrence_range.map_or(String::new(), |[lo, _]| lo.to_string()),
                    r.occurrence_range.map_or(String::new(), |[_, hi]| hi.to_string()),
                    r.detection.to_string(),
                    r.rpn.to_string(),
                    format!("{:?}", r.action_priority),
                    r.action_required.to_string(),
                    format!("{}", r.failures_per_thousand),
                    format!("{}", r.exposure),
                    r.exposure_stated.to_string(),
                    r.rationale.severity.clone(),
                    r.rationale.occurrence.clone(),
                    r.rationale.detection.clone(),
                    cites(&r.evidence),
                ]
            })
            .collect(),
    )
}

/// The risk register as CSV (`register.csv`).
pub fn register_csv(d: &RiskDocument) -> String {
    csv_of(
        &[
            "id",
            "finding",
            "risk",
            "category",
            "cause",
            "likelihood",
            "impact",
            "score",
            "appetite",
            "status",
            "controls",
            "residual_likelihood",
            "residual_impact",
            "residual_score",
            "residual_status",
            "response",
            "owner",
            "evidence",
        ],
        d.register
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.finding.clone(),
                    r.risk.clone(),
                    r.category.key().into(),
                    r.cause.clone(),
                    r.likelihood.to_string(),
                    r.impact.to_string(),
                    r.score.to_string(),
                    r.appetite.map_or(String::new(), |a| a.to_string()),
                    r.status.clone(),
                    r.controls
                        .iter()
                        .map(|c| format!("{} ({})", c.name, c.score))
                        .collect::<Vec<_>>()
                        .join("; "),
                    r.residual_likelihood.to_string(),
                    r.residual_impact.to_string(),
                    r.residual_score.to_string(),
                    r.residual_status.clone(),
                    r.response.clone(),
                    r.owner.clone(),
                    cites(&r.evidence),
                ]
            })
            .collect(),
    )
}
