//! The drain loop's check. Drained means:
//! - every task recorded when the drain started is STOPPED, or DELETED, as `DescribeTasks`
//!   shows a stopped task a while later (for the load balancers an ECS service manages,
//!   this is also the sign that they drained: ECS deregisters a service task and waits out
//!   the draining before it stops the task) (`DescribeTasks`: `ListTasks` filters by
//!   desired status and hides tasks that are still stopping), or is a service
//!   task orphaned by a forced deregistration of the container instance
//!   (`DescribeContainerInstances`: INACTIVE or MISSING), which ECS replaces and takes out
//!   of its load balancers while it keeps running unmanaged;
//! - every Classic ELB the drain deregistered the instance from no longer lists it
//!   (`DescribeLoadBalancers`) and no longer reports it `InService`
//!   (`DescribeInstanceHealth`, the only call that shows connection draining);
//! - every target is `unused` or absent (`DescribeTargetHealth`);
//! - once a service task left without being STOPPED (orphaned, its agent lost, its
//!   cluster deleted), the load balancers left to ECS are waited for like the others; a
//!   registration there that still serves (a forced deregistration leaves a Network Load
//!   Balancer's) is taken over only once the service serves without it
//!   (`DescribeServices`; see [`replacement`]).
//!
//! A check that finds everything else drained lists the container instance's tasks again
//! (`ListTasks`) before it calls the instance drained: the ECS API is eventually consistent,
//! and a task started just before the instance went DRAINING can be missing from the first
//! listing. Such a task matters only if it still runs when the instance is released, so a
//! check that waits anyway does not list; one found is handled at once, and waited for.
//! While the container instance counted, when it was set DRAINING, more tasks than the
//! listing showed, the instance is not drained: the checks list again every 15 s until a
//! listing shows them ([`sta_shared::state::UnlistedTasks`]). For the same reason the first steps leave to ECS a registration of the instance in the
//! load balancer of a service without a listed task there, and the checks wait for ECS to
//! end it (see [`left_to_ecs`]).
//!
//! An instance found drained before Auto Scaling has taken any heartbeat of the drain's
//! lifecycle action (it answered "No active Lifecycle Action found" while the instance still
//! waited: [`sta_shared::state::Heartbeat::unconfirmed`]) is checked again, heartbeating each
//! time, until one is taken or the answer can only mean the action's end.
//!
//! An instance that was not in the cluster when the drain began is looked for again on each
//! check (`ListContainerInstances`): an ECS agent registers some time after its instance
//! launched, so one scaled in while it booted can join mid-drain. It is then drained as the
//! first step drains (`UpdateContainerInstancesState` DRAINING, `ListTasks`), and its tasks
//! waited for.
//!
//! First, before any read, it keeps the lifecycle hook alive with
//! `RecordLifecycleActionHeartbeat` when a heartbeat is due, before its heartbeat timeout
//! (read once with `DescribeLifecycleHooks`) could pass. When AWS has no active action any
//! more, the drain goes on only while the instance is still on its way out; one back in
//! service (a warm-pool instance reused by the time a redrive comes) or leaving under a
//! newer action ends the drain there (`action_ended`), untouched
//! ([`sta_shared::ended`]). While not drained, it stops
//! standalone tasks after their grace period when configured to, and chooses the next
//! wait (see [`sta_shared::wait`]). Past the deadline it reports `deadline_passed`, and the
//! state machine completes the action with the configured result.

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::batches::DESCRIBE_BATCH;
use sta_shared::ecs_drain::{
    drain_container_instance, missing_tasks, service_of, track_tasks_listed_late, Membership,
};
use sta_shared::ended::no_longer_ours;
use sta_shared::error::{ecs_error, error_code};
use sta_shared::hook::heartbeat;
use sta_shared::state::{seconds, task_has_stopped, DrainState, DrainStatus, StandaloneTasks};
use sta_shared::wait::{next_wait, waits_from_return};
use sta_shared::StepError;
use tracing::instrument;

mod balancers;
mod left_to_ecs;
mod replacement;
mod unmanageable;
use balancers::{adopt_service_balancers, refresh_classic, refresh_target_groups};
use left_to_ecs::settle_left_to_ecs;
use sta_shared::left_to_ecs::service_tasks_left_unstopped;
use unmanageable::drop_unmanageable;
pub use unmanageable::AGENT_LOST_AFTER_SECONDS;

/// The check calls every service the shared clients cover.
pub use sta_shared::Clients as Deps;

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let state = DrainState::from_value(event.payload)?;
    let started = Utc::now();
    let state = check(deps, state, started).await?;
    Ok(waits_from_return(state, started, Utc::now()))
}

#[instrument(skip(deps, state), fields(instance = %state.request.instance_id, check = state.checks + 1))]
pub async fn check(
    deps: &Deps,
    mut state: DrainState,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    state.checks += 1;
    // The heartbeat goes before every read: a read that is throttled, fails or hangs past
    // the function's timeout ends the invocation, and the state machine's retries of it can
    // outlast the hook's heartbeat timeout. A heartbeat that is due is never behind them.
    heartbeat(&deps.autoscaling, &mut state, now, false).await?;
    if no_longer_ours(&deps.autoscaling, &mut state).await? {
        return Ok(state);
    }
    let joined = state.container_instance_arn.is_none()
        && unless_cluster_gone(
            drain_container_instance(&deps.ecs, &mut state, now)
                .await
                .map(|membership| membership == Membership::Draining),
        )?;
    if joined {
        // The instance's ECS agent registered after the first step looked (an instance scaled
        // in while it booted, its agent not started yet): ECS places tasks on an ACTIVE one
        // (a daemon's at once), which the drain must now wait for.
        tracing::warn!(container_instance = ?state.container_instance_arn, tasks = state.tasks.len(), "the instance joined the cluster after the drain began: its container instance is DRAINING now");
        state.report.tasks_stopped_at = None;
    }
    refresh_tasks(&deps.ecs, &mut state, now).await?;
    if adopt_service_balancers(deps, &mut state, now).await? {
        state.report.balancers_drained_at = None;
    }
    let left_unstopped = service_tasks_left_unstopped(&state);
    stop_standalone_tasks(&deps.ecs, &mut state, now).await?;
    refresh_classic(&deps.elb, &mut state, now).await?;
    refresh_target_groups(&deps.elbv2, &mut state, now).await?;
    // Tasks listed by this very check (it just drained the instance that joined) need no
    // second listing.
    let listed = state.remaining.all_but_left_to_ecs_done() && !joined;
    let mut found_late = listed && tasks_found_late(deps, &mut state, now).await?;
    found_late |= awaits_unlisted_tasks(&mut state, now);
    // A task found late and given up at once (its agent lost, its container instance
    // deregistered) leaves its service's load balancers to the drain as any other does. (Those
    // left to ECS were looked at above; only a task given up since calls for another look.)
    let given_up_since = service_tasks_left_unstopped(&state) > left_unstopped;
    let taken_over = (given_up_since && adopt_service_balancers(deps, &mut state, now).await?)
        | settle_left_to_ecs(deps, &mut state, now, listed).await?;
    if taken_over {
        refresh_classic(&deps.elb, &mut state, now).await?;
        refresh_target_groups(&deps.elbv2, &mut state, now).await?;
        state.report.balancers_drained_at = None;
        found_late = true;
    }
    let report = &mut state.report;
    if state.remaining.tasks.is_empty() {
        report.tasks_stopped_at.get_or_insert(now);
    }
    if state.remaining.classic_elbs.is_empty() && state.remaining.target_groups.is_empty() {
        report.balancers_drained_at.get_or_insert(now);
    }

    if state.remaining.is_empty() && state.heartbeat.unconfirmed && now < state.deadline_at {
        // Drained, but Auto Scaling has not shown the action to any heartbeat of this drain:
        // completed now, it could be refused as if ended while AWS only does not show it yet
        // (or it ended under an earlier execution of the same event). Checked again soon,
        // heartbeating each time, until a heartbeat is taken or the answer means its end.
        state.status = DrainStatus::Draining;
        state.wait_seconds = UNCONFIRMED_WAIT_SECONDS;
        tracing::warn!("drained, but no heartbeat of this drain's action taken yet: checking again before completing it");
        return Ok(state);
    }
    if state.remaining.is_empty() {
        state.status = DrainStatus::Drained;
        state.wait_seconds = 0;
        tracing::info!(checks = state.checks, "drained");
        return Ok(state);
    }
    if now >= state.deadline_at {
        state.status = DrainStatus::DeadlinePassed;
        state.wait_seconds = 0;
        tracing::warn!(remaining = ?state.remaining, deadline = %state.deadline_at, "drain deadline passed before the instance was drained");
        return Ok(state);
    }
    state.status = DrainStatus::Draining;
    state.wait_seconds = wait_after_check(&state, now, found_late);
    tracing::info!(
        tasks = state.remaining.tasks.len(),
        classic_elbs = state.remaining.classic_elbs.len(),
        target_groups = state.remaining.target_groups.len(),
        wait_seconds = state.wait_seconds,
        "not drained yet"
    );
    Ok(state)
}

/// How soon the check after one that found the instance drained comes while Auto Scaling
/// has taken no heartbeat of the drain's action ([`sta_shared::state::Heartbeat::unconfirmed`]).
const UNCONFIRMED_WAIT_SECONDS: u64 = 15;

/// How soon the check after one that found tasks the first listing missed (or registrations
/// it takes over from ECS) comes: their end cannot be expected from the drain's own, which
/// may be long past.
const FOUND_LATE_WAIT_SECONDS: u64 = 15;

/// The next wait ([`next_wait`]), cut short to check again just after a disconnected agent's
/// tasks are to be given up, and after tasks or registrations were found late.
fn wait_after_check(state: &DrainState, now: DateTime<Utc>, found_late: bool) -> u64 {
    let mut wait = next_wait(state, now);
    if let Some(since) = state.agent_disconnected_at {
        let give_up = since + seconds(AGENT_LOST_AFTER_SECONDS);
        if give_up > now {
            let until = u64::try_from((give_up - now).num_seconds()).unwrap_or(0) + 1;
            wait = wait.min(until);
        }
    }
    if found_late {
        wait = wait.min(FOUND_LATE_WAIT_SECONDS);
    }
    wait
}

/// Whether tasks the container instance counted when it was set DRAINING are still to be
/// shown by a listing ([`sta_shared::state::UnlistedTasks`]): the next check lists again
/// soon. Past the time AWS's advice gives a listing to catch up, they are given up.
fn awaits_unlisted_tasks(state: &mut DrainState, now: DateTime<Utc>) -> bool {
    let Some(unlisted) = state.remaining.unlisted else {
        return false;
    };
    if unlisted.may_still_show(now) {
        tracing::warn!(
            count = unlisted.count,
            "the container instance counted tasks no listing has shown yet: listing again soon"
        );
        return true;
    }
    tracing::warn!(count = unlisted.count, counted_at = %unlisted.counted_at, "tasks the container instance counted never showed in a listing: given up");
    state.remaining.unlisted = None;
    false
}

/// Lists the tasks again before the instance is called drained (see
/// [`sta_shared::ecs_drain`]). The tasks the first listing missed get at once what this
/// check gives the others: given up when ECS can no longer stop them, stopped when
/// standalone past their grace period. True when the drain now waits for one of them.
async fn tasks_found_late(
    deps: &Deps,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<bool, StepError> {
    let found = track_tasks_listed_late(&deps.ecs, state, now).await;
    if matches!(
        found,
        Err(StepError::ResourceNotFound {
            kind: "cluster",
            ..
        })
    ) {
        // Deleted with the cluster: no task is left to show.
        state.remaining.unlisted = None;
    }
    if !unless_cluster_gone(found)? {
        return Ok(false);
    }
    state.report.tasks_stopped_at = None;
    let found = std::mem::take(&mut state.remaining.tasks);
    state.remaining.tasks = drop_unmanageable(&deps.ecs, state, found, now).await?;
    stop_standalone_tasks(&deps.ecs, state, now).await?;
    Ok(!state.remaining.tasks.is_empty())
}

/// A cluster deleted meanwhile has no container instance or task left to drain.
fn unless_cluster_gone(found: Result<bool, StepError>) -> Result<bool, StepError> {
    match found {
        Err(StepError::ResourceNotFound {
            kind: "cluster", ..
        }) => Ok(false),
        other => other,
    }
}

/// Drops the tasks that have stopped (or that ECS no longer knows) from `remaining`.
async fn refresh_tasks(
    ecs: &aws_sdk_ecs::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let cluster = state.request.cluster.clone();
    let mut still_running = Vec::new();
    for batch in state.remaining.tasks.chunks(DESCRIBE_BATCH) {
        let output = match ecs
            .describe_tasks()
            .cluster(&cluster)
            .set_tasks(Some(batch.to_vec()))
            .send()
            .await
        {
            Err(error) if error_code(&error) == Some("ClusterNotFoundException") => {
                tracing::warn!(cluster = %cluster, "cluster deleted: its tasks are gone");
                continue;
            }
            Err(error) => return Err(ecs_error(&cluster, "DescribeTasks", error)),
            Ok(output) => output,
        };
        for task in output.tasks() {
            let (Some(arn), Some(status)) = (task.task_arn(), task.last_status()) else {
                continue;
            };
            if let Some(tracked) = state.tasks.iter_mut().find(|tracked| tracked.arn == arn) {
                tracked.last_status = status.to_string();
                if tracked.unseen_since.take().is_some() {
                    tracked.service = service_of(task);
                }
            }
            if !task_has_stopped(status) {
                still_running.push(arn.to_string());
            }
        }
        // A task MISSING is long gone (stopped tasks stay described for a while), unless it
        // was listed but never described yet: then it may not be visible yet.
        for arn in missing_tasks(output.failures()) {
            let tracked = state.tasks.iter().find(|tracked| tracked.arn == arn);
            if tracked.is_some_and(|tracked| tracked.may_not_be_visible_yet(now)) {
                tracing::warn!(task = %arn, "listed, still not described (ECS is eventually consistent): waiting for it");
                still_running.push(arn);
            }
        }
    }
    if !still_running.is_empty() {
        still_running = drop_unmanageable(ecs, state, still_running, now).await?;
    }
    still_running.sort();
    state.remaining.tasks = still_running;
    Ok(())
}

/// With `standalone_tasks: stop`, stops the tasks no service will move once their grace
/// period has passed. ECS stops service tasks itself.
async fn stop_standalone_tasks(
    ecs: &aws_sdk_ecs::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if state.settings.standalone_tasks != StandaloneTasks::Stop
        || now < state.started_at + seconds(state.settings.standalone_task_grace_seconds)
    {
        return Ok(());
    }
    let standalone: Vec<String> = state
        .tasks
        .iter()
        // one not described yet may be a service's: ECS stops those itself
        .filter(|task| {
            task.service.is_none()
                && task.unseen_since.is_none()
                && state.remaining.tasks.contains(&task.arn)
        })
        .map(|task| task.arn.clone())
        .collect();
    for arn in standalone {
        let reason = format!(
            "Instance {} is terminating: standalone task stopped after its {} s grace period",
            state.request.instance_id, state.settings.standalone_task_grace_seconds
        );
        match ecs
            .stop_task()
            .cluster(&state.request.cluster)
            .task(&arn)
            .reason(reason)
            .send()
            .await
        {
            Ok(_) => {}
            // Gone meanwhile: nothing left to stop.
            Err(error) if error_code(&error) == Some("InvalidParameterException") => {}
            Err(error) => return Err(ecs_error(&state.request.cluster, "StopTask", error)),
        }
        tracing::info!(task = %arn, "stopped standalone task");
        if !state.report.stopped_tasks.contains(&arn) {
            state.report.stopped_tasks.push(arn);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
