//! The targets a service's own tasks serve on in a target group: the only ones that keep its
//! floor. A group may be shared (with another service, a DAEMON's agent, or instances
//! registered by hand); their healthy targets serve, but not as the service's tasks.

use std::collections::HashMap;

use crate::ecs::described_container_instances;
use crate::ecs_drain::described_tasks_with;
use crate::error::ecs_error;
use crate::StepError;
use aws_sdk_ecs::types::{Service, Task};

/// A target: the instance id and the port it is registered on.
pub type Target = (String, i32);

/// The targets of `service`'s RUNNING tasks in `target_group` (in `cluster`), each with its
/// task's ARN: each task's instance, on the host port its container maps the service's
/// container port to for that group. A container that shows no network binding at all (host
/// networking, where "the hostPort must either be undefined or match the containerPort": the
/// task definition reference; the ECS agent reports none for it) serves on the container port.
/// Tasks on a container instance neither ACTIVE nor DRAINING are left out: a forced
/// deregistration orphans them, and ECS no longer accounts for them. `None` when the service
/// no longer names the group: none of its tasks serves there.
pub async fn own_targets(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &Service,
    target_group: &str,
) -> Result<Option<HashMap<Target, String>>, StepError> {
    let containers: Vec<(&str, i32)> = service
        .load_balancers()
        .iter()
        .filter(|lb| lb.target_group_arn() == Some(target_group))
        .filter_map(|lb| Some((lb.container_name()?, lb.container_port()?)))
        .collect();
    let name = service.service_name().unwrap_or_default();
    if containers.is_empty() {
        return Ok(None);
    }
    let arns: Vec<String> = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| ecs_error(cluster, "ListTasks", error))?;
    let tasks = running_tasks(ecs, cluster, &arns).await?;
    let hosts = instance_ids(ecs, cluster, &tasks).await?;
    let mut targets = HashMap::new();
    for task in &tasks {
        let (Some(arn), Some(host)) = (
            task.task_arn(),
            task.container_instance_arn()
                .and_then(|instance| hosts.get(instance)),
        ) else {
            continue;
        };
        for (container, port) in &containers {
            let target = (host.clone(), host_port(task, container, *port));
            targets.insert(target, arn.to_string());
        }
    }
    Ok(Some(targets))
}

/// The tasks of `arns` DescribeTasks shows RUNNING.
async fn running_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<Task>, StepError> {
    described_tasks_with(ecs, cluster, arns, |output| {
        let tasks = output.tasks.unwrap_or_default().into_iter();
        tasks
            .filter(|task| task.last_status() == Some("RUNNING"))
            .collect()
    })
    .await
}

/// The EC2 instance id of each ACTIVE or DRAINING container instance `tasks` run on.
async fn instance_ids(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    tasks: &[Task],
) -> Result<HashMap<String, String>, StepError> {
    let mut arns: Vec<String> = tasks
        .iter()
        .filter_map(|task| task.container_instance_arn().map(str::to_string))
        .collect();
    arns.sort();
    arns.dedup();
    let described = described_container_instances(ecs, cluster, &arns).await?;
    Ok(described
        .into_iter()
        .filter(|instance| matches!(instance.status(), Some("ACTIVE" | "DRAINING")))
        .filter_map(|instance| Some((instance.container_instance_arn?, instance.ec2_instance_id?)))
        .collect())
}

/// The host port `task`'s `container` maps `container_port` to; the container port itself when
/// the container shows no binding at all (host networking); none (0, no target's port) when it
/// shows others but not this one.
fn host_port(task: &Task, container: &str, container_port: i32) -> i32 {
    let bindings: Vec<_> = task
        .containers()
        .iter()
        .filter(|found| found.name() == Some(container))
        .flat_map(|found| found.network_bindings())
        .collect();
    if bindings.is_empty() {
        return container_port;
    }
    bindings
        .iter()
        .find(|binding| binding.container_port() == Some(container_port))
        .and_then(|binding| binding.host_port())
        .unwrap_or(0)
}
