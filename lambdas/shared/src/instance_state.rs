//! The instance as Auto Scaling describes it, and what that says of its lifecycle action.

use aws_sdk_autoscaling::types::AutoScalingInstanceDetails;

use crate::activities::action_superseded;
use crate::error::aws_error;
use crate::state::DrainRequest;
use crate::StepError;

/// Whether Auto Scaling's "No active Lifecycle Action found" for this drain's action may be
/// its control plane not showing the action yet: the instance still waits under a terminate
/// hook (`Terminating:Wait`, or `Warmed:*:Wait` on its way to or from a warm pool) and no newer
/// action of it has begun. AWS has been seen to answer so just after DescribeAutoScalingInstances
/// showed `Terminating:Wait`, and to complete the same action on a later try (PrairieLearn pull
/// request 15586). Taken for the action's end, it would leave the instance undrained until the
/// hook times out, or in `Terminating:Wait` until then after a drain. Asked only within the
/// bounds of [`crate::state::DrainState::action_may_be_unseen`]: once AWS has taken a heartbeat of the
/// action, it knew the action, and the answer means its end (another terminate hook's action
/// may keep the instance waiting after ours ended).
pub async fn still_waiting(
    autoscaling: &aws_sdk_autoscaling::Client,
    request: &DrainRequest,
) -> Result<bool, StepError> {
    let Some(action) = request.trigger.lifecycle_action() else {
        return Ok(false);
    };
    let found = describe_auto_scaling_instance(autoscaling, &request.instance_id).await?;
    let waiting = found
        .as_ref()
        .and_then(AutoScalingInstanceDetails::lifecycle_state)
        .is_some_and(|lifecycle| lifecycle.ends_with(":Wait") && !lifecycle.starts_with("Pending"));
    if !waiting {
        return Ok(false);
    }
    let superseded = action_superseded(
        autoscaling,
        &action.asg_name,
        &request.instance_id,
        request.event_time,
    )
    .await?;
    Ok(!superseded)
}

/// `instance_id` as Auto Scaling describes it (its group, its lifecycle state); `None` when
/// it is in no group (terminated, or never in one).
pub async fn describe_auto_scaling_instance(
    autoscaling: &aws_sdk_autoscaling::Client,
    instance_id: &str,
) -> Result<Option<AutoScalingInstanceDetails>, StepError> {
    let output = autoscaling
        .describe_auto_scaling_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|error| aws_error("DescribeAutoScalingInstances", error))?;
    Ok(output
        .auto_scaling_instances
        .unwrap_or_default()
        .into_iter()
        .find(|instance| instance.instance_id() == Some(instance_id)))
}
