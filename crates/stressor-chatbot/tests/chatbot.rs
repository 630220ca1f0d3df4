//! The chatbot family end to end: a file plans, each mistake names its key; a small run on
//! the built-in classifier gives every step with its metrics; hostile query texts are escaped
//! in the HTML report.
#![expect(clippy::unwrap_used, reason = "tests unwrap to fail loudly")]

use std::path::Path;

use stressor_chatbot::{Chatbot, ChatbotPlan};
use stressor_core::ManualClock;
use stressor_report::Collector;
use stressor_scenario::EngineConfig;

fn plan(text: &str) -> Result<stressor_scenario::Scenario, String> {
    stressor_scenario::plan(text, Path::new("c.toml"), &[&Chatbot]).map_err(|e| e.to_string())
}

#[test]
fn a_good_file_plans() {
    let scenario = plan(
        r#"
name = "bot"
[chatbot]
samples = 300
[chatbot.handoff]
alpha = 0.05
fixed = [0.3, 0.5]
[[chatbot.handoff.rules]]
keywords = ["Balance"]
intent = "balance"
[[chatbot.stresses]]
kind = "typos"
sweep = { rate = [0.1, 0, 0.05] }
[[chatbot.stresses]]
kind = "off_topic"
sweep = { share = [0, 0.5] }
[[chatbot.gates]]
step = "typos"
metric = "handoff_rate.fixed-0.5"
max = 0.5
"#,
    )
    .unwrap();
    let p = scenario.part::<ChatbotPlan>().unwrap();
    assert_eq!(p.stresses[0].dial, vec![0.0, 0.05, 0.1], "sorted");
    assert_eq!(p.off_topic_samples, 10, "the calibration split's share by default");
    assert_eq!(p.handoff.rules[0].keywords, vec!["balance"]);
    assert_eq!(p.gates[0].metric, "handoff_rate.fixed-0.5");
}

#[test]
fn each_mistake_names_its_key() {
    let cases = [
        (
            "[[chatbot.stresses]]\nkind = \"typo\"\nsweep = { rate = [0.1] }",
            "chatbot.stresses[0].kind",
        ),
        (
            "[[chatbot.stresses]]\nkind = \"typos\"\nsweep = { share = [0.1] }",
            "chatbot.stresses[0].sweep.share",
        ),
        (
            "[[chatbot.stresses]]\nkind = \"typos\"\nsweep = { rate = [2] }",
            "chatbot.stresses[0].sweep.rate",
        ),
        ("[chatbot.handoff]\nalpha = 1.5", "chatbot.handoff.alpha"),
        ("[chatbot.model]\nkind = \"openai\"", "chatbot.model.url"),
        ("[chatbot.model]\nkind = \"builtin\"\nurl = \"http://x\"", "chatbot.model.url"),
        (
            "[chatbot.model]\nkind = \"json\"\nurl = \"http://x\"\nrequest = \"{}\"",
            "chatbot.model.request",
        ),
        ("[chatbot.model]\nkind = \"gpt\"", "chatbot.model.kind"),
        ("[chatbot.model]\nkind = \"minilm\"", "chatbot.model.path"),
        (
            "[chatbot.model]\nkind = \"minilm\"\npath = \"m\"\nfeatures = \"words\"",
            "chatbot.model.features",
        ),
        (
            "[[chatbot.gates]]\nstep = \"nope\"\nmetric = \"utility\"\nmin = 0.5",
            "chatbot.gates[0].step",
        ),
        (
            "[[chatbot.gates]]\nstep = \"clean\"\nmetric = \"speed\"\nmin = 0.5",
            "chatbot.gates[0].metric",
        ),
        ("[chatbot.surge]\nrate = 100\nmultiple = 1000", "chatbot.surge.multiple"),
        (
            "[chatbot.shadow]\ncandidate = { kind = \"builtin\" }\npromote_if = [{ metric = \"vibes\", min = 1 }]",
            "chatbot.shadow.promote_if[0].metric",
        ),
        ("[chatbot.utility]\ncorrect = 0.0\nwrong = 0.0", "chatbot.utility.correct"),
        (
            "[[chatbot.stresses]]\nkind = \"typos\"\nsweep = { rate = [0.1] }\nsamples = 3",
            "chatbot.stresses[0].samples",
        ),
    ];
    for (body, key) in cases {
        let text = format!("name = \"bot\"\n[chatbot]\n{body}\n");
        let error = plan(&text).expect_err(body);
        assert!(error.contains(key), "{body}\n→ {error}");
    }
}

/// A corpus in CLINC150's layout whose texts and intent names are hostile.
fn hostile_corpus(dir: &Path) -> std::path::PathBuf {
    let evil = "<script>alert(1)</script>";
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (intent, words) in [
        (format!("{evil}pay"), ["pay", "bill", "invoice"]),
        ("balance".to_owned(), ["balance", "money", "account"]),
        ("weather".to_owned(), ["weather", "rain", "sunny"]),
    ] {
        for i in 0..30 {
            let text = format!("{} {} please {}", words[i % 3], words[(i + 1) % 3], i);
            train.push(serde_json::json!([text, intent]));
        }
        for i in 0..10 {
            let text = format!("{evil} {} {} now {i}", words[i % 3], words[(i + 2) % 3]);
            test.push(serde_json::json!([text, intent]));
        }
    }
    let val = test.clone();
    let oos: Vec<_> =
        (0..20).map(|i| serde_json::json!([format!("{evil} tell me a joke {i}"), "oos"])).collect();
    let corpus = serde_json::json!({
        "train": train, "val": val, "test": test,
        "oos_train": oos, "oos_val": oos, "oos_test": oos,
    });
    let path = dir.join("corpus.json");
    std::fs::write(&path, corpus.to_string()).unwrap();
    path
}

#[test]
fn a_small_run_reports_every_step_and_escapes_what_users_typed() {
    let dir = std::env::temp_dir().join(format!("stressor-chatbot-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = hostile_corpus(&dir);
    let text = format!(
        r#"
name = "bot"
seed = 3
[chatbot]
data = "{}"
samples = 30
off_topic_samples = 10
[[chatbot.stresses]]
kind = "typos"
sweep = {{ rate = [0, 0.2] }}
[[chatbot.stresses]]
kind = "off_topic"
sweep = {{ share = [0, 0.3] }}
[[chatbot.stresses]]
kind = "word_substitution"
sweep = {{ queries = [0, 20] }}
samples = 10
[chatbot.surge]
rate = 10
multiple = 5
before = "1s"
duration = "1s"
after = "2s"
[chatbot.shadow]
candidate = {{ kind = "builtin", features = "words" }}
promote_if = [{{ metric = "agreement", min = 0.0 }}]
[[chatbot.gates]]
step = "degradation"
metric = "degradation_score"
min = 0
"#,
        corpus.display()
    );
    let scenario = plan(&text).unwrap();
    let mut collector = Collector::new();
    let clock = ManualClock::default();
    let outcome =
        stressor_scenario::run(&scenario, &EngineConfig::default(), &clock, &mut collector)
            .unwrap();
    let record = collector.into_record().unwrap();
    let ids: Vec<&str> = record.steps.iter().map(|s| s.info.id.as_str()).collect();
    assert_eq!(
        ids,
        ["clean", "typos", "off_topic", "word_substitution", "surge", "shadow", "degradation"]
    );
    let step = |id: &str| record.steps.iter().find(|s| s.info.id == id).unwrap();
    // At dial 0 nothing changes; at 0.2 typos change some answers.
    let typos = step("typos");
    assert_eq!(typos.points[0].metric("invariance_failure_rate").unwrap().value, 0.0);
    let clean_utility = step("clean").points[0].metric("utility").unwrap().value;
    assert!(clean_utility > 0.5, "the tiny classifier works: {clean_utility}");
    // Every policy has its metrics; the fixed one is suffixed.
    assert!(typos.points[1].metric("handoff_rate.fixed-0.3").is_some());
    // The surge sent 10 + 50 + 20 requests and answered most of them.
    let surge = step("surge");
    let requests = surge.points[0].metric("requests").unwrap().value;
    assert_eq!(requests, 80.0);
    assert!(record.timelines.iter().any(|t| t.step_id == "surge"));
    let shadow = step("shadow");
    assert!(shadow.points[0].metric("agreement").is_some());
    let score = step("degradation").points[0].metric("degradation_score").unwrap();
    assert!(score.value.is_finite() && score.ci.is_some(), "{score:?}");
    assert_eq!(outcome.verdict, stressor_core::Verdict::Pass);
    // Hostile texts and intent names are escaped in the page.
    let html =
        stressor_report::html::to_string(&record, &stressor_report::html::HtmlConfig::default());
    assert!(!html.contains("<script>alert"), "raw script in the page");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let summary = stressor_report::summary::to_string(&record);
    assert!(summary.contains("degradation"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The built-in classifier served by `stressor serve --chatbot`'s server and measured over HTTP
/// (`kind = "openai"`, the intent and confidence read from the reply's `stressor` field) gives
/// exactly the clean metrics of the same classifier in process.
#[test]
fn a_served_chatbot_over_http_measures_as_in_process() {
    let dir = std::env::temp_dir().join(format!("stressor-chatbot-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus_path = hostile_corpus(&dir);
    let corpus = stressor_intent::read_corpus(&corpus_path).unwrap();
    // The family trains its classifier from the scenario seed, derived as `chatbot/model`.
    let seed = stressor_core::Seed::new(5).derive("chatbot").derive("model");
    let classifier = stressor_intent::Classifier::train(
        &corpus.train,
        &corpus.intents,
        &stressor_intent::TrainConfig::default(),
        seed,
    )
    .unwrap();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = stressor_serve::chat::ChatServeConfig::default();
    config.model_name = "bot".into();
    let server = runtime
        .block_on(stressor_serve::chat::ChatServer::bind(
            ([127, 0, 0, 1], 0).into(),
            std::sync::Arc::new(classifier),
            config,
        ))
        .unwrap();
    let addr = server.local_addr();
    let scenario = |model: &str| {
        format!(
            "name = \"bot\"\nseed = 5\n[chatbot]\ndata = \"{}\"\nsamples = 30\noff_topic_samples = 10\n{model}\n[[chatbot.stresses]]\nkind = \"typos\"\nsweep = {{ rate = [0, 0.3] }}\n[chatbot.surge]\nrate = 10\nmultiple = 3\nbefore = \"1s\"\nduration = \"1s\"\nafter = \"1s\"\n",
            corpus_path.display()
        )
    };
    let run = |text: &str| {
        let scenario = plan(text).unwrap();
        let mut collector = Collector::new();
        stressor_scenario::run(
            &scenario,
            &EngineConfig::default(),
            &ManualClock::default(),
            &mut collector,
        )
        .unwrap();
        collector.into_record().unwrap()
    };
    let local = run(&scenario(""));
    let remote = run(&scenario(&format!(
        "[chatbot.model]\nkind = \"openai\"\nurl = \"http://{addr}/v1\"\nname = \"bot\"\n"
    )));
    for id in ["clean", "typos"] {
        let metrics = |record: &stressor_report::RunRecord| {
            let step = record.steps.iter().find(|s| s.info.id == id).unwrap();
            step.points
                .iter()
                .flat_map(|p| {
                    p.metrics
                        .iter()
                        .filter(|m| !m.name.starts_with("auroc") && !m.name.starts_with("fpr95"))
                })
                .map(|m| (m.name.clone(), m.estimate.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(metrics(&local), metrics(&remote), "step {id}");
    }
    assert!(remote.info.target_name.contains(&addr.to_string()), "{}", remote.info.target_name);
    // The surge loads the user's endpoint itself (not through stressor's own server): 50
    // requests, their answers read by the same rule.
    let surge = remote.steps.iter().find(|s| s.info.id == "surge").unwrap();
    assert!(surge.info.description.contains(&addr.to_string()), "{}", surge.info.description);
    assert_eq!(surge.points[0].metric("requests").unwrap().value, 50.0);
    let accuracy = surge.points[0].metric("answered_accuracy").unwrap();
    assert!(accuracy.value > 0.5 && accuracy.n > 0, "{accuracy:?}");
    runtime.block_on(server.shutdown()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sentence-embedding chatbot (`kind = "minilm"`) on the tiny BERT the intent crate's
/// tests ship: it trains its head and goes through the steps like any chatbot.
#[test]
fn a_sentence_embedding_chatbot_runs_on_the_tiny_bert() {
    let dir = std::env::temp_dir().join(format!("stressor-chatbot-minilm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = hostile_corpus(&dir);
    let bert =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../stressor-intent/tests/fixtures/tiny-bert");
    let text = format!(
        "name = \"bot\"\n[chatbot]\ndata = \"{}\"\nsamples = 30\n[chatbot.model]\nkind = \"minilm\"\npath = \"{}\"\n[[chatbot.stresses]]\nkind = \"typos\"\nsweep = {{ rate = [0, 0.2] }}\n",
        corpus.display(),
        bert.display()
    );
    let scenario = plan(&text).unwrap();
    let mut collector = Collector::new();
    stressor_scenario::run(
        &scenario,
        &EngineConfig::default(),
        &ManualClock::default(),
        &mut collector,
    )
    .unwrap();
    let record = collector.into_record().unwrap();
    assert!(
        record.info.target_name.starts_with("sentence-embedding classifier"),
        "{}",
        record.info.target_name
    );
    let clean = record.steps.iter().find(|s| s.info.id == "clean").unwrap();
    let accuracy = clean.points[0].metric("accuracy").unwrap();
    assert_eq!(accuracy.n, 30);
    // A missing encoder folder is named with the key and the way to fetch the real one.
    let missing = text.replace(&bert.display().to_string(), "/nonexistent/minilm");
    let scenario = plan(&missing).unwrap();
    let error = stressor_scenario::run(
        &scenario,
        &EngineConfig::default(),
        &ManualClock::default(),
        &mut Collector::new(),
    )
    .unwrap_err();
    let chain = format!(
        "{error}: {}",
        std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()
    );
    assert!(chain.contains("chatbot.model.path") && chain.contains("fetch-minilm"), "{chain}");
    let _ = std::fs::remove_dir_all(&dir);
}
