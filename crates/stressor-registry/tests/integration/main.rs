//! stressor-registry's integration tests: the file backend end to end, the MLflow backend
//! against a loopback server replaying answers captured from a real MLflow server.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

mod file;
mod mlflow;

/// A fresh, empty directory under the system's temporary directory.
fn scratch(label: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stressor-registry-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
