//! A group's warm pool, as the sweeper, the task scaler and doctor read it (a module of its
//! own: each function's role is held to the calls of the modules it uses).

use aws_sdk_autoscaling::operation::describe_warm_pool::DescribeWarmPoolError;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

/// The instances of the group's warm pool (`DescribeWarmPool`, every page); none for a
/// group without one. An instance going back to the pool on scale in is one of them from
/// `Warmed:Pending` on: its terminate hook waits in `Warmed:Pending:Wait`, and an abandoned
/// action leaves it `Warmed:Pending:Retained` ("Use lifecycle hooks with a warm pool";
/// "Manage retained instances"); so is a pool instance terminating (`Warmed:Terminating:Wait`,
/// `Warmed:Terminating:Retained`). `DescribeAutoScalingGroups` does not list them. The caller
/// names the error its own way.
pub async fn warm_pool_instances(
    autoscaling: &aws_sdk_autoscaling::Client,
    group: &AutoScalingGroup,
) -> Result<Vec<Instance>, SdkError<DescribeWarmPoolError, HttpResponse>> {
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
}
