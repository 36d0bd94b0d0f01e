//! A group's warm pool, as the Lambdas that look for leaving instances read it (a module of
//! its own: each function's role is held to the calls of the modules it uses).

use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance};

use crate::error::aws_error;
use crate::StepError;

/// The instances of the group's warm pool (`DescribeWarmPool`, every page); none for a
/// group without one. An instance going back to the pool on scale in is one of them from
/// `Warmed:Pending` on: its terminate hook waits in `Warmed:Pending:Wait`, and an abandoned
/// action leaves it `Warmed:Pending:Retained` ("Use lifecycle hooks with a warm pool";
/// "Manage retained instances"). `DescribeAutoScalingGroups` does not list them.
pub async fn warm_pool_instances(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &AutoScalingGroup,
) -> Result<Vec<Instance>, StepError> {
    if group.warm_pool_configuration().is_none() {
        return Ok(Vec::new());
    }
    autoscaling
        .describe_warm_pool()
        .set_auto_scaling_group_name(group.auto_scaling_group_name().map(str::to_string))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| aws_error("DescribeWarmPool", error))
}
