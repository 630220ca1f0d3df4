//! End-to-end tests of the recommender family through the `stressor` binary: the simulated
//! run and its report, `serve --recommender`, an unreachable feature store, and a user's own
//! recommender over HTTP built from their log.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;
use std::process::Command;

use crate::cli::{http, run_scenario, spawn_until};
use crate::{scratch, stressor, text};

#[test]
fn serve_recommender_answers_recommend_and_events_and_stops_on_sigint() {
    let dir = scratch("serve-recommender");
    let path = dir.join("shop.toml");
    std::fs::write(
        &path,
        "name = \"shop\"\nseed = 3\n[recommender]\nwarmup = \"30m\"\nk = 5\n\
         policies = [\"none\", \"popular\"]\n[recommender.world]\nusers = 300\nitems = 200\n",
    )
    .unwrap();
    let (mut child, addr) = spawn_until(
        stressor().arg("serve").arg("--recommender").arg(&path).args(["--addr", "127.0.0.1:0"]),
        "serving",
    );
    let post = |route: &str, body: &str| {
        let response = http(
            &addr,
            &format!(
                "POST {route} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        (head.split(' ').nth(1).unwrap().to_string(), json)
    };
    let (status, first) = post("/recommend", r#"{"user": 7, "k": 3, "context": {"page": 0}}"#);
    assert_eq!(status, "200", "{first}");
    assert_eq!(first["source"], "model", "{first}");
    let items = first["items"].as_array().unwrap();
    assert_eq!((items.len(), first["scores"].as_array().unwrap().len()), (3, 3), "{first}");
    assert!(items.iter().all(|i| i.as_u64().unwrap() < 200), "{first}");
    // The same user and page again: the response cache answers, with the same items.
    let (_, again) = post("/recommend", r#"{"user": 7, "k": 3}"#);
    assert_eq!((&again["source"], &again["items"]), (&"cache".into(), &first["items"]));
    let click = format!(r#"{{"kind": "click", "user": 7, "item": {}}}"#, items[0]);
    assert_eq!(post("/events", &click).0, "202");
    // Mistakes are answered, named, and the server goes on.
    let (status, body) = post("/recommend", r#"{"user": 300}"#);
    assert!(
        status == "404" && body["error"].as_str().unwrap().contains("unknown user 300"),
        "{body}"
    );
    let (status, body) = post("/recommend", r#"{"user": 1, "k": 6}"#);
    assert!(status == "400" && body["error"].as_str().unwrap().contains("`k`"), "{body}");
    let (status, body) = post("/events", r#"{"kind": "view", "user": 1, "item": 1}"#);
    assert!(status == "400" && body["error"].as_str().unwrap().contains("`kind`"), "{body}");
    let response = http(
        &addr,
        "POST /recommend HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\n{no",
    );
    assert!(response.starts_with("HTTP/1.1 400") && response.contains("not JSON"), "{response}");
    let killed = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
    // With --faults the scenario's schedule acts from the start: the store is down for an hour,
    // so with no fallback the page has nothing to show.
    let faulty = dir.join("faulty.toml");
    let scenario = std::fs::read_to_string(&path).unwrap()
        + "[[recommender.faults]]\nkind = \"store_outage\"\nstart = \"0s\"\nstop = \"1h\"\n";
    std::fs::write(&faulty, scenario).unwrap();
    let (mut down, down_addr) = spawn_until(
        stressor().arg("serve").arg("--recommender").arg(&faulty).args([
            "--faults",
            "--policy",
            "none",
            "--addr",
            "127.0.0.1:0",
        ]),
        "serving",
    );
    let body = r#"{"user": 7}"#;
    let response = http(
        &down_addr,
        &format!(
            "POST /recommend HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(
        response.starts_with("HTTP/1.1 503") && response.contains("\"source\":\"error\""),
        "{response}"
    );
    let killed = Command::new("kill").args(["-INT", &down.0.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(down.0.wait().unwrap().code(), Some(0));
    // A policy the scenario does not list is refused by name.
    let output = stressor()
        .arg("serve")
        .arg("--recommender")
        .arg(&path)
        .args(["--policy", "serve-stale"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("none, popular"), "{}", text(&output.stderr));
}

#[test]
fn an_unreachable_feature_store_exits_3_naming_it() {
    let dir = scratch("redis-dead");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let scenario = format!(
        "name = \"shop\"\nseed = 1\n[recommender]\nduration = \"5m\"\nfeature_store = \"{url}\"\n"
    );
    let output = run_scenario(&dir, &scenario, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("cannot reach Redis at {url}")), "{stderr}");
    // A URL of another kind is a scenario mistake, named by its key.
    let scenario = scenario.replace(&url, "http://127.0.0.1:6379");
    let output = run_scenario(&dir, &scenario, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("recommender.feature_store"), "{stderr}");
}

#[test]
fn your_recommender_over_http_is_run_from_your_log_and_reported() {
    let dir = scratch("recommender-http");
    // The user's log and catalogue: 300 users, 200 items with prices, three days of clicks.
    let mut log = String::from("user,item,timestamp\n");
    for i in 0..3000u64 {
        let user = (i * 7) % 300;
        log += &format!("{user},{},{}\n", (i * 13 + user * 5) % 200, 1_600_000_000 + i * 90);
    }
    std::fs::write(dir.join("log.csv"), log).unwrap();
    let catalogue: String = std::iter::once("item,price\n".to_string())
        .chain((0..200).map(|i| format!("{i},{}\n", 5 + i % 40)))
        .collect();
    std::fs::write(dir.join("items.csv"), catalogue).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let scenario = |addr: &str| {
        format!(
            r#"name = "your shop"
seed = 2
[recommender]
duration = "4s"
bucket = "1s"
k = 5
[recommender.target]
kind = "http"
url = "http://{addr}/recommend"
body = '{{"user": {{user}}, "k": {{k}}}}'
source = "/source"
[recommender.target.events]
url = "http://{addr}/events"
body = '{{"kind": "{{kind}}", "user": {{user}}, "item": {{item}}}}'
[recommender.world]
log = "log.csv"
catalogue = "items.csv"
sessions_per_second = 15
[recommender.users]
think_time = "1s"
[[recommender.faults]]
name = "errors"
kind = "model_errors"
share = 0.5
start = "1s"
stop = "3s"
[[recommender.gates]]
policy = "service"
metric = "malformed_rate"
max = 0
"#
        )
    };
    // Nobody listening: exit 3, naming the recommender.
    let output = run_scenario(&dir, &scenario(&format!("127.0.0.1:{port}")), &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}/recommend")), "{stderr}");
    // The served built-in recommender stands in for the user's, on the same log's world (the
    // same seed fits the same truth), answering with the log's ids.
    let served = dir.join("served.toml");
    std::fs::write(
        &served,
        "name = \"shop\"\nseed = 2\n[recommender]\nwarmup = \"30m\"\nk = 5\n\
         [recommender.world]\nlog = \"log.csv\"\ncatalogue = \"items.csv\"\n",
    )
    .unwrap();
    let (mut child, addr) = spawn_until(
        stressor().arg("serve").arg("--recommender").arg(&served).args(["--addr", "127.0.0.1:0"]),
        "serving",
    );
    let body = r#"{"user": "7"}"#;
    let response = http(
        &addr,
        &format!(
            "POST /recommend HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(response.contains(r#""items":[""#) && response.contains(r#""user":"7""#), "{response}");
    let output = run_scenario(&dir, &scenario(&addr), &[]);
    let _ = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status();
    let _ = child.0.wait();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap();
    assert!(report["data"]["name"].as_str().unwrap().contains("log.csv"), "{}", report["data"]);
    assert!(report["target"]["name"].as_str().unwrap().contains(&addr), "{}", report["target"]);
    let steps = report["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["baseline", "oracle", "random", "popularity", "service"]);
    let metric = |i: usize, name: &str| {
        steps[i]["points"][0]["metrics"][name]["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} of {}: {}", ids[i], steps[i]["points"][0]))
    };
    // The injected 503s show as errors under faults only; the answers were all well formed,
    // and every returned id is in the catalogue.
    assert!(metric(0, "error_rate") < 0.01, "{}", metric(0, "error_rate"));
    assert!(metric(4, "error_rate") > 0.1, "{}", metric(4, "error_rate"));
    assert_eq!((metric(4, "malformed_rate"), metric(4, "unknown_id_share")), (0.0, 0.0));
    assert_eq!(metric(4, "events_refused"), 0.0);
    assert_eq!(steps[4]["recsys_timeline"]["impacts"][0]["window"], "errors");
    assert!(std::fs::read_to_string(dir.join("out/report.html")).unwrap().contains("127.0.0.1"));
}

#[test]
fn recommender_scenario_reports_its_policies_and_repeats_itself() {
    let dir = scratch("recommender-scenario");
    let scenario = dir.join("shop.toml");
    std::fs::write(
        &scenario,
        r#"
name = "shop"
seed = 3
[recommender]
duration = "20m"
warmup = "30m"
policies = ["none", "circuit-breaker"]
[recommender.world]
users = 300
items = 200
sessions_per_second = 3
[[recommender.faults]]
name = "down"
kind = "store_outage"
start = "5m"
stop = "10m"
[[recommender.gates]]
policy = "circuit-breaker"
metric = "error_rate"
max = 0.01
"#,
    )
    .unwrap();
    let output = stressor().arg("run").arg(&scenario).arg("--out").arg(&dir).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["baseline", "oracle", "random", "popularity", "none", "circuit-breaker"]);
    // Without a fallback the outage shows as errors; the breaker serves the popular list.
    let errors =
        |i: usize| steps[i]["points"][0]["metrics"]["error_rate"]["value"].as_f64().unwrap();
    assert!(errors(4) > 0.05, "{}", errors(4));
    assert!(errors(5) < 0.01, "{}", errors(5));
    // The outage refused the stream job's feature writes, which were counted (and retried);
    // without faults nothing was refused.
    let refused = |i: usize| {
        steps[i]["points"][0]["metrics"]["store_write_failures"]["value"].as_f64().unwrap()
    };
    assert!(refused(4) > 0.0 && refused(0) == 0.0, "{} {}", refused(4), refused(0));
    assert_eq!(steps[4]["recsys_timeline"]["impacts"][0]["window"], "down");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 6);
    // Same seed, same report (apart from timings).
    let again = scratch("recommender-scenario-again");
    let output = stressor().arg("run").arg(&scenario).arg("--out").arg(&again).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let redacted = |path: &Path| {
        let mut report: stressor_schema::Report =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        report.redact_timings();
        serde_json::to_string(&report).unwrap()
    };
    assert_eq!(redacted(&dir.join("report.json")), redacted(&again.join("report.json")));
}
