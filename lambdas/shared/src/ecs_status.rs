//! A container instance's status set: DRAINING by the drain, ACTIVE again by the sweeper once
//! an instance is back from the warm pool (a module of its own: each function's role is held
//! to the calls of the modules it uses).

use aws_sdk_ecs::types::ContainerInstanceStatus;

use crate::error::ecs_error;
use crate::StepError;

/// `UpdateContainerInstancesState` of the container instance `arn` to `status`. False when it
/// was deregistered meanwhile (its failure `MISSING`); any other failure is an error naming it.
pub async fn set_status(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    status: ContainerInstanceStatus,
) -> Result<bool, StepError> {
    let output = ecs
        .update_container_instances_state()
        .cluster(cluster)
        .container_instances(arn)
        .status(status)
        .send()
        .await
        .map_err(|error| ecs_error(cluster, "UpdateContainerInstancesState", error))?;
    match output.failures().first() {
        None => Ok(true),
        Some(failure) if failure.reason() == Some("MISSING") => Ok(false),
        Some(failure) => Err(StepError::AwsRequestFailed {
            operation: "UpdateContainerInstancesState".into(),
            message: format!(
                "{arn}: {}{}",
                failure.reason().unwrap_or("unknown"),
                failure
                    .detail()
                    .map(|detail| format!(" ({detail})"))
                    .unwrap_or_default()
            ),
        }),
    }
}
