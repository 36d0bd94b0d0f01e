//! Whether a service serves without the instance in a target group, before the drain takes
//! over a registration of the instance that still serves there.
//!
//! In a drain ECS keeps a service's capacity: "Service tasks on the container instance that
//! are in the RUNNING state are stopped and replaced according to the service's deployment
//! configuration parameters, minimumHealthyPercent and maximumPercent" (the API reference of
//! UpdateContainerInstancesState); with 100 % ("If minimumHealthyPercent is below 100%, the
//! scheduler can ignore desiredCount temporarily during task replacement") a task leaves its
//! target groups only once its replacement is healthy. A registration ECS left on the instance (an
//! orphaned task's in a Network Load Balancer's group, which a forced deregistration does not
//! end; one behind no listed task) is the drain's to end: it keeps the same floor, and takes
//! the registration over only once the service's own tasks serving elsewhere in the group (each
//! of their targets there healthy, [`sta_shared::own_targets::serving_tasks`]: a group may be
//! shared) reach ceil(minimumHealthyPercent x desired count), or at the last moment it still
//! could drain
//! ([`sta_shared::left_to_ecs::must_take_over_at`]).

use aws_sdk_ecs::types::{SchedulingStrategy, Service};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use chrono::{DateTime, Utc};
use sta_shared::error::ecs_error;
use sta_shared::state::ServiceBalancer;
use sta_shared::StepError;

use sta_shared::own_targets::{healthy_targets, own_targets, serving_tasks};

/// A target group's registrations (`health`, its DescribeTargetHealth of every target), as the
/// drain of `instance_id` in `cluster` sees them before taking the instance's over.
pub(crate) struct Serving<'a> {
    pub(crate) cluster: &'a str,
    pub(crate) instance_id: &'a str,
    pub(crate) target_group: &'a str,
    pub(crate) health: &'a DescribeTargetHealthOutput,
}

impl Serving<'_> {
    /// Whether the instance's registration, left to ECS by `managed`'s service, is to stay
    /// left to ECS for now: it serves (one of its targets is healthy: one initial, unhealthy
    /// or draining takes no traffic to lose), the service does not serve without it yet, and
    /// the `last` moment to take it over ([`must_take_over_at`]) has not come. A registration
    /// behind no task of the service the drain knows (`without_task`) has no replacement
    /// coming to wait for.
    ///
    /// [`must_take_over_at`]: sta_shared::left_to_ecs::must_take_over_at
    pub(crate) async fn waits_for_replacement(
        &self,
        ecs: &aws_sdk_ecs::Client,
        managed: &ServiceBalancer,
        without_task: bool,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StepError> {
        let serves = healthy_targets(self.health).any(|(id, _)| id == self.instance_id);
        if without_task || !serves || last.is_none_or(|last| now >= last) {
            return Ok(false);
        }
        Ok(!self.serves_without(ecs, &managed.service).await?)
    }

    /// Whether `service` serves without the instance in the group: its own tasks healthy there
    /// on other instances ([`own_targets`]) reach the service's floor ([`floor`]). A service
    /// that is gone or being deleted (or whose cluster is) has no replacement coming, and one
    /// that no longer names the group serves nothing there: true. While the group's healthy
    /// targets elsewhere, whoever's, are fewer than the floor, the service's tasks are not read.
    async fn serves_without(
        &self,
        ecs: &aws_sdk_ecs::Client,
        service: &str,
    ) -> Result<bool, StepError> {
        let cluster = self.cluster;
        let described = match ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|error| ecs_error(cluster, "DescribeServices", error))
        {
            Ok(described) => described,
            Err(StepError::ResourceNotFound {
                kind: "cluster", ..
            }) => return Ok(true),
            Err(error) => return Err(error),
        };
        let Some(active) = described
            .services()
            .iter()
            .find(|found| found.status() == Some("ACTIVE"))
        else {
            return Ok(true);
        };
        let floor = floor(active);
        if floor == 0 {
            return Ok(true);
        }
        let elsewhere: Vec<(&str, i32)> = healthy_targets(self.health)
            .filter(|(id, _)| *id != self.instance_id)
            .collect();
        if elsewhere.len() < floor {
            tracing::info!(
                service,
                elsewhere = elsewhere.len(),
                floor,
                "fewer healthy targets elsewhere in the group than the service's floor"
            );
            return Ok(false);
        }
        let Some(own) = own_targets(ecs, cluster, active, self.target_group).await? else {
            tracing::info!(service, "the service no longer names the group");
            return Ok(true);
        };
        let others = serving_tasks(&own, &elsewhere.into_iter().collect()).len();
        tracing::info!(
            service,
            others,
            floor,
            "the service's own tasks serving elsewhere in the group"
        );
        Ok(others >= floor)
    }
}

/// How many healthy tasks a service keeps through a drain: ceil(minimumHealthyPercent x
/// desired count / 100), its minimum healthy percent unset meaning ECS's default, 100 for a
/// REPLICA service and 0 for a DAEMON one.
pub(crate) fn floor(service: &Service) -> usize {
    let default = match service.scheduling_strategy() {
        Some(SchedulingStrategy::Daemon) => 0,
        _ => 100,
    };
    let percent = service
        .deployment_configuration()
        .and_then(|configuration| configuration.minimum_healthy_percent())
        .unwrap_or(default);
    let needed = i64::from(service.desired_count()) * i64::from(percent);
    usize::try_from((needed + 99) / 100).unwrap_or(0)
}
