//! The first drain step. Validates the raw event once into the shared
//! [`DrainRequest`](sta_shared::state::DrainRequest), finds the EC2 instance's ECS
//! container instance, sets it DRAINING (already DRAINING is fine) and records the tasks
//! on it, so that later steps can wait for exactly those tasks to stop.
//!
//! Before anything else it heartbeats the lifecycle action (the hook's timer has run since
//! the instance entered `Terminating:Wait`, however late the event arrived). When AWS has
//! no active action any more (a late or repeated event, an action completed by someone
//! else, an instance already gone), the state says `action_ended` and the execution ends
//! there, having changed nothing; unless the group retains the instance (an instance
//! lifecycle policy keeps it running after an abandoned action, a FAILED drain's
//! included): a redrive then drains it before anyone terminates it.
//!
//! An instance that is not registered in the cluster is not an error: there is nothing
//! to drain in ECS, and the load balancers are still drained by the next step. For a
//! Spot interruption warning (which names no cluster, so the rule matches every Spot
//! instance of the Region) such an instance is not ours: the state says `not_in_cluster`
//! and the execution ends there.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::{ContainerInstance, ContainerInstanceStatus, DesiredStatus};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::batches::{in_batches, DESCRIBE_BATCH};
use sta_shared::config::DrainConfig;
use sta_shared::ecs::describe_all_container_instances;
use sta_shared::ended::first_step_stops;
use sta_shared::error::ecs_error;
use sta_shared::event::DrainInput;
use sta_shared::hook::heartbeat;
use sta_shared::state::{task_has_stopped, DrainState, DrainStatus, TrackedTask, Trigger};
use sta_shared::Clients;
use sta_shared::StepError;
use tracing::instrument;

#[derive(Debug, Clone)]
pub struct Deps {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub config: DrainConfig,
}

impl Deps {
    /// The clients and the configuration, from the function's environment (once, at cold start).
    pub async fn from_env() -> Result<Self, StepError> {
        let config = DrainConfig::from_env()?;
        let Clients {
            ecs, autoscaling, ..
        } = Clients::from_env().await;
        Ok(Self {
            ecs,
            autoscaling,
            config,
        })
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<DrainState, StepError> {
    let input = DrainInput::parse(&event.payload, &deps.config)?;
    drain(deps, input, Utc::now()).await
}

#[instrument(skip(deps, input), fields(instance = %input.request.instance_id, cluster = %input.request.cluster))]
pub async fn drain(
    deps: &Deps,
    input: DrainInput,
    now: DateTime<Utc>,
) -> Result<DrainState, StepError> {
    let mut state = DrainState::new(input.request, input.settings, input.notes);
    // The hook's heartbeat timer has run since the instance entered `Terminating:Wait`,
    // however late we heard of it: heartbeat at once. This also tells whether the action
    // is still waiting for us; reading the hook caps the deadline at its global timeout.
    heartbeat(&deps.autoscaling, &mut state, now, true).await?;
    if first_step_stops(&deps.autoscaling, &mut state).await? {
        return Ok(state);
    }
    let cluster = state.request.cluster.clone();
    let instance_id = state.request.instance_id.clone();
    let container_instance = find_container_instance(&deps.ecs, &cluster, &instance_id).await?;
    match container_instance {
        None => {
            tracing::info!("instance is not registered in the cluster: nothing to drain in ECS");
        }
        Some(instance) => {
            let arn = instance
                .container_instance_arn()
                .unwrap_or_default()
                .to_string();
            if set_draining(&deps.ecs, &cluster, &instance).await? {
                let tasks = tasks_on(&deps.ecs, &cluster, &arn).await?;
                tracing::info!(container_instance = %arn, tasks = tasks.len(), "container instance is DRAINING");
                state.remaining.tasks = tasks.iter().map(|task| task.arn.clone()).collect();
                state.tasks = tasks;
                state.container_instance_arn = Some(arn);
            }
        }
    }
    if state.container_instance_arn.is_none() && state.request.trigger == Trigger::SpotInterruption
    {
        tracing::info!("Spot interruption warning for an instance outside the cluster: ignored");
        state.status = DrainStatus::NotInCluster;
    }
    Ok(state)
}

/// The container instance of `instance_id`, found with the `ec2InstanceId ==` filter.
/// The match is checked on the described instance, never assumed from the filter.
async fn find_container_instance(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance_id: &str,
) -> Result<Option<ContainerInstance>, StepError> {
    let filter = format!("ec2InstanceId == {instance_id}");
    Ok(describe_all_container_instances(ecs, cluster, Some(filter))
        .await?
        .into_iter()
        .find(|instance| instance.ec2_instance_id() == Some(instance_id)))
}

/// Sets the container instance DRAINING. Returns false when it vanished meanwhile.
async fn set_draining(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance: &ContainerInstance,
) -> Result<bool, StepError> {
    let arn = instance.container_instance_arn().unwrap_or_default();
    match instance.status().unwrap_or_default() {
        "DRAINING" => {
            tracing::info!(container_instance = %arn, "already DRAINING");
            return Ok(true);
        }
        "ACTIVE" => {}
        other => {
            // REGISTERING, DEREGISTERING, REGISTRATION_FAILED: ECS accepts DRAINING only
            // from ACTIVE; record its tasks so the drain still waits for them.
            tracing::warn!(container_instance = %arn, status = other, "cannot set DRAINING from this status");
            return Ok(true);
        }
    }
    let output = ecs
        .update_container_instances_state()
        .cluster(cluster)
        .container_instances(arn)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .map_err(|error| ecs_error(cluster, "UpdateContainerInstancesState", error))?;
    if let Some(failure) = output.failures().first() {
        let reason = failure.reason().unwrap_or("unknown");
        if reason == "MISSING" {
            tracing::info!(container_instance = %arn, "deregistered before it could be drained");
            return Ok(false);
        }
        return Err(StepError::AwsRequestFailed {
            operation: "UpdateContainerInstancesState".into(),
            message: format!(
                "{arn}: {reason}{}",
                failure
                    .detail()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(true)
}

/// Every task on the container instance that has not stopped. Listed by both desired
/// statuses: a task ECS is already stopping has desired status STOPPED and would be
/// missing from the default list (this step may run again on a retry or redrive).
async fn tasks_on(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: &str,
) -> Result<Vec<TrackedTask>, StepError> {
    let mut arns = BTreeSet::new();
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let page: Vec<String> = ecs
            .list_tasks()
            .cluster(cluster)
            .container_instance(container_instance)
            .desired_status(desired)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|error| ecs_error(cluster, "ListTasks", error))?;
        arns.extend(page);
    }
    let arns: Vec<String> = arns.into_iter().collect();
    let answers = in_batches(&arns, DESCRIBE_BATCH, |batch| {
        ecs.describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch))
            .send()
    })
    .await
    .map_err(|error| ecs_error(cluster, "DescribeTasks", error))?;
    let mut tasks = Vec::new();
    for output in answers {
        for task in output.tasks() {
            let last_status = task.last_status().unwrap_or("UNKNOWN");
            if task_has_stopped(last_status) {
                continue;
            }
            tasks.push(TrackedTask {
                arn: task.task_arn().unwrap_or_default().to_string(),
                service: task
                    .group()
                    .and_then(|group| group.strip_prefix("service:"))
                    .map(str::to_string),
                last_status: last_status.to_string(),
            });
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests;
