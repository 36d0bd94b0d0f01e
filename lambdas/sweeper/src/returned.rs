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

use std::collections::HashMap;

use aws_sdk_ecs::types::{ContainerInstance, ContainerInstanceStatus};
use sta_shared::ecs::describe_all_container_instances;
use sta_shared::ecs_status::set_status;
use sta_shared::error::aws_error;
use sta_shared::pool_return::{mark, marked, unmark, ATTRIBUTE, VALUE};
use sta_shared::StepError;

use crate::Deps;

/// `DescribeAutoScalingInstances` takes at most 50 instance ids.
const DESCRIBE_INSTANCES_BATCH: usize = 50;

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
    for (instance, state) in &found {
        match settle(deps, cluster, instance, state.as_deref()).await {
            Ok(true) => {
                reactivated.push(instance.ec2_instance_id().unwrap_or_default().to_string())
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(instance = ?instance.ec2_instance_id(), error = %error, "could not set the container instance back from the warm pool ACTIVE");
                first_error.get_or_insert(error);
            }
        }
    }
    (reactivated, first_error)
}

/// The marked container instances of the cluster (the mark checked on each described one),
/// each with its EC2 instance's lifecycle state when it is DRAINING with its agent connected.
async fn marked_instances(
    deps: &Deps,
    cluster: &str,
) -> Result<Vec<(ContainerInstance, Option<String>)>, StepError> {
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
    Ok(found
        .into_iter()
        .map(|instance| {
            let state = instance
                .ec2_instance_id()
                .filter(|id| returning.iter().any(|r| r == id))
                .and_then(|id| states.remove(id));
            (instance, state)
        })
        .collect())
}

/// One marked container instance: set ACTIVE (true) when DRAINING with its EC2 instance back
/// `InService` (`state`), then unmarked; only unmarked when already ACTIVE; else left as it is.
async fn settle(
    deps: &Deps,
    cluster: &str,
    instance: &ContainerInstance,
    state: Option<&str>,
) -> Result<bool, StepError> {
    let arn = instance.container_instance_arn().unwrap_or_default();
    let ec2 = instance.ec2_instance_id().unwrap_or_default();
    let set = match instance.status() {
        Some("DRAINING") if state == Some("InService") => {
            if !set_status(&deps.ecs, cluster, arn, ContainerInstanceStatus::Active).await? {
                return Ok(false); // deregistered meanwhile
            }
            tracing::warn!(
                instance = ec2,
                container_instance = arn,
                "back from the warm pool: container instance set ACTIVE"
            );
            true
        }
        Some("ACTIVE") => {
            tracing::info!(
                instance = ec2,
                container_instance = arn,
                "already ACTIVE: mark removed"
            );
            false
        }
        // stopped in the pool or on its way there (its agent disconnected), or not back in
        // service yet
        _ => {
            tracing::info!(instance = ec2, state = ?state, "marked, not back in service yet");
            return Ok(false);
        }
    };
    unmark(&deps.ecs, cluster, arn).await?;
    if set && taken_meanwhile(deps, cluster, arn, ec2).await? {
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
    ec2: &str,
) -> Result<bool, StepError> {
    let now = lifecycle_states(&deps.autoscaling, &[ec2.to_string()])
        .await?
        .remove(ec2);
    if now.as_deref() == Some("InService") {
        return Ok(false);
    }
    tracing::warn!(instance = ec2, container_instance = arn, state = ?now, "a scale-in took the instance as it was set ACTIVE: DRAINING again for its drain");
    if !set_status(&deps.ecs, cluster, arn, ContainerInstanceStatus::Draining).await? {
        return Ok(true); // deregistered meanwhile
    }
    if now.is_some_and(|state| state.starts_with("Warmed:")) {
        // A mark that ECS's attribute limit refuses is logged as an error there.
        mark(&deps.ecs, cluster, arn).await?;
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
