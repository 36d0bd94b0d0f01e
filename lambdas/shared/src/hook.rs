//! The lifecycle hook: its limits, read again at every heartbeat, and its heartbeat.

use chrono::{DateTime, Utc};

use crate::activities::action_superseded;
use crate::error::{autoscaling_error, is_no_active_lifecycle_action};
use crate::instance_state::still_waiting;
use crate::state::{seconds, DrainState, DrainStatus, LifecycleAction};
use crate::wait::heartbeat_interval;
use crate::StepError;

/// AWS's shortest heartbeat timeout of a lifecycle hook (`HeartbeatTimeout`: 30 to 7200 s).
pub const SHORTEST_HEARTBEAT_TIMEOUT_SECONDS: u64 = 30;

/// Whether a later heartbeat is due now: once [`heartbeat_interval`] has passed since the
/// timer last restarted. (The first step's is always due: the hook's clock has been running
/// since the instance entered `Terminating:Wait`, however late we heard of it.)
fn heartbeat_due(state: &DrainState, timeout: u64, now: DateTime<Utc>) -> bool {
    let last = state.heartbeat.last_at.unwrap_or(state.request.event_time);
    now >= last + seconds(heartbeat_interval(timeout))
}

/// A drain's lifecycle action, with the client that keeps it alive.
struct Hook<'a> {
    autoscaling: &'a aws_sdk_autoscaling::Client,
    action: LifecycleAction,
}

impl Hook<'_> {
    /// Reads the hook's heartbeat timeout into the state, and caps the drain deadline at the
    /// hook's global timeout, so that the drain never waits past the hook's own limit. A hook
    /// that no longer exists has no action to keep alive: `action_gone`. Returns the heartbeat
    /// timeout, `None` when there is nothing to keep alive.
    async fn read(&self, state: &mut DrainState) -> Result<Option<u64>, StepError> {
        let (asg, hook) = (&self.action.asg_name, &self.action.hook_name);
        let output = self
            .autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(asg)
            .lifecycle_hook_names(hook)
            .send()
            .await
            .map_err(|error| autoscaling_error(asg, "DescribeLifecycleHooks", error))?;
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

    /// Whether Auto Scaling's "No active Lifecycle Action found" for this drain's action may be
    /// its control plane not showing the action yet rather than the action's end: within the
    /// bounds of [`DrainState::action_may_be_unseen`] (the hook read for its heartbeat timeout
    /// first), the instance still waits under a terminate hook ([`still_waiting`]). A hook that is
    /// gone has no action left.
    async fn action_may_be_unseen(
        &self,
        state: &mut DrainState,
        now: DateTime<Utc>,
    ) -> Result<bool, StepError> {
        if state.heartbeat.sent == 0
            && state.heartbeat.timeout_seconds.is_none()
            && self.read(state).await?.is_none()
        {
            return Ok(false);
        }
        if !state.action_may_be_unseen(now) {
            tracing::warn!(
                timeout_seconds = ?state.heartbeat.timeout_seconds,
                "a heartbeat of this drain's action was taken, or none within the hook's heartbeat timeout since the action began: the action has ended"
            );
            return Ok(false);
        }
        still_waiting(self.autoscaling, &state.request).await
    }

    /// Whether a heartbeat after the first is due now, reading the hook when the timer's
    /// timeout is not known yet, and again when one is due (see [`heartbeat`]); `false` also
    /// when there is no lifecycle action to keep alive (the hook is gone).
    async fn due_now(&self, state: &mut DrainState, now: DateTime<Utc>) -> Result<bool, StepError> {
        // Under any hook, nothing is due before 0.4 x AWS's shortest heartbeat timeout has
        // passed since the timer restarted: the hook need not be read yet.
        if !heartbeat_due(state, SHORTEST_HEARTBEAT_TIMEOUT_SECONDS, now) {
            return Ok(false);
        }
        // Read once, the timeout the action's running timer was set with.
        let known = state.heartbeat.timeout_seconds;
        let Some(timeout) = (match known {
            Some(timeout) => Some(timeout),
            None => self.read(state).await?,
        }) else {
            return Ok(false);
        };
        if !heartbeat_due(state, timeout, now) {
            return Ok(false);
        }
        // Due by the timer running now. A heartbeat extends the action by the hook's timeout
        // as it is now ("the length of time defined using the PutLifecycleHook API call"),
        // which a stack update may have changed: read it again for the next one's pace.
        Ok(known.is_none() || self.read(state).await?.is_some())
    }
}

/// Keeps the lifecycle action alive with `RecordLifecycleActionHeartbeat` when a
/// heartbeat is due (see [`heartbeat_due`]). The token names the action whenever there is
/// one, so that a stale execution (a duplicate, a redrive, one started for an older action
/// of a reused instance) never restarts a newer action's timer; only a drain the sweeper
/// started, which has no token, names the instance, and it first makes sure no newer
/// action of the instance has begun ([`action_superseded`]). When AWS has no active action,
/// the state records `action_gone`.
pub async fn heartbeat(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
    first: bool,
) -> Result<(), StepError> {
    let Some(action) = state.request.trigger.lifecycle_action().cloned() else {
        return Ok(());
    };
    let hook = Hook {
        autoscaling,
        action,
    };
    let action = &hook.action;
    if state.heartbeat.action_gone {
        return Ok(());
    }
    // The first heartbeat is due whatever the timeout: it does not wait for the hook to be
    // read (a check reads it), so a fleet's drains that start together make one Auto
    // Scaling call each, not two.
    if !first && !state.heartbeat.unconfirmed && !hook.due_now(state, now).await? {
        return Ok(());
    }
    let asg = &action.asg_name;
    if action.token.is_none()
        && action_superseded(
            autoscaling,
            asg,
            &state.request.instance_id,
            state.request.event_time,
        )
        .await?
    {
        tracing::warn!(
            "a newer lifecycle action of this instance has begun: this drain's action has ended"
        );
        state.heartbeat.action_gone = true;
        state.heartbeat.superseded = true;
        return Ok(());
    }
    let heartbeat = autoscaling
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(asg)
        .lifecycle_hook_name(&action.hook_name);
    let heartbeat = match &action.token {
        Some(token) => heartbeat.lifecycle_action_token(token),
        None => heartbeat.instance_id(&state.request.instance_id),
    };
    match heartbeat.send().await {
        Ok(_) => {
            state.heartbeat.last_at = Some(now);
            state.heartbeat.sent += 1;
            state.heartbeat.unconfirmed = false;
            tracing::info!(
                sent = state.heartbeat.sent,
                timeout_seconds = ?state.heartbeat.timeout_seconds,
                "heartbeat sent"
            );
        }
        Err(error) if is_no_active_lifecycle_action(&error) => {
            if hook.action_may_be_unseen(state, now).await? {
                // Not known to be the action's end: the drain goes on, heartbeats again at
                // every check, and is not called drained until it can tell.
                tracing::warn!(
                    "Auto Scaling has no active lifecycle action, but the instance still waits under a terminate hook: it may not show the action yet; the drain goes on and heartbeats again at its next check"
                );
                state.heartbeat.unconfirmed = true;
                return Ok(());
            }
            tracing::warn!(
                "no active lifecycle action any more (completed elsewhere, expired, or the instance is gone)"
            );
            state.heartbeat.action_gone = true;
            state.heartbeat.unconfirmed = false;
        }
        Err(error) => {
            return Err(autoscaling_error(
                asg,
                "RecordLifecycleActionHeartbeat",
                error,
            ))
        }
    }
    Ok(())
}

/// Whether the drain stops here because its lifecycle action has ended (the last heartbeat
/// found none: completed by someone else, expired, superseded, the hook or the instance
/// gone); the state then says `action_ended` and nothing more is done to the instance. The
/// first step stops so; a later one only once the instance is no longer leaving under the
/// action ([`crate::ended::no_longer_ours`]).
pub fn action_has_ended(state: &mut DrainState) -> bool {
    if !state.heartbeat.action_gone {
        return false;
    }
    tracing::warn!("the lifecycle action has ended: nothing more is done to the instance");
    state.status = DrainStatus::ActionEnded;
    state.wait_seconds = 0;
    true
}
