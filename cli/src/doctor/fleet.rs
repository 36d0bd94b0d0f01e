//! The cluster: it exists, no capacity provider on a managed group drains or sizes it
//! against us (managed draining; managed scaling at target 100 %), and no container
//! instance is stuck DRAINING, has a disconnected agent, or is in none of the groups.

use aws_sdk_ecs::types::{
    CapacityProvider, ManagedDraining, ManagedScalingStatus, ManagedTerminationProtection,
};

use super::hooks::{Group, Groups};
use super::{listed_and_described, readable, Check, Clients, Options};
use crate::CliError;

/// A container instance as the checks need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    /// `ACTIVE`, `DRAINING`, ...
    pub status: String,
    pub agent_connected: bool,
    /// Its lifecycle state in a managed group, `None` when in none.
    pub group_state: Option<String>,
    /// A drain marked it on its way back to the warm pool: the sweeper sets it ACTIVE once
    /// it is back in service (`sta_shared::pool_return`).
    pub marked: bool,
    /// The drain of a Spot interruption that stops it marked it with the warning's time: the
    /// sweeper sets it ACTIVE once EC2 runs it again.
    pub stopped_by_spot: bool,
}

impl ContainerInstance {
    /// Capacity, as the task scaler counts it: ACTIVE with a connected agent and, where it
    /// is in a managed group, InService there.
    pub fn usable(&self) -> bool {
        self.status == "ACTIVE"
            && self.agent_connected
            && self.group_state.as_deref().is_none_or(|s| s == "InService")
    }
}

/// What the cluster holds; `instances` is `None` when they could not be read.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub cluster_found: bool,
    pub instances: Option<Vec<ContainerInstance>>,
}

pub async fn check(
    clients: &Clients,
    options: &Options,
    groups: &Groups,
    checks: &mut Vec<Check>,
) -> Fleet {
    let cluster = &options.cluster;
    let described = clients
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(CliError::from);
    let Some(described) = readable(described, "cluster", Some(cluster), checks) else {
        return Fleet::default();
    };
    let Some(found) = described.clusters().first() else {
        checks.push(Check::fail(
            "cluster",
            Some(cluster),
            "no such ECS cluster (in this account and region)",
            "check --cluster and the region (AWS_REGION)",
        ));
        return Fleet::default();
    };
    let status = found.status().unwrap_or("ACTIVE");
    checks.push(if status == "ACTIVE" {
        Check::pass(
            "cluster",
            Some(cluster),
            format!(
                "ACTIVE, {} container instances registered (ACTIVE and DRAINING)",
                found.registered_container_instances_count()
            ),
        )
    } else {
        Check::fail(
            "cluster",
            Some(cluster),
            format!("{status}: it runs nothing"),
            "check --cluster",
        )
    });
    capacity_providers(clients, found.capacity_providers(), groups, checks).await;
    let instances = readable(
        container_instances(clients, cluster, groups).await,
        "container-instances",
        Some(cluster),
        checks,
    );
    if let Some(instances) = &instances {
        checks.extend(instance_checks(cluster, instances, groups));
    }
    Fleet {
        cluster_found: true,
        instances,
    }
}

async fn capacity_providers(
    clients: &Clients,
    names: &[String],
    groups: &Groups,
    checks: &mut Vec<Check>,
) {
    let providers = if names.is_empty() {
        Vec::new()
    } else {
        let answer = clients
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(names.to_vec()))
            .send()
            .await
            .map_err(CliError::from);
        let Some(answer) = readable(answer, "capacity-provider", None, checks) else {
            return;
        };
        answer.capacity_providers().to_vec()
    };
    for group in &groups.found {
        checks.push(capacity_provider_check(group, &providers));
    }
}

/// The capacity providers of the cluster that use `group`, judged.
pub fn capacity_provider_check(group: &Group, providers: &[CapacityProvider]) -> Check {
    let name = Some(group.name.as_str());
    let suffix = format!("autoScalingGroupName/{}", group.name);
    let using: Vec<_> = providers
        .iter()
        .filter(|p| {
            p.auto_scaling_group_provider()
                .map(|a| a.auto_scaling_group_arn())
                .is_some_and(|arn| arn == group.arn || arn.ends_with(&suffix) || arn == group.name)
        })
        .collect();
    let Some(provider) = using.first() else {
        return Check::pass(
            "capacity-provider",
            name,
            "no capacity provider of the cluster uses the group",
        );
    };
    let cp = provider.name().unwrap_or_default();
    let asg = provider.auto_scaling_group_provider();
    let scaling = asg.and_then(|a| a.managed_scaling());
    let scaling_on = scaling.and_then(|s| s.status()) == Some(&ManagedScalingStatus::Enabled);
    let target = scaling.and_then(|s| s.target_capacity()).unwrap_or(100);
    if scaling_on && target >= 100 {
        return Check::fail(
            "capacity-provider",
            name,
            format!(
                "{cp}: managed scaling at target capacity {target} %: ECS scales in every instance that runs no \
                 task, so there is never a spare one for a draining task (N+1), and the task scaler then lowers the \
                 desired count: together they ratchet the service down to its minimum"
            ),
            format!("set {cp}'s target capacity below 100 % (room for N instances), or turn its managed scaling off"),
        );
    }
    if asg.and_then(|a| a.managed_draining()) == Some(&ManagedDraining::Enabled) {
        return Check::warn(
            "capacity-provider",
            name,
            format!(
                "{cp}: managed draining: ECS drains the same instances through its own terminate hook and \
                 completes it once the tasks stopped, without waiting for the load balancers this drain waits for"
            ),
            format!(
                "aws ecs update-capacity-provider --name {cp} --auto-scaling-group-provider managedDraining=DISABLED"
            ),
        );
    }
    let protection = asg.and_then(|a| a.managed_termination_protection())
        == Some(&ManagedTerminationProtection::Enabled);
    Check::pass(
        "capacity-provider",
        name,
        format!(
            "{cp}: managed draining off, managed scaling {}{}",
            if scaling_on {
                format!("at target {target} %")
            } else {
                "off".to_string()
            },
            if protection {
                ", managed termination protection on"
            } else {
                ""
            }
        ),
    )
}

/// Every container instance of the cluster, described, with its state in the managed groups.
pub async fn container_instances(
    clients: &Clients,
    cluster: &str,
    groups: &Groups,
) -> Result<Vec<ContainerInstance>, CliError> {
    let ecs = &clients.ecs;
    let answers = listed_and_described(
        ecs.list_container_instances()
            .cluster(cluster)
            .into_paginator()
            .items()
            .send()
            .try_collect(),
        |batch| {
            ecs.describe_container_instances()
                .cluster(cluster)
                .set_container_instances(Some(batch))
                .send()
        },
    )
    .await?;
    let mut instances = Vec::new();
    for described in answers {
        for ci in described.container_instances() {
            let ec2 = ci.ec2_instance_id().unwrap_or_default().to_string();
            instances.push(ContainerInstance {
                arn: ci.container_instance_arn().unwrap_or_default().to_string(),
                status: ci.status().unwrap_or_default().to_string(),
                agent_connected: ci.agent_connected(),
                group_state: groups.state_of(&ec2).map(str::to_string),
                marked: sta_shared::pool_return::marked(ci),
                stopped_by_spot: sta_shared::pool_return::stopped_at(ci).is_some(),
                ec2_instance_id: ec2,
            });
        }
    }
    Ok(instances)
}

/// Where an instance stands in its managed group, by its lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Leaving under a lifecycle action: terminating, or going back to the warm pool
    /// (`Warmed:Pending`, its terminate hook waiting in `Warmed:Pending:Wait`).
    Leaving,
    /// Terminating from the warm pool (`Warmed:Terminating`, its terminate hook waiting in
    /// `Warmed:Terminating:Wait`): leaving, and stopped.
    LeavingThePool,
    /// Retained after an abandoned action (`retained-instances` reports it): DRAINING once
    /// a redrive drained it, until someone terminates it.
    Retained,
    /// Stopped or hibernated in the warm pool: its agent is disconnected until it starts.
    Stopped,
    /// In service, pending, in standby, running in the warm pool, or in no managed group.
    Staying,
}

impl Standing {
    fn of(state: Option<&str>) -> Self {
        match state {
            Some(s) if sta_shared::ended::retained(s) => Self::Retained,
            Some(s) if s.starts_with("Terminating") || s.starts_with("Warmed:Pending") => {
                Self::Leaving
            }
            Some(s) if s.starts_with("Warmed:Terminating") => Self::LeavingThePool,
            Some("Warmed:Stopped" | "Warmed:Hibernated") => Self::Stopped,
            _ => Self::Staying,
        }
    }

    fn leaving(self) -> bool {
        matches!(self, Self::Leaving | Self::LeavingThePool)
    }

    /// Its agent is disconnected because the instance is stopped.
    fn stopped(self) -> bool {
        matches!(self, Self::Stopped | Self::LeavingThePool)
    }
}

/// The container instances DRAINING, by why: each a list of EC2 instance ids.
#[derive(Debug, Default)]
struct Draining {
    /// Neither leaving nor marked: nothing is placed there and nothing will set them ACTIVE.
    stuck: Vec<String>,
    /// Leaving their group: being drained now.
    in_drain: Vec<String>,
    /// Retained by their group after their lifecycle action.
    kept: Vec<String>,
    /// Stopped in the warm pool, marked: the sweeper sets them ACTIVE once back in service.
    in_pool: Vec<String>,
    /// In no group, stopped by a Spot interruption, marked: the sweeper sets them ACTIVE once
    /// EC2 runs them again.
    off: Vec<String>,
}

impl Draining {
    fn of(instances: &[ContainerInstance]) -> Self {
        let mut draining = Self::default();
        for i in instances.iter().filter(|i| i.status == "DRAINING") {
            let standing = Standing::of(i.group_state.as_deref());
            let list = if returning(i) {
                &mut draining.in_pool
            } else if spot_stopped(i) {
                &mut draining.off
            } else if standing.leaving() {
                &mut draining.in_drain
            } else if standing == Standing::Retained {
                &mut draining.kept
            } else {
                &mut draining.stuck
            };
            list.push(i.ec2_instance_id.clone());
        }
        draining
    }

    fn check(&self, cluster: &str) -> Check {
        if !self.stuck.is_empty() {
            return Check::warn(
                "container-instances-draining",
                Some(cluster),
                format!(
                    "DRAINING but not terminating: {}: nothing is placed there and they are not capacity (an \
                     interrupted drain, a warm-pool instance no drain marked or back in service before the \
                     sweeper's next run, or someone's manual drain)",
                    self.stuck.join(", ")
                ),
                format!(
                    "aws ecs update-container-instances-state --cluster {cluster} --status ACTIVE --container-instances \
                     <arns> to use them again, or terminate them through Auto Scaling"
                ),
            );
        }
        let notes = [
            (&self.in_drain, "being drained now"),
            (&self.kept, "retained: see retained-instances"),
            (
                &self.in_pool,
                "in the warm pool, marked: the sweeper sets them ACTIVE once back in service",
            ),
            (
                &self.off,
                "stopped by a Spot interruption, marked: the sweeper sets them ACTIVE once EC2 runs them again",
            ),
        ];
        let drains: String = notes
            .iter()
            .filter(|(ids, _)| !ids.is_empty())
            .map(|(ids, why)| format!(" ({} {why})", ids.join(", ")))
            .collect();
        Check::pass(
            "container-instances-draining",
            Some(cluster),
            format!("no container instance stuck DRAINING{drains}"),
        )
    }
}

/// Stopped in the warm pool DRAINING: it comes back to a record where nothing is placed,
/// unless a drain marked it for the sweeper to set it ACTIVE then.
fn returning(i: &ContainerInstance) -> bool {
    i.marked && Standing::of(i.group_state.as_deref()) == Standing::Stopped
}

/// In no group, stopped (or about to be) by a Spot interruption: the same, once EC2 runs it.
fn spot_stopped(i: &ContainerInstance) -> bool {
    i.marked && i.stopped_by_spot && i.group_state.is_none()
}

/// Stuck DRAINING, disconnected agents, instances outside the managed groups.
pub fn instance_checks(
    cluster: &str,
    instances: &[ContainerInstance],
    groups: &Groups,
) -> Vec<Check> {
    let subject = Some(cluster);
    let ids = |f: &dyn Fn(&ContainerInstance) -> bool| -> Vec<String> {
        instances
            .iter()
            .filter(|i| f(i))
            .map(|i| i.ec2_instance_id.clone())
            .collect()
    };
    let disconnected = ids(&|i| {
        !i.agent_connected && !Standing::of(i.group_state.as_deref()).stopped() && !spot_stopped(i)
    });
    let outside = ids(&|i| i.group_state.is_none());
    let mut checks = vec![Draining::of(instances).check(cluster)];
    checks.push(if disconnected.is_empty() {
        Check::pass("container-instances-agent", subject, format!("every agent of {} container instances connected", instances.len()))
    } else {
        Check::warn(
            "container-instances-agent",
            subject,
            format!(
                "agent disconnected on {}: not capacity, nothing is placed there, and ECS never deregisters them",
                disconnected.join(", ")
            ),
            "restart the ECS agent there (systemctl restart ecs), or terminate them through Auto Scaling",
        )
    });
    if groups.read && !outside.is_empty() {
        checks.push(Check::warn(
            "container-instances-groups",
            subject,
            format!(
                "in none of the managed groups: {}: when they are terminated, nothing drains them",
                outside.join(", ")
            ),
            "add their group to --asg (and to the deployment's autoScalingGroupNames), or move them into one",
        ));
    }
    checks
}
