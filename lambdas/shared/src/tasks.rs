//! Tasks, described in batches: what every reader of a task's status shares.

use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;

use crate::batches::{described_in_batches, DESCRIBE_BATCH};
use crate::StepError;

/// What `found` takes from each DescribeTasks answer for `arns`, described 100 at a time.
pub async fn described_tasks_with<T>(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    found: impl FnMut(DescribeTasksOutput) -> Vec<T>,
) -> Result<Vec<T>, StepError> {
    let describe = |batch| {
        ecs.describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch))
            .send()
    };
    described_in_batches(
        cluster,
        "DescribeTasks",
        (arns, DESCRIBE_BATCH),
        describe,
        found,
    )
    .await
}
