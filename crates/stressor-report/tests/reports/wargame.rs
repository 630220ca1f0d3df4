//! The war game's reports, from two blue teams built by hand: one defended, one without
//! defence, with an inject nobody detected, hostile texts and gaps in the monitored series.

use std::time::Duration;

use stressor_core::{
    AliasMove, EntryKind, Estimate, Event, EventSink, ImpactRow, Incident, Interval,
    IntervalMethod, MetricValue, Seed, Side, StepInfo, StepKind, StepPoint, StepResult, Verdict,
    WargameDetail, WargameEntry, WargameSeries,
};
use stressor_report::{Collector, RunRecord, html, json, summary};

use super::{HOSTILE, committed_schema, info, table_rows};

fn entry(t_s: f64, kind: EntryKind, side: Side, model: &str, id: &str, text: &str) -> WargameEntry {
    WargameEntry {
        t_s,
        kind,
        side,
        model: model.into(),
        id: id.into(),
        atlas: if kind == EntryKind::Inject { "AML.T0020".into() } else { String::new() },
        text: text.into(),
    }
}

fn seconds(values: &[f64]) -> Estimate {
    Estimate::mean(values, Seed::new(7))
}

fn incident(inject: &str, model: &str, technique: &str, (start_s, end_s): (f64, f64)) -> Incident {
    Incident {
        inject: inject.into(),
        model: model.into(),
        technique: technique.into(),
        atlas: vec!["AML.T0020".into(), "AML.T0031".into()],
        start_s,
        end_s,
        detected_by: String::new(),
        detected: Estimate::proportion(0, 3),
        recovered: Estimate::proportion(0, 3),
        mttd_s: None,
        mtta_s: None,
        mttr_s: None,
        effort: vec![("poisoned_rows".into(), seconds(&[400.0, 380.0, 420.0]))],
    }
}

/// One blue team's detail: `defended` detects the poisoning and rolls back; nobody detects
/// the evasion.
fn detail(step_id: &str, team: &str, defended: bool) -> WargameDetail {
    let mut poison = incident("poison", "credit", "label_flip", (600.0, 1800.0));
    let mut timeline = vec![
        entry(0.0, EntryKind::Scheduled, Side::Exercise, "", "start", "the exercise starts"),
        entry(600.0, EntryKind::Inject, Side::Red, "credit", "poison", HOSTILE),
        entry(900.0, EntryKind::Inject, Side::Red, "fraud", "evade", "fraud <b>evasion</b>"),
        entry(1500.0, EntryKind::InjectEnd, Side::Red, "fraud", "evade", "evasion ends"),
        entry(1800.0, EntryKind::InjectEnd, Side::Red, "credit", "poison", "poisoning ends"),
    ];
    let mut alias_changes = Vec::new();
    if defended {
        poison.detected_by = "dp_ratio".into();
        poison.detected = Estimate::proportion(3, 3);
        poison.recovered = Estimate::proportion(2, 3);
        poison.mttd_s = Some(seconds(&[180.0, 240.0, 300.0]));
        poison.mtta_s = Some(seconds(&[240.0, 300.0, 360.0]));
        poison.mttr_s = Some(seconds(&[1500.0, 1700.0]));
        timeline.extend([
            entry(780.0, EntryKind::Detection, Side::Blue, "credit", "dp_ratio", "dp ratio 0.71"),
            entry(840.0, EntryKind::Action, Side::Blue, "credit", "rollback", "rollback to v2"),
            entry(870.0, EntryKind::ActionFailed, Side::Blue, "fraud", "shadow", HOSTILE),
            entry(2100.0, EntryKind::Recovery, Side::Blue, "credit", "recovered", "back"),
        ]);
        alias_changes.push(AliasMove {
            t_s: 840.0,
            model: "credit".into(),
            alias: "champion".into(),
            from: Some(3),
            to: Some(2),
            actor: "blue".into(),
            reason: HOSTILE.into(),
        });
        alias_changes.push(AliasMove {
            t_s: 845.0,
            model: "credit".into(),
            alias: "quarantine".into(),
            from: None,
            to: Some(3),
            actor: "blue".into(),
            reason: "isolate".into(),
        });
    }
    timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let dp: Vec<(f64, Option<f64>)> = (0..60)
        .map(|tick| {
            let t = f64::from(tick) * 60.0;
            let value = match tick {
                20 => None,
                21 => Some(f64::NAN),
                10..30 => Some(0.7),
                _ => Some(0.95),
            };
            (t, value)
        })
        .collect();
    let p99: Vec<(f64, Option<f64>)> =
        (0..60).map(|tick| (f64::from(tick) * 60.0, Some(40.0 + f64::from(tick)))).collect();
    let fraud_loss = if defended { 12_345.6 } else { 48_000.0 };
    WargameDetail {
        step_id: step_id.into(),
        team: team.into(),
        seeds: vec![1, 2, 3],
        duration_s: 3600.0,
        tick_s: 60.0,
        clock: "simulated".into(),
        registry: "file".into(),
        timeline,
        incidents: vec![poison, incident("evade", "fraud", "evasion", (900.0, 1500.0))],
        impact: vec![
            ImpactRow {
                model: "fraud".into(),
                metric: "fraud_loss".into(),
                group: String::new(),
                unit: "EUR".into(),
                value: seconds(&[fraud_loss, fraud_loss * 1.1, fraud_loss * 0.9]),
            },
            ImpactRow {
                model: "credit".into(),
                metric: "approvals_lost".into(),
                group: HOSTILE.into(),
                unit: "decisions".into(),
                value: Estimate::exact(if defended { 12.0 } else { 80.0 }, 3),
            },
        ],
        // The latency first: the fairness series is charted first all the same.
        series: vec![
            WargameSeries {
                name: "chatbot.p99_ms".into(),
                model: "chatbot".into(),
                threshold: Some(250.0),
                points: p99,
            },
            WargameSeries {
                name: "credit.dp_ratio".into(),
                model: "credit".into(),
                threshold: Some(0.8),
                points: dp,
            },
            WargameSeries {
                name: "credit.empty".into(),
                model: "credit".into(),
                threshold: None,
                points: vec![],
            },
        ],
        alias_changes,
    }
}

fn step(id: &str, defended: bool) -> StepResult {
    let metric = |name: &str, estimate| MetricValue { name: name.into(), estimate };
    let mut metrics = vec![
        metric("blue_score", Estimate::exact(if defended { 0.8 } else { 0.1 }, 3)),
        metric("red_score", Estimate::exact(if defended { 0.3 } else { 0.9 }, 3)),
        metric("impact.fraud_loss", Estimate::exact(12_345.6, 3)),
    ];
    if defended {
        metrics.push(metric("mttd_s.poison", seconds(&[180.0, 240.0, 300.0])));
    }
    StepResult {
        info: StepInfo {
            id: id.into(),
            kind: StepKind::WarGame,
            description: format!("blue team {id}"),
            dial_name: None,
            dial_values: vec![],
        },
        parameters: vec![("playbook".into(), "defended.toml".into())],
        points: vec![StepPoint {
            dial_value: None,
            metrics,
            per_class: vec![],
            confusion_growth: vec![],
            exemplars: vec![],
            loss_trace: vec![],
            calibration: None,
        }],
        elapsed: Duration::from_millis(900),
    }
}

fn events() -> Vec<Event> {
    let mut events = vec![Event::RunStarted(info())];
    for (id, team, defended) in
        [("war-game/defended", "defended", true), ("war-game/no-defence", "no defence", false)]
    {
        let result = step(id, defended);
        events.push(Event::StepStarted(result.info.clone()));
        events.push(Event::WargameDetail(Box::new(detail(id, team, defended))));
        events.push(Event::StepFinished(result));
    }
    events.push(Event::RunFinished { verdict: Verdict::Pass, elapsed: Duration::from_secs(3) });
    events
}

fn record_of(events: &[Event]) -> RunRecord {
    let mut collector = Collector::new();
    for event in events {
        collector.event(event);
    }
    collector.into_record().unwrap()
}

fn wargame_record() -> RunRecord {
    record_of(&events())
}

#[test]
fn collector_keeps_each_teams_detail() {
    let record = wargame_record();
    assert_eq!(record.steps.len(), 2);
    assert_eq!(record.wargame_details.len(), 2);
    assert_eq!(record.wargame_details[1].team, "no defence");
}

#[test]
fn json_round_trips_through_the_schema_types_and_validates() {
    let text = json::to_string(&wargame_record());
    let report: stressor_schema::Report = serde_json::from_str(&text).unwrap();
    assert_eq!(report.format_version, "1.6");
    assert_eq!(report.steps[0].kind, stressor_schema::StepKind::WarGame);
    assert!(text.contains("\"kind\": \"war_game\""));
    let again = serde_json::to_string_pretty(&report).unwrap() + "\n";
    assert!(again == text, "JSON changed on a round trip through the schema types");

    let defended = report.steps[0].wargame.as_ref().unwrap();
    assert_eq!(defended.team, "defended");
    assert_eq!(defended.seeds, [1, 2, 3]);
    assert_eq!(defended.timeline[0].side, stressor_schema::Side::Exercise);
    assert_eq!(defended.timeline[1].kind, stressor_schema::EntryKind::Inject);
    assert_eq!(defended.timeline[1].atlas, "AML.T0020");
    let poison = &defended.incidents[0];
    assert_eq!(poison.detected_by, "dp_ratio");
    assert_eq!(poison.mttd_s.unwrap().n, 3);
    let ci = poison.mttd_s.unwrap().ci.unwrap();
    assert_eq!((ci.method, ci.resamples), (stressor_schema::IntervalMethod::Bootstrap, Some(1000)));
    assert_eq!(poison.effort["poisoned_rows"].n, 3);
    // The undetected inject has no times, written as null.
    let evade = &defended.incidents[1];
    assert_eq!((evade.mttd_s, evade.mtta_s, evade.mttr_s), (None, None, None));
    assert!(text.contains("\"mttd_s\": null"));
    // A window without data and a value that is not a number are both null.
    let dp = &defended.series[1];
    assert_eq!((dp.points[20], dp.points[21]), ((1200.0, None), (1260.0, None)));
    assert_eq!(dp.threshold, Some(0.8));
    assert_eq!(defended.alias_changes[1].from, None);
    assert_eq!(defended.impact[1].group, HOSTILE);
    assert!(report.steps[1].wargame.as_ref().unwrap().alias_changes.is_empty());
    assert!(!text.contains("NaN"));

    let instance: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&committed_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn html_shows_each_teams_timeline_incidents_impact_series_and_aliases() {
    let page = html::to_string(&wargame_record(), &html::HtmlConfig::default());
    // Two teams: compared once, before the first team's section.
    assert_eq!(page.matches("the blue teams compared").count(), 1);
    let compared = page.find("the blue teams compared").unwrap();
    assert!(compared < page.find("War game: war-game/defended").unwrap());
    let rows = table_rows(&page, "wargame-compare-incidents");
    assert!(rows[0].contains("colspan=\"2\">defended<") && rows[0].contains(">no defence<"));
    assert!(rows[2].contains(">poison <") && rows[2].contains("4.0 min"), "{}", rows[2]);
    assert_eq!(rows[3].matches("never").count(), 4, "{}", rows[3]);
    let rows = table_rows(&page, "wargame-compare-impact");
    assert!(rows[1].contains("fraud_loss") && rows[1].contains("12,346"), "{}", rows[1]);
    assert!(rows[1].contains("48,000"), "{}", rows[1]);

    // Each team: the timeline's lanes, spans and markers with tooltips.
    assert!(page.contains("aria-label=\"The war game&#39;s timeline: defended\""));
    for lane in ["(exercise)", "credit", "fraud"] {
        assert!(page.contains(&format!(">{lane}</text>")), "lane {lane}");
    }
    assert!(page.contains("fill=\"#d62728\" fill-opacity=\"0.35\"><title>0:10 poison: "));
    assert!(page.contains("<title>0:13 dp_ratio: dp ratio 0.71</title>"));
    assert!(page.contains("<title>0:14 rollback: rollback to v2</title>"));
    assert!(page.contains("<title>0:35 recovered: back</title>"));

    let rows = table_rows(&page, "wargame-incidents");
    assert_eq!(rows.len(), 3);
    assert!(rows[1].contains("AML.T0020, AML.T0031") && rows[1].contains("0:10–0:30"));
    assert!(rows[1].contains("dp_ratio") && rows[1].contains("poisoned_rows 400.0"), "{}", rows[1]);
    assert!(rows[1].contains("4.0 min") && rows[1].contains("n=2"), "{}", rows[1]);
    assert_eq!(rows[2].matches("never").count(), 3, "{}", rows[2]);
    assert!(page.contains("MTTD: mean time from an inject's start to the first alert"));

    let rows = table_rows(&page, "wargame-impact");
    assert!(rows[1].contains("12,346") && rows[1].contains("EUR"), "{}", rows[1]);
    assert!(rows[2].contains(">12.00<") && rows[2].contains("&lt;script&gt;"), "{}", rows[2]);

    // Fairness first, its threshold dashed, the injects on its model shaded; the empty
    // series is left out.
    let dp = page.find("<figcaption>credit.dp_ratio</figcaption>").unwrap();
    assert!(dp < page.find("<figcaption>chatbot.p99_ms</figcaption>").unwrap());
    assert!(!page.contains("<figcaption>credit.empty</figcaption>"));
    assert!(page.contains("stroke-dasharray=\"6 4\""));
    assert!(page.contains("<title>poison</title></rect>"));

    let rows = table_rows(&page, "wargame-timeline");
    assert!(rows[1].starts_with("<tr><td>0:00</td><td>exercise</td><td>scheduled</td>"));
    assert!(rows.iter().any(|r| r.contains("<td>action failed</td><td>fraud</td>")));
    let rows = table_rows(&page, "wargame-aliases");
    assert!(rows[1].contains("<td>v3</td><td>v2</td>"), "{}", rows[1]);
    assert!(rows[2].contains("new"), "{}", rows[2]);
    assert!(page.contains("blue score 0.8000"), "scores from the step's metrics");
    assert!(page.contains("mttd_s.poison"), "every metric, collapsed");

    // Escaped everywhere, and every table scrolls.
    assert!(!page.contains("<script") && !page.contains("<b>evasion"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let tables = page.matches("<table").count();
    assert_eq!(page.matches("<div class=\"scroll\"><table").count(), tables);
}

#[test]
fn summary_prints_incidents_and_impact_per_team() {
    let text = summary::to_string(&wargame_record());
    assert!(text.contains("step war-game/defended (blue team war-game/defended)"), "{text}");
    assert!(
        text.contains("  team defended  3 seeds  60.0 min of simulated clock  blue score 0.8000")
    );
    let poison = text.lines().find(|l| l.trim_start().starts_with("poison")).unwrap();
    assert!(poison.contains("3/3") && poison.contains("4.0 min ["), "{poison}");
    let evade = text.lines().find(|l| l.trim_start().starts_with("evade")).unwrap();
    assert!(evade.contains("0/3") && evade.matches("never").count() == 2, "{evade}");
    assert!(text.contains("  impact fraud_loss (fraud)  12,346 ["), "{text}");
    assert!(text.contains("  impact approvals_lost <script>alert(1)</script> (credit)  12.00"));
    assert!(text.contains("  team no defence  3 seeds"), "{text}");
}

#[test]
fn reporters_tolerate_odd_war_games() {
    let nan = Estimate { value: f64::NAN, n: 0, ci: None };
    let mut odd = detail("war-game/defended", "", true);
    odd.duration_s = 0.0;
    odd.tick_s = f64::NAN;
    odd.timeline[1].t_s = f64::NAN;
    odd.timeline.push(entry(-5.0, EntryKind::Inject, Side::Red, "", "early", "before the start"));
    odd.incidents[0].mttd_s = Some(nan);
    odd.incidents[0].detected = nan;
    odd.incidents[1].end_s = f64::INFINITY;
    odd.impact[0].value = Estimate {
        value: f64::NAN,
        n: 3,
        ci: Some(Interval {
            lower: f64::NEG_INFINITY,
            upper: f64::NAN,
            level: 0.95,
            method: IntervalMethod::Wilson,
        }),
    };
    odd.series[0].points = vec![(f64::NAN, Some(1.0)); 3];
    odd.series[1].points = vec![(0.0, None); 3];
    odd.series[1].threshold = Some(f64::NAN);
    let empty = WargameDetail { step_id: "war-game/no-defence".into(), ..Default::default() };
    let mut events = vec![Event::RunStarted(info())];
    for (result, detail) in
        [(step("war-game/defended", true), odd), (step("war-game/no-defence", false), empty)]
    {
        events.push(Event::WargameDetail(Box::new(detail)));
        events.push(Event::StepFinished(result));
    }
    // A third team sent no detail at all.
    events.push(Event::StepFinished(step("war-game/silent", false)));
    let record = record_of(&events);

    let page = html::to_string(&record, &html::HtmlConfig::default());
    assert!(page.contains("This step sent no war-game detail."));
    assert!(page.contains("No injects."));
    assert!(!page.contains("NaN") && !page.contains("inf\""), "numbers that are not are n/a");
    let text = summary::to_string(&record);
    assert!(text.contains("step war-game/silent"), "{text}");
    let json = json::to_string(&record);
    let report: stressor_schema::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(report.steps.len(), 3);
    assert!(report.steps[2].wargame.is_none());
    let instance: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(jsonschema::validator_for(&committed_schema()).unwrap().is_valid(&instance));
}
