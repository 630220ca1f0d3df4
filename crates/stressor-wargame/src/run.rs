//! The war game's steps: the blue team's playbook, then no defence, each over every seed, on
//! the same worlds (the same customers, applicants, transactions and red moves).

use std::path::PathBuf;
use std::time::Instant;

use stressor_core::{Event, RunInfo, StepInfo, StepKind, StepPoint, StepResult};
use stressor_registry::{FileRegistry, MlflowConfig, MlflowRegistry, Registry};
use stressor_scenario::{EngineError, RunContext};

use crate::plan::{RegistryPlan, WargamePlan};
use crate::world::World;

/// Why a war game could not go on (a failed action or gate is a result, not this).
#[derive(Debug, thiserror::Error)]
#[error("war game: {reason}")]
pub struct WargameError {
    reason: String,
}

pub(crate) fn wargame_error(reason: impl Into<String>) -> EngineError {
    EngineError::Family(Box::new(WargameError { reason: reason.into() }))
}

/// A registry for one run: the plan's backend, with a fresh folder (file backend without a
/// path, or MLflow's local artefacts) that is removed when the run ends.
struct RunRegistry {
    registry: Box<dyn Registry>,
    scratch: PathBuf,
    keep: bool,
    /// Model names start with this, so runs sharing a registry never meet.
    prefix: String,
}

impl Drop for RunRegistry {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

fn open_registry(plan: &WargamePlan, run: &RunContext<'_>) -> Result<RunRegistry, EngineError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let base = run.config.cache_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = base.join(format!("wargame-{}-{nanos}", std::process::id()));
    match &plan.registry {
        RegistryPlan::File(None) => {
            let registry = FileRegistry::open(&scratch)
                .map_err(|e| wargame_error(format!("the registry: {e}")))?;
            Ok(RunRegistry {
                registry: Box::new(registry),
                scratch,
                keep: false,
                prefix: String::new(),
            })
        }
        RegistryPlan::File(Some(path)) => {
            let registry = FileRegistry::open(path)
                .map_err(|e| wargame_error(format!("the registry at {}: {e}", path.display())))?;
            Ok(RunRegistry {
                registry: Box::new(registry),
                scratch: path.clone(),
                keep: true,
                prefix: format!("run-{nanos}-"),
            })
        }
        RegistryPlan::Mlflow(url) => {
            let registry = MlflowRegistry::connect(MlflowConfig::new(url.clone(), scratch.clone()))
                .map_err(|e| {
                    EngineError::Family(Box::new(WargameError {
                        reason: format!("wargame.registry.url: MLflow at {url}: {e}"),
                    }))
                })?;
            Ok(RunRegistry {
                registry: Box::new(registry),
                scratch,
                keep: false,
                prefix: format!("stressor-{nanos}-"),
            })
        }
    }
}

pub(crate) fn run_part(
    plan: &WargamePlan,
    run: &mut RunContext<'_>,
) -> Result<Vec<StepResult>, EngineError> {
    let seed = run.seed.derive("wargame");
    let n_seeds = run.config.seeds.unwrap_or(plan.seeds).max(1);
    let seeds: Vec<u64> = (0..n_seeds as u64).map(|k| seed.derive_index(k).value()).collect();
    let worlds: Vec<World> = seeds
        .iter()
        .map(|&s| World::build(plan, run.config, stressor_core::Seed::new(s)))
        .collect::<Result<_, _>>()
        .map_err(wargame_error)?;
    run.start(RunInfo {
        scenario_name: run.scenario_name.to_string(),
        scenario_source: run.scenario_source.to_string(),
        seed: run.seed.value(),
        target_name: "a bank's fleet: credit scoring, fraud detection, customer-service chatbot"
            .into(),
        target_kind: "wargame".into(),
        input_shape: Vec::new(),
        class_names: Vec::new(),
        data_name: "German credit, synthetic card transactions, CLINC150".into(),
        n_samples: worlds.first().map_or(0, |w| w.credit_pool.len()),
        stressor_version: run.config.stressor_version.clone(),
    });
    let registry = open_registry(plan, run)?;
    let mut results = Vec::new();
    for (step_id, team, defended) in [
        (format!("war-game/{}", plan.team), plan.team.clone(), true),
        ("war-game/no-defence".to_string(), "no-defence".to_string(), false),
    ] {
        let info = StepInfo {
            id: step_id.clone(),
            kind: StepKind::WarGame,
            description: if defended {
                format!(
                    "blue team `{team}`: {} monitors, {} actions against {} injects over {:.0} h, {} seed(s)",
                    plan.monitors.len(),
                    plan.actions.len(),
                    plan.injects.len(),
                    plan.duration_s / 3600.0,
                    n_seeds
                )
            } else {
                format!(
                    "no defence: the same {} injects, monitors watching, nobody acting",
                    plan.injects.len()
                )
            },
            dial_name: None,
            dial_values: Vec::new(),
        };
        run.sink.event(&Event::StepStarted(info.clone()));
        let started = Instant::now();
        let mut games = Vec::new();
        for (k, world) in worlds.iter().enumerate() {
            let prefix = format!("{}{team}-s{k}-", registry.prefix);
            let sink = &mut *run.sink;
            let mut live = |event: Event| sink.event(&event);
            let game = match crate::game::play(
                plan,
                world,
                registry.registry.as_ref(),
                &prefix,
                defended,
                stressor_core::Seed::new(seeds[k]),
                &step_id,
                &mut live,
            ) {
                Ok(game) => game,
                // A team that cannot play (the registry gone before its game starts) after
                // another team finished: keep what was measured, say why the rest is missing.
                Err(e) if !results.is_empty() => {
                    run.sink.event(&Event::Warning(stressor_core::Warning {
                        step_id: Some(step_id.clone()),
                        code: "wargame/team-not-played".into(),
                        message: format!("{step_id}, seed {k} could not be played: {e}; the teams before it are reported"),
                    }));
                    return Ok(results);
                }
                Err(e) => return Err(wargame_error(format!("{step_id}, seed {k}: {e}"))),
            };
            run.sink.event(&Event::Progress {
                step_id: step_id.clone(),
                done: k as u64 + 1,
                total: worlds.len() as u64,
            });
            games.push(game);
        }
        let outcomes: Vec<_> = games.iter().map(|g| crate::outcome::judge(plan, g)).collect();
        let (detail, metrics) = crate::outcome::summarise(
            plan,
            &step_id,
            &team,
            &seeds,
            registry.registry.backend(),
            &games,
            &outcomes,
            seed.derive(&step_id),
        );
        run.sink.event(&Event::WargameDetail(Box::new(detail)));
        let point = StepPoint {
            dial_value: None,
            metrics,
            per_class: Vec::new(),
            confusion_growth: Vec::new(),
            exemplars: Vec::new(),
            loss_trace: Vec::new(),
            calibration: None,
        };
        let parameters = vec![
            ("team".to_string(), team.clone()),
            ("seeds".to_string(), n_seeds.to_string()),
            ("registry".to_string(), registry.registry.backend().to_string()),
        ];
        let result =
            StepResult { info, parameters, points: vec![point], elapsed: started.elapsed() };
        run.sink.event(&Event::StepFinished(result.clone()));
        results.push(result);
    }
    Ok(results)
}
