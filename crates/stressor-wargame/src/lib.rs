//! The war-game family (`[wargame]`): a red team against a blue team over a bank's fleet of
//! served models.
//!
//! Three models — credit scoring on the German credit data, fraud detection on a card
//! transaction stream with a known fraud process, and a CLINC150 customer-service chatbot —
//! are each served over HTTP on loopback, with their versions and aliases (`champion`,
//! `challenger`, `last-good`) in a model registry (a folder, or MLflow's Model Registry). The
//! red team plays a seeded timeline of injects, each with its MITRE ATLAS id: label flipping
//! aimed at a protected group in the retraining feed, evasion of the fraud model over HTTP
//! within a budget, a request flood against the chatbot, a tampered artefact in the registry,
//! pipeline drift. The blue team plays a declarative playbook: monitors with a window and a
//! threshold (fairness as Fairlearn computes it, drift, latency and error SLOs, accuracy on
//! delayed labels, artefact integrity) start chains of actions (isolate, roll back, shed load,
//! retrain without the suspect data with a loss-based sanitiser, shadow, canary, promote when
//! gates hold). A team without a defence plays the same timeline beside it. The referee, who
//! knows the truth, judges every model's health each tick, from which come each inject's MTTD,
//! MTTA and MTTR, the impact (wrong decisions and approvals lost per group, fraud loss,
//! requests dropped, revenue) and the scores, each over every seed with its interval.
//!
//! - [`options`] and [`plan`]: `[wargame]` read and validated;
//! - `world`, `fraud`: what the fleet is trained on and what customers send;
//! - `fleet`: the served models and the HTTP calls to them;
//! - `game`: one team's game for one seed; `referee`: health; `outcome`: the figures;
//! - `run`: the steps.
//!
//! ```
//! let text = r#"
//! name = "bank"
//! [wargame]
//! duration = "6h"
//! [[wargame.injects]]
//! at = "1h"
//! model = "credit"
//! technique = "label_flip"
//! [[wargame.monitors]]
//! id = "fairness"
//! model = "credit"
//! metric = "dp_ratio"
//! below = 0.8
//! "#;
//! let scenario = stressor_scenario::plan(text, "w.toml".as_ref(), &[&stressor_wargame::Wargame]).unwrap();
//! let plan = scenario.part::<stressor_wargame::WargamePlan>().unwrap();
//! assert_eq!(plan.injects[0].id, "label-flip-credit");
//! assert_eq!(plan.step_ids(), ["war-game/defended", "war-game/no-defence"]);
//! ```

mod describe;
mod fleet;
mod fraud;
mod game;
pub mod options;
mod outcome;
pub mod plan;
mod referee;
mod run;
mod world;

use stressor_core::{Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan,
};

pub use plan::{WARGAME_METRICS, WargamePlan};
pub use run::WargameError;

/// The war-game family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wargame;

const KEYS: &[&str] = &["wargame"];

impl Family for Wargame {
    fn name(&self) -> &'static str {
        "wargame"
    }

    fn keys(&self) -> &'static [&'static str] {
        KEYS
    }

    fn plan(
        &self,
        document: &Document<'_>,
        planner: &mut Planner<'_>,
        subject: Option<&SubjectPlan>,
    ) -> Result<Box<dyn Part>, ScenarioError> {
        let options: options::WargameSection = document.section(KEYS)?;
        planner.refuse_subject(
            document,
            subject,
            "a war game brings its own fleet and data",
            "move the war game to a file of its own",
        );
        Ok(Box::new(plan::plan(planner, &options.wargame)))
    }
}

impl Part for WargamePlan {
    fn family(&self) -> &'static str {
        "wargame"
    }

    fn gates(&self) -> Vec<&Gate> {
        self.gates.iter().collect()
    }

    fn step_ids(&self) -> Vec<String> {
        WargamePlan::step_ids(self)
    }

    fn describe(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        describe::describe(self, out)
    }

    fn run(&self, run: &mut RunContext<'_>) -> Result<Vec<StepResult>, EngineError> {
        run::run_part(self, run)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
