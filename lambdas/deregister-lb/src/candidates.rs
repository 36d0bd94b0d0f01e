//! Which load balancers the instance may be in, and who takes it out of each: the ones
//! configured on the function, the ones attached to the instance's Auto Scaling group, and
//! the cluster's services' own (left to ECS when the service has a task on the instance, or
//! may have one the listing missed).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use sta_shared::batches::described_in_batches;
use sta_shared::batches::SERVICES_BATCH;
use sta_shared::error::ecs_error;
use sta_shared::instance_state::describe_auto_scaling_instance;
use sta_shared::state::{DrainState, Trigger};
use sta_shared::StepError;

use crate::attached::attached_to_group;
use crate::Deps;

/// A load balancer of an ECS service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Balancer {
    Classic(String),
    TargetGroup(String),
}

/// The load balancers to look at: the ones to deregister the instance from, and the ones
/// left to the services with a task on the instance.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    pub(crate) classic: BTreeSet<String>,
    pub(crate) target_groups: BTreeSet<String>,
    pub(crate) service_managed: BTreeSet<(String, Balancer)>,
    /// The load balancers of the services without a listed task on the instance, when the
    /// instance is in the cluster: ListTasks is eventually consistent, so a task started just
    /// before the drain may be registered there unlisted. Where the instance is registered,
    /// the registration is left to ECS until the tasks are listed again.
    pub(crate) other_services: BTreeSet<(String, Balancer)>,
    /// The target groups attached to the lifecycle action's group: on a scale-in Auto Scaling
    /// deregistered the instance from them before `Terminating:Wait`.
    pub(crate) left_by_auto_scaling: BTreeSet<String>,
}

/// The Auto Scaling group whose attached load balancers the instance is in: the lifecycle
/// action's, or for a Spot interruption warning (which names only the instance) the group
/// the instance belongs to, `None` when it belongs to none. Auto Scaling takes an instance
/// out of its group's load balancers before `Terminating:Wait` on a scale-in, but not on a
/// Spot warning: until the interruption, two minutes later, only this drain does.
async fn group_of(deps: &Deps, state: &DrainState) -> Result<Option<String>, StepError> {
    if let Trigger::LifecycleAction(action) = &state.request.trigger {
        return Ok(Some(action.asg_name.clone()));
    }
    let found =
        describe_auto_scaling_instance(&deps.autoscaling, &state.request.instance_id).await?;
    let group = found.and_then(|instance| instance.auto_scaling_group_name);
    if group.is_none() {
        tracing::info!("the Spot instance is in no Auto Scaling group: no attached load balancers");
    }
    Ok(group)
}

/// Every Classic ELB name and target group ARN the instance may be registered in.
pub(crate) async fn candidates(
    deps: &Deps,
    state: &DrainState,
    now: DateTime<Utc>,
) -> Result<Candidates, StepError> {
    let mut found = Candidates {
        classic: deps.config.classic_elb_names.iter().cloned().collect(),
        target_groups: deps.config.target_group_arns.iter().cloned().collect(),
        ..Candidates::default()
    };
    if let Some(asg) = group_of(deps, state).await? {
        let attached = attached_to_group(&deps.autoscaling, &deps.attached, &asg, now).await?;
        found.classic.extend(attached.classic);
        if state.request.trigger.lifecycle_action().is_some() {
            found.left_by_auto_scaling = attached.target_groups.iter().cloned().collect();
        }
        found.target_groups.extend(attached.target_groups);
    }
    let services_here: BTreeSet<&str> = state
        .tasks
        .iter()
        .filter_map(|task| task.service.as_deref())
        .collect();
    let in_cluster = state.container_instance_arn.is_some();
    for (service, balancer) in service_balancers(deps, &state.request.cluster).await? {
        if services_here.contains(service.as_str()) {
            found.service_managed.insert((service, balancer));
        } else if in_cluster {
            found.other_services.insert((service, balancer));
        } else {
            match balancer {
                Balancer::Classic(name) => found.classic.insert(name),
                Balancer::TargetGroup(arn) => found.target_groups.insert(arn),
            };
        }
    }
    // A load balancer shared with a service that has a task on the instance is that task's.
    let theirs: BTreeSet<Balancer> = found
        .service_managed
        .iter()
        .map(|(_, balancer)| balancer.clone())
        .collect();
    found
        .other_services
        .retain(|(_, balancer)| !theirs.contains(balancer));
    for (service, balancer) in found.service_managed.iter().chain(&found.other_services) {
        let configured = match balancer {
            Balancer::Classic(name) => found.classic.remove(name),
            Balancer::TargetGroup(arn) => found.target_groups.remove(arn),
        };
        if configured {
            tracing::info!(
                service = %service,
                load_balancer = ?balancer,
                "configured or attached, but a service of the cluster registers its tasks in it: left to ECS"
            );
        }
    }
    Ok(found)
}

/// Every (service, load balancer) pair of the cluster's services.
async fn service_balancers(
    deps: &Deps,
    cluster: &str,
) -> Result<Vec<(String, Balancer)>, StepError> {
    let services: Vec<String> = deps
        .ecs
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| ecs_error(cluster, "ListServices", error))?;
    let describe = |batch| {
        deps.ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch))
            .send()
    };
    let batches = (services.as_slice(), SERVICES_BATCH);
    let described =
        described_in_batches(cluster, "DescribeServices", batches, describe, |output| {
            output.services.unwrap_or_default()
        })
        .await?;
    let mut pairs = Vec::new();
    for service in &described {
        let name = service.service_name().unwrap_or_default().to_string();
        for balancer in service.load_balancers() {
            if let Some(arn) = balancer.target_group_arn() {
                pairs.push((name.clone(), Balancer::TargetGroup(arn.to_string())));
            }
            if let Some(classic) = balancer.load_balancer_name() {
                pairs.push((name.clone(), Balancer::Classic(classic.to_string())));
            }
        }
    }
    Ok(pairs)
}
