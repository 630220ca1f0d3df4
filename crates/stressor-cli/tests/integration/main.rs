//! Integration tests of the `stressor` binary, one test binary with a module per topic:
//! `cli` (exit codes, report files, error messages, every subcommand), `compare` (two reports
//! written to files and compared, gates on their differences), `browser` (each
//! shipped scenario's HTML report as headless Chromium renders it) and `dashboard` (a run's
//! live dashboard in headless Chromium).
//!
//! The runs use the real built-in CNN, trained once and cached in a directory shared by all
//! tests of this binary (under `CARGO_TARGET_TMPDIR`), on small samples of the embedded data.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod browser;
mod cli;
mod compare;
mod dashboard;
mod recommender;
mod risk;
mod serve_chatbot;

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

/// A small extra ensemble member: the built-in CNN trained in this process for one epoch on
/// 1500 training images with `seed` (a few seconds, where the built-in recipe, 30 000 images
/// for two epochs, takes a minute). Different seeds and slices make members that disagree
/// somewhere, which is what the ensemble reports need. Each seed trains once per run of this
/// binary and every test gets the same file.
fn quick_member(seed: u64) -> PathBuf {
    // The seeds saved by this run: a file from an earlier run may predate a change to training.
    static SAVED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stressor-cli-member{seed}.safetensors"));
    if !saved.contains(&seed) {
        let split = stressor_data::fashion_mnist::Split::Train;
        let train = stressor_data::fashion_mnist::load(split, Some(1500)).unwrap();
        let mut config = stressor_model::builtin::TrainConfig::default();
        config.epochs = 1;
        let model = stressor_model::builtin::train(
            &train,
            &config,
            stressor_core::Seed::new(seed),
            &mut |_| {},
        )
        .unwrap();
        model.save(&path).unwrap();
        saved.push(seed);
    }
    path
}

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
