//! The services: N+1 holds (usable instances at least desired + N), and the deployment
//! configuration (minimum healthy, maximum percent, host ports) lets ECS move a task off a
//! draining instance with the instances there are.

use aws_sdk_ecs::types::{
    LoadBalancer, NetworkMode, SchedulingStrategy, Service as EcsService, TaskDefinition,
};
use sta_shared::batches::{in_batches, SERVICES_BATCH};

use super::fleet::{ContainerInstance, Fleet};
use super::machine::ScalerSchedule;
use super::{listed_and_described, readable, Check, Clients, Options};
use crate::CliError;

mod auto_scaling;
mod rules;

pub use rules::{deployment, n_plus_one, Placement};

/// A service as the load-balancer checks and the drill need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub name: String,
    pub desired: u64,
    pub minimum_healthy_percent: u64,
    pub maximum_percent: u64,
    pub load_balancers: LoadBalancers,
    /// Container instances that run (or start) a task of it.
    pub hosts: Vec<String>,
    /// The DAEMON scheduling strategy: a task on every instance, its desired count ECS's own,
    /// stopped last on a draining instance, once the other tasks there have stopped.
    pub daemon: bool,
    /// How long a stopping task's containers may take to stop once its load balancers have
    /// drained: the longest `stopTimeout` of its task definition's containers, else the ECS
    /// agent's `ECS_CONTAINER_STOP_TIMEOUT` default (StopTask: "SIGTERM and a default
    /// 30-second timeout, after which the SIGKILL value is sent").
    pub stop_seconds: u64,
}

/// The load balancers ECS registers a service's tasks in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadBalancers {
    /// ELBv2 target groups, by ARN.
    pub target_groups: Vec<String>,
    /// Classic ELBs, by name.
    pub classic: Vec<String>,
}

impl LoadBalancers {
    /// A service's `loadBalancers`: each names a target group or a Classic ELB.
    pub fn of(load_balancers: &[LoadBalancer]) -> Self {
        let names = |name: fn(&LoadBalancer) -> Option<&str>| {
            load_balancers
                .iter()
                .filter_map(|lb| name(lb).map(str::to_string))
                .collect()
        };
        Self {
            target_groups: names(LoadBalancer::target_group_arn),
            classic: names(LoadBalancer::load_balancer_name),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.target_groups.is_empty() && self.classic.is_empty()
    }
}

/// The ECS agent's default `ECS_CONTAINER_STOP_TIMEOUT` (it can be changed on the instances,
/// which doctor cannot read).
pub const DEFAULT_STOP_SECONDS: u64 = 30;

impl Service {
    /// The fewest tasks ECS keeps healthy: ceil(minimumHealthyPercent x desired / 100). A
    /// daemon's task on a draining instance stops and is not replaced: one fewer at most.
    pub fn minimum_healthy(&self) -> u64 {
        let minimum = (self.minimum_healthy_percent * self.desired).div_ceil(100);
        if self.daemon {
            minimum.min(self.desired.saturating_sub(1))
        } else {
            minimum
        }
    }
}

/// A daemon needs neither a spare instance nor room for a replacement: ECS stops its task on a
/// draining instance after the replica tasks there, and the drain waits for it like for them.
fn daemon(name: &str, desired: u64) -> Check {
    Check::pass(
        "daemon-service",
        Some(name),
        format!(
            "DAEMON, a task on each of {desired} instance(s): on a draining instance ECS stops it last, once the \
             other tasks there have stopped, and the drain waits for it; N+1 and a replacement's room do not apply"
        ),
    )
}

/// Each ACTIVE service's checks; `scalers`, the stack's task scaler schedules (`None` without
/// a stack).
pub async fn check(
    clients: &Clients,
    options: &Options,
    fleet: &Fleet,
    scalers: Option<&[ScalerSchedule]>,
    checks: &mut Vec<Check>,
) -> Vec<Service> {
    if !fleet.cluster_found {
        return Vec::new();
    }
    let Some(found) = readable(describe(clients, options).await, "service", None, checks) else {
        return Vec::new();
    };
    for name in &options.services {
        let short =
            |s: &EcsService| s.service_name() == Some(name) || s.service_arn() == Some(name);
        if !found
            .iter()
            .any(|s| short(s) && s.status() == Some("ACTIVE"))
        {
            checks.push(Check::fail(
                "service",
                Some(name),
                format!("no ACTIVE service {name} in cluster {}", options.cluster),
                "check --service and --cluster",
            ));
        }
    }
    let active: Vec<&EcsService> = found
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .collect();
    let names: Vec<String> = active.iter().map(|s| summary(s).name).collect();
    let targets = auto_scaling::scalable_targets(clients, &options.cluster, &names).await;
    let targets = readable(targets, auto_scaling::NAME, Some(&options.cluster), checks);
    let mut services = Vec::new();
    for service in active {
        let summary = one(clients, options, fleet, service, checks).await;
        if let (false, Some(targets)) = (summary.daemon, &targets) {
            let target = targets.get(&summary.name);
            let cluster = &options.cluster;
            checks.push(auto_scaling::check(cluster, &summary.name, target, scalers));
        }
        services.push(summary);
    }
    services
}

/// The N+1 and deployment checks of one service (a daemon's own check instead).
async fn one(
    clients: &Clients,
    options: &Options,
    fleet: &Fleet,
    service: &EcsService,
    checks: &mut Vec<Check>,
) -> Service {
    let mut summary = summary(service);
    let name = summary.name.clone();
    let definition = task_definition(clients, service).await;
    if let Ok(definition) = &definition {
        summary.stop_seconds = stop_seconds(definition);
    }
    if summary.daemon {
        checks.push(daemon(&name, summary.desired));
        return summary;
    }
    let Some(instances) = &fleet.instances else {
        return summary; // the container instances could not be read: said already
    };
    let usable: Vec<&ContainerInstance> = instances.iter().filter(|i| i.usable()).collect();
    checks.push(n_plus_one(
        &name,
        usable.len() as u64,
        summary.desired,
        options.n_count,
    ));
    let placed = match definition {
        Ok(definition) => placement(clients, &options.cluster, service, &definition).await,
        Err(error) => Err(error),
    };
    let Some((placement, hosts)) =
        readable(placed, "deployment-configuration", Some(&name), checks)
    else {
        return summary;
    };
    summary.hosts = hosts;
    let free = usable
        .iter()
        .filter(|i| !summary.hosts.contains(&i.arn))
        .count() as u64;
    checks.push(deployment(&summary, &placement, free));
    summary
}

/// The services `options` names (every service of the cluster when none), as ECS describes them.
pub async fn describe(clients: &Clients, options: &Options) -> Result<Vec<EcsService>, CliError> {
    let names: Vec<String> = if options.services.is_empty() {
        clients
            .ecs
            .list_services()
            .cluster(&options.cluster)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await?
    } else {
        options.services.clone()
    };
    let answers = in_batches(&names, SERVICES_BATCH, |batch| {
        clients
            .ecs
            .describe_services()
            .cluster(&options.cluster)
            .set_services(Some(batch))
            .send()
    })
    .await?;
    Ok(answers.iter().flat_map(|a| a.services()).cloned().collect())
}

pub fn summary(service: &EcsService) -> Service {
    let deployment = service.deployment_configuration();
    Service {
        name: service.service_name().unwrap_or_default().to_string(),
        desired: service.desired_count().max(0) as u64,
        minimum_healthy_percent: deployment
            .and_then(|d| d.minimum_healthy_percent())
            .unwrap_or(100)
            .max(0) as u64,
        maximum_percent: deployment
            .and_then(|d| d.maximum_percent())
            .unwrap_or(200)
            .max(0) as u64,
        load_balancers: LoadBalancers::of(service.load_balancers()),
        hosts: Vec::new(),
        daemon: service.scheduling_strategy() == Some(&SchedulingStrategy::Daemon),
        stop_seconds: DEFAULT_STOP_SECONDS,
    }
}

async fn task_definition(
    clients: &Clients,
    service: &EcsService,
) -> Result<TaskDefinition, CliError> {
    let answer = clients
        .ecs
        .describe_task_definition()
        .task_definition(service.task_definition().unwrap_or_default())
        .send()
        .await?;
    Ok(answer
        .task_definition()
        .cloned()
        .unwrap_or_else(|| TaskDefinition::builder().build()))
}

/// The longest time its containers are given to stop (see [`Service::stop_seconds`]).
fn stop_seconds(definition: &TaskDefinition) -> u64 {
    definition
        .container_definitions()
        .iter()
        .map(|container| {
            container
                .stop_timeout()
                .map_or(DEFAULT_STOP_SECONDS, |seconds| seconds.max(0) as u64)
        })
        .max()
        .unwrap_or(DEFAULT_STOP_SECONDS)
}

/// How its tasks are placed (from its task definition) and where they run now.
async fn placement(
    clients: &Clients,
    cluster: &str,
    service: &EcsService,
    definition: &TaskDefinition,
) -> Result<(Placement, Vec<String>), CliError> {
    let network = definition.network_mode().cloned();
    let host_ports: Vec<i32> = definition
        .container_definitions()
        .iter()
        .flat_map(|c| c.port_mappings())
        .filter_map(|p| p.host_port().filter(|port| *port > 0))
        .collect();
    let placement = match network {
        Some(NetworkMode::Host) => Placement::OnePerInstance("host networking".to_string()),
        Some(NetworkMode::Awsvpc) => Placement::Shared,
        _ if !host_ports.is_empty() => Placement::OnePerInstance(format!(
            "fixed host port {}",
            host_ports
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Placement::Shared,
    };
    let hosts = hosts(clients, cluster, service.service_name().unwrap_or_default()).await?;
    Ok((placement, hosts))
}

/// The container instances that run (or start) a task of the service, sorted.
pub async fn hosts(
    clients: &Clients,
    cluster: &str,
    service: &str,
) -> Result<Vec<String>, CliError> {
    let ecs = &clients.ecs;
    let answers = listed_and_described(
        ecs.list_tasks()
            .cluster(cluster)
            .service_name(service)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        |batch| {
            ecs.describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(batch))
                .send()
        },
    )
    .await?;
    let mut hosts: Vec<String> = answers
        .iter()
        .flat_map(|a| a.tasks())
        .filter_map(|t| t.container_instance_arn().map(str::to_string))
        .collect();
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}
