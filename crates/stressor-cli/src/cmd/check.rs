//! `stressor check`: validates a scenario file and prints its resolved plan for people.

use std::io::Write as _;

use stressor_schema::ExitCode as exit_code;

use crate::args::CheckArgs;
use crate::families::FAMILIES;
use crate::output::{say, scenario_error};

pub(crate) fn run(args: &CheckArgs) -> i32 {
    let scenario = match stressor_scenario::load(&args.scenario, FAMILIES) {
        Ok(scenario) => scenario,
        Err(error) => return scenario_error(&error),
    };
    // `[risk]`'s context is read now, as the run would before it starts.
    if let Some(context) = scenario.risk.as_ref().and_then(|risk| risk.context.as_ref())
        && let Err(error) = stressor_risk::Context::read(context)
    {
        return super::risk::fail(&error);
    }
    let mut out = std::io::stdout().lock();
    // A model with operators stressor cannot run would stop the run at load (exit 3): say so
    // now, after the plan and its `warning:` lines.
    let runnable = scenario
        .subject
        .as_ref()
        .is_none_or(|s| s.target.describe_ops(&mut std::io::sink()).unwrap_or(true));
    match scenario.describe(&mut out) {
        Ok(()) if !runnable => {
            say!(
                "error: the model has operators stressor cannot run (the `warning:` lines above); \
                 a run would stop at load"
            );
            exit_code::TARGET_UNUSABLE
        }
        Ok(()) => exit_code::PASS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit_code::PASS,
        Err(error) => {
            say!("error: failed to write to stdout: {error}");
            exit_code::USAGE
        }
    }
}
