//! The drain state: what the first step makes of the event, and what each later step
//! reads and extends. Later steps only ever see this type, never the raw event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::read::read;
use crate::StepError;

mod balancers;
mod unlisted;

pub use balancers::{ClassicElb, LoadBalancers, ServiceBalancer, TargetGroup};
pub use unlisted::UnlistedTasks;

/// What started the drain (`kind` names it in the JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// An Auto Scaling terminate lifecycle action: complete it when drained.
    LifecycleAction(LifecycleAction),
    /// An EC2 Spot interruption warning: drain, there is no action to complete.
    SpotInterruption,
}

impl Trigger {
    /// `lifecycle_action` or `spot_interruption`, as the state spells its `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LifecycleAction(_) => "lifecycle_action",
            Self::SpotInterruption => "spot_interruption",
        }
    }

    /// The lifecycle action to heartbeat and complete; `None` for a Spot warning.
    pub fn lifecycle_action(&self) -> Option<&LifecycleAction> {
        match self {
            Self::LifecycleAction(action) => Some(action),
            Self::SpotInterruption => None,
        }
    }
}

/// The lifecycle action a drain heartbeats and completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleAction {
    pub asg_name: String,
    pub hook_name: String,
    /// The lifecycle action token. It appears in the state (the execution's own
    /// history) but never in our logs. `None` for a drain the sweeper started (no API
    /// returns the token): the instance id names the action instead.
    #[serde(default)]
    pub token: Option<String>,
}

/// The validated request, made once from the raw event by the first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainRequest {
    pub trigger: Trigger,
    pub instance_id: String,
    pub cluster: String,
    /// When the instance entered `Terminating:Wait`: the hook's heartbeat and global
    /// timers started then, however late we heard of it. For an AWS event, its `time`;
    /// for a drain the sweeper started, the start of the instance's termination activity
    /// (`DescribeScalingActivities`), which is never later than the wait's start.
    pub event_time: DateTime<Utc>,
    /// Where the instance goes once the action completes: terminated (`EC2`) or stopped
    /// into the group's warm pool (`WarmPool`), to be started again later with the same
    /// instance id.
    #[serde(default)]
    pub destination: Destination,
}

/// The `Destination` of a terminate lifecycle action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Destination {
    /// Terminated.
    #[default]
    #[serde(rename = "EC2")]
    Ec2,
    /// Stopped into the warm pool, reused later with the same instance id.
    #[serde(rename = "WarmPool")]
    WarmPool,
    /// Stopped (or hibernated) by its Spot interruption, perhaps started again later with the
    /// same instance id. Ours: never a lifecycle action's.
    #[serde(rename = "Stopped")]
    Stopped,
}

impl Destination {
    /// Whether the instance may run again with the same id, and so with its container instance.
    pub fn comes_back(self) -> bool {
        matches!(self, Self::WarmPool | Self::Stopped)
    }
}

/// The result a lifecycle action is completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleResult {
    #[serde(rename = "CONTINUE")]
    Continue,
    #[serde(rename = "ABANDON")]
    Abandon,
}

impl LifecycleResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continue => "CONTINUE",
            Self::Abandon => "ABANDON",
        }
    }
}

/// What to do with tasks that no ECS service will move off a draining instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandaloneTasks {
    /// Wait for them to finish on their own, until the deadline (the default: a
    /// standalone task is often a batch job or a migration that must not be cut).
    Wait,
    /// Stop them (`StopTask`) once the grace period after the drain start has passed.
    Stop,
}

/// Settings the state machine passes to the first step (its substitutions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub drain_deadline_seconds: u64,
    pub deadline_result: LifecycleResult,
    pub standalone_tasks: StandaloneTasks,
    pub standalone_task_grace_seconds: u64,
    /// How long a Network Load Balancer may still route new connections to a target after
    /// its deregistration, whatever its state says: "It can take a few minutes for the
    /// deregistration process to complete and for the load balancer to stop routing requests
    /// to the target" (NLB User Guide, "Register targets"). States written before it existed
    /// read the default.
    #[serde(default = "nlb_deregistration_seconds")]
    pub nlb_deregistration_seconds: u64,
}

/// The default of [`Settings::nlb_deregistration_seconds`]: the longest of the "few minutes"
/// AWS support has given for it (180 to 300 s, aws-load-balancer-controller issue 1834).
pub const NLB_DEREGISTRATION_SECONDS: u64 = 300;

fn nlb_deregistration_seconds() -> u64 {
    NLB_DEREGISTRATION_SECONDS
}

/// Whether a task's `lastStatus` says it has stopped: `STOPPED`, or `DELETED`, which
/// `DescribeTasks` shows for a stopped task ("Task lifecycle": "a transition state when a
/// task stops ... displayed in describe-tasks"), from a moment AWS does not tell.
pub fn task_has_stopped(last_status: &str) -> bool {
    matches!(last_status, "STOPPED" | "DELETED")
}

/// A task that was on the instance when the drain started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedTask {
    pub arn: String,
    /// The service that owns it (from the task's `group`, `service:<name>`); `None` for
    /// a standalone task, and for one not described yet.
    pub service: Option<String>,
    /// [`NOT_YET_DESCRIBED`] for a task ListTasks showed and DescribeTasks did not know yet.
    pub last_status: String,
    /// When ListTasks showed the task while DescribeTasks answered it MISSING; `None` once
    /// described. ECS "follows an eventual consistency model" (RunTask API reference): a
    /// task just listed may not be described yet, and is waited for like any other, for up
    /// to [`crate::left_to_ecs::LISTING_LAG_SECONDS`] (AWS's "up to five minutes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen_since: Option<DateTime<Utc>>,
}

/// The `lastStatus` a task listed but not described yet is recorded with: DescribeTasks's
/// failure reason for it.
pub const NOT_YET_DESCRIBED: &str = "MISSING";

impl TrackedTask {
    /// Whether this task, listed and still MISSING in DescribeTasks at `now`, is still taken
    /// for one not visible yet rather than one gone.
    pub fn may_not_be_visible_yet(&self, now: DateTime<Utc>) -> bool {
        self.unseen_since
            .is_some_and(|since| now < since + seconds(crate::left_to_ecs::LISTING_LAG_SECONDS))
    }
}

/// The hook's heartbeat bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The hook's `HeartbeatTimeout`, read once with `DescribeLifecycleHooks`.
    pub timeout_seconds: Option<u64>,
    /// The last time the hook's heartbeat timer restarted (the event, or our heartbeat).
    pub last_at: Option<DateTime<Utc>>,
    pub sent: u32,
    /// Set when AWS says there is no active lifecycle action any more (completed by
    /// someone else, expired, or the hook was deleted).
    pub action_gone: bool,
    /// Set when a newer lifecycle action of the instance has begun (it was reused from a
    /// warm pool and is leaving again): this drain's action has ended for good, and the
    /// instance is no longer this drain's to touch.
    #[serde(default)]
    pub superseded: bool,
    /// Auto Scaling answered "No active Lifecycle Action found" to this drain's heartbeat
    /// while the instance still waited under a terminate hook, and has taken none of its
    /// heartbeats: it may not show the action yet, or the action may have ended (completed by
    /// an earlier execution of the same event) while another hook keeps the instance waiting.
    /// The drain is not called drained until it can tell ([`DrainState::action_may_be_unseen`]).
    #[serde(default)]
    pub unconfirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainStatus {
    Draining,
    Drained,
    DeadlinePassed,
    /// A Spot interruption warning for an instance that is not a container instance of
    /// the cluster: not ours, nothing to do (the Spot rule cannot filter by cluster).
    NotInCluster,
    /// The lifecycle action had already ended when the drain began (a late or repeated
    /// event, an action completed by someone else, or an instance already gone): nothing
    /// was changed. Or it ended mid-drain and the instance is no longer leaving under it
    /// (back in service, or leaving under a newer action): nothing more was changed.
    ActionEnded,
}

impl DrainStatus {
    /// As the state spells it (the state machine's `Choice` rules match these).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draining => "draining",
            Self::Drained => "drained",
            Self::DeadlinePassed => "deadline_passed",
            Self::NotInCluster => "not_in_cluster",
            Self::ActionEnded => "action_ended",
        }
    }
}

/// What is still holding the drain up, for people reading the execution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remaining {
    pub tasks: Vec<String>,
    pub classic_elbs: Vec<String>,
    pub target_groups: Vec<String>,
    /// Load balancers of services without a listed task on the instance, in which the
    /// instance is still registered ([`ServiceBalancer::registered_without_task`]): left to
    /// ECS while a task the listing missed may be behind the registration.
    #[serde(default)]
    pub left_to_ecs: Vec<String>,
    /// Tasks ECS counted on the container instance when the drain set it DRAINING that no
    /// listing has shown yet ([`UnlistedTasks`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted: Option<UnlistedTasks>,
}

impl Remaining {
    pub fn is_empty(&self) -> bool {
        self.left_to_ecs.is_empty() && self.unlisted.is_none() && self.all_but_left_to_ecs_done()
    }

    /// Nothing remains but what listing the tasks again settles: registrations left to ECS
    /// without a listed task, and tasks counted but not listed yet.
    pub fn all_but_left_to_ecs_done(&self) -> bool {
        self.tasks.is_empty() && self.classic_elbs.is_empty() && self.target_groups.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionOutcome {
    /// We completed the action.
    Completed,
    /// AWS had no active action: completed before (a duplicate or a redrive) or expired.
    AlreadyCompleted,
    /// A Spot interruption: there is no lifecycle action.
    NotApplicable,
}

impl CompletionOutcome {
    /// As the state spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::AlreadyCompleted => "already_completed",
            Self::NotApplicable => "not_applicable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub result: Option<LifecycleResult>,
    pub outcome: CompletionOutcome,
    pub at: DateTime<Utc>,
}

/// The state every step after the first receives and returns. The state machine's
/// `Choice` states read `status`, its `Wait` state `wait_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainState {
    pub request: DrainRequest,
    pub settings: Settings,
    /// The drain's clock starts with the lifecycle event.
    pub started_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    /// The ECS container instance, `None` when the instance is not in the cluster.
    pub container_instance_arn: Option<String>,
    pub tasks: Vec<TrackedTask>,
    pub load_balancers: Option<LoadBalancers>,
    pub heartbeat: Heartbeat,
    /// `deadline_passed` once the deadline passed before the instance was drained (the
    /// lifecycle action is then completed with the configured result).
    pub status: DrainStatus,
    /// Seconds the state machine's `WaitForDrain` waits before the next check.
    pub wait_seconds: u64,
    pub checks: u32,
    pub remaining: Remaining,
    /// When a check first found the container instance's agent disconnected.
    pub agent_disconnected_at: Option<DateTime<Utc>>,
    /// What only people read (the execution's output, `ecs-sta show`, the metrics).
    pub report: Report,
}

/// What the drain did and saw, for people: no step decides anything from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// What the first step did without (e.g. hook metadata that is not ours: the
    /// configured cluster was used).
    pub notes: Vec<String>,
    /// Standalone tasks this drain stopped (with `standalone_tasks: stop`).
    pub stopped_tasks: Vec<String>,
    /// Tasks ECS can no longer stop or move, so the drain stopped waiting for them (the
    /// load balancers' draining is still waited for): service tasks orphaned when someone
    /// deregistered the container instance (force) mid-drain (ECS starts their
    /// replacements elsewhere and takes them out of their load balancers), and every task
    /// of an instance whose agent stayed disconnected (stopped, terminated, cut off).
    pub orphaned_tasks: Vec<String>,
    /// When the checks first saw every recorded task stopped.
    pub tasks_stopped_at: Option<DateTime<Utc>>,
    /// When the checks first saw every load balancer finished draining.
    pub balancers_drained_at: Option<DateTime<Utc>>,
    pub completion: Option<Completion>,
}

impl DrainState {
    /// The state before anything is known of the instance: the clocks start when the
    /// instance entered `Terminating:Wait` (the request's `event_time`), which is also the
    /// last time the hook's heartbeat timer restarted.
    pub fn new(request: DrainRequest, settings: Settings, notes: Vec<String>) -> Self {
        let started_at = request.event_time;
        Self {
            deadline_at: started_at + seconds(settings.drain_deadline_seconds),
            started_at,
            request,
            settings,
            container_instance_arn: None,
            tasks: Vec::new(),
            load_balancers: None,
            heartbeat: Heartbeat {
                last_at: Some(started_at),
                ..Heartbeat::default()
            },
            status: DrainStatus::Draining,
            wait_seconds: 0,
            checks: 0,
            remaining: Remaining::default(),
            agent_disconnected_at: None,
            report: Report {
                notes,
                ..Report::default()
            },
        }
    }

    /// Reads the state a previous step returned. A missing or mistyped field is an
    /// `InvalidEvent` that names it.
    pub fn from_value(value: Value) -> Result<Self, StepError> {
        read(value, "drain state")
    }

    /// Whether the deadline passed before the instance was drained.
    pub fn timed_out(&self) -> bool {
        self.status == DrainStatus::DeadlinePassed
    }

    /// Whether, as far as the state tells, Auto Scaling may still not show this drain's
    /// lifecycle action at `now`: it has taken none of its heartbeats, and the hook's
    /// heartbeat timeout (when read) has not passed since the action began. Past it, the
    /// action was shown to someone (a heartbeat of another execution of the same event was
    /// taken) or expired: "No active Lifecycle Action found" then means its end.
    pub fn action_may_be_unseen(&self, now: DateTime<Utc>) -> bool {
        self.heartbeat.sent == 0
            && self
                .heartbeat
                .timeout_seconds
                .is_none_or(|timeout| now < self.request.event_time + seconds(timeout))
    }
}

pub fn seconds(count: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(count).unwrap_or(i64::MAX / 1000))
}

#[cfg(test)]
mod tests;
