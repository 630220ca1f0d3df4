//! `--dashboard`: the run's live dashboard (`stressor_dashboard`) while it runs, and its
//! recording beside the reports: `dashboard.ndjson` (every event, written as it happens) and
//! `dashboard.html` (the page with the events embedded, which replays the run offline).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use stressor_core::{Event, EventSink};
use stressor_dashboard::{Dashboard, DashboardError, DashboardSink, Recorder};
use stressor_schema::ExitCode as exit_code;

use crate::output::{print_error_chain, say};

/// How long the page stays up after the run by default: long enough for a browser that is
/// reconnecting to be sent the end.
pub(crate) const DEFAULT_LINGER: Duration = Duration::from_secs(1);

const NDJSON: &str = "dashboard.ndjson";
const HTML: &str = "dashboard.html";

/// The dashboard and the recording of one run.
pub(crate) struct LiveDashboard {
    dashboard: Dashboard,
    sink: DashboardSink,
    recorder: Recorder<BufWriter<File>>,
}

impl LiveDashboard {
    /// Serves the dashboard on `addr` and opens `out_dir/dashboard.ndjson`; on failure, the
    /// exit code (after saying why).
    pub(crate) fn start(addr: SocketAddr, out_dir: &Path) -> Result<LiveDashboard, i32> {
        let dashboard = Dashboard::start(addr).map_err(|error| {
            print_error_chain(&error);
            if matches!(error, DashboardError::NotLoopback { .. }) {
                say!(
                    "hint: use --dashboard 127.0.0.1:PORT (port 0 picks a free one); to watch \
                     from another machine, forward the port (ssh -L PORT:127.0.0.1:PORT)"
                );
            } else {
                say!("hint: choose another port, or port 0 for a free one");
            }
            exit_code::USAGE
        })?;
        let path = out_dir.join(NDJSON);
        let file = std::fs::create_dir_all(out_dir).and_then(|()| File::create(&path));
        let file = file.map_err(|error| {
            say!("error: failed to create {}: {error}", path.display());
            say!("hint: choose a writable directory with --out");
            exit_code::USAGE
        })?;
        say!("dashboard: {}", dashboard.url());
        let sink = dashboard.sink();
        Ok(LiveDashboard { dashboard, sink, recorder: Recorder::new(BufWriter::new(file)) })
    }

    /// Finishes `dashboard.ndjson`, writes `dashboard.html` from it, keeps the page up for
    /// `linger` (Ctrl-C ends that early) and stops the server. `Err` when a file could not be
    /// written (said on stderr).
    pub(crate) fn finish(self, out_dir: &Path, linger: Duration) -> Result<(), ()> {
        let LiveDashboard { dashboard, sink, recorder } = self;
        drop(sink);
        let written = write_files(recorder, out_dir);
        match &written {
            Ok(()) => say!("stressor: wrote {}/{NDJSON}, {HTML}", out_dir.display()),
            Err(error) => say!("error: {error}"),
        }
        if linger > Duration::from_secs(2) {
            say!(
                "dashboard: serving {} for {} s more (Ctrl-C stops)",
                dashboard.url(),
                linger.as_secs_f64()
            );
        }
        wait(linger);
        dashboard.close();
        written.map_err(|_| ())
    }
}

impl EventSink for LiveDashboard {
    fn event(&mut self, event: &Event) {
        self.sink.event(event);
        self.recorder.event(event);
    }
}

fn write_files(recorder: Recorder<BufWriter<File>>, out_dir: &Path) -> Result<(), String> {
    let ndjson = out_dir.join(NDJSON);
    recorder.finish().map_err(|e| format!("failed to write {}: {e}", ndjson.display()))?;
    let html = out_dir.join(HTML);
    let read =
        File::open(&ndjson).map_err(|e| format!("failed to read {}: {e}", ndjson.display()))?;
    let out =
        File::create(&html).map_err(|e| format!("failed to write {}: {e}", html.display()))?;
    let mut out = BufWriter::new(out);
    stressor_dashboard::write_offline_page(BufReader::new(read), &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| format!("failed to write {}: {e}", html.display()))
}

/// Sleeps for `linger`, or until Ctrl-C or SIGTERM.
fn wait(linger: Duration) {
    if linger.is_zero() {
        return;
    }
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(async {
            tokio::select! {
                () = tokio::time::sleep(linger) => {}
                () = crate::signal::shutdown_signal() => {}
            }
        }),
        Err(_) => std::thread::sleep(linger),
    }
}
