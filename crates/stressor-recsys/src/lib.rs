//! The recommender stress family (`[recommender]`): a real-time recommender under
//! data-pipeline failure, in a simulated world whose truth is known.
//!
//! - [`world`]: users and items with latent preferences (the true affinity), long-tailed
//!   popularity, prices, session arrivals and RecSim's user model (cascade examination, logit
//!   choice with a no-click option, conversion);
//! - [`pipeline`] and [`store`]: events → ingestion → a stream job computing windowed
//!   features → an online feature store with Feast's layout and write rule;
//! - [`ranker`] and [`service`]: BPR matrix factorisation, embedding candidates plus the
//!   popular list, a response cache with a TTL, and the fallback policies (none, a static
//!   popular list, last-known-good features, serve-stale, a circuit breaker);
//! - [`fault`]: the pipeline faults on a schedule; [`sim`]: the simulated clock that runs
//!   traffic, pipeline and faults together; [`recovery`]: impact, time to mitigate and RTO;
//! - [`options`] and [`plan`]: `[recommender]` read and validated; `run` reports one
//!   `recommender` step per reference and per policy;
//! - [`redis_store`]: the online store in a real Redis behind a proxy that enacts outages;
//!   [`serve`]: the recommender as a real-time HTTP service (`stressor serve --recommender`);
//! - [`replay`]: replay and IPS estimates on a real logged-bandit log (the Open Bandit
//!   Dataset), for reference rankings and for the recommender under the fault schedule.
//!
//! ```
//! let text = r#"
//! name = "shop"
//! [recommender]
//! duration = "10m"
//! policies = ["none", "circuit-breaker"]
//! [[recommender.faults]]
//! kind = "store_outage"
//! start = "2m"
//! stop = "4m"
//! "#;
//! let scenario = stressor_scenario::plan(text, "r.toml".as_ref(), &[&stressor_recsys::Recommender]).unwrap();
//! let plan = scenario.part::<stressor_recsys::RecsysPlan>().unwrap();
//! assert_eq!(plan.policies.len(), 2);
//! assert_eq!(plan.schedule.faults[0].stop, 240.0);
//! ```

pub mod describe;
pub mod fault;
pub mod log;
pub mod options;
pub mod pipeline;
pub mod plan;
pub mod ranker;
pub mod recovery;
pub mod redis_store;
pub mod remote;
pub mod replay;
mod run;
pub mod serve;
pub mod service;
pub mod sim;
pub mod store;
pub mod world;

use stressor_core::{Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan,
};

pub use plan::{RECSYS_METRICS, REFERENCES, RecsysPlan};
pub use run::RecsysError;

/// The recommender family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recommender;

const KEYS: &[&str] = &["recommender"];

impl Family for Recommender {
    fn name(&self) -> &'static str {
        "recommender"
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
        let options: options::RecommenderSection = document.section(KEYS)?;
        planner.refuse_subject(
            document,
            subject,
            "a recommender scenario brings its own world and recommender",
            "move the recommender to a file of its own",
        );
        Ok(Box::new(plan::plan(planner, options.recommender)))
    }
}

impl Part for RecsysPlan {
    fn family(&self) -> &'static str {
        "recommender"
    }

    fn gates(&self) -> Vec<&Gate> {
        self.gates.iter().collect()
    }

    fn step_ids(&self) -> Vec<String> {
        run::step_ids(self)
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
