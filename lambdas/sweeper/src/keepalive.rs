//! Keeping the actions of running drains alive. A drain heartbeats its lifecycle action
//! from its functions, so it cannot while none of them runs: a function woken from
//! Inactive is Pending for minutes ("Lambda function states"; AWS gives no figure) while the
//! state machine retries it, and each of the drain's functions may wake so in turn. The
//! hook's timer does not wait for them, and the action would expire, its instance leaving
//! undrained. The sweeper runs every few minutes (so it stays Active itself): on each sweep
//! it records a heartbeat for every waiting action with a RUNNING drain, the ones it has
//! just started included. With the hook's heartbeat timeout longer than the sweep period
//! plus the scheduler's minute (doctor's `hook-heartbeat` check, and infra's warning), no
//! action of a running drain expires between two sweeps.
//!
//! The heartbeat names the instance: the sweeper knows no token, and the action it names is
//! the instance's current one, the one the drain was matched to (see the crate's
//! documentation). An action that ended in the meantime needs none (Auto Scaling answers a
//! ValidationError "No active Lifecycle Action found": reports of it, the API reference
//! documents no error for it). A heartbeat throttled past the SDK's retries (Auto Scaling's
//! calls share one rate limit per account and Region) is left to the next sweep, up to a
//! period later: under a heartbeat timeout shorter than two periods and a minute (infra's
//! defaults: 600 s against 660 s), one sweep throttled so while the drain's functions wake
//! can let the action expire.

use aws_sdk_sfn::types::ExecutionStatus;
use sta_shared::error::{autoscaling_error, is_no_active_lifecycle_action};
use sta_shared::StepError;

use crate::{Deps, SweepReport};

/// Records a heartbeat for the action of each waiting instance whose drain is running, and
/// returns those instances. Every one is tried; a throttled one is left to the next sweep,
/// and the first other error (not the action's end) is returned after them all, so that
/// the sweep fails visibly (a role without the permission, a group gone).
pub async fn running_drains(deps: &Deps, report: &SweepReport) -> Result<Vec<String>, StepError> {
    let running = ExecutionStatus::Running.as_str();
    let mut kept = Vec::new();
    let mut failure = None;
    for found in report.in_hand.iter().chain(&report.started) {
        if found.status != running {
            continue;
        }
        let Some(waiting) = report
            .waiting
            .iter()
            .find(|waiting| waiting.instance_id == found.instance_id && !waiting.retained)
        else {
            continue; // gone, or retained: no action left to keep alive
        };
        let sent = deps
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&waiting.asg)
            .lifecycle_hook_name(&deps.config.hook_name)
            .instance_id(&waiting.instance_id)
            .customize()
            .config_override(retried_briefly())
            .send()
            .await;
        match sent {
            Ok(_) => kept.push(waiting.instance_id.clone()),
            Err(error) if is_no_active_lifecycle_action(&error) => {
                tracing::info!(instance = %waiting.instance_id, "the action ended since the sweep read it");
            }
            Err(error) => {
                let error =
                    autoscaling_error(&waiting.asg, "RecordLifecycleActionHeartbeat", error);
                if error.name() == "Retryable" {
                    // Throttled past the SDK's retries (a fleet's drains heartbeat too): the
                    // drain's own heartbeats and the next sweep remain.
                    tracing::warn!(instance = %waiting.instance_id, error = %error, "heartbeat left to the next sweep");
                    continue;
                }
                tracing::error!(instance = %waiting.instance_id, error = %error, "could not keep a running drain's action alive");
                failure.get_or_insert(error);
            }
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(kept),
    }
}

/// A sweep heartbeats the running drains one after another within one invocation, so a
/// throttled heartbeat is retried as the SDK does by default (3 attempts from 1 s), not as
/// the functions' other calls are (8 attempts, up to about a minute:
/// [`sta_shared::clients::retry_config`]): one heartbeat throttled at length cannot use up the
/// sweep's time, and the drains after it still get theirs. It is left to the next sweep.
fn retried_briefly() -> aws_sdk_autoscaling::config::Builder {
    aws_sdk_autoscaling::config::Builder::default()
        .retry_config(aws_sdk_autoscaling::config::retry::RetryConfig::standard())
}
