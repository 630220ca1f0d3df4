//! The plan as people read it (`stressor check`).

use std::io::Write;

use crate::plan::{ActionKind, Bound, ClockKind, RegistryPlan, Technique, WargamePlan};

fn hours(s: f64) -> String {
    if s >= 3600.0 { format!("{:.1} h", s / 3600.0) } else { format!("{:.0} min", s / 60.0) }
}

pub(crate) fn describe(plan: &WargamePlan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "war game: {} of {} clock, ticks of {}, {} seed(s); blue team `{}` and no-defence",
        hours(plan.duration_s),
        match plan.clock {
            ClockKind::Simulated => "simulated",
            ClockKind::Realtime => "real-time",
        },
        hours(plan.tick_s),
        plan.seeds,
        plan.team
    )?;
    writeln!(
        out,
        "  registry: {}",
        match &plan.registry {
            RegistryPlan::File(None) => "a fresh folder per run".to_string(),
            RegistryPlan::File(Some(p)) => format!("folder {}", p.display()),
            RegistryPlan::Mlflow(url) => format!("MLflow at {url}"),
        }
    )?;
    writeln!(
        out,
        "  fleet: credit ({:.0} applications/h, retrained every {}), fraud ({:.0} transactions/h, {:.1} % fraud), chatbot ({:.0} queries/h, {} slots)",
        plan.credit.applications_per_hour,
        hours(plan.credit.retrain_every_s),
        plan.fraud.transactions_per_hour,
        plan.fraud.fraud_rate * 100.0,
        plan.chatbot.queries_per_hour,
        plan.chatbot.capacity
    )?;
    writeln!(out, "  red team:")?;
    for i in &plan.injects {
        let what = match &i.technique {
            Technique::LabelFlip { group, rate } => {
                format!("label flipping against {group} at {:.0} %", rate * 100.0)
            }
            Technique::Evasion { rate, budget, queries } => format!(
                "evasion of {:.0} % of fraud, budget {budget}, {queries} queries each",
                rate * 100.0
            ),
            Technique::Dos { multiple } => format!("a flood at {multiple}× the customers' rate"),
            Technique::Tamper => "a tampered artefact".into(),
            Technique::Drift { shift } => format!("drift ({shift})"),
        };
        writeln!(
            out,
            "    {:>7}  {:<20} {} on {} [{}]",
            hours(i.at_s),
            i.id,
            what,
            i.model.as_str(),
            i.technique.atlas().join(", ")
        )?;
    }
    writeln!(out, "  blue team monitors:")?;
    for m in &plan.monitors {
        let bound = match m.bound {
            Bound::Below(t) => format!("< {t}"),
            Bound::Above(t) => format!("> {t}"),
        };
        let then = m
            .then
            .map_or_else(|| "alert only".to_string(), |a| format!("then {}", plan.actions[a].id));
        let window = if m.metric == crate::plan::MonitorMetric::Integrity {
            "every tick".to_string()
        } else {
            format!("over {}", hours(m.window_s))
        };
        writeln!(
            out,
            "    {:<20} {}.{} {window} alerts when {bound}; {then}",
            m.id,
            m.model.as_str(),
            m.metric.name(),
        )?;
    }
    writeln!(out, "  blue team actions:")?;
    for a in &plan.actions {
        let extra = match &a.kind {
            ActionKind::Shed { per_client_rps } => format!(" ({per_client_rps} req/s per client)"),
            ActionKind::Retrain { quarantine, sanitise } => format!(
                " (quarantine {quarantine}, sanitise {})",
                sanitise.map_or("no".into(), |s| format!("{:.0} %", s * 100.0))
            ),
            ActionKind::Shadow { duration_s } => format!(" ({})", hours(*duration_s)),
            ActionKind::Canary { duration_s, share } => {
                format!(" ({:.0} % for {})", share * 100.0, hours(*duration_s))
            }
            ActionKind::Promote { min_dp_ratio, max_accuracy_drop } => {
                format!(" (DP ratio ≥ {min_dp_ratio}, accuracy drop ≤ {max_accuracy_drop})")
            }
            _ => String::new(),
        };
        let then = a.then.map_or_else(String::new, |n| format!(" → {}", plan.actions[n].id));
        writeln!(out, "    {:<20} {} {}{extra}{then}", a.id, a.kind.name(), a.model.as_str())?;
    }
    for gate in &plan.gates {
        writeln!(out, "  gate {}", gate.id)?;
    }
    Ok(())
}
