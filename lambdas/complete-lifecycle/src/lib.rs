//! The last drain step: lets Auto Scaling terminate the instance.
//!
//! Completes the lifecycle action with its token (CONTINUE once drained, the configured
//! result once the deadline passed); a drain the sweeper started has no token and names
//! the instance. When AWS has no active action for it, the action was completed before
//! (a duplicate event, a retry, a redrive) or has expired: that is success, reported as
//! `already_completed`, so duplicates and redrives end well instead of retrying forever.

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::activities::action_superseded;
use sta_shared::error::{autoscaling_error, is_no_active_lifecycle_action};
use sta_shared::instance_state::still_waiting;
use sta_shared::metrics::{self, Unit};
use sta_shared::state::{
    Completion, CompletionOutcome, DrainRequest, DrainState, DrainStatus, LifecycleAction,
    LifecycleResult,
};
use sta_shared::Clients;
use sta_shared::StepError;
use tracing::instrument;

#[derive(Debug, Clone)]
pub struct Deps {
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl Deps {
    /// The client, from the function's environment (once, at cold start).
    pub async fn from_env() -> Self {
        Self {
            autoscaling: Clients::from_env().await.autoscaling,
        }
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let state = DrainState::from_value(event.payload)?;
    let state = complete(deps, state, Utc::now()).await?;
    metrics::emit(&state.request.cluster, Utc::now(), &drain_metrics(&state));
    Ok(state)
}

/// What a finished drain cost: its duration, how long the tasks and the load balancers
/// took, whether it hit the deadline, how many heartbeats it sent.
pub fn drain_metrics(state: &DrainState) -> Vec<(&'static str, f64, Unit)> {
    let seconds_between =
        |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_milliseconds() as f64 / 1000.0;
    let mut metrics = vec![
        (
            "DrainDeadlineReached",
            f64::from(u8::from(state.timed_out())),
            Unit::Count,
        ),
        (
            "HeartbeatsSent",
            f64::from(state.heartbeat.sent),
            Unit::Count,
        ),
    ];
    if let Some(completion) = &state.report.completion {
        metrics.push((
            "DrainDurationSeconds",
            seconds_between(state.started_at, completion.at),
            Unit::Seconds,
        ));
    }
    if let (false, Some(stopped)) = (state.tasks.is_empty(), state.report.tasks_stopped_at) {
        metrics.push((
            "TaskWaitSeconds",
            seconds_between(state.started_at, stopped),
            Unit::Seconds,
        ));
    }
    let deregistered = state
        .load_balancers
        .as_ref()
        .and_then(|balancers| balancers.deregistered_at);
    if let (Some(from), Some(drained)) = (deregistered, state.report.balancers_drained_at) {
        metrics.push((
            "LoadBalancerWaitSeconds",
            seconds_between(from, drained),
            Unit::Seconds,
        ));
    }
    metrics
}

#[instrument(skip(deps, state), fields(instance = %state.request.instance_id))]
pub async fn complete(
    deps: &Deps,
    mut state: DrainState,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    let result = match state.status {
        DrainStatus::Drained => LifecycleResult::Continue,
        DrainStatus::DeadlinePassed => state.settings.deadline_result,
        DrainStatus::Draining | DrainStatus::NotInCluster | DrainStatus::ActionEnded => {
            return Err(StepError::invalid_event(
                "status",
                "is not drained: the lifecycle action is completed only once drained or past the deadline",
            ))
        }
    };
    let Some(action) = state.request.trigger.lifecycle_action().cloned() else {
        tracing::info!("Spot interruption: no lifecycle action to complete");
        state.report.completion = Some(Completion {
            result: None,
            outcome: CompletionOutcome::NotApplicable,
            at: now,
        });
        return Ok(state);
    };
    let may_be_unseen = state.action_may_be_unseen(now);
    let outcome = complete_action(deps, &action, &state.request, result, may_be_unseen).await?;
    let (asg, hook) = (&action.asg_name, &action.hook_name);
    tracing::info!(
        asg = %asg,
        hook = %hook,
        result = result.as_str(),
        outcome = ?outcome,
        deadline_passed = state.timed_out(),
        "lifecycle action done"
    );
    state.report.completion = Some(Completion {
        result: Some(result),
        outcome,
        at: now,
    });
    Ok(state)
}

/// Completes `action` with its token, or, for a sweeper-made request (no token), by instance id
/// unless a newer action of the same (reused) instance has begun since.
///
/// With a token, the token alone names the action: when AWS has none for it, this execution's
/// action ended (completed before, expired); completing by instance id instead could complete a
/// newer action of the same instance (a reused warm-pool instance). Only a sweeper-made request,
/// which has no token, names the instance. While AWS may not show the action yet
/// (`may_be_unseen`: [`DrainState::action_may_be_unseen`]), its "No active Lifecycle Action
/// found" while the instance still waits under a terminate hook ([`still_waiting`]) is not
/// taken for the action's end: retried.
async fn complete_action(
    deps: &Deps,
    action: &LifecycleAction,
    request: &DrainRequest,
    result: LifecycleResult,
    may_be_unseen: bool,
) -> Result<CompletionOutcome, StepError> {
    let (asg, hook) = (&action.asg_name, &action.hook_name);
    let instance_id = match &action.token {
        Some(_) => None,
        None => {
            if action_superseded(
                &deps.autoscaling,
                asg,
                &request.instance_id,
                request.event_time,
            )
            .await?
            {
                tracing::warn!(
                    "a newer lifecycle action of this instance has begun: not completing it"
                );
                return Ok(CompletionOutcome::AlreadyCompleted);
            }
            Some(request.instance_id.clone())
        }
    };
    let sent = deps
        .autoscaling
        .complete_lifecycle_action()
        .auto_scaling_group_name(asg)
        .lifecycle_hook_name(hook)
        .set_lifecycle_action_token(action.token.clone())
        .set_instance_id(instance_id)
        .lifecycle_action_result(result.as_str())
        .send()
        .await;
    match sent {
        Ok(_) => Ok(CompletionOutcome::Completed),
        Err(error) if is_no_active_lifecycle_action(&error) => {
            if may_be_unseen && still_waiting(&deps.autoscaling, request).await? {
                // Reported as completed, the instance would wait out the hook's timeout and
                // then go by its default result: try again (the state machine's Retry), and
                // fail visibly, redrivable, if AWS never takes it.
                return Err(StepError::Retryable {
                    operation: "CompleteLifecycleAction".into(),
                    message: format!(
                        "Auto Scaling has no active lifecycle action, but instance {} still waits under a terminate hook and none of this drain's heartbeats was taken: it may not show the action yet",
                        request.instance_id
                    ),
                });
            }
            Ok(CompletionOutcome::AlreadyCompleted)
        }
        Err(error) => Err(autoscaling_error(asg, "CompleteLifecycleAction", error)),
    }
}

#[cfg(test)]
mod tests;
