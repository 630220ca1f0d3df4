//! The chatbot stress family (`[chatbot]`): an intent-classifying chatbot meets real users.
//!
//! Typos, other words for the same thing, contractions, casing and punctuation noise, filler
//! words (all from `stressor-text`, each swept over its dial), off-topic questions mixed in at
//! a share, a black-box word-substitution attack under a query budget, and a tenfold load
//! surge over HTTP. At every point it measures what users get: right answers, wrong answers,
//! handoffs to a human (needed or not), keyword-rule answers and dropped requests, under a
//! handoff threshold fitted with a guarantee (Learn-then-Test: the error of answered queries
//! ≤ α with probability ≥ 1 − δ) and under fixed thresholds (Rasa's and Dialogflow's 0.3);
//! out-of-scope detectors compared by AUROC and FPR at 95 % TPR; one graceful degradation
//! score over every stress ([`score`]); and a candidate model in shadow.
//!
//! - [`options`] and [`plan`]: `[chatbot]` read and validated;
//! - [`measure`]: actions, outcomes and a dial point's metrics;
//! - [`score`]: the graceful degradation score;
//! - `run`: the steps (`clean`, one per stress, `surge`, `shadow`, `degradation`).
//!
//! ```
//! let text = r#"
//! name = "support-bot"
//! [chatbot]
//! samples = 300
//! [[chatbot.stresses]]
//! kind = "typos"
//! sweep = { rate = [0, 0.05, 0.1] }
//! "#;
//! let scenario = stressor_scenario::plan(text, "c.toml".as_ref(), &[&stressor_chatbot::Chatbot]).unwrap();
//! let plan = scenario.part::<stressor_chatbot::ChatbotPlan>().unwrap();
//! assert_eq!(plan.stresses[0].dial, vec![0.0, 0.05, 0.1]);
//! assert_eq!(plan.handoff.fixed, vec![0.3]);
//! ```

mod attack;
mod describe;
pub mod measure;
mod model;
pub mod options;
pub mod plan;
mod remote;
mod run;
pub mod score;
mod shadow;
mod surge;

use stressor_core::{Gate, StepResult};
use stressor_scenario::{
    Document, EngineError, Family, Part, Planner, RunContext, ScenarioError, SubjectPlan,
};

pub use model::builtin_clinc150;
pub use plan::{CHATBOT_METRICS, ChatbotPlan};
pub use run::ChatbotError;

/// The chatbot family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chatbot;

const KEYS: &[&str] = &["chatbot"];

impl Family for Chatbot {
    fn name(&self) -> &'static str {
        "chatbot"
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
        let options: options::ChatbotSection = document.section(KEYS)?;
        planner.refuse_subject(
            document,
            subject,
            "a chatbot scenario brings its own chatbot and queries (`[chatbot.model]`, `chatbot.data`)",
            "move the chatbot to a file of its own",
        );
        Ok(Box::new(plan::plan(planner, &options.chatbot)))
    }
}

impl Part for ChatbotPlan {
    fn family(&self) -> &'static str {
        "chatbot"
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
