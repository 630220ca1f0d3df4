//! The `stressor` command.
//!
//! This is the only crate that writes to stdout and stderr, reads environment variables and
//! picks exit codes (see `stressor_schema::exit_code`). Everything else is a library.

mod args;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser as _;

/// See the comment on `mimalloc` in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::init_tracing(cli.verbose);
    let code = match cli.command {
        args::Command::Run(run) => output::run(&run),
        args::Command::Check(check) => output::check(&check),
        args::Command::Demo(demo) => output::demo(&demo),
        args::Command::Serve(serve) => output::serve(&serve),
        args::Command::Load(load) => output::load(&load),
        args::Command::Proxy(proxy) => output::proxy(&proxy),
        args::Command::Drift(drift) => output::drift(&drift),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(101))
}
