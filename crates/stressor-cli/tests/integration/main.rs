//! Integration tests of the `stressor` binary, one test binary with a module per topic:
//! `cli` (exit codes, report files, error messages, every subcommand) and `browser` (each
//! shipped scenario's HTML report as headless Chromium renders it).
//!
//! The runs use the real built-in CNN, trained once and cached in a directory shared by all
//! tests of this binary (under `CARGO_TARGET_TMPDIR`), on small samples of the embedded data.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod browser;
mod cli;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The binary under test, with no colour and no cache directory from the environment.
fn stressor() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stressor"));
    command.env_remove("STRESSOR_CACHE_DIR").env("NO_COLOR", "1");
    command
}

/// The model cache shared by every test of this binary.
fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-cli-cache")
}

/// Training the model is the expensive part: the first run trains and caches, the others load.
static TRAIN_ONCE: Mutex<()> = Mutex::new(());

/// An empty directory of its own for the test `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stressor-cli").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `stressor run` of `path` with reports in `dir/out` and the shared model cache.
fn run_command(dir: &Path, path: &Path) -> Command {
    let mut command = stressor();
    command
        .arg("run")
        .arg(path)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--cache-dir")
        .arg(cache_dir())
        .arg("--no-progress");
    command
}

/// Process output as text, invalid UTF-8 replaced.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
