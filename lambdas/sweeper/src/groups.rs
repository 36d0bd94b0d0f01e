//! The managed groups' instances in `Terminating:Wait`, and those their instance lifecycle
//! policy retains (`Terminating:Retained`) after an abandoned terminate action.

use aws_sdk_autoscaling::types::LifecycleState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::activities::{self, Termination};
use sta_shared::error::aws_error;
use sta_shared::state::Destination;
use sta_shared::StepError;

use crate::Deps;

/// An instance in `Terminating:Wait` in one of our groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub instance_id: String,
    pub asg: String,
    /// The start of its termination activity: which lifecycle action it waits in. `None`
    /// when no activity of the group names it.
    pub action_started: Option<DateTime<Utc>>,
    /// Where it goes once the action completes.
    pub destination: Destination,
    /// Retained (`Terminating:Retained`): its action was abandoned, and its group's instance
    /// lifecycle policy keeps it, running, until someone terminates it, with no hook.
    pub retained: bool,
}

/// The instances waiting in the managed groups, each with the start of its termination
/// activity (read back to `since`) and where it goes.
pub async fn waiting_instances(
    deps: &Deps,
    since: DateTime<Utc>,
) -> Result<Vec<Waiting>, StepError> {
    let mut waiting = Vec::new();
    for group in waiting_groups(deps).await? {
        let ids: Vec<&str> = group.instances.iter().map(|(id, _)| id.as_str()).collect();
        let terminations =
            activities::terminations(&deps.autoscaling, &group.name, &ids, since).await?;
        for (id, retained) in &group.instances {
            let termination = terminations.get(id);
            // a retained instance is terminated for good, whatever the pool
            let destination = if !*retained
                && (group.reuses_on_scale_in || termination.is_some_and(Termination::to_warm_pool))
            {
                Destination::WarmPool
            } else {
                Destination::Ec2
            };
            waiting.push(Waiting {
                instance_id: id.clone(),
                asg: group.name.clone(),
                action_started: termination.map(|termination| termination.started),
                destination,
                retained: *retained,
            });
        }
    }
    Ok(waiting)
}

/// A group with instances in `Terminating:Wait` or `Terminating:Retained`.
struct WaitingGroup {
    pub name: String,
    /// Each instance, and whether it is retained.
    pub instances: Vec<(String, bool)>,
    /// Its warm pool takes instances back on scale in (`InstanceReusePolicy`).
    pub reuses_on_scale_in: bool,
}

/// The managed groups that have instances in `Terminating:Wait` or `Terminating:Retained`,
/// with those instances.
async fn waiting_groups(deps: &Deps) -> Result<Vec<WaitingGroup>, StepError> {
    let pages = deps
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(deps.config.asg_names.clone()))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| aws_error("DescribeAutoScalingGroups", error))?;
    let mut groups = Vec::new();
    for group in pages.iter().flat_map(|page| page.auto_scaling_groups()) {
        let instances: Vec<(String, bool)> = group
            .instances()
            .iter()
            .filter_map(|instance| {
                let retained = match instance.lifecycle_state()? {
                    LifecycleState::TerminatingWait => false,
                    LifecycleState::TerminatingRetained => true,
                    _ => return None,
                };
                Some((instance.instance_id()?.to_string(), retained))
            })
            .collect();
        if instances.is_empty() {
            continue;
        }
        let reuses_on_scale_in = group
            .warm_pool_configuration()
            .and_then(|pool| pool.instance_reuse_policy())
            .and_then(|policy| policy.reuse_on_scale_in())
            .unwrap_or(false);
        groups.push(WaitingGroup {
            name: group
                .auto_scaling_group_name()
                .unwrap_or_default()
                .to_string(),
            instances,
            reuses_on_scale_in,
        });
    }
    Ok(groups)
}
