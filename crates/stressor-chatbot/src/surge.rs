//! The chatbot over HTTP under a load surge.

use stressor_core::{HandoffPolicy, StepResult};
use stressor_scenario::{EngineError, RunContext};

use crate::plan::SurgePlan;
use crate::run::{Context, chatbot_error};

pub(crate) fn surge_step(
    _ctx: &mut Context<'_>,
    _run: &mut RunContext<'_>,
    _policies: &[HandoffPolicy],
    _surge: &SurgePlan,
) -> Result<StepResult, EngineError> {
    Err(chatbot_error("the surge is not built yet"))
}
