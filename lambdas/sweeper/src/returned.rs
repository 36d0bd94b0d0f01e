//! Instances back from the warm pool get their container instance ACTIVE again.
//!
//! A drained instance goes back to the pool with its container instance DRAINING and
//! marked ([`sta_shared::pool_return`]). Started again for a scale-out, its ECS agent
//! reconnects to that record, which stays DRAINING: nothing would ever be placed there. Each
//! sweep lists the marked container instances of the cluster (`ListContainerInstances` with
//! the attribute as its filter, the mark checked again on each described one) and sets ACTIVE
//! those DRAINING whose agent is connected and whose EC2 instance is `InService` in its group
//! (`DescribeAutoScalingInstances`): back in service, not still in the pool (`Warmed:*`), on
//! its way there, or leaving again (`Terminating*`, whose drain the mark must not end). Then it
//! removes the mark, as it does from a marked container instance someone else set ACTIVE. The
//! mark goes only after ACTIVE: a sweep cut off in between leaves an ACTIVE container instance
//! still marked, which the next sweep unmarks (and a drain of it unmarks first, unless that
//! drain sends it back to the pool). A drain that a scale-in starts between this sweep's read
//! of the instance and its ACTIVE finds it DRAINING and marked already, so its first step
//! neither sets nor marks it; the sweep then set it ACTIVE and unmarked it. So after the
//! unmark the sweep reads the instance again: no longer `InService`, a scale-in took it
//! meanwhile, and the sweep puts back what that drain needs: DRAINING, and the mark when the
//! instance is on its way back to the pool (`Warmed:*`), or it would come back DRAINING for
//! good. (A scale-in that starts after this second read finds the container instance ACTIVE
//! and unmarked, and its drain sets and marks it itself.)
//!
//! An instance a Spot interruption stopped (or hibernated) is marked the same way, with the
//! warning's time ([`sta_shared::pool_return::STOPPED_AT`]). It is in no group: once DRAINING
//! with its agent connected, it is back when EC2 runs it and its `LaunchTime` ("The time that
//! the instance was last launched", `DescribeInstances`) is later than the warning. Before its
//! stop it is still the first launch's, so a sweep during the two minutes of the warning leaves
//! it DRAINING.

use std::collections::{HashMap, HashSet};

use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_ecs::types::{ContainerInstance, ContainerInstanceStatus};
use chrono::{DateTime, Utc};
use sta_shared::ecs::describe_all_container_instances;
use sta_shared::ecs_status::set_status;
use sta_shared::error::aws_error;
use sta_shared::pool_return::{mark, marked, stopped_at, unmark, ATTRIBUTE, VALUE};
use sta_shared::StepError;

use crate::Deps;

/// `DescribeAutoScalingInstances` takes at most 50 instance ids.
const DESCRIBE_INSTANCES_BATCH: usize = 50;
/// Instance ids a `DescribeInstances` filter carries at a time.
const EC2_FILTER_BATCH: usize = 100;

/// Where a marked container instance's EC2 instance is, as far as its return goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Whereabouts {
    /// `InService` in its group.
    InService,
    /// In no group, run again since the Spot interruption that stopped it.
    Restarted,
    /// Not back (yet): its lifecycle state in a group, if it is in one.
    NotBack(Option<String>),
}

/// Sets ACTIVE the marked container instances whose EC2 instance is back in service, and
/// unmarks them: the EC2 instance ids of those it set ACTIVE. Nothing without a cluster
/// (`ECS_CLUSTER`), or once the cluster was deleted. One container instance's failure does not
/// keep the others waiting: the first error is returned with what was done.
pub async fn reactivate(deps: &Deps) -> (Vec<String>, Option<StepError>) {
    let Some(cluster) = deps.config.cluster.as_deref() else {
        return (Vec::new(), None);
    };
    let found = match marked_instances(deps, cluster).await {
        Ok(found) => found,
        Err(error) => return (Vec::new(), Some(error)),
    };
    let mut reactivated = Vec::new();
    let mut first_error = None;
    for (instance, whereabouts) in &found {
        match settle(deps, cluster, instance, whereabouts).await {
            Ok(true) => {
                reactivated.push(instance.ec2_instance_id().unwrap_or_default().to_string())
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(instance = ?instance.ec2_instance_id(), error = %error, "could not set the container instance back in service ACTIVE");
                first_error.get_or_insert(error);
            }
        }
    }
    (reactivated, first_error)
}

/// The marked container instances of the cluster (the mark checked on each described one),
/// each with where its EC2 instance is when it is DRAINING with its agent connected.
async fn marked_instances(
    deps: &Deps,
    cluster: &str,
) -> Result<Vec<(ContainerInstance, Whereabouts)>, StepError> {
    let filter = format!("attribute:{ATTRIBUTE} == {VALUE}");
    let found = match describe_all_container_instances(&deps.ecs, cluster, Some(filter)).await {
        Ok(found) => found,
        Err(StepError::ResourceNotFound {
            kind: "cluster", ..
        }) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let found: Vec<ContainerInstance> = found.into_iter().filter(marked).collect();
    let returning: Vec<String> = found
        .iter()
        .filter(|instance| instance.status() == Some("DRAINING") && instance.agent_connected())
        .filter_map(|instance| instance.ec2_instance_id().map(str::to_string))
        .collect();
    let mut states = lifecycle_states(&deps.autoscaling, &returning).await?;
    let stopped: Vec<(String, DateTime<Utc>)> = found
        .iter()
        .filter_map(|instance| {
            let id = instance.ec2_instance_id()?;
            let in_no_group = returning.iter().any(|r| r == id) && !states.contains_key(id);
            if !in_no_group {
                return None;
            }
            Some((id.to_string(), stopped_at(instance)?))
        })
        .collect();
    let restarted = restarted_since(&deps.ec2, &stopped).await?;
    Ok(found
        .into_iter()
        .map(|instance| {
            let id = instance.ec2_instance_id().unwrap_or_default();
            let whereabouts = match states.remove(id) {
                Some(state) if state == "InService" => Whereabouts::InService,
                Some(state) => Whereabouts::NotBack(Some(state)),
                None if restarted.contains(id) => Whereabouts::Restarted,
                None => Whereabouts::NotBack(None),
            };
            (instance, whereabouts)
        })
        .collect())
}

/// Those of `stopped` (an instance id, when its Spot interruption warned) that EC2 runs again
/// since: `running`, its `LaunchTime` later. A filter, not `InstanceIds`, so that an instance
/// EC2 no longer knows is only missing from the answer.
async fn restarted_since(
    ec2: &aws_sdk_ec2::Client,
    stopped: &[(String, DateTime<Utc>)],
) -> Result<HashSet<String>, StepError> {
    let mut restarted = HashSet::new();
    for batch in stopped.chunks(EC2_FILTER_BATCH) {
        let ids = batch.iter().map(|(id, _)| id.clone()).collect();
        let filter = Filter::builder()
            .name("instance-id")
            .set_values(Some(ids))
            .build();
        let pages: Vec<_> = ec2
            .describe_instances()
            .filters(filter)
            .into_paginator()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(|error| aws_error("DescribeInstances", error))?;
        let instances = pages
            .iter()
            .flat_map(|page| page.reservations())
            .flat_map(|reservation| reservation.instances());
        for instance in instances {
            let (Some(id), Some(launched)) = (instance.instance_id(), instance.launch_time())
            else {
                continue;
            };
            let running = instance.state().and_then(|state| state.name())
                == Some(&InstanceStateName::Running);
            let since = batch
                .iter()
                .find(|(stopped, _)| stopped == id)
                .map(|(_, at)| *at);
            let launched = DateTime::from_timestamp(launched.secs(), launched.subsec_nanos());
            if running
                && launched
                    .zip(since)
                    .is_some_and(|(launched, since)| launched > since)
            {
                restarted.insert(id.to_string());
            }
        }
    }
    Ok(restarted)
}

/// One marked container instance: set ACTIVE (true) when DRAINING with its EC2 instance back
/// (`InService` in its group, or run again since its Spot interruption), then unmarked; only
/// unmarked when already ACTIVE; else left as it is.
async fn settle(
    deps: &Deps,
    cluster: &str,
    instance: &ContainerInstance,
    whereabouts: &Whereabouts,
) -> Result<bool, StepError> {
    let arn = instance.container_instance_arn().unwrap_or_default();
    let instance_id = instance.ec2_instance_id().unwrap_or_default();
    let back = matches!(whereabouts, Whereabouts::InService | Whereabouts::Restarted);
    let set = match instance.status() {
        Some("DRAINING") if back => {
            if !set_status(&deps.ecs, cluster, arn, ContainerInstanceStatus::Active).await? {
                return Ok(false); // deregistered meanwhile
            }
            tracing::warn!(
                instance = instance_id,
                container_instance = arn,
                whereabouts = ?whereabouts,
                "back in service: container instance set ACTIVE"
            );
            true
        }
        Some("ACTIVE") => {
            tracing::info!(
                instance = instance_id,
                container_instance = arn,
                "already ACTIVE: mark removed"
            );
            false
        }
        // stopped in the pool or on its way there (its agent disconnected), or not back in
        // service yet
        _ => {
            tracing::info!(instance = instance_id, whereabouts = ?whereabouts, "marked, not back in service yet");
            return Ok(false);
        }
    };
    unmark(&deps.ecs, cluster, instance).await?;
    // (an instance in no group has no scale-in to take it meanwhile)
    if set
        && *whereabouts == Whereabouts::InService
        && taken_meanwhile(deps, cluster, arn, instance_id).await?
    {
        return Ok(false);
    }
    Ok(set)
}

/// After setting ACTIVE and unmarking: whether a scale-in took the instance since the sweep
/// read it `InService`; if so the container instance is set DRAINING again, and marked again
/// when the instance is on its way back to the warm pool.
async fn taken_meanwhile(
    deps: &Deps,
    cluster: &str,
    arn: &str,
    instance_id: &str,
) -> Result<bool, StepError> {
    let now = lifecycle_states(&deps.autoscaling, &[instance_id.to_string()])
        .await?
        .remove(instance_id);
    if now.as_deref() == Some("InService") {
        return Ok(false);
    }
    tracing::warn!(instance = instance_id, container_instance = arn, state = ?now, "a scale-in took the instance as it was set ACTIVE: DRAINING again for its drain");
    if !set_status(&deps.ecs, cluster, arn, ContainerInstanceStatus::Draining).await? {
        return Ok(true); // deregistered meanwhile
    }
    if now.is_some_and(|state| state.starts_with("Warmed:")) {
        // A mark that ECS's attribute limit refuses is logged as an error there.
        mark(&deps.ecs, cluster, arn, None).await?;
    }
    Ok(true)
}

/// The Auto Scaling lifecycle state of each of `instance_ids` that is in a group (or its warm
/// pool).
async fn lifecycle_states(
    autoscaling: &aws_sdk_autoscaling::Client,
    instance_ids: &[String],
) -> Result<HashMap<String, String>, StepError> {
    let mut states = HashMap::new();
    for batch in instance_ids.chunks(DESCRIBE_INSTANCES_BATCH) {
        let output = autoscaling
            .describe_auto_scaling_instances()
            .set_instance_ids(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|error| aws_error("DescribeAutoScalingInstances", error))?;
        for instance in output.auto_scaling_instances() {
            if let (Some(id), Some(state)) = (instance.instance_id(), instance.lifecycle_state()) {
                states.insert(id.to_string(), state.to_string());
            }
        }
    }
    Ok(states)
}
