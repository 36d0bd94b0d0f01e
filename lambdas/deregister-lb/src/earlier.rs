//! What an earlier deregistration of the instance left that no load balancer shows.
//!
//! A deregistration leaves two things behind that no API shows once it is done: a Network
//! Load Balancer goes on routing new connections to the target for minutes, whatever its
//! state says ("It can take a few minutes for the deregistration process to complete and for
//! the load balancer to stop routing requests to the target", NLB User Guide), and a Classic
//! ELB completes the in-flight requests of an instance that was unhealthy, while
//! `DescribeInstanceHealth` says "not registered" at once ("The maximum timeout limit does not
//! apply to connections to unhealthy instances"). Only the step that deregistered knows, in
//! its output. When that output is lost (the process killed or timed out after the call, a
//! later call of the step failing: the state machine retries the step, or a redrive does), or
//! when a second drain of the same action runs (a duplicate event, a sweep that did not see
//! the first drain listed yet), the step finds the instance registered nowhere and would wait
//! for nothing.
//!
//! So before it deregisters anything, the step marks the instance's container instance with
//! the time ([`ATTRIBUTE`], epoch seconds). A step that finds a mark made since this drain's
//! action began (a mark of an earlier action of a reused warm-pool instance is older) takes
//! every Network Load Balancer target group and Classic ELB it would deregister the instance
//! from, and finds it not in, as deregistered just now ([`crate::deregister`]). So does a
//! step with no container instance to read a mark from (an instance outside the cluster).

use aws_sdk_ecs::types::{Attribute, TargetType};
use chrono::{DateTime, Utc};
use sta_shared::error::{ecs_error, error_code};
use sta_shared::own_container_instance::{describe_own, Described};
use sta_shared::state::DrainState;
use sta_shared::StepError;

/// The custom attribute of a container instance whose EC2 instance a drain began to
/// deregister from its load balancers: when, in epoch seconds.
pub const ATTRIBUTE: &str = "ecs-sta.lb-deregistration";

/// Whether an earlier step of this drain's action may have deregistered the instance from a
/// load balancer: its container instance carries a mark no older than the action, or there is
/// no container instance to carry one (a cluster deleted, a container instance gone, or an
/// instance outside the cluster).
pub async fn may_have_deregistered(
    ecs: &aws_sdk_ecs::Client,
    state: &DrainState,
) -> Result<bool, StepError> {
    let Described::Found(instance) = describe_own(ecs, state).await? else {
        return Ok(true);
    };
    let marked_at = instance
        .attributes()
        .iter()
        .find(|attribute| attribute.name() == ATTRIBUTE)
        .and_then(|attribute| attribute.value())
        .and_then(|value| value.parse::<i64>().ok());
    // The event's time has whole seconds.
    Ok(marked_at.is_some_and(|at| at >= state.request.event_time.timestamp()))
}

/// Marks the container instance before the step's first deregistration (see the module).
/// Nothing to mark without a container instance, or once it is gone; one that already carries
/// ECS's limit of 10 custom attributes cannot take the mark: logged, the drain goes on.
pub async fn mark_deregistration(
    ecs: &aws_sdk_ecs::Client,
    state: &DrainState,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(arn) = &state.container_instance_arn else {
        return Ok(());
    };
    let cluster = &state.request.cluster;
    let attribute = Attribute::builder()
        .name(ATTRIBUTE)
        .value(now.timestamp().to_string())
        .target_type(TargetType::ContainerInstance)
        .target_id(arn)
        .build()
        .map_err(|error| StepError::AwsRequestFailed {
            operation: "PutAttributes".into(),
            message: format!("the attribute could not be built: {error}"),
        })?;
    match ecs
        .put_attributes()
        .cluster(cluster)
        .attributes(attribute)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error)
            if matches!(
                error_code(&error),
                Some("TargetNotFoundException" | "ClusterNotFoundException")
            ) =>
        {
            Ok(())
        }
        Err(error) if error_code(&error) == Some("AttributeLimitExceededException") => {
            tracing::error!(container_instance = %arn, "the container instance carries ECS's limit of custom attributes: a retry of this step will not know what it deregistered");
            Ok(())
        }
        Err(error) => Err(ecs_error(cluster, "PutAttributes", error)),
    }
}
