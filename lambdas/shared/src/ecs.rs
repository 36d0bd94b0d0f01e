//! ECS reads more than one Lambda makes.

use aws_sdk_ecs::types::ContainerInstance;

use crate::error::ecs_error;
use crate::StepError;

/// DescribeContainerInstances and DescribeTasks take at most 100 ARNs a call.
pub const DESCRIBE_BATCH: usize = 100;

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
    let mut instances = Vec::with_capacity(arns.len());
    for batch in arns.chunks(DESCRIBE_BATCH) {
        let output = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|error| ecs_error(cluster, "DescribeContainerInstances", error))?;
        for failure in output.failures() {
            tracing::info!(arn = ?failure.arn(), reason = ?failure.reason(), "container instance not described");
        }
        instances.extend(output.container_instances().iter().cloned());
    }
    Ok(instances)
}
