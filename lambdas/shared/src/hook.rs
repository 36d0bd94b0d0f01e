//! The lifecycle hook's limits, read once per drain.

use crate::error::aws_error;
use crate::state::{seconds, DrainKind, DrainState};
use crate::StepError;

/// Reads the hook's heartbeat timeout into the state (once), and caps the drain deadline
/// at the hook's global timeout, so that the drain never waits past the hook's own
/// limit. A hook that no longer exists has no action to keep alive: `action_gone`.
/// Returns the heartbeat timeout, `None` when there is nothing to keep alive.
pub async fn read_hook(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
) -> Result<Option<u64>, StepError> {
    if state.request.kind != DrainKind::LifecycleAction || state.heartbeat.action_gone {
        return Ok(None);
    }
    if let Some(timeout) = state.heartbeat.timeout_seconds {
        return Ok(Some(timeout));
    }
    let (Some(asg), Some(hook)) = (&state.request.asg_name, &state.request.hook_name) else {
        return Err(StepError::invalid_event(
            "request",
            "lacks asg_name or hook_name for a lifecycle action",
        ));
    };
    let output = autoscaling
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(asg)
        .lifecycle_hook_names(hook)
        .send()
        .await
        .map_err(|error| aws_error("DescribeLifecycleHooks", error))?;
    let Some(found) = output.lifecycle_hooks().first() else {
        tracing::warn!(asg = %asg, hook = %hook, "lifecycle hook deleted: no action to keep alive");
        state.heartbeat.action_gone = true;
        return Ok(None);
    };
    let timeout = found
        .heartbeat_timeout()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(3600);
    if let Some(global) = found.global_timeout().and_then(|t| u64::try_from(t).ok()) {
        let limit =
            state.request.event_time + seconds(global.saturating_sub((global / 10).min(60)));
        if limit < state.deadline_at {
            tracing::warn!(deadline = %state.deadline_at, limit = %limit, "deadline capped at the hook's global timeout");
            state.deadline_at = limit;
        }
    }
    state.heartbeat.timeout_seconds = Some(timeout);
    Ok(Some(timeout))
}
