//! Progress bars on stderr, driven by run events.

use std::collections::HashMap;
use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stressor_core::{Event, EventSink};

/// Draws one bar per step from [`Event::Progress`]; hidden when disabled or when stderr is not
/// a terminal (indicatif checks).
pub(crate) struct ProgressSink {
    enabled: bool,
    bars: HashMap<String, ProgressBar>,
}

impl ProgressSink {
    pub(crate) fn new(enabled: bool) -> Self {
        ProgressSink { enabled, bars: HashMap::new() }
    }

    pub(crate) fn finish(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }

    fn bar(&mut self, step_id: &str, total: u64) -> &ProgressBar {
        let enabled = self.enabled;
        self.bars.entry(step_id.to_string()).or_insert_with(|| {
            let target =
                if enabled { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
            let bar = ProgressBar::with_draw_target(Some(total), target);
            let style =
                ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed}/{eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(step_id.to_string());
            bar
        })
    }
}

impl EventSink for ProgressSink {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Progress { step_id, done, total } => {
                let bar = self.bar(step_id, *total);
                bar.set_length(*total);
                bar.set_position(*done);
            }
            Event::StepFinished(result) => {
                if let Some(bar) = self.bars.remove(&result.info.id) {
                    bar.finish_and_clear();
                }
                if let Some(bar) = self.bars.remove("train") {
                    bar.finish_and_clear();
                }
            }
            // Printed whether or not bars are shown: the user needs the address. A closed
            // stderr drops it (see `say!` in output.rs).
            Event::Endpoint { name, url } => {
                let _ = writeln!(std::io::stderr(), "stressor: {name} on {url}");
            }
            _ => {}
        }
    }
}
