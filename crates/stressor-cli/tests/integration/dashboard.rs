//! `stressor run --dashboard` in a real browser: a short systems run serves its dashboard on
//! `127.0.0.1:0`; headless Chromium loads the page while the run goes, the test reads the
//! charts' point counts twice, two seconds apart, and saves a screenshot; after the run the
//! saved `dashboard.ndjson` and `dashboard.html` hold the run, and the saved page replays it
//! offline.
//!
//! Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
//! messages ending in a NUL byte on file descriptors 3 and 4, here two named pipes), because
//! `--dump-dom` returns as soon as the page has loaded, before any event arrives. Chromium must
//! be on `PATH`: `cargo xtask test` installs it.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::browser::{chromium, file_url, run_bounded};
use crate::{TRAIN_ONCE, run_command, scratch, text};

/// Nine seconds of load: baseline, a 4× surge, a latency fault and an error fault.
const SCENARIO: &str = r#"
name = "dashboard </script><b>bold</b>"
seed = 3
[target]
kind = "builtin"
model = "fashion-cnn"
[data]
source = "builtin"
samples = 60
[calibration]
samples = 0
[system]
stages = ["3s@20", "1s@80", "5s@20"]
samples = 60
timeout = "2s"
[[system.faults]]
name = "slow"
type = "latency"
attributes = { latency = 100 }
start = "5s"
stop = "6s"
[[system.faults]]
name = "errors"
type = "http_status"
attributes = { status = 503 }
start = "7s"
stop = "8s"
[[system.gates]]
metric = "accuracy"
min = 0.5
"#;

/// The first run trains the built-in CNN (about a minute on 2 idle cores), then 9 s of load.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// One DevTools call; Chromium answers in milliseconds.
const CALL_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn the_dashboard_charts_a_live_system_run_and_saves_a_page_that_replays_it() {
    let chromium = chromium();
    let dir = scratch("dashboard");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    // The lock only guards training the CNN: once live readings arrive the model is loaded
    // (and cached), so it is released there rather than held through the whole run.
    let guard = TRAIN_ONCE.lock().unwrap_or_else(|e| e.into_inner());

    let mut run = Running::spawn(run_command(&dir, &path).args(["--dashboard", "127.0.0.1:0"]));
    let url = run.wait_for_line("dashboard: http://", RUN_LIMIT);
    let url = url.trim_start_matches("dashboard: ").trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{url}");

    let mut browser = Browser::launch(&chromium, &dir, &url);
    // The page charts the live readings once the load starts (after the model is loaded).
    let first = browser.wait_for_points("system", "requests_per_sec.ok", 2, RUN_LIMIT, &mut run);
    drop(guard);
    std::thread::sleep(Duration::from_secs(2));
    let page = browser.read();
    let second = points(&page, "system", "requests_per_sec.ok");
    assert!(second > first, "the chart did not grow: {first} then {second} points\n{page}");
    // Every series of the systems run is charted, grouped by prefix.
    for series in ["requests_per_sec.failed", "latency_ms.p50", "latency_ms.p99", "in_flight"] {
        assert!(points(&page, "system", series) > 0, "no {series}\n{page}");
    }
    assert_eq!(page["scenario"], "dashboard </script><b>bold</b>", "inserted as text");
    let png = browser.screenshot();
    let screenshot = dir.join("dashboard.png");
    std::fs::write(&screenshot, &png).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // IHDR: width and height (the viewport: the window less what headless Chromium keeps of
    // its frame), then a page with charts compresses to well over a blank one.
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!(size(16), 1280, "the window's width");
    assert!((600..=900).contains(&size(20)), "the viewport's height: {}", size(20));
    assert!(png.len() > 20_000, "{} bytes: a blank page? see {}", png.len(), screenshot.display());
    browser.close();

    let status = run.wait(RUN_LIMIT);
    assert!(matches!(status, Some(0 | 1)), "stressor run exited with {status:?}\n{}", run.stderr());
    let out = dir.join("out");
    let ndjson = std::fs::read_to_string(out.join("dashboard.ndjson")).unwrap();
    let events: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run"));
    assert_eq!(kinds.last(), Some(&"finished"));
    let live: Vec<&Value> = events.iter().filter(|e| e["event"] == "live").collect();
    assert!(live.len() >= 8, "a reading a second for 9 s: {}", live.len());
    let notes: Vec<&str> = live
        .iter()
        .flat_map(|e| e["data"]["notes"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    for note in
        ["fault `slow` (latency) starts", "fault `errors` (http_status) ends", "surge starts"]
    {
        assert!(notes.iter().any(|n| n.starts_with(note)), "no note {note:?}: {notes:?}");
    }
    assert!(kinds.contains(&"step_finished") && kinds.contains(&"gate"), "{kinds:?}");
    // The report does not keep the live readings.
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(!report.contains("requests_per_sec"), "live readings leaked into report.json");

    // The saved page embeds every event and replays them without a server.
    let html = std::fs::read_to_string(out.join("dashboard.html")).unwrap();
    assert!(html.contains("data-mode=\"offline\""));
    assert_eq!(html.matches("{\"event\":\"live\"").count(), live.len());
    assert!(!html.contains("</script><b>"), "the scenario's name closed the data element");
    let dom = offline_dom(&chromium, &out.join("dashboard.html"), &dir);
    let charted = dom.split("data-points=\"").skip(1).filter(|rest| !rest.starts_with('0')).count();
    assert!(charted > 0, "the offline page charted nothing");
    assert!(dom.contains("data-verdict=\"pass\"") || dom.contains("data-verdict=\"fail\""));
}

#[test]
fn a_dashboard_outside_loopback_is_refused_before_the_run() {
    let dir = scratch("dashboard-refused");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    for addr in ["0.0.0.0:8080", "192.0.2.1:8080", "[::]:0"] {
        let output = run_command(&dir, &path).args(["--dashboard", addr]).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{addr}: {stderr}");
        assert!(stderr.contains("the dashboard listens on loopback only"), "{stderr}");
        assert!(stderr.contains("hint: use --dashboard 127.0.0.1:PORT"), "{stderr}");
        assert!(!dir.join("out/report.json").exists(), "the run must not start");
    }
    let output = run_command(&dir, &path).args(["--dashboard", "nowhere"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("not an address and port"), "{}", text(&output.stderr));
}

/// A short war game: 3 simulated hours in 5-minute ticks (about 10 s of wall time), a tamper
/// and a flood, both teams.
const WAR_GAME: &str = r#"
name = "war game <img src=x onerror=alert(1)>"
seed = 5
[wargame]
duration = "3h"
tick = "5m"
[wargame.credit]
retrain_every = "40m"
label_delay = "10m"
applications_per_hour = 400
[wargame.fraud]
training_rows = 4000
transactions_per_hour = 300
[wargame.chatbot]
queries_per_hour = 240
flood_window = "100ms"
[[wargame.injects]]
id = "swap"
at = "1h"
model = "credit"
technique = "tamper"
[[wargame.injects]]
id = "flood"
at = "2h"
duration = "30m"
model = "chatbot"
technique = "dos"
multiple = 20
[[wargame.monitors]]
id = "integrity"
model = "credit"
metric = "integrity"
then = "rollback"
[[wargame.monitors]]
id = "errors"
model = "chatbot"
metric = "error_rate"
window = "10m"
above = 0.05
min_cases = 5
then = "shed"
[[wargame.actions]]
id = "rollback"
kind = "rollback"
model = "credit"
[[wargame.actions]]
id = "shed"
kind = "shed"
model = "chatbot"
per_client_rps = 5
"#;

#[test]
fn a_war_game_is_charted_live_and_its_report_renders_readably() {
    let chromium = chromium();
    let dir = scratch("dashboard-war-game");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, WAR_GAME).unwrap();
    let mut run = Running::spawn(run_command(&dir, &path).args(["--dashboard", "127.0.0.1:0"]));
    let url = run.wait_for_line("dashboard: http://", RUN_LIMIT);
    let url = url.trim_start_matches("dashboard: ").trim().to_string();
    let mut browser = Browser::launch(&chromium, &dir, &url);
    let step = "war-game/defended";
    let first = browser.wait_for_points(step, "credit.integrity", 2, RUN_LIMIT, &mut run);
    std::thread::sleep(Duration::from_secs(2));
    let page = browser.read();
    let second = points(&page, step, "credit.integrity");
    assert!(second > first, "the war game's chart did not grow: {first} then {second}\n{page}");
    assert!(points(&page, step, "chatbot.error_rate") > 0, "no chatbot series\n{page}");
    let png = browser.screenshot();
    std::fs::write(dir.join("war-game-dashboard.png"), &png).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    browser.close();
    let status = run.wait(RUN_LIMIT);
    assert!(matches!(status, Some(0 | 1)), "stressor run exited with {status:?}\n{}", run.stderr());

    // The report: the teams compared, the lanes, the incidents with their times, escaped.
    let report = dir.join("out/report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("<img src=x"), "the scenario's name is escaped");
    let dom = offline_dom(&chromium, &report, &dir);
    for needle in [
        "War game: the blue teams compared",
        "Time to detect and to recover",
        "Incidents",
        "no-defence",
        "AML.T0010.003",
        "integrity",
    ] {
        assert!(dom.contains(needle), "the report lacks {needle:?}");
    }
    assert!(dom.matches("<svg").count() >= 4, "the timeline lanes and series charts");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap();
    let incidents = &json["steps"][0]["wargame"]["incidents"];
    let swap = incidents.as_array().unwrap().iter().find(|i| i["inject"] == "swap").unwrap();
    assert_eq!(swap["mttd_s"]["value"], 300.0, "the tamper is caught at the end of its tick");
}

/// The point count of `series` in `step` in a [`Browser::read`] result (0 when absent).
fn points(page: &Value, step: &str, series: &str) -> u64 {
    page["series"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["step"] == step && s["name"] == series)
        .and_then(|s| s["points"].as_u64())
        .unwrap_or(0)
}

/// The saved page's DOM once its script has replayed the events.
fn offline_dom(chromium: &Path, page: &Path, dir: &Path) -> String {
    let mut command = Command::new(chromium);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg("--virtual-time-budget=5000")
        .arg(format!("--user-data-dir={}", dir.join("chromium-offline").display()))
        .arg("--dump-dom")
        .arg(file_url(page));
    let run = run_bounded(&mut command, &dir.join("chromium-offline"), Duration::from_secs(90));
    assert!(run.status.success(), "chromium exited with {}\n{}", run.status, run.output);
    text(&run.stdout)
}

/// `stressor run` in the background, its stderr read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn spawn(command: &mut Command) -> Running {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// The first line of stderr that starts with `prefix`.
    ///
    /// # Panics
    /// When the run ends or `limit` passes first.
    fn wait_for_line(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line `{prefix}…` within {limit:?}\n{}", self.stderr()),
            }
        }
    }

    /// Whether it has exited.
    fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Its exit code once it ends, `None` when killed after `limit`.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        None
    }

    /// Stderr so far.
    fn stderr(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium on one page, driven over the DevTools protocol on a pipe.
struct Browser {
    child: Child,
    to_browser: File,
    replies: mpsc::Receiver<Value>,
    session: String,
    next_id: u64,
}

impl Browser {
    /// Opens `url` at 1280 × 900 and attaches to its page.
    fn launch(chromium: &Path, dir: &Path, url: &str) -> Browser {
        let (to_path, from_path) = (dir.join("cdp-in"), dir.join("cdp-out"));
        for fifo in [&to_path, &from_path] {
            let _ = std::fs::remove_file(fifo);
            let made = Command::new("mkfifo").arg(fifo).status().unwrap();
            assert!(made.success(), "mkfifo {}", fifo.display());
        }
        let mut command = Command::new("sh");
        // Chromium reads commands from descriptor 3 and writes replies to 4.
        command
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<\"$CDP_IN\" 4>\"$CDP_OUT\"")
            .arg(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            .arg("--window-size=1280,900")
            .arg("--hide-scrollbars")
            .arg(format!("--user-data-dir={}", dir.join("chromium-profile").display()))
            .arg("--remote-debugging-pipe")
            .arg(url)
            .env("CDP_IN", &to_path)
            .env("CDP_OUT", &from_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(dir.join("chromium.stderr")).unwrap());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap();
        // Opening a named pipe waits for the other end: do it on a thread, with a limit.
        let (opened, pipes) = mpsc::channel();
        std::thread::spawn(move || {
            let to_browser = File::options().write(true).open(&to_path);
            let from_browser = File::open(&from_path);
            let _ = opened.send(to_browser.and_then(|t| from_browser.map(|f| (t, f))));
        });
        let (to_browser, mut from_browser) = pipes
            .recv_timeout(CALL_LIMIT)
            .unwrap_or_else(|_| panic!("chromium did not open its DevTools pipe"))
            .unwrap();
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buffer = [0u8; 65536];
            while let Ok(n) = from_browser.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buffer[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(value) = serde_json::from_slice::<Value>(&message[..end]) {
                        // Events have no id; only replies are waited for.
                        if value.get("id").is_some() && sender.send(value).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut browser =
            Browser { child, to_browser, replies, session: String::new(), next_id: 0 };
        let deadline = Instant::now() + CALL_LIMIT;
        let target = loop {
            let targets = browser.call("Target.getTargets", json!({}), false);
            let page = targets["targetInfos"].as_array().into_iter().flatten().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url))
            });
            if let Some(page) = page {
                break page["targetId"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no page for {url}: {targets}");
            std::thread::sleep(Duration::from_millis(200));
        };
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            false,
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        browser
    }

    /// Sends `method` (to the page when `on_page`) and returns its result.
    ///
    /// # Panics
    /// When Chromium answers with an error or not at all.
    fn call(&mut self, method: &str, params: Value, on_page: bool) -> Value {
        self.try_call(method, params, on_page).unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// Sends `method` (to the page when `on_page`): its result, or Chromium's error.
    fn try_call(&mut self, method: &str, params: Value, on_page: bool) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if on_page {
            message["sessionId"] = Value::from(self.session.as_str());
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        let deadline = Instant::now() + CALL_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .replies
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no reply to {method} within {CALL_LIMIT:?}"));
            if reply["id"] == id {
                return match reply.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(reply["result"].clone()),
                };
            }
        }
    }

    /// The page's state: the scenario's name, the status and each chart line's point count.
    fn read(&mut self) -> Value {
        let expression = r#"JSON.stringify({
            scenario: document.getElementById("scenario") ? document.getElementById("scenario").textContent : null,
            status: document.getElementById("status") ? document.getElementById("status").textContent : null,
            series: Array.from(document.querySelectorAll("polyline[data-series]")).map(function (line) {
                return { step: line.closest("figure").getAttribute("data-step"),
                         name: line.getAttribute("data-series"),
                         points: Number(line.getAttribute("data-points")) };
            })
        })"#;
        // While the page is still loading, its context may not be there yet: nothing read.
        let params = json!({ "expression": expression, "returnByValue": true });
        let result = self.try_call("Runtime.evaluate", params, true).unwrap_or_default();
        let text = result["result"]["value"].as_str().unwrap_or("{}");
        serde_json::from_str(text).unwrap()
    }

    /// Reads the page until `series` of `step` has at least `at_least` points; their number.
    fn wait_for_points(
        &mut self,
        step: &str,
        series: &str,
        at_least: u64,
        limit: Duration,
        run: &mut Running,
    ) -> u64 {
        let deadline = Instant::now() + limit;
        loop {
            let page = self.read();
            let n = points(&page, step, series);
            if n >= at_least {
                return n;
            }
            assert!(
                Instant::now() < deadline && !run.exited(),
                "{series} of {step} never reached {at_least} points: {page}\n{}",
                run.stderr()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A PNG of the window.
    fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }), true);
        base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap()
    }

    fn close(mut self) {
        let _ = self.try_call("Browser.close", json!({}), false);
        let deadline = Instant::now() + CALL_LIMIT;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: a headless browser leaves renderer processes behind otherwise.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
