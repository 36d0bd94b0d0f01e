//! The drain loop's check. Drained means:
//! - every task recorded when the drain started is STOPPED (`DescribeTasks`: `ListTasks`
//!   filters by desired status and hides tasks that are still stopping), or is a service
//!   task orphaned by a forced deregistration of the container instance
//!   (`DescribeContainerInstances`: INACTIVE or MISSING), which ECS replaces and takes out
//!   of its load balancers while it keeps running unmanaged;
//! - every Classic ELB reports the instance `OutOfService` or no longer knows it
//!   (`DescribeInstanceHealth`: `DescribeLoadBalancers` drops the instance at once,
//!   while connection draining still runs);
//! - every target is `unused` or absent (`DescribeTargetHealth`).
//!
//! While not drained, it keeps the lifecycle hook alive with
//! `RecordLifecycleActionHeartbeat` before its heartbeat timeout (read once with
//! `DescribeLifecycleHooks`) could pass, stops standalone tasks after their grace period
//! when configured to, and chooses the next wait (see [`sta_shared::wait`]). Past the
//! deadline it reports `deadline_passed`, and the state machine completes the action
//! with the configured result.

use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::ecs::DESCRIBE_BATCH;
use sta_shared::elb::classic_instance_state;
use sta_shared::error::{aws_error, ecs_error, error_code, is_no_active_lifecycle_action};
use sta_shared::hook::read_hook;
use sta_shared::state::{seconds, DrainState, DrainStatus, StandaloneTasks};
use sta_shared::wait::{heartbeat_interval, next_wait};
use sta_shared::StepError;
use tracing::instrument;

/// The check calls every service the shared clients cover.
pub use sta_shared::Clients as Deps;

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let state = DrainState::from_value(event.payload)?;
    check(deps, state, Utc::now()).await
}

#[instrument(skip(deps, state), fields(instance = %state.request.instance_id, check = state.checks + 1))]
pub async fn check(
    deps: &Deps,
    mut state: DrainState,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    state.checks += 1;
    refresh_tasks(&deps.ecs, &mut state).await?;
    stop_standalone_tasks(&deps.ecs, &mut state, now).await?;
    refresh_classic(&deps.elb, &mut state).await?;
    refresh_target_groups(&deps.elbv2, &mut state).await?;
    if state.remaining.tasks.is_empty() && state.tasks_stopped_at.is_none() {
        state.tasks_stopped_at = Some(now);
    }
    if state.remaining.classic_elbs.is_empty()
        && state.remaining.target_groups.is_empty()
        && state.balancers_drained_at.is_none()
    {
        state.balancers_drained_at = Some(now);
    }

    if state.remaining.is_empty() {
        state.status = DrainStatus::Drained;
        state.drained_at = Some(now);
        state.wait_seconds = 0;
        tracing::info!(checks = state.checks, "drained");
        return Ok(state);
    }
    heartbeat(&deps.autoscaling, &mut state, now).await?;
    if now >= state.deadline_at {
        state.status = DrainStatus::DeadlinePassed;
        state.drain_timed_out = true;
        state.wait_seconds = 0;
        tracing::warn!(remaining = ?state.remaining, deadline = %state.deadline_at, "drain deadline passed before the instance was drained");
        return Ok(state);
    }
    state.status = DrainStatus::Draining;
    state.wait_seconds = next_wait(&state, now);
    tracing::info!(
        tasks = state.remaining.tasks.len(),
        classic_elbs = state.remaining.classic_elbs.len(),
        target_groups = state.remaining.target_groups.len(),
        wait_seconds = state.wait_seconds,
        "not drained yet"
    );
    Ok(state)
}

/// Drops the tasks that have stopped (or that ECS no longer knows) from `remaining`.
async fn refresh_tasks(ecs: &aws_sdk_ecs::Client, state: &mut DrainState) -> Result<(), StepError> {
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
            }
            if status != "STOPPED" {
                still_running.push(arn.to_string());
            }
        }
        // Tasks in `failures` (MISSING) are long gone: nothing to wait for.
    }
    if still_running.iter().any(|arn| is_service_task(state, arn))
        && container_instance_deregistered(ecs, state).await?
    {
        let (orphaned, rest): (Vec<String>, Vec<String>) = still_running
            .into_iter()
            .partition(|arn| is_service_task(state, arn));
        tracing::warn!(
            container_instance = ?state.container_instance_arn,
            tasks = ?orphaned,
            "the container instance was deregistered mid-drain: its service tasks are orphaned \
             (ECS replaces them and takes them out of their load balancers); not waiting for them"
        );
        for arn in orphaned {
            if !state.orphaned_tasks.contains(&arn) {
                state.orphaned_tasks.push(arn);
            }
        }
        still_running = rest;
    }
    still_running.sort();
    state.remaining.tasks = still_running;
    Ok(())
}

fn is_service_task(state: &DrainState, arn: &str) -> bool {
    state
        .tasks
        .iter()
        .any(|task| task.arn == arn && task.service.is_some())
}

/// Whether the drained container instance left the cluster: deregistered (INACTIVE while
/// ECS still describes it, MISSING after). A forced deregistration leaves its tasks running
/// unmanaged, so `DescribeTasks` may never report them STOPPED.
async fn container_instance_deregistered(
    ecs: &aws_sdk_ecs::Client,
    state: &DrainState,
) -> Result<bool, StepError> {
    let Some(arn) = &state.container_instance_arn else {
        return Ok(false);
    };
    let cluster = &state.request.cluster;
    let output = match ecs
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("ClusterNotFoundException") => return Ok(true),
        Err(error) => return Err(ecs_error(cluster, "DescribeContainerInstances", error)),
        Ok(output) => output,
    };
    let described = output
        .container_instances()
        .iter()
        .find(|instance| instance.container_instance_arn() == Some(arn.as_str()));
    Ok(match described {
        Some(instance) => instance.status() == Some("INACTIVE"),
        None => output
            .failures()
            .iter()
            .any(|failure| failure.reason() == Some("MISSING")),
    })
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
        .filter(|task| task.service.is_none() && state.remaining.tasks.contains(&task.arn))
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
        if !state.stopped_tasks.contains(&arn) {
            state.stopped_tasks.push(arn);
        }
    }
    Ok(())
}

async fn refresh_classic(
    elb: &aws_sdk_elasticloadbalancing::Client,
    state: &mut DrainState,
) -> Result<(), StepError> {
    let mut draining = Vec::new();
    for name in &state.remaining.classic_elbs {
        let instance_state = classic_instance_state(elb, name, &state.request.instance_id).await?;
        if instance_state.is_some_and(|current| current != "OutOfService") {
            draining.push(name.clone());
        }
    }
    state.remaining.classic_elbs = draining;
    Ok(())
}

async fn refresh_target_groups(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    state: &mut DrainState,
) -> Result<(), StepError> {
    let instance_id = state.request.instance_id.clone();
    let recorded = state
        .load_balancers
        .as_ref()
        .map(|balancers| balancers.target_groups.clone())
        .unwrap_or_default();
    let mut draining = Vec::new();
    for arn in &state.remaining.target_groups {
        let ports = recorded
            .iter()
            .find(|group| &group.arn == arn)
            .map(|group| group.ports.clone())
            .unwrap_or_default();
        let targets: Vec<TargetDescription> = ports
            .iter()
            .map(|port| {
                TargetDescription::builder()
                    .id(&instance_id)
                    .port(*port)
                    .build()
            })
            .collect();
        let health = match elbv2
            .describe_target_health()
            .target_group_arn(arn)
            .set_targets(Some(targets))
            .send()
            .await
        {
            Err(error) if error_code(&error) == Some("TargetGroupNotFound") => continue,
            Err(error) => return Err(aws_error("DescribeTargetHealth", error)),
            Ok(output) => output,
        };
        let mut pending = false;
        let mut registered_again = Vec::new();
        for description in health.target_health_descriptions() {
            match description
                .target_health()
                .and_then(|health| health.state())
            {
                None | Some(TargetHealthStateEnum::Unused) => {}
                Some(TargetHealthStateEnum::Draining) => pending = true,
                Some(_) => {
                    // Registered again (by hand, or a lost deregistration): deregister again.
                    pending = true;
                    if let Some(target) = description.target() {
                        registered_again.push(target.clone());
                    }
                }
            }
        }
        if !registered_again.is_empty() {
            tracing::warn!(target_group = %arn, targets = registered_again.len(), "instance registered again; deregistering");
            match elbv2
                .deregister_targets()
                .target_group_arn(arn)
                .set_targets(Some(registered_again))
                .send()
                .await
            {
                Ok(_) => {}
                Err(error) if error_code(&error) == Some("TargetGroupNotFound") => continue,
                Err(error) => return Err(aws_error("DeregisterTargets", error)),
            }
        }
        if pending {
            draining.push(arn.clone());
        }
    }
    state.remaining.target_groups = draining;
    Ok(())
}

/// Keeps the lifecycle action alive: a heartbeat once `heartbeat_interval` has passed
/// since the hook's timer last restarted.
async fn heartbeat(
    autoscaling: &aws_sdk_autoscaling::Client,
    state: &mut DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    // No lifecycle action to keep alive (a Spot drain, or the action is gone): `None`.
    let Some(timeout) = read_hook(autoscaling, state).await? else {
        return Ok(());
    };
    let (Some(asg), Some(hook)) = (
        state.request.asg_name.clone(),
        state.request.hook_name.clone(),
    ) else {
        return Err(StepError::invalid_event(
            "request",
            "lacks asg_name or hook_name for a lifecycle action",
        ));
    };
    let last = state.heartbeat.last_at.unwrap_or(state.request.event_time);
    if now < last + seconds(heartbeat_interval(timeout)) {
        return Ok(());
    }
    let heartbeat = autoscaling
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(&asg)
        .lifecycle_hook_name(&hook);
    // A sweeper-made request has no token: the instance id names the action.
    let heartbeat = match &state.request.token {
        Some(token) => heartbeat.lifecycle_action_token(token),
        None => heartbeat.instance_id(&state.request.instance_id),
    };
    let sent = heartbeat.send().await;
    match sent {
        Ok(_) => {
            state.heartbeat.last_at = Some(now);
            state.heartbeat.sent += 1;
            tracing::info!(
                sent = state.heartbeat.sent,
                timeout_seconds = timeout,
                "heartbeat sent"
            );
        }
        Err(error) if is_no_active_lifecycle_action(&error) => {
            tracing::warn!("no active lifecycle action any more (completed elsewhere or expired)");
            state.heartbeat.action_gone = true;
        }
        Err(error) => return Err(aws_error("RecordLifecycleActionHeartbeat", error)),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
