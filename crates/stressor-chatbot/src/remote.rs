//! A user's chatbot over HTTP.

use stressor_intent::{IntentError, IntentModel, Reply};
use stressor_scenario::EngineError;

use crate::plan::HttpPlan;
use crate::run::chatbot_error;

/// A user's chatbot.
#[derive(Debug)]
pub(crate) struct Remote {
    intents: Vec<String>,
}

impl Remote {
    pub(crate) fn connect(_plan: &HttpPlan, _intents: &[String]) -> Result<Remote, EngineError> {
        Err(chatbot_error("HTTP chatbots are not built yet"))
    }
}

impl IntentModel for Remote {
    fn intents(&self) -> &[String] {
        &self.intents
    }
    fn reply(&self, _texts: &[&str]) -> Result<Vec<Reply>, IntentError> {
        Err(IntentError("not built".into()))
    }
    fn describe(&self) -> String {
        "remote".into()
    }
}
