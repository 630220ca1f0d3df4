//! One self-contained HTML file: inline CSS and SVG, PNGs as `data:` URIs, no scripts and no
//! external resources, so it can be attached to a CI run or mailed as is.
//!
//! Every string that comes from the scenario, the model or the data is HTML-escaped. The file
//! size is capped: exemplar images appear only for the largest dial value of each step, at most
//! [`HtmlConfig::max_exemplars_per_point`] of them (report.json keeps them all), and stop once
//! [`HtmlConfig::max_image_bytes`] of PNG data is embedded. Nothing is wider than the window:
//! tables scroll sideways inside their own container.
//!
//! The page (`html/page.rs`) holds the header, gates and warnings and hands each step to its
//! family's section, rendered from that family's part of the record: `vision.rs` (steady
//! state, attack, corruption, lighting, mitigation and summary steps), `system.rs` (system
//! steps and their timelines), `drift.rs` (drift steps and their drift timelines),
//! `recsys.rs` (recommender steps and their recsys timelines: the policies compared, fault
//! impacts, business impact, the circuit breaker), `chatbot.rs` (chatbot steps and their
//! details) and `wargame.rs` (war-game steps, one per blue team: the teams compared, each
//! team's timeline, incidents, impact, monitored series and alias history). A new family adds
//! one file there and one arm in the page's dispatch; `markup.rs` holds what the sections
//! share (escaping, headings, scrolling tables, estimate cells).

mod chatbot;
mod drift;
mod markup;
mod page;
mod recsys;
mod system;
mod vision;
mod wargame;

pub use page::{HtmlConfig, to_string, write};

pub(crate) use markup::escape;
