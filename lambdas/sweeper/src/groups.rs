//! The managed groups' instances in `Terminating:Wait`.

use aws_sdk_autoscaling::types::LifecycleState;
use sta_shared::error::aws_error;
use sta_shared::StepError;

use crate::Deps;

/// A group with instances in `Terminating:Wait`.
pub struct WaitingGroup {
    pub name: String,
    pub instances: Vec<String>,
    /// Its warm pool takes instances back on scale in (`InstanceReusePolicy`).
    pub reuses_on_scale_in: bool,
}

/// The managed groups that have instances in `Terminating:Wait`, with those instances.
pub async fn waiting(deps: &Deps) -> Result<Vec<WaitingGroup>, StepError> {
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
        let instances: Vec<String> = group
            .instances()
            .iter()
            .filter(|instance| instance.lifecycle_state() == Some(&LifecycleState::TerminatingWait))
            .filter_map(|instance| instance.instance_id().map(str::to_string))
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
