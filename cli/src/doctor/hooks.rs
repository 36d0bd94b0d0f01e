//! The managed Auto Scaling groups: each exists and has our terminate hook, whose heartbeat
//! timeout outlasts the sweep and leaves room after our heartbeat, whose limit
//! (min(48 h, 100 x heartbeat timeout)) is above the drain deadline; other terminate hooks
//! (an ABANDON from one of them skips ours), instances protected from scale-in, target
//! tracking on the cluster's reservation, and instances retained by an instance lifecycle policy. A group's warm pool instances count as
//! its own (`DescribeWarmPool`): one drained on its way back to the pool waits in
//! `Warmed:Pending:Wait`, or is retained `Warmed:Pending:Retained`; a group with a warm pool
//! keeps its warming instances out of the cluster (`ECS_WARM_POOLS_CHECK`).

use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, RetentionAction};
use serde::Deserialize;
use sta_shared::warm_pool::warm_pool_instances;

use super::machine::Drain;
use super::{readable, Check, Clients, Options};
use crate::CliError;

mod policies;
mod rules;
mod warm_pool;

pub use rules::{heartbeat, hook_checks, Hook};

pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

/// A managed group as the later checks need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub arn: String,
    pub instances: Vec<GroupInstance>,
    /// The Availability Zones it launches instances in.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupInstance {
    pub id: String,
    /// `InService`, `Terminating:Wait`, ...
    pub state: String,
    pub protected: bool,
}

/// The groups found; `read` is false when `DescribeAutoScalingGroups` failed.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub found: Vec<Group>,
    pub read: bool,
}

impl Groups {
    /// The lifecycle state of `instance` in a managed group, `None` when in none.
    pub fn state_of(&self, instance: &str) -> Option<&str> {
        self.found
            .iter()
            .flat_map(|g| &g.instances)
            .find(|i| i.id == instance)
            .map(|i| i.state.as_str())
    }
}

/// Reads the groups and their hooks and adds their checks.
pub async fn check(
    clients: &Clients,
    options: &Options,
    drain: &Drain,
    checks: &mut Vec<Check>,
) -> Groups {
    let described = describe(clients, &options.asgs).await;
    let Some(described) = readable(described, "asg", None, checks) else {
        return Groups::default();
    };
    let mut groups = Groups {
        found: Vec::new(),
        read: true,
    };
    for name in &options.asgs {
        let Some(group) = described
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
        else {
            checks.push(Check::fail(
                "asg",
                Some(name),
                "no such Auto Scaling group (in this account and region)",
                "check --asg and the region (AWS_REGION)",
            ));
            continue;
        };
        let retains = retains_abandoned(group);
        if let Some(hooks) = readable(hooks_of(clients, name).await, "hook", Some(name), checks) {
            checks.extend(hook_checks(name, &hooks, drain, options, retains));
        }
        checks.push(protection(group));
        let tracking = policies::target_tracking(clients, name).await;
        if let Some(found) = readable(tracking, "scaling-policies", Some(name), checks) {
            checks.push(policies::check(
                name,
                &options.cluster,
                &found,
                options.n_count,
            ));
        }
        let pool = warm_pool_instances(&clients.autoscaling, group)
            .await
            .map_err(CliError::from);
        let pool = readable(pool, "retained-instances", Some(name), checks).unwrap_or_default();
        checks.extend(retained(group, &pool, retains));
        checks.extend(warm_pool::check(clients, group).await);
        groups.found.push(summary(group, &pool));
    }
    groups
}

/// `DescribeAutoScalingGroups` of `names`, every page.
pub async fn describe(
    clients: &Clients,
    names: &[String],
) -> Result<Vec<AutoScalingGroup>, CliError> {
    clients
        .autoscaling
        .describe_auto_scaling_groups()
        .set_auto_scaling_group_names(Some(names.to_vec()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(CliError::from)
}

/// The group's terminate hooks (`DescribeLifecycleHooks` returns them all in one answer).
async fn hooks_of(clients: &Clients, asg: &str) -> Result<Vec<Hook>, CliError> {
    let answer = clients
        .autoscaling
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(asg)
        .send()
        .await?;
    Ok(answer
        .lifecycle_hooks()
        .iter()
        .filter(|h| h.lifecycle_transition() == Some(TERMINATING))
        .map(|h| Hook {
            name: h.lifecycle_hook_name().unwrap_or_default().to_string(),
            heartbeat_timeout: h.heartbeat_timeout().map(|t| t.max(0) as u64),
            global_timeout: h.global_timeout().map(|t| t.max(0) as u64),
            default_result: h.default_result().unwrap_or("ABANDON").to_string(),
            cluster: metadata_cluster(h.notification_metadata()),
        })
        .collect())
}

/// The cluster a hook's `NotificationMetadata` names (`{"cluster": "..."}`), if any.
pub fn metadata_cluster(metadata: Option<&str>) -> Option<String> {
    #[derive(Deserialize)]
    struct Metadata {
        cluster: String,
    }
    serde_json::from_str::<Metadata>(metadata?)
        .ok()
        .map(|m| m.cluster)
}

/// Whether the group's instance lifecycle policy retains an instance whose terminate
/// lifecycle action was abandoned (`RetentionTriggers.TerminateHookAbandon: retain`).
pub fn retains_abandoned(group: &AutoScalingGroup) -> bool {
    group
        .instance_lifecycle_policy()
        .and_then(|policy| policy.retention_triggers())
        .and_then(|triggers| triggers.terminate_hook_abandon())
        == Some(&RetentionAction::Retain)
}

/// Instances the group retains (`Terminating:Retained`, `Warmed:Pending:Retained`,
/// `Warmed:Terminating:Retained`; Auto Scaling refuses to terminate those of the warm pool,
/// EC2 does it): each was
/// left by an abandoned action, a FAILED drain's perhaps. It runs on, out of the group's
/// capacity, until someone terminates it, and AWS does not say that a hook runs then: its
/// drain must be finished first. No check for a group that retains nothing and has no such policy.
fn retained(group: &AutoScalingGroup, pool: &[Instance], retains: bool) -> Option<Check> {
    let name = group.auto_scaling_group_name();
    let is_retained = |i: &&Instance| {
        i.lifecycle_state()
            .is_some_and(|s| sta_shared::ended::retained(s.as_str()))
    };
    let kept: Vec<_> = group
        .instances()
        .iter()
        .chain(pool)
        .filter(is_retained)
        .filter_map(|i| i.instance_id())
        .collect();
    let in_pool = pool.iter().any(|i| is_retained(&i));
    if kept.is_empty() {
        return retains.then(|| {
            Check::pass(
                "retained-instances",
                name,
                "no instance retained (the group retains an instance whose terminate action is abandoned)",
            )
        });
    }
    Some(Check::warn(
        "retained-instances",
        name,
        format!(
            "{} retained after an abandoned terminate action ({}): running, out of the group's capacity, \
             until terminated, and AWS does not say that a terminate hook runs then: a task still on one may \
             die undrained",
            kept.len(),
            kept.join(", ")
        ),
        format!(
            "redrive the FAILED drains (`ecs-sta replay`: a redrive drains a retained instance; the sweeper \
             starts a drain for one that has none), check with `ecs-sta executions`, then: aws autoscaling \
             terminate-instance-in-auto-scaling-group --no-should-decrement-desired-capacity --instance-id <id>{}",
            if in_pool {
                " (one of the warm pool, `Warmed:*:Retained`, which that call refuses: aws ec2 \
                 terminate-instances --instance-ids <id>)"
            } else {
                ""
            }
        ),
    ))
}

/// Instances protected from scale-in are never picked by a scale-in (nor drained).
fn protection(group: &AutoScalingGroup) -> Check {
    let name = group.auto_scaling_group_name();
    let protected: Vec<_> = group
        .instances()
        .iter()
        .filter(|i| i.protected_from_scale_in() == Some(true))
        .filter_map(|i| i.instance_id())
        .collect();
    let new_protected = group.new_instances_protected_from_scale_in() == Some(true);
    if protected.is_empty() && !new_protected {
        return Check::pass(
            "scale-in-protection",
            name,
            "no instance is protected from scale-in",
        );
    }
    let mut detail = Vec::new();
    if !protected.is_empty() {
        detail.push(format!(
            "{} of {} instances are protected from scale-in ({})",
            protected.len(),
            group.instances().len(),
            protected.join(", ")
        ));
    }
    if new_protected {
        detail.push("new instances are protected from scale-in".to_string());
    }
    Check::warn(
        "scale-in-protection",
        name,
        format!(
            "{}: a scale-in never picks them and can only take the others; a capacity provider's \
             managed termination protection does this while they run tasks",
            detail.join("; ")
        ),
        "if no capacity provider manages it on purpose: aws autoscaling set-instance-protection \
         --no-protected-from-scale-in --auto-scaling-group-name <group> --instance-ids <ids>",
    )
}

/// The group as the later checks need it, its warm pool's instances among its own.
pub fn summary(group: &AutoScalingGroup, pool: &[Instance]) -> Group {
    Group {
        name: group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_string(),
        arn: group
            .auto_scaling_group_arn()
            .unwrap_or_default()
            .to_string(),
        instances: group
            .instances()
            .iter()
            .chain(pool)
            .map(|i| GroupInstance {
                id: i.instance_id().unwrap_or_default().to_string(),
                state: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                protected: i.protected_from_scale_in() == Some(true),
            })
            .collect(),
        zones: group.availability_zones().to_vec(),
    }
}
