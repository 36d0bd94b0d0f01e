//! Target group reads and writes more than one Lambda makes. A target group deleted
//! meanwhile answers `TargetGroupNotFound`: nothing is left to drain there, so each
//! returns `None` (or `false`) for it instead of an error.

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;

use crate::error::{aws_error, error_code};
use crate::StepError;

const GONE: &str = "TargetGroupNotFound";

/// DescribeTargetHealth of a target group: of `targets`, or of every target in it when
/// `None`. `None` when the group is gone.
pub async fn target_health(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    targets: Option<Vec<TargetDescription>>,
) -> Result<Option<DescribeTargetHealthOutput>, StepError> {
    match elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .set_targets(targets)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some(GONE) => Ok(None),
        Err(error) => Err(aws_error("DescribeTargetHealth", error)),
        Ok(output) => Ok(Some(output)),
    }
}

/// Deregisters `targets` from a target group; `false` when the group is gone.
pub async fn deregister_targets(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    targets: Vec<TargetDescription>,
) -> Result<bool, StepError> {
    match elbv2
        .deregister_targets()
        .target_group_arn(arn)
        .set_targets(Some(targets))
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some(GONE) => Ok(false),
        Err(error) => Err(aws_error("DeregisterTargets", error)),
        Ok(_) => Ok(true),
    }
}
