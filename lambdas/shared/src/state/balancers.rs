//! The load balancers a drain deregistered the instance from, and those it leaves to ECS.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::seconds;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicElb {
    pub name: String,
    /// The connection-draining timeout; 0 when connection draining is off.
    pub draining_seconds: u64,
    /// `OutOfService` (failing its health checks, or not yet passing them) when the drain
    /// deregistered it, or before its draining timeout had passed since
    /// ([`ClassicElb::out_of_service`]). The load balancer still completes the in-flight
    /// requests to an unhealthy instance, with no maximum timeout, and
    /// `DescribeInstanceHealth` shows none of them (it says "not registered"): the drain
    /// waits out the draining timeout from the deregistration, the longest the owner lets a
    /// request run on a healthy one.
    #[serde(default)]
    pub unhealthy: bool,
    /// When a check last deregistered the instance: it took the load balancer over from ECS
    /// (see [`ServiceBalancer`]), or found the instance registered again; `None` when only
    /// the first step deregistered it.
    #[serde(default)]
    pub taken_over_at: Option<DateTime<Utc>>,
}

impl ClassicElb {
    /// `DescribeInstanceHealth` no longer shows the deregistered instance draining: if that
    /// comes before its draining timeout has passed since `deregistered_at` (or since taken
    /// over), the instance may have failed its health checks while it drained ("If an
    /// instance becomes unhealthy, the load balancer reports the instance state as
    /// OutOfService. If there are in-flight requests made to the unhealthy instance, they are
    /// completed", Classic ELB guide, "Configure connection draining"), or the load balancer
    /// may have ended the draining early with no request left. Nothing tells the two apart:
    /// taken as the first, [`Self::unhealthy`], the drain waits out the timeout.
    pub fn out_of_service(&mut self, deregistered_at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let since = self.taken_over_at.or(deregistered_at);
        if since.is_some_and(|at| now < at + seconds(self.draining_seconds)) {
            self.unhealthy = true;
        }
    }

    /// Whether what `DescribeInstanceHealth` cannot show is over: the in-flight requests of
    /// an unhealthy instance deregistered at `deregistered_at` (or when taken over).
    pub fn unseen_requests_done(
        &self,
        deregistered_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        !self.unhealthy
            || self
                .taken_over_at
                .or(deregistered_at)
                .is_some_and(|at| now >= at + seconds(self.draining_seconds))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub arn: String,
    /// Every port the instance was registered on.
    pub ports: Vec<i32>,
    /// `deregistration_delay.timeout_seconds`.
    pub draining_seconds: u64,
    /// A Network Load Balancer target group without
    /// `deregistration_delay.connection_termination.enabled`: its open connections outlive
    /// the deregistration delay (the target is `unused`, the connections are not closed).
    #[serde(default)]
    pub connections_outlive_delay: bool,
    /// When a check took it over from ECS (see [`ServiceBalancer`]) and deregistered the
    /// instance; `None` when the first step deregistered it.
    #[serde(default)]
    pub taken_over_at: Option<DateTime<Utc>>,
    /// A Network Load Balancer target group (one with the
    /// `deregistration_delay.connection_termination.enabled` attribute).
    #[serde(default)]
    pub network: bool,
    /// For a Network Load Balancer target group: until when it may still route new
    /// connections to the instance, from the last deregistration there, whatever the target's
    /// state says ([`super::Settings::nlb_deregistration_seconds`]). The drain waits for it.
    #[serde(default)]
    pub routes_until: Option<DateTime<Utc>>,
}

impl TargetGroup {
    /// A target group (not a Network Load Balancer's) the first step deregistered the
    /// instance from, on `ports`.
    pub fn new(arn: impl Into<String>, ports: Vec<i32>, draining_seconds: u64) -> Self {
        Self {
            arn: arn.into(),
            ports,
            draining_seconds,
            connections_outlive_delay: false,
            taken_over_at: None,
            network: false,
            routes_until: None,
        }
    }

    /// Whether it may still route new connections to the instance at `now`.
    pub fn may_still_route(&self, now: DateTime<Utc>) -> bool {
        self.routes_until.is_some_and(|until| now < until)
    }
}

/// A load balancer an ECS service with a task on the instance registers that task in.
/// ECS deregisters the task from it, once the replacement is healthy, and waits out its
/// draining before it stops the task: the drain leaves it alone and waits for the task.
///
/// Also the load balancer of a service without a listed task on the instance, in which the
/// instance is registered anyway (`registered_without_task`): ListTasks is eventually
/// consistent, so this can be a task the first listing missed, whose registration ECS takes
/// out once its replacement serves. A later listing that shows a task of the service
/// settles it (the task is waited for like any other); without one, the drain takes the
/// registration over when it is due ([`crate::left_to_ecs`]), deregisters it and waits out
/// its draining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceBalancer {
    pub service: String,
    /// The Classic ELB name or the target group ARN.
    pub load_balancer: String,
    /// Its connection-draining timeout or deregistration delay.
    pub draining_seconds: u64,
    /// How long a new target takes to become healthy: healthy threshold x interval.
    pub healthy_after_seconds: u64,
    /// The instance was registered in it while no task of the service was listed there.
    #[serde(default)]
    pub registered_without_task: bool,
    /// A Network Load Balancer target group ([`TargetGroup::network`]).
    #[serde(default)]
    pub network: bool,
    /// One whose open connections outlive its deregistration delay
    /// ([`TargetGroup::connections_outlive_delay`]): kept for when the drain takes it over.
    #[serde(default)]
    pub connections_outlive_delay: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancers {
    /// Classic ELBs the drain deregistered the instance from (nobody else would).
    pub classic: Vec<ClassicElb>,
    /// Target groups the drain deregistered the instance from (nobody else would).
    pub target_groups: Vec<TargetGroup>,
    /// Load balancers left to the ECS services whose tasks are on the instance.
    #[serde(default)]
    pub service_managed: Vec<ServiceBalancer>,
    pub deregistered_at: Option<DateTime<Utc>>,
}

impl LoadBalancers {
    /// When the slowest load balancer should have finished draining (from when the drain
    /// deregistered the instance from it: the first step, or a check that took it over).
    pub fn expected_drained_at(&self) -> Option<DateTime<Utc>> {
        let start = self.deregistered_at?;
        let classic = self
            .classic
            .iter()
            .map(|elb| elb.taken_over_at.unwrap_or(start) + seconds(elb.draining_seconds));
        let groups = self.target_groups.iter().map(|group| {
            let drained = group.taken_over_at.unwrap_or(start) + seconds(group.draining_seconds);
            group
                .routes_until
                .map_or(drained, |until| drained.max(until))
        });
        classic.chain(groups).max()
    }

    /// When ECS should have stopped the service tasks: their replacements healthy in every
    /// service load balancer, then the old tasks' registrations drained.
    pub fn expected_service_tasks_stopped_at(&self) -> Option<DateTime<Utc>> {
        let start = self.deregistered_at?;
        let healthy = self
            .service_managed
            .iter()
            .map(|balancer| balancer.healthy_after_seconds)
            .max()?;
        let draining = self
            .service_managed
            .iter()
            .map(|balancer| balancer.draining_seconds)
            .max()?;
        Some(start + seconds(healthy + draining))
    }
}
