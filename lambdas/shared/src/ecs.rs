//! ECS reads more than one Lambda makes.

use aws_sdk_ecs::types::ContainerInstance;

use crate::batches::{in_batches, DESCRIBE_BATCH};
use crate::error::ecs_error;
use crate::StepError;

/// Every container instance of the cluster that ListContainerInstances returns (all but
/// INACTIVE; with `filter`, e.g. `ec2InstanceId == i-...`, only the matching ones), all
/// pages, described 100 at a time. An instance deregistered between the list and the
/// describe (`MISSING`) is left out.
pub async fn describe_all_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    filter: Option<String>,
) -> Result<Vec<ContainerInstance>, StepError> {
    let arns: Vec<String> = ecs
        .list_container_instances()
        .cluster(cluster)
        .set_filter(filter)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| ecs_error(cluster, "ListContainerInstances", error))?;
    let answers = in_batches(&arns, DESCRIBE_BATCH, |batch| {
        ecs.describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(batch))
            .send()
    })
    .await
    .map_err(|error| ecs_error(cluster, "DescribeContainerInstances", error))?;
    let mut instances = Vec::with_capacity(arns.len());
    for output in answers {
        for failure in output.failures() {
            tracing::info!(arn = ?failure.arn(), reason = ?failure.reason(), "container instance not described");
        }
        instances.extend(output.container_instances().iter().cloned());
    }
    Ok(instances)
}
