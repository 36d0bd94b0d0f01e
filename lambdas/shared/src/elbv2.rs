//! Target group reads and writes more than one Lambda makes. A target group deleted
//! meanwhile answers `TargetGroupNotFound`, and a call naming a target that no longer
//! exists (an instance terminated, which EC2 forgets after about an hour: a redrive days
//! later) answers `InvalidTarget` ("The specified target does not exist, is not in the same
//! VPC as the target group, or has an unsupported instance type"): in either case nothing
//! is left to drain there, so each returns `None` (or `false`) instead of an error.

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetHealthDescription, TargetHealthReasonEnum, TargetHealthStateEnum,
};

use crate::error::unless_gone;
use crate::StepError;

/// The error code of a target group that does not exist (any more).
pub const TARGET_GROUP_GONE: &str = "TargetGroupNotFound";

/// The error code of a call naming a target that does not exist (any more).
pub const TARGET_GONE: &str = "InvalidTarget";

/// DescribeTargetHealth of a target group: of `targets`, or of every target in it when
/// `None`. `None` when the group or the named targets are gone.
pub async fn target_health(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    targets: Option<Vec<TargetDescription>>,
) -> Result<Option<DescribeTargetHealthOutput>, StepError> {
    let answer = elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .set_targets(targets)
        .send()
        .await;
    unless_gone(
        answer,
        &[TARGET_GROUP_GONE, TARGET_GONE],
        "DescribeTargetHealth",
    )
}

/// Deregisters `targets` from a target group; `false` when the group or the targets are gone.
pub async fn deregister_targets(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    targets: Vec<TargetDescription>,
) -> Result<bool, StepError> {
    let answer = elbv2
        .deregister_targets()
        .target_group_arn(arn)
        .set_targets(Some(targets))
        .send()
        .await;
    Ok(unless_gone(
        answer,
        &[TARGET_GROUP_GONE, TARGET_GONE],
        "DeregisterTargets",
    )?
    .is_some())
}

/// The instance as a target on each of `ports`, as DescribeTargetHealth and DeregisterTargets
/// name it.
pub fn instance_targets(instance_id: &str, ports: &[i32]) -> Vec<TargetDescription> {
    ports
        .iter()
        .map(|port| {
            TargetDescription::builder()
                .id(instance_id)
                .port(*port)
                .build()
        })
        .collect()
}

/// Whether the target DescribeTargetHealth describes is still registered: all but an `unused`
/// one whose reason is `Target.NotRegistered`. An `unused` target is registered all the same
/// when its group is not in use (`Target.NotInUse`: no listener forwards to it, or its zone is
/// not enabled; it serves as soon as one does) or its instance is stopped
/// (`Target.InvalidState`; TargetHealth's API reference).
pub fn still_registered(description: &TargetHealthDescription) -> bool {
    let health = description.target_health();
    health.and_then(|health| health.state()) != Some(&TargetHealthStateEnum::Unused)
        || health.and_then(|health| health.reason()) != Some(&TargetHealthReasonEnum::NotRegistered)
}
