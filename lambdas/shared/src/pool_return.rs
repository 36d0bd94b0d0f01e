//! An instance the drain lets go back to the warm pool keeps its container instance.
//!
//! The instance is stopped, not terminated, and started again later with the same id. Its
//! ECS agent then re-registers with the container instance ARN it saved: a record that was
//! deregistered is refused ("Container instance ... is inactive"), and the agent exits for
//! good (amazon-ecs-agent; a deregistration is "supposed to be final", its issue 125). So the
//! drain leaves the record registered, DRAINING, and marks it with the custom attribute
//! [`ATTRIBUTE`]. The agent never sets a record ACTIVE again, so the sweeper does, once the
//! instance is back in service with its agent connected, and removes the mark. A drain of an
//! instance that is not going back to the pool removes a mark it finds (an instance back in
//! service before the sweeper came by, and now scaled in for good or replaced by an instance
//! refresh): the sweeper must never end that drain. Until the mark is gone, an operator's
//! DRAINING of such an instance is undone by the next sweep.

use aws_sdk_ecs::types::{Attribute, ContainerInstance, TargetType};

use crate::error::{ecs_error, error_code};
use crate::StepError;

/// The custom attribute of a container instance whose EC2 instance went back to the warm pool
/// drained: set it ACTIVE when the instance is back in service. A custom attribute's name may
/// hold letters, numbers, hyphens, underscores, slashes and periods (ECS API reference,
/// `Attribute`).
pub const ATTRIBUTE: &str = "ecs-sta.back-from-warm-pool";
/// The attribute's one value.
pub const VALUE: &str = "set-active";

/// Whether the described container instance carries the mark.
pub fn marked(instance: &ContainerInstance) -> bool {
    instance
        .attributes()
        .iter()
        .any(|attribute| attribute.name() == ATTRIBUTE && attribute.value() == Some(VALUE))
}

/// The mark of the container instance `arn` for PutAttributes (`value`: [`VALUE`]), or for
/// DeleteAttributes (`value`: `None`: "For custom attributes, specify the attribute name and
/// target ID, but don't specify the value", its API reference).
pub fn mark_of(arn: &str, value: Option<&str>) -> Result<Attribute, StepError> {
    Attribute::builder()
        .name(ATTRIBUTE)
        .set_value(value.map(str::to_string))
        .target_type(TargetType::ContainerInstance)
        .target_id(arn)
        .build()
        .map_err(|error| StepError::AwsRequestFailed {
            operation: if value.is_some() {
                "PutAttributes"
            } else {
                "DeleteAttributes"
            }
            .into(),
            message: format!("the attribute could not be built: {error}"),
        })
}

/// Removes the mark from the container instance `arn` (`DeleteAttributes`). A container
/// instance deregistered meanwhile (`TargetNotFoundException`) has nothing left to unmark.
pub async fn unmark(ecs: &aws_sdk_ecs::Client, cluster: &str, arn: &str) -> Result<(), StepError> {
    match ecs
        .delete_attributes()
        .cluster(cluster)
        .attributes(mark_of(arn, None)?)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error_code(&error) == Some("TargetNotFoundException") => Ok(()),
        Err(error) => Err(ecs_error(cluster, "DeleteAttributes", error)),
    }
}

/// Marks the container instance of an instance going back to the warm pool
/// (this module's): the sweeper sets it ACTIVE once the instance is back in service.
/// A container instance deregistered meanwhile (`TargetNotFoundException`) needs no mark. One
/// that already carries ECS's limit of 10 custom attributes (`AttributeLimitExceededException`)
/// cannot take it: the drain goes on, and says so (a note in the report), since the instance
/// will come back DRAINING and stay so until someone sets it ACTIVE.
pub async fn mark(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
) -> Result<Option<String>, StepError> {
    match ecs
        .put_attributes()
        .cluster(cluster)
        .attributes(mark_of(arn, Some(VALUE))?)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(container_instance = %arn, "going back to the warm pool: marked to be set ACTIVE when back in service");
            Ok(None)
        }
        Err(error) if error_code(&error) == Some("TargetNotFoundException") => Ok(None),
        Err(error) if error_code(&error) == Some("AttributeLimitExceededException") => {
            let note = format!(
                "container instance {arn} carries ECS's limit of custom attributes: it could not be marked \
                 ({ATTRIBUTE}) to be set ACTIVE when back from the warm pool; it will come back DRAINING"
            );
            tracing::error!(container_instance = %arn, "{note}");
            Ok(Some(note))
        }
        Err(error) => Err(ecs_error(cluster, "PutAttributes", error)),
    }
}
