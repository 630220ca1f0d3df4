//! Each shipped scenario's HTML report as headless Chromium renders it at 1280 × 900 px: the
//! verdict marks (the header's badge, the PASS/FAIL cells) are readable, with a WCAG contrast
//! ratio of at least 4.5 between their text and background colours, and nothing overflows the
//! page width.
//!
//! Each scenario runs from a lighter copy (see [`lighten`]): the same steps, ids, sweeps, gates,
//! mitigations and ensemble members, so the same sections, tables and charts render, on fewer
//! samples. A copy of its `report.html` gets a script that measures the page once it has loaded
//! and writes the result as JSON into `<pre id="stressor-check">`; `chromium --dump-dom` prints
//! the DOM and the test reads the result back. Chromium must be on `PATH`: `cargo xtask test`
//! installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{TRAIN_ONCE, quick_member, run_command, scratch, text};

/// The window width the report must fit, in CSS pixels.
const WINDOW_WIDTH_PX: u32 = 1280;
/// WCAG 2 AA for normal text.
const MIN_CONTRAST_RATIO: f64 = 4.5;
/// A light run takes well under a minute once the built-in CNN is cached; the first one
/// trains it (about a minute on 2 idle cores).
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// Chromium renders a report in a few seconds; past this it is stuck.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);
/// The element the check script writes its JSON result into.
const RESULT_OPEN: &str = "<pre id=\"stressor-check\">";

#[test]
fn chatbot_report_renders_readably() {
    check("chatbot");
}

#[test]
fn credit_drift_report_renders_readably() {
    check("credit-drift");
}

#[test]
fn recommender_report_renders_readably() {
    check("recommender");
}

#[test]
fn system_report_renders_readably() {
    check("system");
}

#[test]
fn vision_report_renders_readably() {
    check("vision");
}

#[test]
fn vision_adversarial_report_renders_readably() {
    check("vision-adversarial");
}

#[test]
fn vision_ensemble_report_renders_readably() {
    check("vision-ensemble");
}

#[test]
fn vision_shift_report_renders_readably() {
    check("vision-shift");
}

/// Runs the lighter copy of `scenarios/{name}.toml`, renders its HTML report and asserts that
/// the verdict marks are readable and that nothing overflows the window.
fn check(name: &str) {
    let chromium = chromium();
    let dir = scratch(&format!("browser-{name}"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}.toml"));
    let scenario = lighten(&source);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, scenario.to_string()).unwrap();

    let run = {
        // Scenarios with a [target] load (or train) the cached CNNs.
        let _guard = scenario
            .contains_key("target")
            .then(|| TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner()));
        run_bounded(&mut run_command(&dir, &path), &dir.join("stressor"), RUN_LIMIT)
    };
    // 0: every gate held, 1: a gate failed; both write the reports.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{name}: stressor run exited with {}\n{}",
        run.status,
        run.output
    );
    let report = dir.join("out/report.html");
    let result = render(&chromium, &report, &dir);
    let problems = problems(&result);
    assert!(
        problems.is_empty(),
        "{name}: the HTML report at {WINDOW_WIDTH_PX} px wide:\n  {}\nreport: {}\n\
         see it: chromium --headless --screenshot=/tmp/report.png --window-size={WINDOW_WIDTH_PX},2000 file://{}",
        problems.join("\n  "),
        report.display(),
        report.display()
    );
}

/// The `chromium` executable on `PATH`.
///
/// # Panics
/// When there is none: the test must not pass without looking at the report.
pub(crate) fn chromium() -> PathBuf {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths).map(|dir| dir.join("chromium")).find(|p| p.is_file()).expect(
        "chromium is not on PATH: these tests render the HTML reports in headless Chromium; \
         run `cargo xtask test`, which installs it (Debian's `chromium` package)",
    )
}

/// The scenario at `source` with smaller numbers and the same structure:
///
/// - `data.samples`, `calibration.samples` and `system.samples` at most 100 (0 stays 0), the
///   first two set when absent;
/// - each attack's `queries` at most 50;
/// - each mitigation's `train_samples` at most 1000 and `epochs` 1;
/// - an ensemble's built-in members other than the cached `train_seed = 1` become the same
///   architecture's weights from [`quick_member`] (trained in seconds, not a minute each);
/// - a string naming a file or folder next to the scenario becomes an absolute path, so it
///   still resolves from the scratch directory.
///
/// The chatbot scenario evaluates 300 in-scope and 10 off-topic queries and surges for 2 s
/// between 2 s and 4 s of baseline. The system scenario keeps its load profile (32 s, mostly
/// waiting), the drift scenario its
/// stream (1000 rows of German credit data, fast already), and an ensemble all its members.
fn lighten(source: &Path) -> toml::Table {
    let text = std::fs::read_to_string(source).unwrap();
    let mut scenario: toml::Table =
        text.parse().unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    if scenario.contains_key("data") {
        // Absent, they mean all the data and a 500-image calibration split.
        for section in ["data", "calibration"] {
            let table = scenario.entry(section).or_insert(toml::Table::new().into());
            if let Some(table) = table.as_table_mut() {
                table.entry("samples").or_insert(toml::Value::Integer(100));
            }
        }
    }
    for section in ["data", "calibration", "system"] {
        if let Some(table) = scenario.get_mut(section).and_then(toml::Value::as_table_mut) {
            cap(table, "samples", 100);
        }
    }
    for step in tables(&mut scenario, "steps") {
        cap(step, "queries", 50);
    }
    for mitigation in tables(&mut scenario, "mitigations") {
        // Absent, they mean the whole training slice and the built-in recipe's epochs.
        mitigation.entry("train_samples").or_insert(toml::Value::Integer(1000));
        cap(mitigation, "train_samples", 1000);
        mitigation.insert("epochs".into(), toml::Value::Integer(1));
    }
    if let Some(members) = scenario
        .get_mut("target")
        .and_then(|t| t.get_mut("members"))
        .and_then(toml::Value::as_array_mut)
    {
        for member in members.iter_mut().filter_map(toml::Value::as_table_mut) {
            let seed = member.get("train_seed").and_then(toml::Value::as_integer).unwrap_or(1);
            if member.get("kind").and_then(toml::Value::as_str) == Some("builtin") && seed != 1 {
                let path = quick_member(u64::try_from(seed).unwrap());
                member.insert("kind".into(), "safetensors".into());
                member.remove("train_seed");
                member.insert("path".into(), path.display().to_string().into());
            }
        }
    }
    if let Some(recommender) = scenario.get_mut("recommender").and_then(toml::Value::as_table_mut) {
        // A smaller world and less traffic: the same faults and policies on the same timeline.
        recommender.insert("warmup".into(), toml::Value::String("30m".into()));
        let world = recommender.entry("world").or_insert(toml::Table::new().into());
        if let Some(world) = world.as_table_mut() {
            world.insert("users".into(), toml::Value::Integer(500));
            world.insert("items".into(), toml::Value::Integer(300));
            world.insert("sessions_per_second".into(), toml::Value::Float(3.0));
        }
    }
    if let Some(chatbot) = scenario.get_mut("chatbot").and_then(toml::Value::as_table_mut) {
        // Fewer queries and a shorter surge: every step, table and chart is still there.
        chatbot.insert("samples".into(), toml::Value::Integer(300));
        chatbot.insert("off_topic_samples".into(), toml::Value::Integer(10));
        if let Some(surge) = chatbot.get_mut("surge").and_then(toml::Value::as_table_mut) {
            for (key, value) in [("before", "2s"), ("duration", "2s"), ("after", "4s")] {
                surge.insert(key.into(), toml::Value::String(value.into()));
            }
        }
    }
    let dir = source.parent().unwrap().canonicalize().unwrap();
    for (_, value) in scenario.iter_mut() {
        absolute_paths(value, &dir);
    }
    scenario
}

/// `table[key] = min(table[key], max)` when `table[key]` is an integer.
fn cap(table: &mut toml::Table, key: &str, max: i64) {
    if let Some(toml::Value::Integer(n)) = table.get_mut(key) {
        *n = (*n).min(max);
    }
}

/// The tables of the array of tables `scenario[key]` (none when absent).
fn tables<'a>(
    scenario: &'a mut toml::Table,
    key: &str,
) -> impl Iterator<Item = &'a mut toml::Table> {
    scenario
        .get_mut(key)
        .and_then(toml::Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table_mut)
}

/// Replaces, anywhere in `value`, a relative path that names something in `dir` by its
/// absolute path.
fn absolute_paths(value: &mut toml::Value, dir: &Path) {
    match value {
        toml::Value::String(text) => {
            let relative = Path::new(text.as_str());
            if !text.is_empty() && relative.is_relative() && dir.join(relative).exists() {
                *text = dir.join(relative).display().to_string();
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| absolute_paths(v, dir)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| absolute_paths(v, dir)),
        _ => {}
    }
}

/// A process that ran to its end.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// stdout, then stderr, for failure messages.
    pub(crate) output: String,
    pub(crate) stdout: Vec<u8>,
}

/// Runs `command` with stdout and stderr in files `{log}.stdout` and `{log}.stderr`, and kills
/// it with its process group (Chromium's helpers included) once it has run for `limit`.
///
/// # Panics
/// When it cannot start or runs past `limit`.
pub(crate) fn run_bounded(command: &mut Command, log: &Path, limit: Duration) -> Finished {
    let (stdout_path, stderr_path) = (log.with_extension("stdout"), log.with_extension("stderr"));
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let mut child =
        command.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let Some(status) = status else {
        // The whole group: a headless browser leaves renderer processes behind otherwise.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{:?} ran past {limit:?} and was killed\n{}",
            command.get_program(),
            text(&std::fs::read(&stderr_path).unwrap_or_default())
        );
    };
    let stdout = std::fs::read(&stdout_path).unwrap();
    let stderr = std::fs::read(&stderr_path).unwrap();
    let output = format!("stdout:\n{}\nstderr:\n{}", text(&stdout), text(&stderr));
    Finished { status, output, stdout }
}

/// Loads a copy of `report` with [`CHECK_SCRIPT`] in headless Chromium and returns the
/// script's result.
pub(crate) fn render(chromium: &Path, report: &Path, dir: &Path) -> serde_json::Value {
    let html =
        std::fs::read_to_string(report).unwrap_or_else(|e| panic!("{}: {e}", report.display()));
    let html = without_csp(&html);
    let script = format!("<script>{CHECK_SCRIPT}</script>\n");
    let page = match html.rfind("</body>") {
        Some(end) => format!("{}{script}{}", &html[..end], &html[end..]),
        None => html + &script,
    };
    let checked = dir.join("report-check.html");
    std::fs::write(&checked, page).unwrap();
    let mut command = Command::new(chromium);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--window-size={WINDOW_WIDTH_PX},900"))
        .arg("--virtual-time-budget=5000")
        // A profile of its own: the tests run Chromium in parallel.
        .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
        .arg("--dump-dom")
        .arg(file_url(&checked));
    let run = run_bounded(&mut command, &dir.join("chromium"), BROWSER_LIMIT);
    assert!(run.status.success(), "chromium exited with {}\n{}", run.status, run.output);
    let dom = text(&run.stdout);
    let json = dom
        .split_once(RESULT_OPEN)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| unescape(json))
        .unwrap_or_else(|| {
            panic!(
                "no {RESULT_OPEN} in Chromium's DOM: the check script did not run\n{}",
                run.output
            )
        });
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// `html` without `<meta http-equiv="Content-Security-Policy" …>` tags, which could forbid the
/// inline check script.
fn without_csp(html: &str) -> String {
    let mut rest = html;
    let mut kept = String::with_capacity(html.len());
    while let Some(start) = rest.to_ascii_lowercase().find("<meta") {
        let end = rest[start..].find('>').map_or(rest.len(), |i| start + i + 1);
        let tag = rest[start..end].to_ascii_lowercase();
        kept.push_str(&rest[..start]);
        if !tag.contains("content-security-policy") {
            kept.push_str(&rest[start..end]);
        }
        rest = &rest[end..];
    }
    kept + rest
}

/// A `file://` URL for an absolute path, with the characters that URLs reserve escaped.
pub(crate) fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.display().to_string().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(byte as char);
            }
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

/// Text content as Chromium serialises it, back to the text.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// What is wrong with the rendered page, one line each; empty when nothing is.
pub(crate) fn problems(result: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(error) = result["error"].as_str() {
        problems.push(format!("the check script failed: {error}"));
    }
    let marks = result["marks"].as_array().cloned().unwrap_or_default();
    if !marks.iter().any(|m| m["element"].as_str().is_some_and(|e| e.contains(".badge"))) {
        problems.push("no verdict badge (.badge) with text".into());
    }
    for mark in &marks {
        let ratio = mark["ratio"].as_f64();
        if ratio.is_none_or(|r| r < MIN_CONTRAST_RATIO) {
            problems.push(format!(
                "unreadable: {} {:?} is {} on {} (contrast {} < {MIN_CONTRAST_RATIO}){}",
                mark["element"].as_str().unwrap_or("?"),
                mark["text"].as_str().unwrap_or(""),
                mark["colour"].as_str().unwrap_or("?"),
                mark["background"].as_str().unwrap_or("?"),
                ratio.map_or("unknown".into(), |r| format!("{r:.2}")),
                mark["note"].as_str().map(|n| format!(": {n}")).unwrap_or_default(),
            ));
        }
    }
    let (viewport, scroll) = (&result["viewport_px"], &result["scroll_width_px"]);
    if viewport.as_f64().zip(scroll.as_f64()).is_none_or(|(v, s)| s > v) {
        problems.push(format!("the page is {scroll} px wide in a {viewport}-px viewport"));
    }
    // A report repeats its tables per step: one line per element and text, with a count.
    let overflowing: Vec<&serde_json::Value> =
        result["overflowing"].as_array().into_iter().flatten().collect();
    let key = |e: &serde_json::Value| (e["element"].clone(), e["text"].clone());
    for (i, element) in overflowing.iter().enumerate() {
        if overflowing[..i].iter().any(|seen| key(seen) == key(element)) {
            continue;
        }
        let count = overflowing.iter().filter(|e| key(e) == key(element)).count();
        let more = if count > 1 { format!("; {} more like it", count - 1) } else { String::new() };
        problems.push(format!(
            "overflows the viewport: {} ({} px wide, right edge at {} px, after heading {}{more}): {}",
            element["element"].as_str().unwrap_or("?"),
            element["width_px"],
            element["right_px"],
            element["section"],
            element["text"],
        ));
    }
    problems
}

/// Measures the loaded page and appends `<pre id="stressor-check">` with a JSON object:
/// `viewport_px` and `scroll_width_px` (the document's), `overflowing` (the outermost elements
/// whose right edge passes the viewport outside any scrolling box), `marks` (each verdict
/// mark's colours and contrast ratio) and `error` (an exception's message, or null).
const CHECK_SCRIPT: &str = r##"
(function () {
  "use strict";
  function parseColour(text) {
    var m = /^rgba?\(([^)]*)\)$/.exec(text), parts;
    if (m) {
      parts = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    } else if ((m = /^color\(srgb ([^)]*)\)$/.exec(text))) {
      parts = m[1].split(/[\s\/]+/).filter(Boolean).map(Number);
      parts = [parts[0] * 255, parts[1] * 255, parts[2] * 255].concat(parts.slice(3));
    } else {
      return null;
    }
    if (parts.length < 3 || parts.some(isNaN)) return null;
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  }
  function over(top, bottom) {
    var a = top.a + bottom.a * (1 - top.a);
    if (a === 0) return { r: 0, g: 0, b: 0, a: 0 };
    function mix(c) { return (top[c] * top.a + bottom[c] * bottom.a * (1 - top.a)) / a; }
    return { r: mix("r"), g: mix("g"), b: mix("b"), a: a };
  }
  function show(c) {
    return "rgb(" + [c.r, c.g, c.b].map(Math.round).join(", ") + ")";
  }
  function luminance(c) {
    function channel(v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  }
  function describe(el) {
    var name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    for (var i = 0; i < el.classList.length; i++) name += "." + el.classList[i];
    return name;
  }
  // The last heading before `el`, or else the first inside it.
  function section(el) {
    var title = "";
    document.querySelectorAll("h1, h2, h3").forEach(function (h) {
      var position = h.compareDocumentPosition(el);
      if (position & Node.DOCUMENT_POSITION_FOLLOWING && !(position & Node.DOCUMENT_POSITION_CONTAINED_BY)) {
        title = h.textContent;
      }
    });
    var inside = el.querySelector("h1, h2, h3");
    return (title || (inside ? inside.textContent : "")).trim().slice(0, 80);
  }
  // The colour behind `el`: its own and its ancestors' backgrounds over the white canvas.
  function background(el) {
    var layers = [], notes = [];
    for (var e = el; e; e = e.parentElement) {
      var style = getComputedStyle(e);
      if (style.backgroundImage !== "none") notes.push(describe(e) + " has a background image");
      var c = parseColour(style.backgroundColor);
      if (!c) { notes.push("cannot read " + style.backgroundColor); continue; }
      layers.push(c);
      if (c.a >= 1) break;
    }
    var colour = { r: 255, g: 255, b: 255, a: 1 };
    for (var i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour);
    return { colour: colour, notes: notes };
  }
  function marks() {
    var found = [];
    document.querySelectorAll(".badge, .pass, .fail, .incomplete").forEach(function (el) {
      if (!(el instanceof HTMLElement) || !el.textContent.trim()) return;
      var style = getComputedStyle(el);
      var behind = background(el);
      var fg = parseColour(style.color);
      var mark = {
        element: describe(el), text: el.textContent.trim().slice(0, 40),
        colour: style.color, background: show(behind.colour), ratio: null,
        note: behind.notes.join("; ") || null
      };
      if (fg) {
        var text = over(fg, behind.colour);
        var l1 = luminance(text), l2 = luminance(behind.colour);
        mark.ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      } else {
        mark.note = "cannot read the colour " + style.color;
      }
      found.push(mark);
    });
    return found;
  }
  // The outermost elements under <body> whose right edge passes the viewport, unless a box
  // that scrolls or clips sideways (a table wrapper, an SVG chart) holds them.
  function overflowing(width) {
    var found = [];
    function holds(el) {
      return getComputedStyle(el).overflowX !== "visible";
    }
    function walk(el) {
      for (var child = el.firstElementChild; child; child = child.nextElementSibling) {
        var rect = child.getBoundingClientRect();
        if (rect.right > width + 0.5) {
          found.push({
            element: describe(child), right_px: Math.round(rect.right),
            width_px: Math.round(rect.width), section: section(child),
            text: (child.innerText || child.textContent).trim().replace(/\s+/g, " ").slice(0, 80)
          });
        } else if (!holds(child)) {
          walk(child);
        }
      }
    }
    walk(document.body);
    return found.slice(0, 100);
  }
  function check() {
    var result = { error: null };
    try {
      var width = document.documentElement.clientWidth;
      result.viewport_px = width;
      result.scroll_width_px = document.documentElement.scrollWidth;
      result.marks = marks();
      result.overflowing = overflowing(width);
    } catch (e) {
      result.error = String(e && e.stack || e);
    }
    var pre = document.createElement("pre");
    pre.id = "stressor-check";
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }
  if (document.readyState === "complete") check(); else window.addEventListener("load", check);
})();
"##;
