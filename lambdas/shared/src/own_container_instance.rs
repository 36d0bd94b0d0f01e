//! The drain's own container instance, described again.

use aws_sdk_ecs::types::ContainerInstance;

use crate::error::{ecs_error, error_code};
use crate::state::DrainState;
use crate::StepError;

/// The drained container instance as `DescribeContainerInstances` shows it.
pub enum Described {
    /// MISSING, or its cluster deleted.
    Gone,
    Found(Box<ContainerInstance>),
    /// No container instance recorded, or none in the answer.
    Unknown,
}

/// The drain's container instance (`container_instance_arn`) as ECS describes it now.
pub async fn describe_own(
    ecs: &aws_sdk_ecs::Client,
    state: &DrainState,
) -> Result<Described, StepError> {
    let Some(arn) = &state.container_instance_arn else {
        return Ok(Described::Unknown);
    };
    let cluster = &state.request.cluster;
    let output = match ecs
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) == Some("ClusterNotFoundException") => {
            return Ok(Described::Gone)
        }
        Err(error) => return Err(ecs_error(cluster, "DescribeContainerInstances", error)),
        Ok(output) => output,
    };
    let missing = output
        .failures()
        .iter()
        .any(|failure| failure.reason() == Some("MISSING"));
    Ok(
        match output
            .container_instances
            .unwrap_or_default()
            .into_iter()
            .find(|instance| instance.container_instance_arn() == Some(arn.as_str()))
        {
            Some(instance) => Described::Found(Box::new(instance)),
            None if missing => Described::Gone,
            None => Described::Unknown,
        },
    )
}
