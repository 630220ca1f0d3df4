//! Saving a run's dashboard: every event as one NDJSON line while the run goes, and the page
//! with those events embedded, which replays the run offline.

use std::io::{BufRead, Write};

use stressor_core::{Event, EventSink};

use crate::page;
use crate::wire::{Frame, embed_safe};

/// Writes every event the dashboard shows as one NDJSON line (`{"event":KIND,"data":{…}}`), in
/// order, as it arrives: nothing is downsampled, and a run that stops early keeps its lines.
///
/// A write error stops the recording; [`Recorder::finish`] returns it.
///
/// # Examples
/// ```
/// use stressor_core::EventSink as _;
/// let mut recorder = stressor_dashboard::Recorder::new(Vec::new());
/// recorder.event(&stressor_core::Event::RunFinished {
///     verdict: stressor_core::Verdict::Pass,
///     elapsed: std::time::Duration::from_secs(2),
/// });
/// let ndjson = recorder.finish()?;
/// assert_eq!(ndjson, b"{\"event\":\"finished\",\"data\":{\"elapsed_s\":2.0,\"verdict\":\"pass\"}}\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Recorder<W: Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Recorder<W> {
    /// A recorder writing to `out` (buffer it: one write per event).
    pub fn new(out: W) -> Recorder<W> {
        Recorder { out, error: None }
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// The first write error, or the flush's.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> EventSink for Recorder<W> {
    fn event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        if let Some(frame) = Frame::of(event)
            && let Err(error) = self.out.write_all(frame.to_ndjson().as_bytes())
        {
            self.error = Some(error);
        }
    }
}

/// Writes the dashboard page with the recorded `ndjson` embedded (one event per line, as
/// [`Recorder`] writes them) to `out`: one self-contained file that shows the whole run
/// offline, without a server. Every line is made safe to embed ([`embed_safe`]), so no
/// recorded text can end the page's data element or add markup.
///
/// # Errors
/// Reading `ndjson` or writing `out`.
pub fn write_offline_page(ndjson: impl BufRead, mut out: impl Write) -> std::io::Result<()> {
    let (head, tail) = page::split_at_events();
    out.write_all(head.as_bytes())?;
    out.write_all(page::EVENTS_OFFLINE_OPEN.as_bytes())?;
    out.write_all(b"\n")?;
    for line in ndjson.lines() {
        let line = line?;
        if !line.trim().is_empty() {
            out.write_all(embed_safe(&line).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.write_all(page::EVENTS_CLOSE.as_bytes())?;
    out.write_all(tail.as_bytes())?;
    out.flush()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap fails the test")]
mod tests {
    use stressor_core::{LiveSample, Warning};

    use super::*;

    const HOSTILE: &str = "</script><img src=x onerror=alert(1)><script>alert(2)</script>";

    fn recorded() -> Vec<u8> {
        let mut recorder = Recorder::new(Vec::new());
        recorder.event(&Event::Live(LiveSample {
            step_id: "war".into(),
            t_s: 1.0,
            values: vec![(HOSTILE.into(), 1.0)],
            notes: vec![HOSTILE.into()],
        }));
        recorder.event(&Event::Progress { step_id: "war".into(), done: 1, total: 2 });
        recorder.event(&Event::Warning(Warning {
            step_id: Some("war".into()),
            code: "x".into(),
            message: "<!-- & -->".into(),
        }));
        recorder.finish().unwrap()
    }

    #[test]
    fn the_recording_has_one_line_per_shown_event() {
        let ndjson = String::from_utf8(recorded()).unwrap();
        let lines: Vec<serde_json::Value> =
            ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "progress is not recorded");
        assert_eq!(lines[0]["event"], "live");
        assert_eq!(lines[0]["data"]["notes"][0], HOSTILE);
        assert_eq!(lines[1]["event"], "warning");
    }

    #[test]
    fn hostile_notes_stay_data_in_the_offline_page() {
        let ndjson = recorded();
        let mut html = Vec::new();
        write_offline_page(ndjson.as_slice(), &mut html).unwrap();
        let html = String::from_utf8(html).unwrap();
        let page_scripts = page::LIVE_PAGE.matches("<script").count();
        assert_eq!(html.matches("<script").count(), page_scripts, "no script element added");
        assert_eq!(html.matches("</script>").count(), page::LIVE_PAGE.matches("</script>").count());
        assert!(!html.contains("<img"), "no element added");
        assert!(!html.contains("<!-- &"), "no comment opened");
        // The embedded lines parse back to the recorded events.
        let embedded = html
            .split_once(page::EVENTS_OFFLINE_OPEN)
            .and_then(|(_, rest)| rest.split_once(page::EVENTS_CLOSE))
            .map(|(events, _)| events)
            .unwrap();
        let events: Vec<serde_json::Value> = embedded
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["data"]["notes"][0], HOSTILE);
        assert_eq!(events[0]["data"]["values"][0][0], HOSTILE);
        assert_eq!(events[1]["data"]["message"], "<!-- & -->");
    }
}
