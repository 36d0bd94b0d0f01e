//! A drain whose lifecycle action has ended (a heartbeat found none): may it still finish?
//!
//! The action's end lets the instance go on: it terminates, goes back to a warm pool
//! (stopped), or is retained (`Terminating:Retained`: an instance lifecycle policy keeps an
//! instance whose action ended with ABANDON running). Finishing the drain serves each of
//! those: the instance leaves the load balancers nobody else takes it out of, and a
//! warm-pool instance's container instance is marked for the sweeper to set it ACTIVE once
//! it is back ([`crate::pool_return`]). But by the time a redrive comes (days later), a
//! warm-pool instance may be back in service with the same id, or be leaving again under a
//! newer action that has a drain of its own: it is no longer this drain's to touch.

use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;

use crate::activities::action_superseded;
use crate::hook::action_has_ended;
use crate::instance_state::describe_auto_scaling_instance;
use crate::state::{Destination, DrainState};
use crate::StepError;

/// True when the drain stops here, its state saying `action_ended`: the lifecycle action
/// has ended and the instance is no longer leaving under it (`DescribeAutoScalingInstances`
/// shows it pending, in service, in standby or detaching; or a newer action of it has
/// begun: the heartbeat of a drain the sweeper started may have found that already, and
/// the state keeps it as `heartbeat.superseded`). While the action lasts, or the instance
/// is still on its way out under it (terminated, terminating, retained, or in the warm
/// pool), the drain goes on.
pub async fn no_longer_ours(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
) -> Result<bool, StepError> {
    if state.request.trigger.lifecycle_action().is_none() {
        return Ok(false);
    }
    if !state.heartbeat.action_gone {
        return Ok(false);
    }
    if state.heartbeat.superseded {
        tracing::warn!(
            "a newer lifecycle action of the instance has begun: it is no longer this drain's"
        );
        return Ok(action_has_ended(state));
    }
    let instance_id = &state.request.instance_id;
    let found = describe_auto_scaling_instance(autoscaling, instance_id).await?;
    let lifecycle_state = found
        .as_ref()
        .and_then(AutoScalingInstanceDetails::lifecycle_state);
    let leaving = match lifecycle_state {
        None => true,
        Some(lifecycle) if in_service(lifecycle) => false,
        Some(_) => still_this_actions(autoscaling, state).await?,
    };
    if leaving {
        tracing::info!(
            lifecycle_state = ?lifecycle_state,
            "the lifecycle action has ended and the instance is still on its way out: the drain goes on"
        );
        return Ok(false);
    }
    tracing::warn!(lifecycle_state = ?lifecycle_state, "the instance is no longer leaving under this drain's action");
    Ok(action_has_ended(state))
}

/// True when the first step stops here, its state saying `action_ended`: the lifecycle
/// action has ended (a late or repeated event, an action completed by someone else, an
/// instance already gone), unless the instance is retained (`Terminating:Retained`, or
/// `Warmed:Pending:Retained` on its way back to a warm pool), or is in the warm pool the
/// action sent it back to. An instance lifecycle policy retains an instance whose action was
/// abandoned, a drain that FAILED included: it runs on, its tasks serving, "until you call
/// TerminateInstanceInAutoScalingGroup" (AWS does not say whether a terminate hook runs again
/// then). A redrive of that drain is what drains it first, so the drain goes on; and one of
/// an instance in the pool marks its container instance to be set ACTIVE when it is back.
pub async fn first_step_stops(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
) -> Result<bool, StepError> {
    if !state.heartbeat.action_gone {
        return Ok(false);
    }
    let found = describe_auto_scaling_instance(autoscaling, &state.request.instance_id).await?;
    let lifecycle_state = found
        .as_ref()
        .and_then(AutoScalingInstanceDetails::lifecycle_state);
    if lifecycle_state.is_some_and(retained) {
        tracing::info!(
            lifecycle_state = ?lifecycle_state,
            "the lifecycle action has ended and the group retains the instance: the drain goes on"
        );
        return Ok(false);
    }
    if back_in_the_pool(autoscaling, state, lifecycle_state).await? {
        tracing::info!(
            lifecycle_state = ?lifecycle_state,
            "the lifecycle action has ended and the instance is in the warm pool it went back to: the drain goes on"
        );
        return Ok(false);
    }
    Ok(action_has_ended(state))
}

/// Whether the instance is in the warm pool this drain's action sent it back to, with no newer
/// action begun: a redrive of a drain that FAILED before it marked the container instance
/// ([`crate::pool_return`]) must still mark it, or the instance comes back DRAINING for good.
async fn back_in_the_pool(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
    lifecycle_state: Option<&str>,
) -> Result<bool, StepError> {
    if state.request.trigger.lifecycle_action().is_none() {
        return Ok(false);
    }
    if state.request.destination != Destination::WarmPool
        || !lifecycle_state.is_some_and(|lifecycle| lifecycle.starts_with("Warmed:"))
    {
        return Ok(false);
    }
    still_this_actions(autoscaling, state).await
}

/// Whether no newer lifecycle action of the instance has begun since this drain's (always
/// for a drain of no lifecycle action); the state keeps the answer as `heartbeat.superseded`.
async fn still_this_actions(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
) -> Result<bool, StepError> {
    let Some(asg_name) = state
        .request
        .trigger
        .lifecycle_action()
        .map(|action| action.asg_name.clone())
    else {
        return Ok(true);
    };
    state.heartbeat.superseded = action_superseded(
        autoscaling,
        &asg_name,
        &state.request.instance_id,
        state.request.event_time,
    )
    .await?;
    Ok(!state.heartbeat.superseded)
}

/// Whether an instance in a lifecycle state is in its group's service or on its way there
/// (pending, in service, standby, detaching): not leaving it. Every other state (terminating,
/// retained, or in the warm pool: `Warmed:*`, including a terminate hook's wait on the way
/// back to it) is leaving, under this drain's action or under a newer one of a reused
/// instance.
fn in_service(lifecycle: &str) -> bool {
    !(lifecycle.starts_with("Terminat") || lifecycle.starts_with("Warmed:") || retained(lifecycle))
}

/// Whether an instance in a lifecycle state is retained by its group's instance lifecycle
/// policy after an abandoned terminate action (`Terminating:Retained`, or
/// `Warmed:Pending:Retained` on its way back to a warm pool).
pub fn retained(lifecycle: &str) -> bool {
    lifecycle.ends_with(":Retained")
}

#[cfg(test)]
mod tests {
    use super::in_service;

    #[test]
    fn in_service_by_lifecycle_state() {
        let leaving = [
            "Terminating",
            "Terminating:Wait",
            "Terminating:Proceed",
            "Terminated",
            "Terminating:Retained",
            "Warmed:Pending",
            "Warmed:Pending:Wait",
            "Warmed:Pending:Proceed",
            "Warmed:Pending:Retained",
            "Warmed:Terminating:Wait",
            "Warmed:Stopped",
            "Warmed:Running",
            "Warmed:Hibernated",
        ];
        for state in leaving {
            assert!(!in_service(state), "{state}");
        }
        let in_group = [
            "Pending",
            "Pending:Wait",
            "Pending:Proceed",
            "Quarantined",
            "InService",
            "EnteringStandby",
            "Standby",
            "Detaching",
            "Detached",
        ];
        for state in in_group {
            assert!(in_service(state), "{state}");
        }
    }
}
