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
    let mut out = std::io::stdout().lock();
    match scenario.describe(&mut out) {
        Ok(()) => exit_code::PASS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit_code::PASS,
        Err(error) => {
            say!("error: failed to write to stdout: {error}");
            exit_code::USAGE
        }
    }
}
