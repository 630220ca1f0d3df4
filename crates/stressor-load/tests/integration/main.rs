//! The load generator against the reference server on loopback: counts, correction for
//! coordinated omission, closed model, surges, and failures as results.

#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use stressor_core::{Batch, Bounds, Dataset};
use stressor_load::{Checked, ErrorKind, LoadConfig, LoadReport, Profile, Stage, Target, oip, run};
use stressor_model::{FnModel, Model, ModelInfo};
use stressor_serve::{ServeConfig, Server};

/// Class = the index of the largest of 3 inputs.
fn model() -> Arc<dyn Model> {
    let info = ModelInfo::new("argmax", "fn", vec![3], 3, Bounds::UNIT);
    Arc::new(FnModel::new(info, |x: &[f32]| x.to_vec()))
}

async fn server(configure: impl FnOnce(&mut ServeConfig)) -> Server {
    let mut config = ServeConfig::default();
    config.model_name = "m".into();
    configure(&mut config);
    Server::bind("127.0.0.1:0".parse().unwrap(), model(), config).await.unwrap()
}

/// Three samples whose labels are right, right, wrong for the arg-max model.
fn data() -> Dataset {
    let inputs = Batch::new(vec![0.9, 0.1, 0.0, 0.0, 0.2, 0.8, 0.7, 0.2, 0.1], vec![3, 3]).unwrap();
    let names = vec!["a".into(), "b".into(), "c".into()];
    Dataset::new("d", inputs, vec![0, 2, 1], names, Bounds::UNIT).unwrap()
}

async fn load(server: &Server, path: &str, profile: Profile, connections: usize) -> LoadReport {
    let url = format!("http://{}{path}", server.local_addr());
    let target = Target::resolve(&url, None).await.unwrap();
    let mut config = LoadConfig::new(target, profile);
    config.method = hyper::Method::POST;
    let data = data();
    config.bodies = oip::infer_bodies(&data);
    config.connections = connections;
    config.timeout = Duration::from_secs(2);
    let labels = data.labels.clone();
    run(
        config,
        Arc::new(move |i, body: &[u8]| oip::check_label(&labels, i, body).map(Checked::from)),
    )
    .await
    .unwrap()
}

const INFER: &str = "/v2/models/m/infer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_constant_rate_sends_its_schedule_and_measures_accuracy() {
    let server = server(|_| {}).await;
    let report = load(&server, INFER, Profile::constant(150.0, Duration::from_secs(1)), 8).await;
    assert_eq!(report.requests, 150);
    assert_eq!(report.ok, 150, "{:?}", report.errors);
    assert_eq!(report.checked, 150);
    // Bodies rotate over the three samples: two of every three are right.
    assert_eq!(report.correct, 100);
    assert_eq!(report.timeline.iter().map(|s| s.requests).sum::<u64>(), 150);
    assert!(report.latency_ms(0.5).unwrap() < 500.0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_server_shows_coordinated_omission_corrected() {
    // Capacity 1 / 40 ms = 25 requests per second, offered 100 per second: requests queue in
    // the client, and only the latency from the intended start shows it.
    let server = server(|c| {
        c.max_concurrency = 1;
        c.service_time = Duration::from_millis(40);
    })
    .await;
    let report = load(&server, INFER, Profile::constant(100.0, Duration::from_secs(1)), 2).await;
    assert_eq!(report.requests, 100, "every scheduled request is accounted for");
    let corrected = report.latency_ms(0.99).unwrap();
    let service = report.service_latency_ms(0.99).unwrap();
    assert!(corrected > 3.0 * service, "corrected p99 {corrected} ms vs service p99 {service} ms");
    assert!(
        report.errors.get(&ErrorKind::NotSent).copied().unwrap_or(0) > 0,
        "{:?}",
        report.errors
    );
    assert!(report.throughput() < 40.0, "{}", report.throughput());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_model_runs_users_back_to_back() {
    let server = server(|c| c.service_time = Duration::from_millis(10)).await;
    let profile = Profile::Closed { users: 3, duration: Duration::from_millis(500) };
    let report = load(&server, INFER, profile, 3).await;
    assert!(report.ok >= 30 && report.ok <= 160, "{}", report.ok);
    assert_eq!(report.n_errors(), 0, "{:?}", report.errors);
    // Without a schedule, the two latencies are the same measurement.
    assert_eq!(report.latency, report.service_latency);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_shows_in_the_timeline() {
    let server = server(|_| {}).await;
    let profile = Profile::Open {
        stages: vec![
            Stage::constant(Duration::from_secs(1), 20.0),
            Stage::constant(Duration::from_secs(1), 200.0),
            Stage::constant(Duration::from_secs(1), 20.0),
        ],
    };
    let report = load(&server, INFER, profile, 8).await;
    let per_second: Vec<u64> = report.timeline.iter().map(|s| s.requests).collect();
    assert_eq!(per_second.iter().sum::<u64>(), 240);
    assert!(per_second[1] >= 150, "{per_second:?}");
    assert_eq!(report.ok, 240, "{:?}", report.errors);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_bad_paths_and_dead_servers_are_results() {
    let server = server(|c| {
        c.max_concurrency = 1;
        c.queue_limit = 1;
        c.service_time = Duration::from_millis(100);
    })
    .await;
    let report = load(&server, INFER, Profile::constant(50.0, Duration::from_millis(400)), 8).await;
    assert_eq!(report.requests, 20);
    assert!(
        report.errors.get(&ErrorKind::Status(503)).copied().unwrap_or(0) > 0,
        "{:?}",
        report.errors
    );
    let report = load(
        &server,
        "/v2/models/nope/infer",
        Profile::constant(20.0, Duration::from_millis(200)),
        2,
    )
    .await;
    assert_eq!(report.errors.get(&ErrorKind::Status(404)), Some(&4), "{:?}", report.errors);
    let addr = server.local_addr();
    server.shutdown().await.unwrap();
    // Nobody listens any more: every request is a connect error, and the run still ends.
    let target = Target::resolve(&format!("http://{addr}{INFER}"), None).await.unwrap();
    let config = LoadConfig::new(target, Profile::constant(20.0, Duration::from_millis(250)));
    let report = run(config, Arc::new(|_, _: &[u8]| Ok(Checked::default()))).await.unwrap();
    assert_eq!(report.errors.get(&ErrorKind::Connect), Some(&5), "{:?}", report.errors);
    assert!((report.error_rate() - 1.0).abs() < 1e-12);
}

/// A chatbot that knows `balance` (intent 0) and declines everything else.
struct Balance(Vec<String>);

impl stressor_intent::IntentModel for Balance {
    fn intents(&self) -> &[String] {
        &self.0
    }

    fn reply(
        &self,
        texts: &[&str],
    ) -> Result<Vec<stressor_intent::Reply>, stressor_intent::IntentError> {
        Ok(texts
            .iter()
            .map(|text| {
                if text.contains("balance") {
                    stressor_intent::Reply::Intent { intent: 0, confidence: 0.9, scores: None }
                } else {
                    stressor_intent::Reply::Declined
                }
            })
            .collect())
    }

    fn describe(&self) -> String {
        "balance".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_flags_handoffs_by_request_index_and_they_are_counted_per_second() {
    use stressor_serve::chat::{ChatServeConfig, ChatServer};
    let model = Arc::new(Balance(vec!["balance".into()]));
    let server =
        ChatServer::bind("127.0.0.1:0".parse().unwrap(), model, ChatServeConfig::default())
            .await
            .unwrap();
    let url = format!("http://{}/v1/chat/completions", server.local_addr());
    let mut config = LoadConfig::new(
        Target::resolve(&url, None).await.unwrap(),
        Profile::constant(40.0, Duration::from_millis(1500)),
    );
    config.method = hyper::Method::POST;
    // Request i sends body i % 2: even requests ask for the balance, odd ones get handed off.
    config.bodies = ["my balance", "talk to someone"]
        .iter()
        .map(|text| {
            serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string().into()
        })
        .collect();
    config.connections = 4;
    let flagged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let check = {
        let flagged = Arc::clone(&flagged);
        Arc::new(move |index: usize, body: &[u8]| {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|_| stressor_load::UnreadableBody)?;
            let handoff =
                value["stressor"]["handoff"].as_bool().ok_or(stressor_load::UnreadableBody)?;
            if handoff {
                flagged.lock().unwrap().push(index);
            }
            // The truth: even requests are about the balance, odd ones out of scope.
            let correct = if index.is_multiple_of(2) {
                value["stressor"]["intent"] == "balance"
            } else {
                handoff
            };
            Ok(Checked { correct: Some(correct), handoff })
        })
    };
    let report = run(config, check).await.unwrap();
    server.shutdown().await.unwrap();
    assert_eq!((report.requests, report.ok), (60, 60), "{:?}", report.errors);
    assert_eq!((report.checked, report.correct), (60, 60));
    let flagged = flagged.lock().unwrap().clone();
    assert_eq!(report.handoffs, 30);
    assert_eq!(flagged.len(), 30);
    assert!(flagged.iter().all(|index| index % 2 == 1), "{flagged:?}");
    // Every second holds its share: half its answers, give or take the odd one out.
    let per_second: Vec<(u64, u64)> = report.timeline.iter().map(|s| (s.ok, s.handoffs)).collect();
    assert_eq!(per_second.iter().map(|s| s.1).sum::<u64>(), 30, "{per_second:?}");
    assert!(per_second.iter().all(|&(ok, h)| (2 * h).abs_diff(ok) <= 1), "{per_second:?}");
}
