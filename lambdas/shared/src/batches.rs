//! ECS's Describe calls take a bounded number of ids: one call per batch.

use std::future::Future;

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::ecs_error;
use crate::StepError;

/// DescribeContainerInstances and DescribeTasks take at most 100 ARNs a call.
pub const DESCRIBE_BATCH: usize = 100;
/// DescribeServices takes at most 10 services a call.
pub const SERVICES_BATCH: usize = 10;

/// One `describe` call per batch of at most `size` of `ids` (the limits above), in order, with
/// every answer; the first error ends it.
pub async fn in_batches<O, E, F>(
    ids: &[String],
    size: usize,
    mut describe: impl FnMut(Vec<String>) -> F,
) -> Result<Vec<O>, E>
where
    F: Future<Output = Result<O, E>>,
{
    let mut answers = Vec::with_capacity(ids.len().div_ceil(size));
    for batch in ids.chunks(size) {
        answers.push(describe(batch.to_vec()).await?);
    }
    Ok(answers)
}

/// What `found` takes from each answer of an ECS Describe call on `cluster` (`operation`),
/// `describe` called for each batch of at most `size` of `ids` ([`in_batches`]), in order. The
/// first error ends it, named as [`ecs_error`] names it.
pub async fn described_in_batches<O, T, E, F>(
    cluster: &str,
    operation: &str,
    (ids, size): (&[String], usize),
    describe: impl FnMut(Vec<String>) -> F,
    found: impl FnMut(O) -> Vec<T>,
) -> Result<Vec<T>, StepError>
where
    F: Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let answers = in_batches(ids, size, describe)
        .await
        .map_err(|error| ecs_error(cluster, operation, error))?;
    Ok(answers.into_iter().flat_map(found).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id-{i}")).collect()
    }

    #[tokio::test]
    async fn every_id_is_asked_for_once_in_order_at_most_size_a_call() {
        let sizes = in_batches(&ids(250), DESCRIBE_BATCH, |batch| async move {
            Ok::<_, String>((batch[0].clone(), batch.len()))
        })
        .await
        .unwrap();
        let expected = [("id-0", 100), ("id-100", 100), ("id-200", 50)];
        let expected: Vec<_> = expected.map(|(first, n)| (first.to_string(), n)).into();
        assert_eq!(sizes, expected);
        let none = in_batches(&[], SERVICES_BATCH, |_| async { Ok::<u8, String>(1) });
        assert_eq!(none.await.unwrap(), Vec::<u8>::new());
    }

    #[tokio::test]
    async fn the_first_error_ends_it() {
        let mut calls = 0;
        let answer = in_batches(&ids(25), SERVICES_BATCH, |batch| {
            calls += 1;
            async move {
                match batch[0].as_str() {
                    "id-10" => Err(format!("refused {}", batch.len())),
                    _ => Ok(batch.len()),
                }
            }
        })
        .await;
        assert_eq!(answer, Err("refused 10".to_string()));
        assert_eq!(calls, 2);
    }
}
