//! The drain state a step returns (`sta_shared::state::DrainState`), read into the
//! timeline: its counters, its status, the completion, and the drain's phases.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sta_shared::state::{self, Destination, DrainState, DrainStatus};

use super::{Completion, Timeline};

/// What the drain state says of the drain's phases (the latest state a step returned).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// `lifecycle_action` or `spot_interruption`.
    pub kind: Option<&'static str>,
    /// When the instance entered `Terminating:Wait` (the hook's timers run from then).
    pub event_time: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    /// When the first step returned: the container instance DRAINING, its tasks recorded.
    /// `None` when the drain never began (the action had already ended, or a Spot warning
    /// for an instance outside the cluster).
    pub draining_from: Option<DateTime<Utc>>,
    /// Tasks on the instance when the drain started.
    pub tasks: usize,
    /// When the checks first saw every recorded task stopped.
    pub tasks_stopped_at: Option<DateTime<Utc>>,
    /// When the drain deregistered the instance from the load balancers nobody else manages.
    pub deregistered_at: Option<DateTime<Utc>>,
    pub balancers: Vec<Balancer>,
    /// When the checks first saw every load balancer finished draining.
    pub balancers_drained_at: Option<DateTime<Utc>>,
    /// When a step first said the instance was drained.
    pub drained_at: Option<DateTime<Utc>>,
    /// The instance goes back to the warm pool (its container instance stays registered,
    /// DRAINING and marked for the sweeper to set ACTIVE once it is back in service).
    pub back_to_warm_pool: bool,
    /// The hook's heartbeat timeout and the last time its timer restarted.
    pub heartbeat_timeout_seconds: Option<u64>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// A newer lifecycle action of the instance had begun: the drain's own had ended.
    pub superseded: bool,
    /// At the last step, Auto Scaling had taken none of the drain's heartbeats ("No active
    /// Lifecycle Action found" while the instance still waited): the drain was not called
    /// drained until it could tell.
    pub unconfirmed: bool,
    /// What still held the drain up at the last check.
    pub remaining_tasks: usize,
    pub remaining_balancers: usize,
}

/// A load balancer the instance was in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balancer {
    pub kind: BalancerKind,
    /// The Classic ELB's or the target group's name.
    pub name: String,
    /// For a load balancer left to ECS: the service whose task is registered in it.
    pub service: Option<String>,
    /// The connection-draining timeout or the deregistration delay.
    pub draining_seconds: u64,
    /// For a load balancer left to ECS: how long the replacement takes to become healthy.
    pub healthy_after_seconds: Option<u64>,
    /// An NLB target group whose open connections outlive the deregistration delay.
    pub connections_outlive_delay: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancerKind {
    /// A Classic ELB the drain deregistered the instance from.
    Classic,
    /// A target group the drain deregistered the instance from.
    TargetGroup,
    /// A load balancer left to ECS: it deregisters the service's task once the
    /// replacement is healthy, and stops the task once the registration has drained.
    ServiceManaged,
}

/// A step's output, if it is a drain state (the first step's input, a refused event's
/// output and the like are not).
pub(super) fn parse(text: &str) -> Option<DrainState> {
    serde_json::from_str(text).ok()
}

fn completion(completion: &state::Completion) -> Completion {
    Completion {
        outcome: completion.outcome,
        result: completion.result,
    }
}

impl Timeline {
    /// Takes the drain state a step returned at `at`; returns whether its completion is
    /// new (the step that completed the action).
    pub(super) fn take_state(&mut self, state: &DrainState, at: DateTime<Utc>) -> bool {
        self.counts.heartbeats = state.heartbeat.sent;
        self.counts.checks = state.checks;
        self.drain_status = Some(state.status);
        self.orphaned_tasks.clone_from(&state.report.orphaned_tasks);
        self.phases.take(state, at);
        match state.report.completion.as_ref().map(completion) {
            Some(completion) if self.completion.as_ref() != Some(&completion) => {
                self.completion = Some(completion);
                true
            }
            _ => false,
        }
    }
}

impl Phases {
    fn take(&mut self, state: &DrainState, at: DateTime<Utc>) {
        self.kind = Some(state.request.trigger.kind());
        self.event_time = Some(state.request.event_time);
        self.deadline_at = Some(state.deadline_at);
        if !matches!(
            state.status,
            DrainStatus::ActionEnded | DrainStatus::NotInCluster
        ) {
            self.draining_from.get_or_insert(at);
        }
        self.tasks = state.tasks.len();
        self.tasks_stopped_at = state.report.tasks_stopped_at;
        self.balancers_drained_at = state.report.balancers_drained_at;
        if state.status == DrainStatus::Drained {
            self.drained_at.get_or_insert(at);
        }
        self.back_to_warm_pool = state.request.destination == Destination::WarmPool;
        self.heartbeat_timeout_seconds = state.heartbeat.timeout_seconds;
        self.last_heartbeat_at = state.heartbeat.last_at;
        self.superseded = state.heartbeat.superseded;
        self.unconfirmed = state.heartbeat.unconfirmed;
        // Tasks the container instance counts that no listing has shown yet are waited for too.
        let unlisted = state
            .remaining
            .unlisted
            .map_or(0, |unlisted| unlisted.count);
        self.remaining_tasks = state.remaining.tasks.len() + usize::try_from(unlisted).unwrap_or(0);
        // A registration left to ECS without a listed task holds the drain up as well.
        self.remaining_balancers = state.remaining.classic_elbs.len()
            + state.remaining.target_groups.len()
            + state.remaining.left_to_ecs.len();
        if let Some(balancers) = &state.load_balancers {
            self.deregistered_at = balancers.deregistered_at;
            self.balancers = balancers_of(balancers);
        }
    }
}

fn balancers_of(balancers: &state::LoadBalancers) -> Vec<Balancer> {
    let classic = balancers.classic.iter().map(|elb| Balancer {
        kind: BalancerKind::Classic,
        name: elb.name.clone(),
        service: None,
        draining_seconds: elb.draining_seconds,
        healthy_after_seconds: None,
        connections_outlive_delay: false,
    });
    let groups = balancers.target_groups.iter().map(|group| Balancer {
        kind: BalancerKind::TargetGroup,
        name: short_name(&group.arn),
        service: None,
        draining_seconds: group.draining_seconds,
        healthy_after_seconds: None,
        connections_outlive_delay: group.connections_outlive_delay,
    });
    let services = balancers.service_managed.iter().map(|managed| Balancer {
        kind: BalancerKind::ServiceManaged,
        name: short_name(&managed.load_balancer),
        service: Some(managed.service.clone()),
        draining_seconds: managed.draining_seconds,
        healthy_after_seconds: Some(managed.healthy_after_seconds),
        connections_outlive_delay: managed.connections_outlive_delay,
    });
    classic.chain(groups).chain(services).collect()
}

/// A target group's name from its ARN (`...:targetgroup/NAME/ID`); a Classic ELB's name
/// as it is.
fn short_name(load_balancer: &str) -> String {
    match load_balancer.split_once(":targetgroup/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => load_balancer.to_string(),
    }
}

impl Balancer {
    /// `clb web-clb`, `tg web-tg`, `web: tg web-tg (ECS)`.
    pub fn label(&self) -> String {
        match (self.kind, &self.service) {
            (BalancerKind::Classic, _) => format!("clb {}", self.name),
            (BalancerKind::TargetGroup, _) => format!("tg {}", self.name),
            (BalancerKind::ServiceManaged, Some(service)) => {
                format!("{service} in {} (ECS)", self.name)
            }
            (BalancerKind::ServiceManaged, None) => format!("{} (ECS)", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_groups_are_named_by_their_name() {
        assert_eq!(
            short_name(
                "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-tg/0123"
            ),
            "web-tg"
        );
        assert_eq!(short_name("web-clb"), "web-clb");
    }
}
