//! The managed groups' instances in `Terminating:Wait`, and those their instance lifecycle
//! policy retains (`Terminating:Retained`) after an abandoned terminate action.

use aws_sdk_autoscaling::types::LifecycleState;
use sta_shared::error::aws_error;
use sta_shared::StepError;

use crate::Deps;

/// A group with instances in `Terminating:Wait` or `Terminating:Retained`.
pub struct WaitingGroup {
    pub name: String,
    /// Each instance, and whether it is retained.
    pub instances: Vec<(String, bool)>,
    /// Its warm pool takes instances back on scale in (`InstanceReusePolicy`).
    pub reuses_on_scale_in: bool,
}

/// The managed groups that have instances in `Terminating:Wait` or `Terminating:Retained`,
/// with those instances.
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
