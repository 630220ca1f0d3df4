//! `stressor demo`: runs the embedded vision scenario on the built-in model and data.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stressor_schema::ExitCode as exit_code;

use crate::args::DemoArgs;
use crate::cmd::run::execute;
use crate::families::FAMILIES;
use crate::output::say;

/// The scenario `stressor demo` runs, embedded so the demo needs no file.
const DEMO_SCENARIO: &str = include_str!("../../../../scenarios/vision.toml");

pub(crate) fn run(args: &DemoArgs) -> i32 {
    match stressor_scenario::plan(DEMO_SCENARIO, Path::new("builtin:vision.toml"), FAMILIES) {
        Ok(plan) => execute(plan, &args.options, PathBuf::from("reports/demo")),
        Err(error) => {
            say!("error: the embedded demo scenario is invalid (a bug in stressor)\n{error}");
            exit_code::BUG
        }
    }
}
