//! ECS reads more than one Lambda makes.

use aws_sdk_ecs::types::ContainerInstance;

use crate::batches::{described_in_batches, DESCRIBE_BATCH};
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
    described_container_instances(ecs, cluster, &arns).await
}

/// The container instances `arns` of the cluster, described 100 at a time; one ECS no longer
/// knows (a failure, e.g. `MISSING`) is left out.
pub async fn described_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<ContainerInstance>, StepError> {
    let describe = |batch| {
        ecs.describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(batch))
            .send()
    };
    let operation = "DescribeContainerInstances";
    described_in_batches(cluster, operation, (arns, DESCRIBE_BATCH), describe, |output| {
        for failure in output.failures() {
            tracing::info!(arn = ?failure.arn(), reason = ?failure.reason(), "container instance not described");
        }
        output.container_instances.unwrap_or_default()
    })
    .await
}
