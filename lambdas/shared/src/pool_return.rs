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
//!
//! A Spot interruption that stops or hibernates its instance (`instance-action` `stop` or
//! `hibernate`: a persistent request, or a fleet that maintains its capacity; "Amazon EC2
//! restarts the stopped instance when capacity is available", EC2 User Guide, "Behavior of
//! Spot Instance interruptions") leaves it the same way, and its drain marks it too, with the
//! warning's time ([`STOPPED_AT`]): such an instance is in no group, and only EC2's
//! `LaunchTime` later than that tells the sweeper it was started again.

use aws_sdk_ecs::types::{Attribute, ContainerInstance, TargetType};
use chrono::{DateTime, Utc};

use crate::error::{ecs_error, error_code};
use crate::StepError;

/// The custom attribute of a container instance whose EC2 instance went back to the warm pool
/// drained: set it ACTIVE when the instance is back in service. A custom attribute's name may
/// hold letters, numbers, hyphens, underscores, slashes and periods (ECS API reference,
/// `Attribute`).
pub const ATTRIBUTE: &str = "ecs-sta.back-from-warm-pool";
/// The attribute's one value.
pub const VALUE: &str = "set-active";
/// Beside the mark of an instance a Spot interruption stops (`instance-action` `stop` or
/// `hibernate`): when the warning came, in seconds since the epoch. Outside any group there is
/// no lifecycle state to say the instance is back; EC2's `LaunchTime` ("The time that the
/// instance was last launched") later than this says it was started again since.
pub const STOPPED_AT: &str = "ecs-sta.stopped-at";

/// When the Spot interruption that stopped the described container instance's EC2 instance
/// warned of it ([`STOPPED_AT`]); `None` without the attribute, or with one that is no time.
pub fn stopped_at(instance: &ContainerInstance) -> Option<DateTime<Utc>> {
    let value = instance
        .attributes()
        .iter()
        .find(|attribute| attribute.name() == STOPPED_AT)?
        .value()?;
    DateTime::from_timestamp(value.parse().ok()?, 0)
}

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
    attribute(arn, ATTRIBUTE, value)
}

/// The custom attribute `name` of the container instance `arn`, for PutAttributes or (without
/// a value) DeleteAttributes.
fn attribute(arn: &str, name: &str, value: Option<&str>) -> Result<Attribute, StepError> {
    Attribute::builder()
        .name(name)
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

/// Removes the mark from the described container instance (`DeleteAttributes`), and its
/// [`STOPPED_AT`] when it carries one. A container instance deregistered meanwhile
/// (`TargetNotFoundException`) has nothing left to unmark.
pub async fn unmark(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance: &ContainerInstance,
) -> Result<(), StepError> {
    let arn = instance.container_instance_arn().unwrap_or_default();
    let mut attributes = vec![mark_of(arn, None)?];
    if instance.attributes().iter().any(|a| a.name() == STOPPED_AT) {
        attributes.push(attribute(arn, STOPPED_AT, None)?);
    }
    match ecs
        .delete_attributes()
        .cluster(cluster)
        .set_attributes(Some(attributes))
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
///
/// `stopped_at`: the instance is one a Spot interruption stops, warned of then
/// ([`STOPPED_AT`], written with the mark, over an older one).
pub async fn mark(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    stopped_at: Option<DateTime<Utc>>,
) -> Result<Option<String>, StepError> {
    let mut attributes = vec![mark_of(arn, Some(VALUE))?];
    if let Some(at) = stopped_at {
        attributes.push(attribute(
            arn,
            STOPPED_AT,
            Some(&at.timestamp().to_string()),
        )?);
    }
    match ecs
        .put_attributes()
        .cluster(cluster)
        .set_attributes(Some(attributes))
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(container_instance = %arn, stopped = stopped_at.is_some(), "to come back: marked to be set ACTIVE when back in service");
            Ok(None)
        }
        Err(error) if error_code(&error) == Some("TargetNotFoundException") => Ok(None),
        Err(error) if error_code(&error) == Some("AttributeLimitExceededException") => {
            let note = format!(
                "container instance {arn} carries ECS's limit of custom attributes: it could not be marked \
                 ({ATTRIBUTE}) to be set ACTIVE when back in service; it will come back DRAINING"
            );
            tracing::error!(container_instance = %arn, "{note}");
            Ok(Some(note))
        }
        Err(error) => Err(ecs_error(cluster, "PutAttributes", error)),
    }
}
