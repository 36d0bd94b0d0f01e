use std::collections::{HashMap, HashSet};

use aws_sdk_autoscaling::types::LifecycleState;
use aws_sdk_ecs::types::{ContainerInstance, SchedulingStrategy};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sta_shared::ecs::describe_all_container_instances;
use sta_shared::error::{aws_error, ecs_error};
use sta_shared::group::describe_group;
use sta_shared::metrics::{self, Unit};
use sta_shared::tasks::described_tasks_with;
use sta_shared::warm_pool::warm_pool_instances;
use sta_shared::{Clients, StepError};
use tracing::instrument;

use crate::decision::{decide, Decision, InstanceCounts};
use crate::input::ScalerInput;

/// The clients the scaler calls.
#[derive(Debug, Clone)]
pub struct Deps {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl Deps {
    /// The clients, from the function's environment (once, at cold start).
    pub async fn from_env() -> Self {
        let Clients {
            ecs, autoscaling, ..
        } = Clients::from_env().await;
        Self { ecs, autoscaling }
    }
}

/// The Lambda entry point: validates the scheduled input, then scales.
pub async fn handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Decision, StepError> {
    let input = ScalerInput::parse(&event.payload)?;
    let decision = scale(deps, &input).await?;
    let applied = decision.changed && !decision.dry_run;
    metrics::emit(
        &decision.cluster,
        chrono::Utc::now(),
        &[
            (
                "ScalerDesiredCountChanges",
                f64::from(u8::from(applied)),
                Unit::Count,
            ),
            (
                "ScalerDesiredCount",
                f64::from(decision.new_desired_count),
                Unit::Count,
            ),
        ],
    );
    Ok(decision)
}

/// One scaler tick: count usable instances, decide, and update the service if needed.
#[instrument(skip(deps), fields(cluster = %input.cluster_name, service = %input.service_name))]
pub async fn scale(deps: &Deps, input: &ScalerInput) -> Result<Decision, StepError> {
    input.validate()?;
    let group = match &input.asg_name {
        Some(asg) => Some(group_instances(&deps.autoscaling, asg).await?),
        None => None,
    };
    let instances = describe_all_container_instances(&deps.ecs, &input.cluster_name, None).await?;
    let mut counts = count(&instances, group.as_ref());
    let away = away_in_service(&instances, group.as_ref());
    counts.serving_while_away = serving_while_away(&deps.ecs, input, &away).await?;
    let current = current_desired_count(&deps.ecs, input).await?;
    let decision = decide(input, counts, current);
    if decision.changed && !input.dry_run {
        deps.ecs
            .update_service()
            .cluster(&input.cluster_name)
            .service(&input.service_name)
            .desired_count(decision.new_desired_count)
            .send()
            .await
            .map_err(|error| {
                if error.as_service_error().is_some_and(|e| {
                    e.is_service_not_found_exception() || e.is_service_not_active_exception()
                }) {
                    service_not_found(input)
                } else {
                    ecs_error(&input.cluster_name, "UpdateService", error)
                }
            })?;
    }
    tracing::info!(
        decision = %decision,
        changed = decision.changed,
        current = decision.current_desired_count,
        new = decision.new_desired_count,
        usable = decision.instances.usable,
        draining = decision.instances.draining,
        "scaler decision"
    );
    Ok(decision)
}

fn service_not_found(input: &ScalerInput) -> StepError {
    StepError::ResourceNotFound {
        kind: "service",
        name: input.service_name.clone(),
        detail: format!(" in cluster {}", input.cluster_name),
    }
}

/// Counts the container instances by what they mean for the decision. A DRAINING
/// instance is a drain in progress while (with an ASG) its EC2 instance waits on its way out
/// of the group or back to its warm pool, or serves there (a Spot warning's drain), whatever
/// its agent says: the agent "disconnects and reconnects as a normal part of its function"
/// (amazon-ecs-agent issue 618), and a drain outlives a dead agent until its action is
/// completed. Where the group's state tells no drain that needs room (see
/// [`no_task_to_move`]) it is none; where it tells nothing either way (retained, in standby)
/// and without an ASG, only a connected agent tells a drain in progress: a stopped or
/// terminated instance disconnects its agent, and ECS deregisters neither, so such a record
/// would otherwise hold the desired count up forever.
fn count(
    instances: &[ContainerInstance],
    group: Option<&HashMap<String, LifecycleState>>,
) -> InstanceCounts {
    let mut counts = InstanceCounts::default();
    let state_in_group = |instance: &ContainerInstance| {
        instance
            .ec2_instance_id()
            .and_then(|id| group.map(|group| group.get(id)))
    };
    for instance in instances {
        counts.registered += 1;
        match instance.status().unwrap_or_default() {
            "ACTIVE" => match state_in_group(instance) {
                None | Some(Some(LifecycleState::InService)) if instance.agent_connected() => {
                    counts.usable += 1;
                }
                None | Some(Some(LifecycleState::InService)) => counts.disconnected += 1,
                Some(_) => counts.outside_asg += 1,
            },
            "DRAINING" => {
                let in_progress = match state_in_group(instance) {
                    Some(None) => false,
                    Some(Some(state)) if no_task_to_move(state) => false,
                    Some(Some(state)) if the_agent_tells(state) => instance.agent_connected(),
                    Some(Some(_)) => true,
                    None => instance.agent_connected(),
                };
                if in_progress {
                    counts.draining += 1;
                } else {
                    counts.stale_draining += 1;
                }
            }
            _ => counts.other += 1,
        }
    }
    counts
}

/// The ACTIVE instances (InService in the group, when given) whose agent is disconnected.
fn away_in_service<'a>(
    instances: &'a [ContainerInstance],
    group: Option<&HashMap<String, LifecycleState>>,
) -> Vec<&'a ContainerInstance> {
    instances
        .iter()
        .filter(|instance| instance.status() == Some("ACTIVE") && !instance.agent_connected())
        .filter(|instance| {
            let state = instance
                .ec2_instance_id()
                .and_then(|id| group.map(|group| group.get(id)));
            matches!(state, None | Some(Some(LifecycleState::InService)))
        })
        .collect()
}

/// How many of `away` (instances whose agent is away) run a task of the service that ECS
/// still wants RUNNING (`ListTasks` on each, `DescribeTasks` of what it lists): such a task
/// keeps serving through a blip, and its instance keeps holding it. One without (a spare
/// whose agent is away, or gone for good) holds nothing of the service.
async fn serving_while_away(
    ecs: &aws_sdk_ecs::Client,
    input: &ScalerInput,
    away: &[&ContainerInstance],
) -> Result<u64, StepError> {
    let cluster = &input.cluster_name;
    let mut arns = Vec::new();
    for instance in away {
        let Some(container_instance) = instance.container_instance_arn() else {
            continue;
        };
        let listed: Vec<String> = ecs
            .list_tasks()
            .cluster(cluster)
            .container_instance(container_instance)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|error| ecs_error(cluster, "ListTasks", error))?;
        arns.extend(listed);
    }
    let group = format!("service:{}", input.service_name);
    let hosts: HashSet<String> = described_tasks_with(ecs, cluster, &arns, |output| {
        output
            .tasks
            .unwrap_or_default()
            .into_iter()
            .filter(|task| task.group() == Some(group.as_str()))
            .filter(|task| task.desired_status() == Some("RUNNING"))
            .filter_map(|task| task.container_instance_arn)
            .collect()
    })
    .await?
    .into_iter()
    .collect();
    Ok(hosts.len() as u64)
}

/// A state in which no task of the instance needs a spare instance: its action completed
/// (`*:Proceed`), terminated or detached, in its warm pool (`Warmed:Running`,
/// `Warmed:Stopped`, `Warmed:Hibernated`: one returned to a pool of running instances keeps
/// its agent connected to its DRAINING record), or terminating from it (a pool instance runs
/// no task).
fn no_task_to_move(state: &LifecycleState) -> bool {
    matches!(
        state,
        LifecycleState::TerminatingProceed
            | LifecycleState::WarmedPendingProceed
            | LifecycleState::Terminated
            | LifecycleState::WarmedTerminated
            | LifecycleState::Detached
            | LifecycleState::WarmedRunning
            | LifecycleState::WarmedStopped
            | LifecycleState::WarmedHibernated
            | LifecycleState::WarmedTerminating
            | LifecycleState::WarmedTerminatingWait
            | LifecycleState::WarmedTerminatingProceed
            | LifecycleState::WarmedTerminatingRetained
    )
}

/// A state that can last indefinitely with the instance stopped (retained after an abandoned
/// action, in standby): only a connected agent tells a drain in progress there.
fn the_agent_tells(state: &LifecycleState) -> bool {
    matches!(
        state,
        LifecycleState::TerminatingRetained
            | LifecycleState::WarmedPendingRetained
            | LifecycleState::Standby
            | LifecycleState::EnteringStandby
    )
}

/// Every instance of the group, with its lifecycle state, and those of its warm pool: an
/// instance drained on its way back to the pool waits in `Warmed:Pending:Wait`, a drain in
/// progress as much as one in `Terminating:Wait`.
async fn group_instances(
    autoscaling: &aws_sdk_autoscaling::Client,
    asg: &str,
) -> Result<HashMap<String, LifecycleState>, StepError> {
    let group = describe_group(autoscaling, asg)
        .await?
        .ok_or_else(|| StepError::not_found("Auto Scaling group", asg))?;
    let pool = warm_pool_instances(autoscaling, &group)
        .await
        .map_err(|error| aws_error("DescribeWarmPool", error))?;
    Ok(group
        .instances()
        .iter()
        .chain(&pool)
        .filter_map(|instance| {
            Some((
                instance.instance_id()?.to_string(),
                instance.lifecycle_state()?.clone(),
            ))
        })
        .collect())
}

async fn current_desired_count(
    ecs: &aws_sdk_ecs::Client,
    input: &ScalerInput,
) -> Result<i32, StepError> {
    let output = ecs
        .describe_services()
        .cluster(&input.cluster_name)
        .services(&input.service_name)
        .send()
        .await
        .map_err(|error| ecs_error(&input.cluster_name, "DescribeServices", error))?;
    let service = output
        .services()
        .iter()
        .find(|service| service.status() != Some("INACTIVE"))
        .ok_or_else(|| service_not_found(input))?;
    if service.scheduling_strategy() == Some(&SchedulingStrategy::Daemon) {
        // ECS refuses UpdateService a daemon's desired count: its task count is ECS's own
        return Err(StepError::misconfigured(
            "service_name",
            format!(
                "names {}, a DAEMON service: ECS runs one of its tasks on every instance and takes no desired \
                 count; name the REPLICA service whose tasks take an instance each",
                input.service_name
            ),
        ));
    }
    Ok(service.desired_count())
}

#[cfg(test)]
mod tests;
