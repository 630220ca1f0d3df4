//! The `stressor` command.
//!
//! This is the only crate that writes to stdout and stderr, reads environment variables and
//! picks exit codes (see `stressor_schema::exit_code`). Everything else is a library.

mod args;
mod cmd;
mod dashboard;
mod families;
mod output;
mod progress;
mod signal;

use std::process::ExitCode;

use clap::Parser as _;

/// See the comment on `mimalloc` in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::init_tracing(cli.verbose);
    let code = match cli.command {
        args::Command::Run(run) => cmd::run::run(&run),
        args::Command::Check(check) => cmd::check::run(&check),
        args::Command::Demo(demo) => cmd::demo::run(&demo),
        args::Command::Serve(serve) => cmd::serve::run(&serve),
        args::Command::Load(load) => cmd::load::run(&load),
        args::Command::Proxy(proxy) => cmd::proxy::run(&proxy),
        args::Command::Drift(drift) => cmd::drift::run(&drift),
        args::Command::Risk(risk) => cmd::risk::run(&risk),
        args::Command::Compare(compare) => cmd::compare::run(&compare),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(101))
}
