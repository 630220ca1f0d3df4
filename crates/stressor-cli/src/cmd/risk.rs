//! `stressor risk`: risk documents from reports and a business context.

use std::io::Write as _;

use stressor_risk::{Context, Input, RiskDocument, RiskError};
use stressor_schema::ExitCode as exit_code;

use crate::args::RiskArgs;
use crate::output::say;

/// `stressor risk REPORT… [--context FILE] --out DIR`: exit 0 when the documents were
/// written, 2 for a bad context or an unwritable `--out`, 3 for a report that cannot be used.
pub(crate) fn run(args: &RiskArgs) -> i32 {
    match documents(&args.reports, args.context.as_deref()) {
        Ok(document) => match stressor_risk::write_all(&document, &args.out) {
            Ok(paths) => {
                print_summary(&document);
                let mut out = std::io::stdout().lock();
                for path in paths {
                    let _ = writeln!(out, "wrote {}", path.display());
                }
                exit_code::PASS
            }
            Err(error) => fail(&error),
        },
        Err(error) => fail(&error),
    }
}

/// Reads the reports and the context and computes the documents; shared with `stressor run`'s
/// `[risk]` table.
pub(crate) fn documents(
    reports: &[std::path::PathBuf],
    context: Option<&std::path::Path>,
) -> Result<RiskDocument, RiskError> {
    let context = match context {
        Some(path) => Context::read(path)?,
        None => Context::empty(),
    };
    let inputs = reports
        .iter()
        .map(|path| Ok(Input { path: path.clone(), report: stressor_risk::read_report(path)? }))
        .collect::<Result<Vec<_>, RiskError>>()?;
    stressor_risk::assess(&inputs, &context)
}

pub(crate) fn fail(error: &RiskError) -> i32 {
    say!("error: {error}");
    error.exit_code()
}

pub(crate) fn print_summary(d: &RiskDocument) {
    let mut out = std::io::stdout().lock();
    macro_rules! say {
        ($($arg:tt)*) => {{
            let _ = writeln!(out, $($arg)*);
        }};
    }
    let required = d.fmea.iter().filter(|r| r.action_required).count();
    let above = d.register.iter().filter(|r| r.status == "above appetite").count();
    let residual = d.register.iter().filter(|r| r.residual_status == "above appetite").count();
    let gaps = d.crosswalk.iter().filter(|r| r.gap).count();
    say!(
        "risk: {} failure modes from {} report(s); {required} need action (AP H or RPN ≥ threshold); \
         {above} above appetite, {residual} still above with the best measured control; \
         {} of {} NIST AI RMF subcategories without evidence; {} post-mortem(s)",
        d.fmea.len(),
        d.inputs.len(),
        gaps,
        d.crosswalk.len(),
        d.postmortems.len()
    );
    let mut top: Vec<_> = d.fmea.iter().collect();
    top.sort_by(|a, b| a.action_priority.cmp(&b.action_priority).then(b.rpn.cmp(&a.rpn)));
    for r in top.iter().take(5) {
        say!(
            "  AP {:?}  RPN {:>3}  S{} O{} D{}  {}: {}",
            r.action_priority,
            r.rpn,
            r.severity,
            r.occurrence,
            r.detection,
            r.finding,
            r.failure_mode
        );
    }
    for b in &d.bia {
        say!(
            "  BIA {}: recovery {} (with the best measured controls: {}); RPO {}",
            b.process,
            b.rto_status,
            b.rto_status_with_controls,
            b.rpo_status
        );
    }
}
