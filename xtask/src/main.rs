//! `cargo xtask`: the repository's own commands, written in Rust so that they run wherever
//! cargo does (the alias is in `.cargo/config.toml`).
//!
//! `cargo xtask test [ARGS…]` is the one test command. It installs what the test suite needs
//! when it is missing — Chromium, which the `stressor-cli` browser tests render the HTML
//! reports in (Debian's `chromium` package, with `apt-get` when running as root) — then runs
//! `cargo test --workspace ARGS…` and exits with its status.
//!
//! ```sh
//! cargo xtask test            # the whole suite
//! cargo xtask test --locked   # as CI runs it (.ci/run)
//! ```
//!
//! Non-goals: no dependencies beyond std, and no package managers other than Debian's.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool: usage on stdout, progress and errors on stderr"
)]

use std::ffi::OsString;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask test [ARGS...]

commands:
  test   install Chromium when it is missing (Debian's `chromium` package, as root),
         then run `cargo test --workspace ARGS...` and exit with its status
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next().map(|c| c.to_string_lossy().into_owned());
    match command.as_deref() {
        Some("test") => test(args.collect()),
        None | Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprint!("xtask: unknown command `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `cargo xtask test`: the tools, then the suite.
fn test(args: Vec<OsString>) -> ExitCode {
    if let Err(message) = install_chromium() {
        eprintln!("xtask: {message}");
        return ExitCode::FAILURE;
    }
    // The cargo that runs this xtask, so a `cargo +toolchain xtask` keeps its toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    match Command::new(cargo).args(["test", "--workspace"]).args(args).status() {
        // A test binary killed by a signal has no code: report a failure.
        Ok(status) => ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(error) => {
            eprintln!("xtask: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Makes sure `chromium` is on `PATH`, installing Debian's package when running as root.
///
/// # Errors
/// A message naming the package when it is missing and cannot be installed here.
fn install_chromium() -> Result<(), String> {
    if on_path("chromium") {
        return Ok(());
    }
    let missing = "chromium is not on PATH; the stressor-cli browser tests render the HTML \
                   reports in headless Chromium";
    if !on_path("apt-get") {
        return Err(format!(
            "{missing}: install it with your package manager (Debian: `chromium`)"
        ));
    }
    if !is_root() {
        return Err(format!(
            "{missing}: install Debian's `chromium` package \
             (sudo apt-get install --no-install-recommends chromium), or run this as root"
        ));
    }
    eprintln!("xtask: installing Debian's `chromium` package");
    apt_get(&["update"])?;
    apt_get(&["install", "-y", "--no-install-recommends", "chromium"])?;
    if on_path("chromium") {
        Ok(())
    } else {
        Err("apt-get installed `chromium` but it is still not on PATH".into())
    }
}

fn apt_get(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|error| format!("cannot run apt-get: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`apt-get {}` failed ({status})", args.join(" ")))
    }
}

/// Whether an executable file `name` is in one of `PATH`'s directories.
fn on_path(name: &str) -> bool {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths).any(|dir| dir.join(name).is_file())
}

/// Whether this process runs as root (user id 0), as `id -u` says.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}
