//! The managed groups' instances waiting on the terminate hook, and those their instance
//! lifecycle policy retains after an abandoned terminate action.
//!
//! An instance that is terminated waits in `Terminating:Wait` (retained: `Terminating:Retained`)
//! and `DescribeAutoScalingGroups` lists it. One that goes back to the group's warm pool on
//! scale in "pauses to perform a custom action at the `Warmed:Pending:Wait` state for the
//! `EC2_INSTANCE_TERMINATING` lifecycle action" (retained: `Warmed:Pending:Retained`): a warm
//! pool instance, which `DescribeWarmPool` lists. That state is also where a launch into the
//! pool waits on a launch hook: only an instance whose newest activity is a termination is
//! taken as waiting on ours. A warm pool instance that terminates (the pool deleted, an
//! instance refresh) has states of the pool's own: its terminate hook waits in `Warmed:Terminating:Wait` (retained:
//! `Warmed:Terminating:Retained`), and it goes nowhere but away.

use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::activities::{self, Termination};
use sta_shared::error::aws_error;
use sta_shared::state::Destination;
use sta_shared::warm_pool::warm_pool_instances;
use sta_shared::StepError;

use crate::Deps;

/// An instance waiting on the terminate hook in one of our groups, or retained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub instance_id: String,
    pub asg: String,
    /// The start of its termination activity: which lifecycle action it waits in. `None`
    /// when no activity of the group names it.
    pub action_started: Option<DateTime<Utc>>,
    /// Where it goes once the action completes.
    pub destination: Destination,
    /// It leaves from the warm pool (`Warmed:Terminating:*`): the event's `Origin` is
    /// `WarmPool`.
    pub from_warm_pool: bool,
    /// Retained (`Terminating:Retained`, `Warmed:Pending:Retained`,
    /// `Warmed:Terminating:Retained`): its action was abandoned,
    /// and its group's instance lifecycle policy keeps it, running, until someone terminates
    /// it, with no hook.
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
        let ids: Vec<&str> = group
            .instances
            .iter()
            .map(|leaving| leaving.id.as_str())
            .collect();
        let terminations =
            activities::terminations(&deps.autoscaling, &group.name, &ids, since).await?;
        for leaving in group.instances {
            let termination = terminations.get(&leaving.id);
            if leaving.way == Way::BackToPool && !leaving.retained && termination.is_none() {
                // a launch into the warm pool, waiting on a launch hook: not a termination
                continue;
            }
            // the state says where it goes; the group's reuse policy and the activity's wording
            // count too, on the side that marks its container instance to be set ACTIVE when
            // back (harmless if it terminates, needed if it comes back); a retained one is terminated for good, and
            // so is one that leaves from the pool (its activity says "from warm pool")
            let to_pool = leaving.way == Way::BackToPool
                || group.reuses_on_scale_in
                || termination.is_some_and(Termination::to_warm_pool);
            let destination = if to_pool && !leaving.retained && leaving.way != Way::OutOfPool {
                Destination::WarmPool
            } else {
                Destination::Ec2
            };
            waiting.push(Waiting {
                instance_id: leaving.id,
                asg: group.name.clone(),
                action_started: termination.map(|termination| termination.started),
                destination,
                from_warm_pool: leaving.way == Way::OutOfPool,
                retained: leaving.retained,
            });
        }
    }
    Ok(waiting)
}

/// An instance waiting on a terminate hook, or retained after one.
struct Leaving {
    id: String,
    retained: bool,
    way: Way,
}

/// Which way an instance leaves, by its lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Out of the group (`Terminating:*`).
    Out,
    /// Back to the warm pool (`Warmed:Pending:*`, listed by `DescribeWarmPool`).
    BackToPool,
    /// Out of the warm pool (`Warmed:Terminating:*`, listed by `DescribeWarmPool`).
    OutOfPool,
}

impl Leaving {
    /// The instance, when its state is one of a terminate hook's wait or of retention.
    fn from(instance: &Instance) -> Option<Self> {
        let (retained, way) = match instance.lifecycle_state()? {
            LifecycleState::TerminatingWait => (false, Way::Out),
            LifecycleState::TerminatingRetained => (true, Way::Out),
            LifecycleState::WarmedPendingWait => (false, Way::BackToPool),
            LifecycleState::WarmedPendingRetained => (true, Way::BackToPool),
            LifecycleState::WarmedTerminatingWait => (false, Way::OutOfPool),
            LifecycleState::WarmedTerminatingRetained => (true, Way::OutOfPool),
            _ => return None,
        };
        Some(Self {
            id: instance.instance_id()?.to_string(),
            retained,
            way,
        })
    }
}

/// A group with instances waiting on a terminate hook, or retained.
struct WaitingGroup {
    name: String,
    instances: Vec<Leaving>,
    /// Its warm pool takes instances back on scale in (`InstanceReusePolicy`).
    reuses_on_scale_in: bool,
}

/// The managed groups that have instances waiting on a terminate hook or retained, with
/// those instances: the group's own, and, for a group with a warm pool, those on their way
/// back to it.
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
        let name = group.auto_scaling_group_name().unwrap_or_default();
        let pool = warm_pool_instances(&deps.autoscaling, group)
            .await
            .map_err(|error| aws_error("DescribeWarmPool", error))?;
        let instances: Vec<Leaving> = group
            .instances()
            .iter()
            .chain(&pool)
            .filter_map(Leaving::from)
            .collect();
        if instances.is_empty() {
            continue;
        }
        groups.push(WaitingGroup {
            name: name.to_string(),
            instances,
            reuses_on_scale_in: reuses_on_scale_in(group),
        });
    }
    Ok(groups)
}

/// Its warm pool takes instances back on scale in (`InstanceReusePolicy`).
fn reuses_on_scale_in(group: &AutoScalingGroup) -> bool {
    group
        .warm_pool_configuration()
        .and_then(|pool| pool.instance_reuse_policy())
        .and_then(|policy| policy.reuse_on_scale_in())
        .unwrap_or(false)
}
